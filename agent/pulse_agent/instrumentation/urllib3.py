"""urllib3: ``HTTPConnectionPool.urlopen`` is an external span with W3C headers
injected. Calls made through requests are timed by the requests hook instead."""

from pulse_agent.instrumentation import _http, unwrap_method, wrap_method
from pulse_agent.log import internal_error
from pulse_agent.state import current
from pulse_agent.transaction import EXTERNAL, perf_counter

LIBRARY = "urllib3"
SUPPORTED = ("1.25", "3.0")


def _urlopen(original, patch):
    def urlopen(self, method, url, *args, **kwargs):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, method, url, *args, **kwargs)
        span_id = None
        try:
            positional = len(args) >= 2
            headers = args[1] if positional else kwargs.get("headers")
            headers = dict(headers) if headers else dict(self.headers or {})
            span_id = _http.inject(txn, headers.__setitem__)
            if positional:
                args = args[:1] + (headers,) + args[2:]
            else:
                kwargs["headers"] = headers
            full = "%s://%s%s%s" % (
                self.scheme,
                self.host,
                ":%s" % self.port if self.port else "",
                url if url.startswith("/") else "/" + url,
            ) if "://" not in url else url
            full = _http.strip_query(full)
        except Exception:
            internal_error("urllib3.begin")
            full = ""
        try:
            saved = txn.enter()
        except Exception:
            internal_error("urllib3.enter")
            return original(self, method, url, *args, **kwargs)
        txn.in_leaf = True  # nested clients (e.g. a retry inside) are not counted twice
        t0 = perf_counter()
        status = None
        try:
            response = original(self, method, url, *args, **kwargs)
            status = getattr(response, "status", None)
            return response
        finally:
            try:
                txn.in_leaf = False
                txn.leave(EXTERNAL, _http.span_name(method, full), t0, saved, _http.attrs(method, full, status), span_id)
            except Exception:
                internal_error("urllib3")

    return urlopen


def instrument():
    from urllib3 import connectionpool

    wrap_method(connectionpool.HTTPConnectionPool, "urlopen", _urlopen)


def uninstrument():
    from urllib3 import connectionpool

    unwrap_method(connectionpool.HTTPConnectionPool, "urlopen")
