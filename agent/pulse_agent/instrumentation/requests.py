"""requests: ``Session.send`` is an external span (method, URL without query
string, status) with ``traceparent``/``tracestate`` injected."""

from pulse_agent.instrumentation import _http, unwrap_method, wrap_method
from pulse_agent.log import internal_error
from pulse_agent.state import current
from pulse_agent.transaction import EXTERNAL, perf_counter

LIBRARY = "requests"
SUPPORTED = ("2.20", "3.0")


def _send(original, patch):
    def send(self, request, **kwargs):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, request, **kwargs)
        span_id = None
        url = ""
        try:
            span_id = _http.inject(txn, request.headers.__setitem__)
            url = _http.strip_query(request.url)
        except Exception:
            internal_error("requests.begin")
        try:
            saved = txn.enter()
            txn.in_leaf = True
        except Exception:
            internal_error("requests.enter")
            return original(self, request, **kwargs)
        t0 = perf_counter()
        status = None
        try:
            response = original(self, request, **kwargs)
            status = response.status_code
            return response
        finally:
            try:
                txn.in_leaf = False
                method = request.method
                txn.leave(EXTERNAL, _http.span_name(method, url), t0, saved, _http.attrs(method, url, status), span_id)
            except Exception:
                internal_error("requests")

    return send


def instrument():
    from requests import sessions

    wrap_method(sessions.Session, "send", _send)


def uninstrument():
    from requests import sessions

    unwrap_method(sessions.Session, "send")
