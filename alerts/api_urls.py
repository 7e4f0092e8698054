"""Alerts as code, included at o/<slug:org_slug>/api/alerts/ (alerts/api_views.py, docs/api.md)."""

from django.urls import path

from alerts import api_views as v

urlpatterns = [
    path("conditions", v.conditions, name="api-alert-conditions"),
    path("conditions/<uuid:condition_id>", v.condition, name="api-alert-condition"),
    path("channels", v.channels, name="api-alert-channels"),
    path("channels/<uuid:channel_id>", v.channel, name="api-alert-channel"),
    path("slos", v.slos, name="api-alert-slos"),
    path("slos/<uuid:slo_id>", v.slo, name="api-alert-slo"),
]
