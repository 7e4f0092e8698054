from django.apps import AppConfig


class ApmConfig(AppConfig):
    name = "apm"
    verbose_name = "APM telemetry"
