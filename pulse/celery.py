"""The Celery app of every worker and beat process (``celery -A pulse ...``)."""

import os

from celery import Celery

from alerts.schedule import PERIODIC_TASKS as ALERTS
from apm.schedule import PERIODIC_TASKS as APM
from frontend.schedule import PERIODIC_TASKS as FRONTEND

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")

app = Celery("pulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {**APM, **ALERTS, **FRONTEND}
app.autodiscover_tasks()  # every app's tasks.py
app.autodiscover_tasks(["alerts"], related_name="delivery")  # notification deliveries, apart from evaluation
