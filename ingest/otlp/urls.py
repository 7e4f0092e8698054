"""The OTLP/HTTP paths at the root, where the SDKs post (OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces)."""

from django.urls import path

from ingest import views

urlpatterns = [
    path("traces", views.otlp, name="otlp-traces"),
    path("metrics", views.otlp, name="otlp-metrics"),
    path("logs", views.otlp, name="otlp-logs"),
]
