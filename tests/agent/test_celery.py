"""Celery tasks as background transactions: a real prefork worker on a real Redis
broker, running under ``pulse-agent run``."""

import signal
import subprocess
import sys
import uuid

from conftest import APPS_DIR, agent_env, run_app


def test_tasks_are_background_transactions_with_propagated_traces(sink):
    queue = "pulse-agent-%s" % uuid.uuid4().hex[:8]
    env = agent_env(sink.url, QUEUE=queue, PULSE_APP_NAME="agent-celery")
    worker = subprocess.Popen(
        [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable, "-m", "celery",
         "-A", "celery_app", "worker", "--pool=prefork", "--concurrency=2", "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=APPS_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        result, _ = run_app("celery_producer.py", sink.url, QUEUE=queue, timeout=90)
        assert result["values"] == [0, 2, 4, 6, 8]
        assert result["failed"] == "FAILURE"
        assert sink.wait_for(lambda s: s.count("shop.add") == 5 and s.count("shop.fail") == 1, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    m = sink.metrics_by_name()
    assert m["shop.add"]["type"] == "background"
    assert m["shop.add"]["errors"] == 0
    assert m["shop.add"]["segments"]["database"] > 0  # the redis call inside the task
    assert m["shop.fail"]["errors"] == 1
    assert m["producer.enqueue"]["count"] == 1
    [err] = [e for e in sink.all("errors") if e["transaction"] == "shop.fail"]
    assert err["class"] == "ValueError" and err["message"] == "task failed on purpose"
    # tasks carry the producer's trace id
    task_events = [e for e in sink.all("events") if e["name"] in ("shop.add", "shop.fail")]
    assert len(task_events) == 6
    assert {e["trace_id"] for e in task_events} == {result["trace_id"]}
    # the prefork pool's children reported (not the parent that forked them)
    pids = {p["instance"]["pid"] for p in sink.payloads if p["instance"] and p["metrics"]
            and any(x["name"].startswith("shop.") for x in p["metrics"])}
    assert pids and worker.pid not in pids
    assert sink.problems == []


def test_recycled_pool_children_send_every_task_before_os_exit(sink):
    """With --max-tasks-per-child 1 each child ends with os._exit after one task; the
    harvest interval is far longer than the test, so only the flush on Celery's
    worker_process_shutdown signal can bring the transactions to the sink."""
    queue = "pulse-agent-%s" % uuid.uuid4().hex[:8]
    env = agent_env(sink.url, QUEUE=queue, PULSE_APP_NAME="agent-celery-recycled", PULSE_HARVEST_INTERVAL="60")
    worker = subprocess.Popen(
        [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable, "-m", "celery",
         "-A", "celery_app", "worker", "--pool=prefork", "--concurrency=1", "--max-tasks-per-child=1",
         "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=APPS_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        result, _ = run_app("celery_producer.py", sink.url, QUEUE=queue, timeout=120)
        assert result["values"] == [0, 2, 4, 6, 8]
        assert sink.wait_for(lambda s: s.count("shop.add") == 5 and s.count("shop.fail") == 1, timeout=30)
        pids = {p["instance"]["pid"] for p in sink.payloads if p["instance"] and p["metrics"]
                and any(x["name"].startswith("shop.") for x in p["metrics"])}
        assert len(pids) == 6  # one child per task, each flushed before it ended
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert sink.problems == []
