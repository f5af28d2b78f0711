"""`manage.py check` (and runserver, migrate, ...) says when the settings are missing or wrong."""

from django.core import checks

from .conf import widget_settings


@checks.register()
def referral_widget_settings(app_configs=None, **kwargs):
    return [checks.Error(message, id=check_id) for check_id, message in widget_settings().problems()]
