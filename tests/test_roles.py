"""Web processes by PULSE_ROLE, as real uvicorn processes: an ingest node takes what agents
and pipelines post and nothing people use; a UI node the reverse."""

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
import uuid

import pytest
import redis
import websockets
from django.conf import settings

from tests.ingest import payloads as P
from tests.ingest.conftest import make_key
from tests.servers import WebServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def status_of(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def websocket_opens(url):
    async def attempt():
        try:
            async with websockets.connect(url, open_timeout=10):
                return True
        except (websockets.InvalidStatus, websockets.InvalidHandshake, OSError):
            return False

    return asyncio.run(attempt())


@pytest.fixture
def stream():
    name = f"pulse:ingest:test:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(settings.REDIS_URL).delete(name, f"{name}:backlog")


def agent_post(base, key):
    headers = {k.removeprefix("HTTP_").replace("_", "-").title(): v for k, v in P.headers(key).items()}
    headers["Content-Type"] = "application/json"
    return status_of("POST", base + "/api/v1/ingest", P.body(P.simple()), headers)


def deployment_post(base, key):
    body = json.dumps({"app": "shop", "version": "1"}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return status_of("POST", base + "/api/v1/deployments", body, headers)


@contextlib.contextmanager
def web_server(log_path, **env):
    web = WebServer(log_path, **env)
    try:
        yield web.start().url
    finally:
        web.stop()


def test_an_ingest_node_serves_only_the_ingest_apis(tmp_path, org, stream):
    key = make_key(org)
    with web_server(tmp_path / "web.log", PULSE_ROLE="ingest", INGEST_STREAM=stream) as base:
        assert agent_post(base, key) == 202
        assert redis.Redis.from_url(settings.REDIS_URL).xlen(stream) == 1
        assert deployment_post(base, key) == 201
        assert status_of("GET", base + "/healthz/ready") == 200
        for page in ("/", "/login/", f"/o/{org.slug}/", "/admin/login/", "/api/docs/"):
            assert status_of("GET", base + page) == 404, page
        assert not websocket_opens(base.replace("http", "ws") + f"/ws/o/{org.slug}/apps/{uuid.uuid4()}/live/")
    # refused by the router itself, before any route or session is looked at
    assert "No application configured for scope type 'websocket'" in (tmp_path / "web.log").read_text()


def test_a_ui_node_serves_no_ingest(tmp_path, org, stream):
    key = make_key(org)
    with web_server(tmp_path / "web.log", PULSE_ROLE="ui", INGEST_STREAM=stream) as base:
        assert agent_post(base, key) == 404
        assert deployment_post(base, key) == 404
        assert not redis.Redis.from_url(settings.REDIS_URL).exists(stream)
        assert status_of("GET", base + "/login/") == 200
        assert status_of("GET", base + "/healthz/ready") == 200


def test_a_mistyped_role_stops_the_process(tmp_path):
    with pytest.raises(RuntimeError, match="PULSE_ROLE='ingset' must be one of all, ingest, ui"):
        with web_server(tmp_path / "web.log", PULSE_ROLE="ingset"):
            pass
