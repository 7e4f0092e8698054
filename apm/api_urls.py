"""Tenant-scoped JSON endpoints of the query layer, under /o/<org_slug>/api/ (docs/query-api.md)."""

from django.urls import path

from apm import api_views as v

urlpatterns = [
    path("apps", v.apps, name="api-apps"),
    path("apps/<uuid:app_id>/timeseries", v.timeseries, name="api-timeseries"),
    path("apps/<uuid:app_id>/transactions", v.transactions, name="api-transactions"),
    path("apps/<uuid:app_id>/transactions/<int:txn_id>", v.transaction_detail, name="api-transaction"),
    path("apps/<uuid:app_id>/errors", v.errors, name="api-errors"),
    path("apps/<uuid:app_id>/errors/<uuid:group_id>", v.error_detail, name="api-error"),
    path("apps/<uuid:app_id>/traces", v.traces, name="api-traces"),
    path("apps/<str:app_id>/traces/<str:trace_id>", v.trace_detail, name="api-trace"),
    path("apps/<uuid:app_id>/events", v.events, name="api-events"),
    path("apps/<uuid:app_id>/instances", v.instances, name="api-instances"),
    path("apps/<uuid:app_id>/deployments", v.deployments, name="api-deployments"),
]
