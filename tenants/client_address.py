"""The address of the client behind a request, for throttles and anything else that keys on it.

The peer (REMOTE_ADDR) is the client unless it is one of our own proxies, listed in
PULSE_TRUSTED_PROXIES (networks; none by default). Only then is X-Forwarded-For read,
from the right: each proxy appends the address it received from, so the rightmost entry
that is not one of ours is the client, and anything left of it is whatever the client
sent and may be forged. The web server must not rewrite the peer from that header
itself (uvicorn runs with --no-proxy-headers), or the client would choose it.
"""

import ipaddress

from django.conf import settings


def _trusted(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_address(request):
    return address_of(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def address_of(peer, forwarded_for):
    """The client's address from the connection's peer and the X-Forwarded-For value
    (empty when there is none), for callers without a Django request (the ingest fast path)."""
    if not settings.TRUSTED_PROXIES or not _trusted(peer):
        return peer or "unknown"
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop
    # Every hop is ours (a request from inside): the first one is where it began.
    return hops[0] if hops else peer
