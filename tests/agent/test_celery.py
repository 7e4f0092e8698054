"""Celery tasks as background transactions: a real prefork worker on a real Redis
broker, running under ``pulse-agent run``."""

import contextlib
import signal
import subprocess
import sys
import uuid

from conftest import APPS_DIR, agent_env, run_app


@contextlib.contextmanager
def celery_worker(sink, pool_args, **env):
    """A prefork worker under ``pulse-agent run`` on a queue of its own (yielded), stopped
    with SIGTERM (a warm shutdown) at the end."""
    queue = "pulse-agent-%s" % uuid.uuid4().hex[:8]
    worker = subprocess.Popen(
        [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable, "-m", "celery",
         "-A", "celery_app", "worker", "--pool=prefork", *pool_args, "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=APPS_DIR, env=agent_env(sink.url, QUEUE=queue, **env), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield queue, worker
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def task_pids(sink):
    """The processes that reported task transactions."""
    return {p["instance"]["pid"] for p in sink.payloads if p["instance"] and p["metrics"]
            and any(x["name"].startswith("shop.") for x in p["metrics"])}


def test_tasks_are_background_transactions_with_propagated_traces(sink):
    with celery_worker(sink, ["--concurrency=2"], PULSE_APP_NAME="agent-celery") as (queue, worker):
        result, _ = run_app("celery_producer.py", sink.url, QUEUE=queue, timeout=90)
        assert result["values"] == [0, 2, 4, 6, 8]
        assert result["failed"] == "FAILURE"
        assert sink.wait_for(lambda s: s.count("shop.add") == 5 and s.count("shop.fail") == 1, timeout=30)
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
    pids = task_pids(sink)
    assert pids and worker.pid not in pids
    assert sink.problems == []


def test_recycled_pool_children_send_every_task_before_os_exit(sink):
    """With --max-tasks-per-child 1 each child ends with os._exit after one task; the
    harvest interval is far longer than the test, so only the flush on Celery's
    worker_process_shutdown signal can bring the transactions to the sink."""
    args = ["--concurrency=1", "--max-tasks-per-child=1"]
    with celery_worker(sink, args, PULSE_APP_NAME="agent-celery-recycled", PULSE_HARVEST_INTERVAL="60") as (queue, _):
        result, _ = run_app("celery_producer.py", sink.url, QUEUE=queue, timeout=120)
        assert result["values"] == [0, 2, 4, 6, 8]
        assert sink.wait_for(lambda s: s.count("shop.add") == 5 and s.count("shop.fail") == 1, timeout=30)
    pids = task_pids(sink)
    assert len(pids) == 6  # one child per task, each flushed before it ended
    assert sink.problems == []
