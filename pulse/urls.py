"""The routes of a web process, by its PULSE_ROLE: ingest nodes serve only the APIs agents
and pipelines post to; UI nodes everything people use; ``all`` (the default) both."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from apm import api_docs, deployment_views
from apm.api_views import prometheus_metrics
from pulse import health

probes = [
    path("healthz/live", health.live, name="health-live"),
    path("healthz/ready", health.ready, name="health-ready"),
]
ingest = [
    path("api/v1/deployments", deployment_views.record, name="deployments-record"),
    path("api/v1/", include("ingest.urls")),
    path("v1/", include("ingest.otlp.urls")),  # OTLP/HTTP, where the OpenTelemetry SDKs post
]
ui = [
    path("admin/", admin.site.urls),
    path("api/v1/openapi.json", api_docs.openapi_json, name="openapi"),
    path("api/v1/metrics", prometheus_metrics, name="prometheus-metrics"),
    path("o/<slug:org_slug>/api/alerts/", include("alerts.api_urls")),
    path("o/<slug:org_slug>/api/", include("apm.api_urls")),
    path("o/<slug:org_slug>/alerts/", include("alerts.urls")),
    path("", include("tenants.urls")),
    path("", include("frontend.urls")),
]

urlpatterns = probes + {"all": ingest + ui, "ingest": ingest, "ui": ui}[settings.PULSE_ROLE]
