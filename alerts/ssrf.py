"""Outgoing webhook requests that cannot be pointed at Pulse's own network.

A webhook URL is chosen by a tenant, so a request to it must not reach loopback,
private networks, link-local addresses or a cloud metadata service. The name is
resolved at send time, every resolved address is checked, and the connection is
made to the checked address itself (the URL's host is kept for the Host header and
TLS), so a DNS answer that changes between check and connect (rebinding) cannot
redirect it. Redirects are not followed: a 3xx answer is a failed delivery.

Addresses are judged against an explicit table written from IANA's IPv4 and IPv6
Special-Purpose Address Registries, not ``ipaddress.is_global``/``is_private``, whose
answers differ between Python builds (CVE-2024-4032). An IPv6 address that carries an
IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64) is also judged by the
IPv4 address inside, since that is where the packets end up.

``ALERTS_ALLOW_PRIVATE_WEBHOOKS`` allows private and loopback targets for self-hosted
installations and tests; link-local addresses (where clouds put their metadata and
credential services, at more addresses than any list keeps up with), metadata,
unspecified, multicast, reserved and documentation addresses are refused even then.
Ports are 80 and 443 unless ALERTS_WEBHOOK_PORTS allows others.
"""

import socket
import time
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpcore
from django.conf import settings

MAX_URL_LENGTH = 2000

IPAddress = IPv4Address | IPv6Address


class Range(NamedTuple):
    network: IPv4Network | IPv6Network
    reason: str | None  # None: not refused by itself (a wrapper judged by its IPv4 address, or public)
    private: bool = False  # allowed with ALERTS_ALLOW_PRIVATE_WEBHOOKS


def _range(cidr: str, reason: str | None, private: bool = False) -> Range:
    return Range(ip_network(cidr), reason, private)


LOOPBACK = "a loopback address"
PRIVATE = "a private address"
LINK_LOCAL = "a link-local address"
METADATA = "a cloud metadata address"
RESERVED = "a reserved address"
DOCUMENTATION = "a documentation address"
MULTICAST = "a multicast address"
UNSPECIFIED = "an unspecified address"

# The most specific range containing an address decides. Registry entries marked
# globally reachable that are ordinary public services (AS112 and AMT anycast) are
# left out, so they pass like any public address.
RANGES = (
    # IPv4 Special-Purpose Address Registry, plus multicast and reserved space.
    _range("0.0.0.0/8", "a 'this network' address"),
    _range("0.0.0.0/32", UNSPECIFIED),
    _range("10.0.0.0/8", PRIVATE, private=True),
    _range("100.64.0.0/10", PRIVATE, private=True),  # shared address space (carrier-grade NAT)
    _range("127.0.0.0/8", LOOPBACK, private=True),
    _range("169.254.0.0/16", LINK_LOCAL),
    _range("172.16.0.0/12", PRIVATE, private=True),
    _range("192.0.0.0/24", RESERVED),  # IETF protocol assignments (Oracle Cloud metadata is 192.0.0.192)
    _range("192.0.2.0/24", DOCUMENTATION),
    _range("192.88.99.0/24", RESERVED),  # deprecated 6to4 relay anycast
    _range("192.168.0.0/16", PRIVATE, private=True),
    _range("198.18.0.0/15", "a benchmarking address"),
    _range("198.51.100.0/24", DOCUMENTATION),
    _range("203.0.113.0/24", DOCUMENTATION),
    _range("224.0.0.0/4", MULTICAST),
    _range("240.0.0.0/4", RESERVED),
    _range("255.255.255.255/32", "a broadcast address"),
    # Cloud metadata and credential services, refused even where their range is allowed.
    _range("169.254.169.254/32", METADATA),  # AWS, GCP, Azure, OpenStack and others
    _range("169.254.170.2/32", METADATA),  # AWS ECS task credentials
    _range("169.254.170.23/32", METADATA),  # AWS EKS Pod Identity
    _range("100.100.100.200/32", METADATA),  # Alibaba Cloud
    _range("168.63.129.16/32", METADATA),  # Azure WireServer (a public address)
    _range("fd00:ec2::254/128", METADATA),  # AWS, IPv6
    _range("fd00:ec2::23/128", METADATA),  # AWS EKS Pod Identity, IPv6
    _range("fd20:ce::254/128", METADATA),  # Google Cloud, IPv6
    # IPv6: only global unicast (2000::/3) is public; the rest of the address space is
    # unassigned or special (IPv6 Address Space Registry).
    _range("::/0", RESERVED),
    _range("2000::/3", None),
    # IPv6 Special-Purpose Address Registry.
    _range("::/128", UNSPECIFIED),
    _range("::1/128", LOOPBACK, private=True),
    _range("::/96", RESERVED),  # deprecated IPv4-compatible addresses
    _range("::ffff:0:0/96", None),  # IPv4-mapped: judged by the IPv4 address alone
    _range("64:ff9b::/96", None),  # well-known NAT64 prefix: judged by the IPv4 address alone
    _range("64:ff9b:1::/48", "a local-use NAT64 address"),
    _range("100::/64", "a discard-only address"),
    _range("2001::/23", RESERVED),  # IETF protocol assignments
    _range("2001::/32", "a Teredo address"),
    _range("2001:db8::/32", DOCUMENTATION),
    _range("2002::/16", "a 6to4 address"),
    _range("3fff::/20", DOCUMENTATION),
    _range("fc00::/7", PRIVATE, private=True),  # unique local addresses
    _range("fe80::/10", LINK_LOCAL),
    _range("ff00::/8", MULTICAST),
)
_BY_SPECIFICITY = sorted(RANGES, key=lambda r: r.network.prefixlen, reverse=True)

_NAT64 = ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ip_network("::/96")


class UnsafeURLError(ValueError):
    """The URL is malformed or points at an address webhooks may not reach."""


def _allow_private() -> bool:
    return bool(getattr(settings, "ALERTS_ALLOW_PRIVATE_WEBHOOKS", False))


def _range_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    for entry in _BY_SPECIFICITY:
        if entry.network.version == ip.version and ip in entry.network:
            if entry.reason is None or (entry.private and allow_private):
                return None
            return entry.reason
    return None


def embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries and the name of its form, or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "an IPv4-mapped address"
    if ip.sixtofour is not None:
        return ip.sixtofour, "a 6to4 address"
    if ip.teredo is not None:
        return ip.teredo[1], "a Teredo address"  # the client, stored bit-inverted
    low32 = IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return low32, "a NAT64 address"
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are not IPv4-compatible
        return low32, "an IPv4-compatible address"
    return None


def refusal_reason(ip: IPAddress, allow_private: bool | None = None) -> str | None:
    """Why ``ip`` may not be a webhook target, or None when it may."""
    if allow_private is None:
        allow_private = _allow_private()
    if isinstance(ip, IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            inner, form = embedded
            reason = _range_refusal(inner, allow_private)
            if reason:
                return f"{reason} ({inner} inside {form})"
    return _range_refusal(ip, allow_private)


def parse_url(url: str) -> tuple[str, str, int]:
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
    port = port or (443 if parts.scheme == "https" else 80)
    allowed = settings.ALERTS_WEBHOOK_PORTS
    if allowed is not None and port not in allowed:
        ports = " and ".join(str(p) for p in sorted(allowed))
        raise UnsafeURLError(f"Webhooks are sent to port {ports} only, not {port}.")
    return parts.scheme, parts.hostname, port


def resolve_checked(host: str, port: int, allow_private: bool | None = None) -> IPAddress:
    """Resolve ``host`` and return one address every check passed; raise when any is refused."""
    try:
        literal = ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeURLError(f"The host name {host!r} does not resolve ({exc}).")
        addresses = [ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeURLError(f"The host name {host!r} does not resolve.")
    # Every answer is checked, not only the first: the client could otherwise be
    # steered to a refused one by ordering.
    for ip in addresses:
        reason = refusal_reason(ip, allow_private)
        if reason:
            raise UnsafeURLError(f"{host} resolves to {ip}, {reason}; webhooks may not be sent there.")
    return addresses[0]


def validate_url(url: str, allow_private: bool | None = None) -> str:
    """Validate a URL entered in a form (form and resolution). Returns the URL stripped."""
    _, host, port = parse_url(url)
    resolve_checked(host, port, allow_private)
    return url.strip()


class Reply(NamedTuple):
    status: int
    body: bytes  # at most ALERTS_REPLY_MAX_BYTES of it; the rest is never read


class DeadlineExceeded(httpcore.TimeoutException):
    """The whole request (connect, send, read) outlived its deadline."""


def _time_left(deadline: float, timeout: float | None) -> float:
    """Seconds one socket operation may wait: its own timeout, cut to what the deadline leaves."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the receiver did not answer within the deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write waits no longer than what is left of one deadline.

    httpcore's timeouts bound each socket operation; a receiver that trickles a byte at a
    time never trips them, so each operation is given the smaller of the two."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self._stream, self._deadline = stream, deadline

    def _left(self, timeout: float | None) -> float:
        return _time_left(self._deadline, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._stream.read(max_bytes, self._left(timeout))
        except httpcore.ReadTimeout:
            self._left(None)  # says "deadline" when that is what cut it
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, self._left(timeout)), self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def __init__(self, deadline: float):
        self._deadline = deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = super().connect_tcp(host, port, _time_left(self._deadline, timeout), local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)


# What a failed POST raises besides UnsafeURLError: the network, the deadline, a broken reply.
POST_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError)


def post(url: str, *, content: bytes, headers: dict[str, str], timeout: float | None = None) -> Reply:
    """POST ``content`` to ``url`` through a connection pinned to a checked address.

    The whole exchange (connect, send, status, headers and the reply read so far) ends at
    ``timeout`` seconds (ALERTS_WEBHOOK_TIMEOUT), however slowly the receiver trickles, and
    no more than ALERTS_REPLY_MAX_BYTES of the reply are read: the status is the answer,
    and a receiver must not make a worker read gigabytes. Raises ``UnsafeURLError`` for a
    refused target and one of ``POST_ERRORS`` for network failures. Redirects are returned,
    never followed; no proxy from the environment is used.
    """
    scheme, host, port = parse_url(url)
    ip = resolve_checked(host, port)
    parts = urlsplit(url.strip())
    ip_host = f"[{ip}]" if ip.version == 6 else str(ip)
    pinned = urlunsplit((scheme, f"{ip_host}:{port}", parts.path or "/", parts.query, ""))
    default_port = 443 if scheme == "https" else 80
    headers = dict(headers)
    headers["Host"] = host if port == default_port else f"{host}:{port}"
    headers["Content-Length"] = str(len(content))
    timeout = timeout if timeout is not None else settings.ALERTS_WEBHOOK_TIMEOUT
    extensions: dict[str, object] = {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}
    if scheme == "https":
        extensions["sni_hostname"] = host
    cap = settings.ALERTS_REPLY_MAX_BYTES
    deadline = time.monotonic() + timeout
    with httpcore.ConnectionPool(network_backend=_DeadlineBackend(deadline), max_connections=1, retries=0) as pool:
        with pool.stream("POST", pinned, headers=list(headers.items()), content=content, extensions=extensions) as response:
            body = bytearray()
            try:
                for chunk in response.iter_stream():
                    body += chunk[: cap - len(body)]
                    if len(body) >= cap:
                        break
            except httpcore.TimeoutException:
                pass  # the status arrived in time, and it is the answer; the body is a courtesy
            # Leaving the block closes the connection, unread bytes and all.
            return Reply(response.status, bytes(body))
