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


def test_it_allows_public_addresses():
    assert ssrf.refusal_reason(ipaddress.ip_address("93.184.215.14")) is None
    assert ssrf.refusal_reason(ipaddress.ip_address("2606:4700::6810:85e5")) is None


def test_a_name_resolving_to_loopback_is_refused():
    with pytest.raises(ssrf.UnsafeURLError, match="localhost resolves to .* loopback"):
        ssrf.validate_url("http://localhost:8080/hook")


def test_the_setting_allows_private_targets_but_never_metadata(settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    assert ssrf.validate_url("http://localhost:8080/hook") == "http://localhost:8080/hook"
    assert ssrf.validate_url("http://10.0.0.5/hook")
    for address in ("169.254.169.254", "[fd00:ec2::254]", "0.0.0.0", "224.0.0.1"):
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
