"""The live websocket through the real ASGI stack (origin check, session auth, routing) on real Redis."""

import time
import uuid
from datetime import datetime, timezone

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.test import Client

from apm import live
from pulse.routing import websocket_urlpatterns
from pulse_agent.sketch import DDSketch
from apm.models import AppMinute
from tests.live.threads import run_async
from tenants.models import App, Membership

pytestmark = pytest.mark.django_db(transaction=True)

# The websocket half of pulse/asgi.py, composed the same way (the HTTP half is not needed here).
application = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))


def _path(org_slug, app_id):
    return f"/ws/o/{org_slug}/apps/{app_id}/live/"


def _headers(user=None, origin="http://testserver", host="testserver"):
    headers = [(b"host", host.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def _event(i, error=False):
    return {
        "t": time.time(),
        "transaction_id": None,
        "name": f"GET /items/{i}",
        "type": "web",
        "duration_ms": 50.0 + i,
        "status": 500 if error else 200,
        "error": error,
        "trace_id": uuid.uuid4().hex,
        "has_trace": i % 2 == 0,
    }


def _minute_row(org, app, minute, durations):
    sketch = DDSketch()
    for d in durations:
        sketch.add(d)
    return AppMinute.objects.for_org(org).create(
        organization=org,
        app=app,
        txn_type="web",
        time=datetime.fromtimestamp(minute, tz=timezone.utc),
        count=len(durations),
        errors=1,
        sum=sum(durations),
        min=min(durations),
        max=max(durations),
        apdex_s=len(durations) - 1,
        apdex_t=0,
        apdex_f=1,
        seg_database=0.5 * sum(durations),
        sketch=sketch.to_bytes(),
    )


def _increment(minute, transaction_id=None):
    # The shape the ingest worker passes (apm/live.py); only minute and transaction_id matter.
    return {"minute": minute, "txn_type": "web", "transaction_id": transaction_id, "count": 1}


async def _open(path, headers):
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect(timeout=5)
    return comm, connected


async def _next_update(comm, timeout=5):
    while True:
        msg = await comm.receive_json_from(timeout=timeout)
        if msg["type"] == "update":
            return msg


@pytest.fixture(autouse=True)
def fresh_bucket(app):
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).delete(f"pulse:live:bucket:{app.id.hex}")


def _refused(path, headers):
    async def scenario():
        comm, connected = await _open(path, headers)
        if connected:
            await comm.disconnect()
        return connected

    return run_async(scenario)


def test_it_sends_a_member_the_minute_totals_and_events_of_its_app(member, org, app):
    minute = int(time.time()) // 60 * 60
    _minute_row(org, app, minute, [0.01 * i for i in range(1, 101)])
    headers = _headers(member)

    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        assert connected
        hello = await comm.receive_json_from(timeout=5)
        assert hello["type"] == "hello" and hello["app"] == str(app.id)
        batch = [_increment(minute), _increment(minute, transaction_id=17)]
        live.publish_batch(org.id, str(app.id), batch, [_event(1), _event(2, error=True)])
        msg = await _next_update(comm)
        await comm.disconnect()
        return msg

    msg = run_async(scenario)
    assert msg["app"] == str(app.id)
    (point,) = msg["points"]["web"]
    assert point["t"] == minute and point["count"] == 100 and point["error_count"] == 1
    assert point["avg_ms"] == pytest.approx(505.0)
    assert point["p95_ms"] == pytest.approx(950.0, rel=0.02)
    assert point["apdex"] == pytest.approx(0.99)
    assert point["segments_ms"]["database"] == pytest.approx(252.5)
    assert msg["transactions"] == [17]
    assert [e[3] for e in msg["events"]] == ["GET /items/1", "GET /items/2"]
    assert [e[2] for e in msg["events"]] == [0, 1]
    assert msg["events"][0][4] is None  # no trace to link to
    assert msg["events"][1][4] is not None and msg["events"][1][5] == 500
    assert msg["dropped"] == 0


def test_it_lets_a_viewer_watch(viewer, org, app):
    headers = _headers(viewer)
    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        assert connected
        await comm.receive_json_from(timeout=5)
        live.publish_batch(org.id, app.id, [], [_event(3)])
        msg = await _next_update(comm)
        await comm.disconnect()
        return msg

    assert run_async(scenario)["events"][0][3] == "GET /items/3"


def test_it_refuses_an_outsider(outsider, org, app):
    assert not _refused(_path(org.slug, app.id), _headers(outsider))


def test_it_refuses_an_outsider_naming_their_own_org(outsider, outsider_org, app):
    # The outsider's own organisation in the path does not reach another organisation's app.
    assert not _refused(_path(outsider_org.slug, app.id), _headers(outsider))


def test_it_refuses_a_password_session_where_the_org_requires_sso(member, owner, org, app):
    org.sso_required = True
    org.save()
    assert not _refused(_path(org.slug, app.id), _headers(member))
    assert _refused(_path(org.slug, app.id), _headers(owner))  # owners keep their password


def test_it_refuses_anonymous_sockets(org, app):
    assert not _refused(_path(org.slug, app.id), _headers(None))


def test_it_refuses_a_missing_app_like_a_foreign_one(member, org, app):
    assert not _refused(_path(org.slug, uuid.uuid4()), _headers(member))


def test_it_refuses_another_origin(member, org, app):
    assert not _refused(_path(org.slug, app.id), _headers(member, origin="http://evil.example"))
    # An allowed host name on another port is another site too.
    assert not _refused(_path(org.slug, app.id), _headers(member, origin="http://testserver:8001"))
    assert not _refused(_path(org.slug, app.id), _headers(member, origin=None))


def test_it_keeps_outsiders_apps_apart(member, org, app, outsider_org):
    other_app = App.objects.for_org(outsider_org).create(organization=outsider_org, name="Theirs")

    headers = _headers(member)
    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        assert connected
        await comm.receive_json_from(timeout=5)
        live.publish_batch(outsider_org.id, other_app.id, [], [_event(7)])
        live.publish_batch(org.id, app.id, [], [_event(8)])
        msg = await _next_update(comm)
        nothing_else = await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()
        return msg, nothing_else

    msg, nothing_else = run_async(scenario)
    assert [e[3] for e in msg["events"]] == ["GET /items/8"]
    assert nothing_else


def test_it_bounds_scatter_points_per_app_and_counts_the_rest(member, org, app, settings):
    settings.LIVE_EVENTS_PER_SECOND = 20
    settings.LIVE_EVENTS_BURST = 50
    sent = 1000

    headers = _headers(member)
    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        assert connected
        await comm.receive_json_from(timeout=5)
        started = time.monotonic()
        for start in range(0, sent, 100):
            live.publish_batch(org.id, app.id, [], [_event(i) for i in range(start, start + 100)])
        delivered = dropped = 0
        while delivered + dropped < sent:
            msg = await _next_update(comm)
            delivered += len(msg["events"])
            dropped += msg["dropped"]
        elapsed = time.monotonic() - started
        await comm.disconnect()
        return delivered, dropped, elapsed

    delivered, dropped, elapsed = run_async(scenario)
    assert delivered + dropped == sent
    assert delivered <= 50 + 20 * elapsed
    assert dropped >= sent - 50 - 20 * elapsed


def test_it_never_raises_into_the_pipeline(org, app):
    live.publish_batch(org.id, app.id, [object(), {"minute": "not a number", "count": 1}], [{"t": None}, 42])
    live.publish_batch(org.id, app.id, [{"minute": 60, "transaction_id": None}], [{"t": "x", "duration_ms": 1}])
    live.publish_batch(org.id, "not-a-uuid", [], [_event(1)])
    assert live.flush(timeout=5)


def test_it_closes_the_socket_of_a_member_who_leaves(member, org, app, settings):
    settings.LIVE_RECHECK_SECONDS = 0.3
    headers = _headers(member)

    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        assert connected
        await comm.receive_json_from(timeout=5)
        await database_sync_to_async(Membership.objects.for_org(org).filter(user=member).delete)()
        output = await comm.receive_output(timeout=5)
        await comm.wait()
        return output

    output = run_async(scenario)
    assert output == {"type": "websocket.close", "code": 4403}


def test_it_accepts_the_public_url_as_origin_behind_a_proxy(member, org, app, settings):
    # The proxy hands the app another Host than the browser used; PUBLIC_URL is the site.
    settings.PUBLIC_URL = "http://localhost:8000"
    headers = _headers(member, origin="http://localhost:8000", host="internal:8000")

    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        if connected:
            await comm.disconnect()
        return connected

    assert run_async(scenario)
    assert not _refused(_path(org.slug, app.id), _headers(member, origin="http://localhost:9000", host="internal:8000"))


def test_it_closes_the_socket_of_a_user_who_signs_out(member, org, app, settings):
    settings.LIVE_RECHECK_SECONDS = 0.3
    client = Client()
    client.force_login(member)
    key = client.cookies["sessionid"].value
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", f"sessionid={key}".encode())]

    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        assert connected
        await comm.receive_json_from(timeout=5)
        await database_sync_to_async(client.logout)()
        output = await comm.receive_output(timeout=5)
        await comm.wait()
        return output

    assert run_async(scenario) == {"type": "websocket.close", "code": 4403}


def _closed_after(member, org, app, change):
    """Open a socket as ``member``, make ``change`` meanwhile, and return what the socket gets next."""
    headers = _headers(member)

    async def scenario():
        comm, connected = await _open(_path(org.slug, app.id), headers)
        assert connected
        await comm.receive_json_from(timeout=5)
        await database_sync_to_async(change)()
        output = await comm.receive_output(timeout=5)
        await comm.wait()
        return output

    return run_async(scenario)


def test_it_closes_the_socket_when_the_password_is_reset(member, org, app, settings):
    settings.LIVE_RECHECK_SECONDS = 0.3

    def reset_password():
        member.set_password("a brand new passphrase")  # what the reset form saves
        member.save()

    assert _closed_after(member, org, app, reset_password) == {"type": "websocket.close", "code": 4403}


def test_it_closes_the_socket_of_a_deactivated_user(member, org, app, settings):
    settings.LIVE_RECHECK_SECONDS = 0.3
    deactivate = lambda: type(member).objects.filter(pk=member.pk).update(is_active=False)  # noqa: E731
    assert _closed_after(member, org, app, deactivate) == {"type": "websocket.close", "code": 4403}


def test_it_caps_the_sockets_of_one_user(member, viewer, org, app, settings):
    settings.LIVE_SOCKETS_PER_USER = 3
    path = _path(org.slug, app.id)
    tabs = [_headers(member) for _ in range(5)]  # five sessions of one user
    others = _headers(viewer)

    async def scenario():
        opened = [await _open(path, headers) for headers in tabs[:4]]
        accepted = [connected for _, connected in opened]
        # Someone else is not counted against this user.
        other, other_ok = await _open(path, others)
        # A socket that closes gives its slot back.
        await opened[0][0].disconnect()
        again, again_ok = await _open(path, tabs[4])
        for comm, connected in [*opened[1:], (other, other_ok), (again, again_ok)]:
            if connected:
                await comm.disconnect()
        return accepted, other_ok, again_ok

    assert run_async(scenario) == ([True, True, True, False], True, True)


def test_it_refuses_a_member_without_the_second_factor_the_org_requires(member, org, app):
    from tenants.models import Organization
    from tenants.two_factor import AUTH_METHOD_KEY, SSO

    Organization.objects.filter(pk=org.pk).update(require_two_factor=True)
    assert not _refused(_path(org.slug, app.id), _headers(member))
    # A session signed in by single sign-on meets the requirement.
    client = Client()
    client.force_login(member)
    session = client.session
    session[AUTH_METHOD_KEY] = SSO
    session.save()
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
               (b"cookie", f"sessionid={session.session_key}".encode())]
    assert _refused(_path(org.slug, app.id), headers)
