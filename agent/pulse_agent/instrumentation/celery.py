"""Celery: each task run is a background transaction named after the task;
failures are recorded; ``traceparent`` travels in the task headers."""

from pulse_agent.log import internal_error
from pulse_agent.state import current
from pulse_agent.transaction import end_transaction, new_span_id, start_transaction

LIBRARY = "celery"
SUPPORTED = ("5.0", "6.0")
FRAMEWORK = True

_running = {}  # task_id -> Transaction (bounded by concurrently running tasks)
_connected = False


def _prerun(sender=None, task_id=None, task=None, **_kw):
    try:
        if current() is not None and task_id not in _running:
            return  # eager task inside a request: part of that transaction
        txn = start_transaction(getattr(task, "name", None) or "celery.task", "background")
        req = getattr(task, "request", None)
        tp = getattr(req, "traceparent", None) if req is not None else None
        if tp is None and req is not None:
            headers = getattr(req, "headers", None) or {}
            tp = headers.get("traceparent") if isinstance(headers, dict) else None
        if tp:
            txn.accept_traceparent(tp, getattr(req, "tracestate", None))
        if len(_running) < 10000:
            _running[task_id] = txn
    except Exception:
        internal_error("celery.prerun")


def _failure(sender=None, task_id=None, exception=None, traceback=None, **_kw):
    try:
        txn = _running.get(task_id)
        if txn is not None and exception is not None:
            txn.record_exception(exception, traceback)
    except Exception:
        internal_error("celery.failure")


def _postrun(sender=None, task_id=None, state=None, **_kw):
    try:
        txn = _running.pop(task_id, None)
        if txn is None:
            return
        if state == "FAILURE":
            txn.error = True
        end_transaction(txn)
    except Exception:
        internal_error("celery.postrun")


def _before_publish(headers=None, **_kw):
    try:
        txn = current()
        if txn is not None and isinstance(headers, dict):
            headers.update(txn.outgoing_headers(new_span_id()))
    except Exception:
        internal_error("celery.publish")


def _process_shutdown(**_kw):
    """A prefork pool child about to end with ``os._exit`` (recycled, or the pool shrinks):
    atexit will not run, so flush now, bounded by PULSE_SHUTDOWN_TIMEOUT."""
    try:
        from pulse_agent.agent import shutdown

        shutdown()
    except Exception:
        internal_error("celery.process_shutdown")


def instrument():
    global _connected
    if _connected:
        return
    from celery import signals

    signals.task_prerun.connect(_prerun, weak=False, dispatch_uid="pulse_agent.prerun")
    signals.task_failure.connect(_failure, weak=False, dispatch_uid="pulse_agent.failure")
    signals.task_postrun.connect(_postrun, weak=False, dispatch_uid="pulse_agent.postrun")
    signals.before_task_publish.connect(_before_publish, weak=False, dispatch_uid="pulse_agent.publish")
    signals.worker_process_shutdown.connect(_process_shutdown, weak=False, dispatch_uid="pulse_agent.process_shutdown")
    _connected = True


def uninstrument():
    global _connected
    from celery import signals

    signals.task_prerun.disconnect(_prerun, dispatch_uid="pulse_agent.prerun")
    signals.task_failure.disconnect(_failure, dispatch_uid="pulse_agent.failure")
    signals.task_postrun.disconnect(_postrun, dispatch_uid="pulse_agent.postrun")
    signals.before_task_publish.disconnect(_before_publish, dispatch_uid="pulse_agent.publish")
    signals.worker_process_shutdown.disconnect(_process_shutdown, dispatch_uid="pulse_agent.process_shutdown")
    _connected = False
