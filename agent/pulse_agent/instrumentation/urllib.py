"""urllib.request (standard library): ``AbstractHTTPHandler.do_open`` is an external
span with ``traceparent``/``tracestate`` injected."""

from pulse_agent.instrumentation import _http, unwrap_method, wrap_method
from pulse_agent.log import internal_error
from pulse_agent.state import current
from pulse_agent.transaction import EXTERNAL, perf_counter

LIBRARY = None  # standard library
SUPPORTED = (None, None)


def _do_open(original, patch):
    def do_open(self, http_class, req, **kwargs):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, http_class, req, **kwargs)
        span_id = None
        url = ""
        try:
            span_id = _http.inject(txn, req.add_unredirected_header)
            url = _http.strip_query(req.full_url)
        except Exception:
            internal_error("urllib.begin")
        try:
            saved = txn.enter()
            txn.in_leaf = True
        except Exception:
            internal_error("urllib.enter")
            return original(self, http_class, req, **kwargs)
        t0 = perf_counter()
        status = None
        try:
            response = original(self, http_class, req, **kwargs)
            status = getattr(response, "status", None)
            return response
        finally:
            try:
                txn.in_leaf = False
                m = req.get_method()
                txn.leave(EXTERNAL, _http.span_name(m, url), t0, saved, _http.attrs(m, url, status), span_id)
            except Exception:
                internal_error("urllib")

    return do_open


def instrument():
    from urllib import request

    wrap_method(request.AbstractHTTPHandler, "do_open", _do_open)


def uninstrument():
    from urllib import request

    unwrap_method(request.AbstractHTTPHandler, "do_open")
