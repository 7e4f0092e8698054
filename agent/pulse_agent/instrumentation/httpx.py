"""httpx, sync and async: ``Client.send`` / ``AsyncClient.send`` are external spans
with ``traceparent``/``tracestate`` injected. The same hooks serve httpx2 (module
``httpx2``), which keeps httpx's client API."""

from pulse_agent.instrumentation import _http, unwrap_method, wrap_method
from pulse_agent.log import internal_error
from pulse_agent.state import current
from pulse_agent.transaction import EXTERNAL, perf_counter

LIBRARY = "httpx"
SUPPORTED = ("0.23", "1.0")


def _begin(txn, request):
    try:
        return _http.inject(txn, request.headers.__setitem__), _http.strip_query(str(request.url))
    except Exception:
        internal_error("httpx.begin")
        return None, ""


def _send(original, patch):
    def send(self, request, *args, **kwargs):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, request, *args, **kwargs)
        span_id, url = _begin(txn, request)
        try:
            saved = txn.enter()
            txn.in_leaf = True
        except Exception:
            internal_error("httpx.enter")
            return original(self, request, *args, **kwargs)
        t0 = perf_counter()
        status = None
        try:
            response = original(self, request, *args, **kwargs)
            status = response.status_code
            return response
        finally:
            try:
                txn.in_leaf = False
                m = request.method
                txn.leave(EXTERNAL, _http.span_name(m, url), t0, saved, _http.attrs(m, url, status), span_id)
            except Exception:
                internal_error("httpx")

    return send


def _send_async(original, patch):
    async def send(self, request, *args, **kwargs):
        txn = current()
        if txn is None or patch.passthrough:
            return await original(self, request, *args, **kwargs)
        span_id, url = _begin(txn, request)
        try:
            saved = txn.enter()
        except Exception:
            internal_error("httpx.enter")
            return await original(self, request, *args, **kwargs)
        t0 = perf_counter()
        status = None
        try:
            response = await original(self, request, *args, **kwargs)
            status = response.status_code
            return response
        finally:
            try:
                m = request.method
                txn.leave(EXTERNAL, _http.span_name(m, url), t0, saved, _http.attrs(m, url, status), span_id)
            except Exception:
                internal_error("httpx")

    return send


def wrap_clients(module):
    wrap_method(module.Client, "send", _send)
    wrap_method(module.AsyncClient, "send", _send_async)


def unwrap_clients(module):
    unwrap_method(module.Client, "send")
    unwrap_method(module.AsyncClient, "send")


def instrument():
    import httpx

    wrap_clients(httpx)


def uninstrument():
    import httpx

    unwrap_clients(httpx)
