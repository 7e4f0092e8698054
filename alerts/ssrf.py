"""Outgoing webhook requests that cannot be pointed at Pulse's own network.

A webhook URL is chosen by a tenant, so a request to it must not reach loopback,
private networks, link-local addresses or a cloud metadata service. The name is
resolved at send time, every resolved address is checked, and the connection is
made to the checked address itself (the URL's host is kept for the Host header and
TLS), so a DNS answer that changes between check and connect (rebinding) cannot
redirect it. Redirects are not followed: a 3xx answer is a failed delivery.

``ALERTS_ALLOW_PRIVATE_WEBHOOKS`` allows private, loopback and link-local targets for
self-hosted installations and tests; metadata, unspecified, multicast and reserved
addresses are refused even then.
"""

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

MAX_URL_LENGTH = 2000

# Cloud instance metadata services (AWS, GCP, Azure, OpenStack use the IPv4 one).
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeURLError(ValueError):
    """The URL is malformed or points at an address webhooks may not reach."""


def _allow_private():
    return bool(getattr(settings, "ALERTS_ALLOW_PRIVATE_WEBHOOKS", False))


def refusal_reason(ip, allow_private=None):
    """Why ``ip`` may not be a webhook target, or None when it may."""
    if allow_private is None:
        allow_private = _allow_private()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_loopback:
        return None if allow_private else "a loopback address"
    if ip.is_link_local:
        return None if allow_private else "a link-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_V4):
        return None if allow_private else "a private address"
    if not ip.is_global:
        return "a reserved address"
    return None


_SHARED_V4 = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def parse_url(url):
    """Check the form of a webhook URL; returns (scheme, host, port)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"Enter a URL of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeURLError("Enter a valid URL.")
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeURLError("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeURLError("Credentials in the URL are not supported; put a token in the path instead.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve_checked(host, port, allow_private=None):
    """Resolve ``host`` and return one address every check passed; raise when any is refused."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeURLError(f"The host name {host!r} does not resolve ({exc}).")
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeURLError(f"The host name {host!r} does not resolve.")
    # Every answer is checked, not only the first: the client could otherwise be
    # steered to a refused one by ordering.
    for ip in addresses:
        reason = refusal_reason(ip, allow_private)
        if reason:
            raise UnsafeURLError(f"{host} resolves to {ip}, {reason}; webhooks may not be sent there.")
    return addresses[0]


def validate_url(url, allow_private=None):
    """Validate a URL entered in a form (form and resolution). Returns the URL stripped."""
    _, host, port = parse_url(url)
    resolve_checked(host, port, allow_private)
    return url.strip()


def post(url, *, content, headers, timeout=None):
    """POST ``content`` to ``url`` through a connection pinned to a checked address.

    Returns the ``httpx.Response``; raises ``UnsafeURLError`` for a refused target and
    ``httpx.HTTPError`` for network failures. Redirects are returned, never followed.
    """
    scheme, host, port = parse_url(url)
    ip = resolve_checked(host, port)
    parts = urlsplit(url.strip())
    ip_host = f"[{ip}]" if ip.version == 6 else str(ip)
    pinned = urlunsplit((scheme, f"{ip_host}:{port}", parts.path or "/", parts.query, ""))
    default_port = 443 if scheme == "https" else 80
    headers = dict(headers)
    headers["Host"] = host if port == default_port else f"{host}:{port}"
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    timeout = timeout if timeout is not None else getattr(settings, "ALERTS_WEBHOOK_TIMEOUT", 10.0)
    # trust_env=False: no proxy from the environment may carry the request elsewhere.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        request = client.build_request("POST", pinned, content=content, headers=headers, extensions=extensions)
        return client.send(request)
