"""Enqueue tasks from inside a background transaction; wait for their results."""

import json

import pulse_agent
from celery_app import add, fail
from pulse_agent.state import current

with pulse_agent.background_task("producer.enqueue"):
    trace_id = current().get_trace_id()
    results = [add.delay(i, i) for i in range(5)]
    failing = fail.delay()
values = [r.get(timeout=60) for r in results]
failing.get(timeout=60, propagate=False)
print(json.dumps({"values": values, "trace_id": trace_id, "failed": failing.state}))
