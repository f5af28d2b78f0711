from django.apps import AppConfig


class SaleorReferralsConfig(AppConfig):
    name = "saleor_referrals_django"
    label = "saleor_referrals"
    verbose_name = "Saleor Referrals"

    def ready(self):
        from . import checks  # noqa: F401 - registers the settings checks
