"""Periodic work of alerting (the tasks are in alerts/tasks.py and alerts/delivery.py)."""

from celery.schedules import crontab

PERIODIC_TASKS = {
    "alerts-evaluate": {"task": "alerts.evaluate_all", "schedule": crontab(minute="*"), "options": {"expires": 50}},
    "alerts-retry-deliveries": {
        "task": "alerts.retry_due_deliveries",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
}
