"""Webhook targets: refused address classes, resolution at send time, no redirects."""

import ipaddress

import pytest

from alerts import ssrf
from alerts.channels import DeliveryError
from alerts.channels.http import post_json


@pytest.fixture(autouse=True)
def refuse_private(settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = False


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_it_refuses_each_address_class(address, reason):
    assert reason in ssrf.refusal_reason(ipaddress.ip_address(address))
    with pytest.raises(ssrf.UnsafeURLError, match=reason):
        host = f"[{address}]" if ":" in address else address
        ssrf.validate_url(f"http://{host}/hook")


# Each refused range of the IANA special-purpose registries, by its first and last address
# where that matters; "private" ranges are the ones the setting allows.
REFUSED_ALWAYS = [
    # Link-local: where clouds serve metadata and credentials, refused whatever the setting.
    ("169.254.0.0", "link-local"),
    ("169.254.255.255", "link-local"),
    ("fe80::", "link-local"),
    ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("0.0.0.1", "this network"),
    ("0.255.255.255", "this network"),
    ("192.0.0.0", "reserved"),
    ("192.0.0.192", "reserved"),  # Oracle Cloud metadata; let through by is_global on some builds
    ("192.0.0.255", "reserved"),
    ("192.0.2.0", "documentation"),
    ("192.0.2.255", "documentation"),
    ("192.88.99.1", "reserved"),
    ("198.18.0.0", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.255", "documentation"),
    ("224.0.0.0", "multicast"),
    ("239.255.255.255", "multicast"),
    ("240.0.0.0", "reserved"),
    ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("169.254.170.23", "metadata"),
    ("100.100.100.200", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("fd00:ec2::23", "metadata"),
    ("::", "unspecified"),
    ("::1:0:0:1", "reserved"),
    ("1::", "reserved"),
    ("fec0::1", "reserved"),  # deprecated site-local
    ("64:ff9b:1::", "local-use NAT64"),
    ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64"),
    ("100::", "discard-only"),
    ("100::ffff:ffff:ffff:ffff", "discard-only"),
    ("2001:1::1", "reserved"),
    ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"),
    ("2001::", "Teredo"),
    ("2001:db8::", "documentation"),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"),
    ("3fff::1", "documentation"),
    ("2002::", "6to4"),
    ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4"),
    ("ff00::", "multicast"),
    ("ff02::1", "multicast"),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"),
    # IPv4 inside IPv6: the IPv4 address decides, and the wrapper's own range still counts.
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("2002:a9fe:a9fe::", "metadata"),
    ("2002:808:808::", "6to4"),
]

REFUSED_UNLESS_ALLOWED = [
    ("10.0.0.0", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.0", "private"),
    ("100.127.255.255", "private"),
    ("127.0.0.0", "loopback"),
    ("127.255.255.255", "loopback"),
    ("172.16.0.0", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.0", "private"),
    ("192.168.255.255", "private"),
    ("::1", "loopback"),
    ("fc00::", "private"),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:127.0.0.1", "loopback"),
    ("64:ff9b::7f00:1", "loopback"),
    ("64:ff9b::10.1.2.3", "private"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "9.255.255.255",  # just below 10/8
    "11.0.0.0",  # just above 10/8
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.31.196.1",  # AS112, globally reachable
    "223.255.255.255",
    "2606:4700::1111",
    "2606:4700::6810:85e5",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address, reason", REFUSED_ALWAYS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_it_refuses_special_ranges_even_with_private_targets_allowed(address, reason, allow_private):
    assert reason in ssrf.refusal_reason(ipaddress.ip_address(address), allow_private)


@pytest.mark.parametrize("address, reason", REFUSED_UNLESS_ALLOWED)
def test_it_refuses_private_ranges_unless_allowed(address, reason):
    assert reason in ssrf.refusal_reason(ipaddress.ip_address(address), allow_private=False)
    assert ssrf.refusal_reason(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC)
@pytest.mark.parametrize("allow_private", [False, True])
def test_it_allows_public_addresses(address, allow_private):
    assert ssrf.refusal_reason(ipaddress.ip_address(address), allow_private) is None


@pytest.mark.parametrize(
    "address, reason",
    [
        # Let through by is_global on some Python builds (CVE-2024-4032).
        ("2002:7f00:1::", "a loopback address (127.0.0.1 inside a 6to4 address)"),
        ("::ffff:10.0.0.1", "a private address (10.0.0.1 inside an IPv4-mapped address)"),
        ("64:ff9b::7f00:1", "a loopback address (127.0.0.1 inside a NAT64 address)"),
        # Teredo stores its client address bit-inverted: 80ff:fffe is 127.0.0.1.
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a loopback address (127.0.0.1 inside a Teredo address)"),
        ("::7f00:1", "a loopback address (127.0.0.1 inside an IPv4-compatible address)"),
    ],
)
def test_it_judges_an_embedded_ipv4_address_by_the_address_inside(address, reason):
    assert ssrf.refusal_reason(ipaddress.ip_address(address), allow_private=False) == reason


def test_a_wrapper_refused_by_itself_stays_refused_when_its_ipv4_address_is_allowed():
    for address, reason in [
        ("2002:7f00:1::", "a 6to4 address"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a Teredo address"),
        ("::7f00:1", "a reserved address"),
    ]:
        assert ssrf.refusal_reason(ipaddress.ip_address(address), allow_private=True) == reason


def test_a_name_resolving_to_loopback_is_refused():
    with pytest.raises(ssrf.UnsafeURLError, match="localhost resolves to .* loopback"):
        ssrf.validate_url("http://localhost:8080/hook")


def test_the_setting_allows_private_targets_but_never_metadata(settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    assert ssrf.validate_url("http://localhost:8080/hook") == "http://localhost:8080/hook"
    assert ssrf.validate_url("http://10.0.0.5/hook")
    for address in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "[fd00:ec2::254]", "0.0.0.0", "224.0.0.1"):
        with pytest.raises(ssrf.UnsafeURLError):
            ssrf.validate_url(f"http://{address}/latest/meta-data/")


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/x", "http"),
        ("file:///etc/passwd", "http"),
        ("http:///nohost", "host"),
        ("http://user:pw@example.com/", "Credentials"),
        ("http://example.com:99999/", "valid URL"),
        ("", "at most"),
    ],
)
def test_it_rejects_malformed_urls(url, message):
    with pytest.raises(ssrf.UnsafeURLError, match=message):
        ssrf.parse_url(url)


def test_a_refused_target_is_never_contacted(receiver):
    # The receiver listens on loopback; with private targets refused nothing reaches it.
    with pytest.raises(DeliveryError) as exc:
        post_json(receiver.url.replace("127.0.0.1", "localhost"), b"{}")
    assert not exc.value.retryable
    assert receiver.drain() == []


def test_the_connection_goes_to_the_checked_address_with_the_original_host(settings, receiver):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    url = receiver.url.replace("127.0.0.1", "localhost")
    assert post_json(url, b'{"a": 1}') == 200
    request = receiver.get(timeout=5)
    port = url.split(":")[2].split("/")[0]
    assert request["headers"]["Host"] == f"localhost:{port}"
    assert request["body"] == b'{"a": 1}'


def test_redirects_are_not_followed(settings, receiver):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    receiver.status = 302
    with pytest.raises(DeliveryError, match="redirects are not followed") as exc:
        post_json(receiver.url, b"{}")
    assert not exc.value.retryable


@pytest.mark.parametrize(
    "address",
    [
        "169.254.0.1",  # anywhere in link-local: clouds keep adding services there
        "169.254.0.23",  # Tencent Cloud metadata
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "169.254.255.254",
        "fe80::1",
        "febf:ffff::1",
        "::ffff:169.254.169.254",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "fd00:ec2::254",
        "fd00:ec2::23",
        "fd20:ce::254",  # Google Cloud, IPv6
    ],
)
def test_link_local_and_metadata_addresses_are_refused_even_when_private_ones_are_allowed(settings, address):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    assert ssrf.refusal_reason(ipaddress.ip_address(address)) is not None
    with pytest.raises(ssrf.UnsafeURLError):
        ssrf.validate_url(f"http://{address if ':' not in address else f'[{address}]'}/latest/meta-data/")


@pytest.mark.parametrize(
    "url, allowed, port",
    [
        ("http://example.com/hook", True, 80),
        ("https://example.com/hook", True, 443),
        ("https://example.com:443/hook", True, 443),
        ("http://example.com:80/hook", True, 80),
        ("http://example.com:443/hook", True, 443),
        ("https://example.com:8443/hook", False, 8443),
        ("http://example.com:6379/hook", False, 6379),
        ("http://example.com:22/hook", False, 22),
    ],
)
def test_webhooks_go_to_ports_80_and_443_only_by_default(settings, url, allowed, port):
    settings.ALERTS_WEBHOOK_PORTS = frozenset({80, 443})
    if allowed:
        assert ssrf.parse_url(url)[2] == port
    else:
        with pytest.raises(ssrf.UnsafeURLError, match=f"port 80 and 443 only, not {port}"):
            ssrf.parse_url(url)


def test_the_port_setting_allows_more(settings, monkeypatch):
    from pulse.env import envports

    settings.ALERTS_WEBHOOK_PORTS = frozenset({80, 443, 8443})
    assert ssrf.parse_url("https://example.com:8443/hook")[2] == 8443
    settings.ALERTS_WEBHOOK_PORTS = None
    assert ssrf.parse_url("https://example.com:9/hook")[2] == 9
    assert envports("UNSET_PORTS_FOR_TEST", (80, 443)) == frozenset({80, 443})
    monkeypatch.setenv("SOME_PORTS", "443, 8443")
    assert envports("SOME_PORTS", (80, 443)) == frozenset({443, 8443})
    monkeypatch.setenv("SOME_PORTS", "*")
    assert envports("SOME_PORTS", (80, 443)) is None
    monkeypatch.setenv("SOME_PORTS", "http")
    with pytest.raises(Exception, match="not a port"):
        envports("SOME_PORTS", (80, 443))


def test_a_receivers_reply_is_never_passed_on(settings, receiver):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    receiver.status = 500
    receiver.reply = b"root:x:0:0:root:/root:/bin/bash"
    with pytest.raises(DeliveryError) as exc:
        post_json(receiver.url, b"{}")
    assert str(exc.value) == "HTTP 500: the receiver did not accept the notification"
    assert "root" not in str(exc.value)
