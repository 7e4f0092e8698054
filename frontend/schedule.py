"""Periodic work of the web UI (the task is in frontend/tasks.py)."""

from celery.schedules import crontab

PERIODIC_TASKS = {
    "frontend-warm-chart-cache": {
        "task": "frontend.warm_chart_cache",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
}
