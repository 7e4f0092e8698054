"""Generic WSGI middleware: ``app = WSGIMiddleware(app)``.

Framework instrumentations (Django, Flask) use ``run_wsgi`` under the hood; this
wrapper is for any other WSGI app. Transactions are named ``METHOD /path`` with
id-like path segments replaced by ``{id}``, unless a framework hook names them.
"""

from pulse_agent.log import internal_error
from pulse_agent.naming import url_name
from pulse_agent.state import current, reset_current, set_current
from pulse_agent.transaction import end_transaction, start_transaction

LIBRARY = None
SUPPORTED = (None, None)


def begin(environ):
    txn = start_transaction(url_name(environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")))
    tp = environ.get("HTTP_TRACEPARENT")
    if tp:
        txn.accept_traceparent(tp, environ.get("HTTP_TRACESTATE"))
    return txn


def detach(txn):
    token = txn.token
    if token is not None:
        txn.token = None
        try:
            reset_current(token)
        except ValueError:
            set_current(None)


def finish(txn, exc=None):
    try:
        if exc is not None and txn.status is None:
            txn.status = 500
        end_transaction(txn, exc)
    except Exception:
        internal_error("wsgi.finish")


class _ClosingIterable:
    """Ends the transaction when the server closes the response iterable."""

    __slots__ = ("_result", "_txn")

    def __init__(self, result, txn):
        self._result = result
        self._txn = txn

    def __iter__(self):
        return iter(self._result)

    def close(self):
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            txn, self._txn = self._txn, None
            if txn is not None:
                finish(txn)


def run_wsgi(app, environ, start_response, end_on_return=False):
    """Run a WSGI app as one transaction. It ends when the server closes the response
    iterable, or as soon as the app returns with ``end_on_return`` (frameworks that
    build the whole response before returning; streamed bodies are then not timed)."""
    if current() is not None:
        return app(environ, start_response)
    try:
        txn = begin(environ)
    except Exception:
        internal_error("wsgi.begin")
        return app(environ, start_response)

    def _start_response(status, headers, exc_info=None):
        try:
            txn.status = int(status[:3])
        except Exception:
            pass
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)

    try:
        result = app(environ, _start_response)
    except BaseException as exc:
        finish(txn, exc)
        raise
    if end_on_return or isinstance(result, (list, tuple)):
        finish(txn)
        return result
    detach(txn)
    return _ClosingIterable(result, txn)


class WSGIMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return run_wsgi(self.app, environ, start_response)


def instrument():
    return None


def uninstrument():
    return None
