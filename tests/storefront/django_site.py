"""A one-page Django site using the kit the way a shop's order confirmation page would."""

from django.http import HttpResponse
from django.template import engines
from django.urls import path

CONFIRMATION = """{% load referrals %}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order confirmed</title></head>
<body><h1>Thank you, {{ first_name }}!</h1><div id="referral"></div>
{% referral_widget order_id target="#referral" locale=locale %}
</body></html>"""


def confirmation(request):
    template = engines["django"].from_string(CONFIRMATION)
    context = {
        "order_id": request.GET.get("order", ""),
        "first_name": request.GET.get("name", ""),
        "locale": request.GET.get("locale"),
    }
    return HttpResponse(template.render(context, request))


urlpatterns = [path("checkout/complete/", confirmation)]
