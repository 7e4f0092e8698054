from django.contrib import admin
from django.urls import include, path

from pulse import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/live", health.live, name="health-live"),
    path("healthz/ready", health.ready, name="health-ready"),
    path("api/v1/", include("ingest.urls")),
    path("v1/", include("ingest.otlp.urls")),  # OTLP/HTTP, where the OpenTelemetry SDKs post
    path("o/<slug:org_slug>/api/", include("apm.api_urls")),
    path("o/<slug:org_slug>/alerts/", include("alerts.urls")),
    path("", include("tenants.urls")),
    path("", include("frontend.urls")),
]
