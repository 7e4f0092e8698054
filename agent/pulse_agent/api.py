"""The small public API for code the instrumentation does not cover."""

import functools
import inspect

from pulse_agent.log import internal_error
from pulse_agent.naming import callable_name
from pulse_agent.state import current
from pulse_agent.transaction import PRIORITY_USER, end_transaction, start_transaction


class background_task:
    """Time a unit of work as a background transaction.

    Use as ``with background_task("nightly.report"):`` or as a decorator (sync or
    async functions). Inside a running transaction it does nothing extra.
    """

    def __init__(self, name=None):
        self.name = name
        self.txn = None

    def __enter__(self):
        try:
            if current() is None:
                self.txn = start_transaction(self.name or "background", "background", PRIORITY_USER)
        except Exception:
            internal_error("background_task.enter")
        return self

    def __exit__(self, exc_type, exc, tb):
        txn, self.txn = self.txn, None
        if txn is not None:
            try:
                end_transaction(txn, exc)
            except Exception:
                internal_error("background_task.exit")
        return False

    def __call__(self, func):
        name = self.name or callable_name(func)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args, **kwargs):
                with background_task(name):
                    return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with background_task(name):
                return func(*args, **kwargs)

        return wrapper


def set_transaction_name(name):
    """Rename the current transaction (wins over framework naming)."""
    try:
        txn = current()
        if txn is not None and name:
            txn.set_name(str(name), PRIORITY_USER)
    except Exception:
        internal_error("set_transaction_name")


def record_exception(exc):
    """Attach a handled exception to the current transaction (marks it as an error)."""
    try:
        txn = current()
        if txn is not None:
            txn.record_exception(exc)
    except Exception:
        internal_error("record_exception")


def ignore_transaction():
    """Do not report the current transaction (health checks and the like)."""
    txn = current()
    if txn is not None:
        txn.ignore = True
