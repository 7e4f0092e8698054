"""A Celery app on a real Redis broker, for the agent tests."""

import os

import redis
from celery import Celery

BROKER = os.environ.get("BROKER", "redis://127.0.0.1:6379/13")
app = Celery("celery_app", broker=BROKER, backend=BROKER)
app.conf.task_default_queue = os.environ.get("QUEUE", "pulse-agent-tests")
app.conf.worker_hijack_root_logger = False
app.conf.broker_connection_retry_on_startup = True


@app.task(name="shop.add")
def add(x, y):
    r = redis.Redis.from_url(BROKER)
    r.incr("pulse-agent-task-runs")
    r.close()
    return x + y


@app.task(name="shop.fail")
def fail():
    raise ValueError("task failed on purpose")
