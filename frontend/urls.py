"""Monitoring pages under /o/<org_slug>/apps/ (other engineers may append their routes)."""

from django.urls import path

from frontend.views import api_reference, apps, capacity, deployments, errors, instances, overview, traces, transactions

app = "o/<slug:org_slug>/apps/<uuid:app_id>/"

urlpatterns = [
    path("api/docs/", api_reference.api_reference, name="api_reference"),
    path("o/<slug:org_slug>/apps/", apps.app_list, name="app_list"),
    path(app, overview.app_overview, name="app_overview"),
    path(app + "transactions/", transactions.transaction_list, name="app_transactions"),
    path(app + "transactions/<int:txn_id>/", transactions.transaction_detail, name="transaction_detail"),
    path(app + "traces/<str:trace_id>/", traces.trace_detail, name="trace_detail"),
    path(app + "errors/", errors.error_list, name="app_errors"),
    path(app + "errors/<uuid:group_id>/", errors.error_detail, name="error_detail"),
    path(app + "instances/", instances.instance_list, name="app_instances"),
    path(app + "capacity/", capacity.capacity, name="app_capacity"),
    path(app + "deployments/", deployments.deployment_list, name="app_deployments"),
]

# Live page (frontend/views/live.py); the websocket itself is routed in pulse/routing.py.
from frontend.views import live  # noqa: E402

urlpatterns.append(path(app + "live/", live.app_live, name="app_live"))
