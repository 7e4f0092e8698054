"""The shared POST of the HTTP-based kinds: SSRF-checked, status mapped to retry or not."""

from alerts import ssrf
from alerts.channels import DeliveryError


def post_json(url, body, headers=None):
    """POST bytes ``body`` as JSON; returns the status code of a 2xx answer."""
    all_headers = {"Content-Type": "application/json", "User-Agent": "Pulse-Alerts/1"}
    all_headers.update(headers or {})
    try:
        response = ssrf.post(url, content=body, headers=all_headers)
    except ssrf.UnsafeURLError as exc:
        # Settings or DNS may change, but retrying a refused target for a day helps nobody.
        raise DeliveryError(str(exc), retryable=False)
    except ssrf.POST_ERRORS as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:400] or type(exc).__name__)
    status = response.status
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise DeliveryError(f"HTTP {status}: redirects are not followed", retryable=False, status=status)
    # 4xx other than timeouts and throttling mean the request itself is wrong.
    retryable = status >= 500 or status in (408, 425, 429)
    # The reply's body is not kept: it is the receiver's, and the delivery log is shown to
    # every member (a target inside a network could otherwise be read through it).
    raise DeliveryError(f"HTTP {status}: the receiver did not accept the notification", retryable=retryable, status=status)
