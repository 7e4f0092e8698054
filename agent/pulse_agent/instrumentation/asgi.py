"""Generic ASGI middleware: ``app = ASGIMiddleware(app)`` (HTTP only).

Starlette/FastAPI instrumentation uses ``run_asgi``; the optional ``namer(scope)``
is called at the end of the request, once routing has filled the scope.
"""

import os

from pulse_agent.log import internal_error
from pulse_agent.naming import url_name
from pulse_agent.runtime import watch_running_loop
from pulse_agent.state import current
from pulse_agent.transaction import PRIORITY_FRAMEWORK, end_transaction, start_transaction

LIBRARY = None
SUPPORTED = (None, None)

_loop_unwatched = True  # until the first request starts the event-loop lag probe


def _watch_again_after_fork():
    global _loop_unwatched
    _loop_unwatched = True  # a forked child runs its own loop


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watch_again_after_fork)


def begin(scope):
    txn = start_transaction(url_name(scope.get("method"), scope.get("path")))
    # ASGI servers pass header names lowercased and repeated lines one by one; joined
    # with "," they read as a WSGI server would give them (two traceparents: invalid).
    tp = ts = None
    for k, v in scope.get("headers") or ():
        if k == b"traceparent":
            tp = v if tp is None else tp + b"," + v
        elif k == b"tracestate":
            ts = v if ts is None else ts + b"," + v
    if tp:
        txn.accept_traceparent(tp.decode("latin-1"), ts.decode("latin-1") if ts else None)
    return txn


def finish(txn, scope, namer, exc=None):
    try:
        if namer is not None:
            name = namer(scope)
            if name:
                txn.set_name(name, PRIORITY_FRAMEWORK)
        if exc is not None and txn.status is None:
            txn.status = 500
        end_transaction(txn, exc)
    except Exception:
        internal_error("asgi.finish")


async def run_asgi(app, scope, receive, send, namer=None):
    global _loop_unwatched
    if _loop_unwatched:
        _loop_unwatched = not watch_running_loop()
    if scope.get("type") != "http" or current() is not None:
        return await app(scope, receive, send)
    try:
        txn = begin(scope)
    except Exception:
        internal_error("asgi.begin")
        return await app(scope, receive, send)

    async def _send(message):
        if message.get("type") == "http.response.start":
            try:
                txn.status = int(message.get("status"))
            except Exception:
                pass
        await send(message)

    try:
        await app(scope, receive, _send)
    except BaseException as exc:
        finish(txn, scope, namer, exc)
        raise
    finish(txn, scope, namer)


class ASGIMiddleware:
    def __init__(self, app, namer=None):
        self.app = app
        self.namer = namer

    async def __call__(self, scope, receive, send):
        await run_asgi(self.app, scope, receive, send, self.namer)


def instrument():
    return None


def uninstrument():
    return None
