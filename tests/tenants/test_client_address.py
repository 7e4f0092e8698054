"""Whose address a request is: X-Forwarded-For counts only when our own proxy sent it."""

import ipaddress
import os
import re
import shlex
import signal
import subprocess
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from pulse.env import envnetworks
from tenants.client_address import client_address
from tests.conftest import PASSWORD
from tests.live.conftest import BIN, free_port, platform_env, wait_http

ROOT = Path(__file__).resolve().parents[2]
PROXIES = "10.0.0.0/8, fd00::/8"


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network(n.strip()) for n in PROXIES.split(",")]


@pytest.mark.parametrize(
    "peer, forwarded, client",
    [
        ("203.0.113.7", "", "203.0.113.7"),
        # Not from our proxy: whatever the header says is the client's own writing.
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # The client may send a header of its own; our proxy appends the real address.
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        # Two of our proxies in a row.
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
        # From inside: every hop is ours.
        ("10.0.0.2", "10.0.0.9, 10.1.2.3", "10.0.0.9"),
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("2001:db8::9", "198.51.100.1", "2001:db8::9"),
    ],
)
def test_the_client_is_the_rightmost_address_not_ours(rf, proxies, peer, forwarded, client):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    assert client_address(rf.get("/", REMOTE_ADDR=peer, **headers)) == client


def test_without_trusted_proxies_the_header_is_ignored(rf, settings):
    settings.TRUSTED_PROXIES = []
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert client_address(request) == "10.0.0.2"


def test_a_bad_network_stops_the_settings(monkeypatch):
    monkeypatch.setenv("PULSE_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local")
    with pytest.raises(ImproperlyConfigured, match="proxy.local"):
        envnetworks("PULSE_TRUSTED_PROXIES")
    monkeypatch.setenv("PULSE_TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.1")
    assert [str(n) for n in envnetworks("PULSE_TRUSTED_PROXIES")] == ["10.0.0.0/8", "192.0.2.1/32"]


def _login(client, email, **extra):
    return client.post("/login/", {"email": email, "password": "wrong"}, **extra).status_code


def test_a_forged_forwarded_address_does_not_escape_the_throttle(db, settings, proxies):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # BEHIND_PROXY=true
    settings.LOGIN_FAILURE_IP_LIMIT = 3
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [_login(attacker, f"u{i}@example.com", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}") for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    # Through our proxy, the address it saw is the one counted, not what the client wrote.
    via_proxy = Client(REMOTE_ADDR="10.0.0.2")
    forged = [_login(via_proxy, f"v{i}@example.com", HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 203.0.113.8") for i in range(4)]
    assert forged == [200, 200, 200, 429]


def _web_commands():
    """The web server command lines the deploy files run, as a shell would run them."""
    procfile = (ROOT / "deploy" / "Procfile").read_text()
    yield "Procfile", re.search(r"^web: (.*)$", procfile, re.M).group(1)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    cmd = re.search(r'^CMD \["sh", "-c", "(.*)"\]$', dockerfile, re.M).group(1)
    yield "Dockerfile", cmd


@pytest.fixture
def fresh_login_counters():
    """The server process counts in the shared cache under its own prefix: start and end at zero."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    forget = lambda: [client.delete(key) for key in client.scan_iter("pulse:*:login:*")]  # noqa: E731
    forget()
    yield
    forget()


@pytest.mark.parametrize("name, command", list(_web_commands()))
def test_the_deployed_web_server_does_not_let_clients_choose_their_address(
    name, command, django_db_setup, fresh_login_counters, tmp_path
):
    """uvicorn as the image and the Procfile start it, spoofed X-Forwarded-For from its own host."""
    port = free_port()
    env = {
        **platform_env("pulse:ingest:unused"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "LOGIN_FAILURE_IP_LIMIT": "2",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    # Heard on loopback only, and the proxy a local test client would come through.
    command = command.replace("--host 0.0.0.0", "--host 127.0.0.1")
    log = open(tmp_path / "web.log", "wb")
    server = subprocess.Popen(
        ["sh", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url, server)
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.open(url + "/login/").read()
        token = next(c.value for c in jar if c.name == "csrftoken")
        statuses = []
        for i in range(4):
            body = urlencode({"email": f"u{i}@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token})
            request = urllib.request.Request(
                url + "/login/", data=body.encode(), headers={"X-Forwarded-For": f"198.51.100.{i}"}
            )
            try:
                statuses.append(opener.open(request).status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        assert statuses == [200, 200, 429, 429], (name, shlex.split(command))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
