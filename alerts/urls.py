"""Alerting pages, included at o/<slug:org_slug>/alerts/ (docs/alerts.md lists the public ones)."""

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.incidents, name="incidents"),
    path("incidents.json", views.incidents_json, name="incidents_json"),
    path("incidents/<uuid:incident_id>/", views.incident, name="incident"),
    path("incidents/<uuid:incident_id>/acknowledge", views.incident_acknowledge, name="incident_acknowledge"),
    path("incidents/<uuid:incident_id>/resolve", views.incident_resolve, name="incident_resolve"),
    path("conditions/", views.conditions, name="conditions"),
    path("conditions/new", views.condition_new, name="condition_new"),
    path("conditions/<uuid:condition_id>/", views.condition_edit, name="condition"),
    path("conditions/<uuid:condition_id>/delete", views.condition_delete, name="condition_delete"),
    path("conditions/<uuid:condition_id>/mute", views.condition_mute, name="condition_mute"),
    path("channels/", views.channels, name="channels"),
    path("channels/new", views.channel_new, name="channel_new"),
    path("channels/<uuid:channel_id>/", views.channel_edit, name="channel"),
    path("channels/<uuid:channel_id>/delete", views.channel_delete, name="channel_delete"),
    path("channels/<uuid:channel_id>/test", views.channel_test, name="channel_test"),
    path("channels/<uuid:channel_id>/rotate-secret", views.channel_rotate_secret, name="channel_rotate_secret"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("mutes/", views.mutes, name="mutes"),
    path("mutes/<uuid:mute_id>/end", views.mute_end, name="mute_end"),
    path("slos/", views.slos, name="slos"),
    path("slos/new", views.slo_new, name="slo_new"),
    path("slos/<uuid:slo_id>/", views.slo_detail, name="slo"),
    path("slos/<uuid:slo_id>/edit", views.slo_edit, name="slo_edit"),
    path("slos/<uuid:slo_id>/delete", views.slo_delete, name="slo_delete"),
]
