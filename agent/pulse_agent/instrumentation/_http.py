"""Shared pieces of the HTTP client hooks: span attributes and header injection."""

from pulse_agent.transaction import new_span_id


def strip_query(url):
    if not isinstance(url, str):
        try:
            url = url.decode("latin-1") if isinstance(url, bytes) else str(url)
        except Exception:
            return ""
    i = url.find("?")
    if i >= 0:
        url = url[:i]
    i = url.find("#")
    if i >= 0:
        url = url[:i]
    # drop user:password@ from the authority
    scheme_end = url.find("://")
    if scheme_end >= 0:
        rest = url[scheme_end + 3 :]
        at = rest.find("@")
        slash = rest.find("/")
        if at >= 0 and (slash < 0 or at < slash):
            url = url[: scheme_end + 3] + rest[at + 1 :]
    return url[:4096]


def host_of(url):
    i = url.find("://")
    rest = url[i + 3 :] if i >= 0 else url
    return rest.split("/", 1)[0][:255]


def span_name(method, url):
    return ("%s %s" % (method or "GET", host_of(url)))[:255]


def attrs(method, url, status):
    a = {"method": method or "GET", "url": url, "host": host_of(url)}
    if status is not None:
        a["status"] = str(status)
    return a


def inject(txn, set_header):
    """Add traceparent/tracestate through ``set_header(name, value)``; returns the span id."""
    span_id = new_span_id()
    for k, v in txn.outgoing_headers(span_id).items():
        set_header(k, v)
    return span_id
