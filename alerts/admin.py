"""Read-mostly admin views of alerting for operators; lists span organisations on purpose."""

from django.contrib import admin

from alerts.models import SLO, AppMute, Condition, Delivery, Incident, IncidentEvent, NotificationChannel
from tenants.admin import UnscopedAdmin


@admin.register(Condition)
class ConditionAdmin(UnscopedAdmin):
    list_display = ("name", "organization", "app", "metric", "warning_threshold", "critical_threshold", "enabled")
    list_filter = ("metric", "enabled")
    raw_id_fields = ("organization", "app", "created_by")
    readonly_fields = ("last_evaluated_minute", "last_value")


@admin.register(NotificationChannel)
class ChannelAdmin(UnscopedAdmin):
    list_display = ("name", "organization", "kind")
    list_filter = ("kind",)
    exclude = ("secret",)


@admin.register(Incident)
class IncidentAdmin(UnscopedAdmin):
    list_display = ("title", "organization", "severity", "opened_at", "acknowledged_at", "resolved_at", "muted")
    list_filter = ("severity", "muted")
    raw_id_fields = ("organization", "app", "condition", "slo", "acknowledged_by", "resolved_by")


@admin.register(IncidentEvent)
class IncidentEventAdmin(UnscopedAdmin):
    list_display = ("incident", "kind", "severity", "at", "not_notified_reason")
    raw_id_fields = ("organization", "incident", "actor")


@admin.register(Delivery)
class DeliveryAdmin(UnscopedAdmin):
    list_display = ("id", "organization", "channel", "status", "attempts", "next_retry_at", "created_at")
    list_filter = ("status", "is_test")
    raw_id_fields = ("organization", "event", "channel")


@admin.register(SLO)
class SLOAdmin(UnscopedAdmin):
    list_display = ("name", "organization", "app", "indicator", "objective", "period_days")
    raw_id_fields = ("organization", "app", "created_by")


@admin.register(AppMute)
class AppMuteAdmin(UnscopedAdmin):
    list_display = ("app", "organization", "starts_at", "ends_at", "reason")
    raw_id_fields = ("organization", "app", "created_by")
