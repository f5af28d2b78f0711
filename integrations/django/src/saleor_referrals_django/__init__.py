"""The Saleor Referrals share widget for Django and Wagtail templates.

Add "saleor_referrals_django" to INSTALLED_APPS, set REFERRALS_APP_URL and REFERRALS_SALEOR_API_URL,
and write `{% load referrals %}{% referral_widget order.id %}` where the widget goes.
"""

__version__ = "0.1.0"
