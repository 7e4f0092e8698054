"""Receivers that would hold a worker: an endless reply and a reply trickled a byte at a time.

Each is a real socket server on loopback; the delivery task runs in process against it."""

import socket
import threading

import pytest
from django.db import connection

from alerts.delivery import deliver
from alerts.models import Delivery, DeliveryStatus
from tests.alerts.conftest import make_webhook
from tests.alerts.test_deliveries import opened_delivery

pytestmark = pytest.mark.django_db


class RawReceiver:
    """Accepts one connection at a time, reads the request, then runs ``answer(conn)``.

    ``written`` counts the bytes the answer got into the socket before the client hung up,
    and ``finished`` says whether the answer ran to its end."""

    def __init__(self, answer, read_request=True):
        self.answer, self.read_request = answer, read_request
        self.written = 0
        self.finished = False
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = b""
                while self.read_request and b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                try:
                    self.answer(self, conn)
                    self.finished = True
                except OSError:
                    pass  # the client hung up: what we wanted to see

    def send(self, conn, data):
        conn.sendall(data)
        self.written += len(data)

    def close(self):
        self.sock.close()


@pytest.fixture
def raw_receiver():
    made = []

    def start(answer):
        made.append(RawReceiver(answer))
        return made[-1]

    yield start
    for r in made:
        r.close()


ENDLESS_LIMIT = 256 * 1024 * 1024  # the receiver stops here so a broken client still ends


def endless_body(receiver, conn):
    receiver.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    chunk = b"x" * 65536
    while receiver.written < ENDLESS_LIMIT:
        receiver.send(conn, chunk)


def trickled_headers(receiver, conn):
    receiver.send(conn, b"HTTP/1.1 200 OK\r\n")
    # One byte at a time, well inside any per-read timeout, for far longer than the deadline.
    for byte in b"X-Slow: " + b"a" * 60 + b"\r\nContent-Length: 0\r\n\r\n":
        receiver.send(conn, bytes([byte]))
        threading.Event().wait(0.25)


def test_an_endless_reply_is_read_only_up_to_the_cap(settings, org, app, raw_receiver, django_capture_on_commit_callbacks):
    settings.ALERTS_REPLY_MAX_BYTES = 64 * 1024
    receiver = raw_receiver(endless_body)
    channel = make_webhook(org, receiver.url)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    # The status is the answer: a 2xx is a sent notification, whatever follows it.
    assert deliver(str(delivery.id)) == DeliveryStatus.SENT
    receiver.thread.join(timeout=30)
    # The client hung up long before the receiver ran out: the reply was not read whole.
    assert not receiver.finished
    assert receiver.written < ENDLESS_LIMIT


def test_a_trickling_receiver_is_cut_at_the_deadline(settings, org, app, raw_receiver, django_capture_on_commit_callbacks):
    settings.ALERTS_WEBHOOK_TIMEOUT = 2.0
    receiver = raw_receiver(trickled_headers)
    channel = make_webhook(org, receiver.url)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    assert deliver(str(delivery.id)) == DeliveryStatus.RETRYING
    delivery = Delivery.objects.for_org(org).get(id=delivery.id)
    assert "deadline" in delivery.last_error
    assert delivery.response_status is None
    assert not receiver.finished


# --- deliveries on their own queue, with a bounded number of attempts --------------------


def test_deliveries_are_queued_apart_from_evaluation(settings):
    import redis

    r = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    r.delete(settings.ALERTS_DELIVERY_QUEUE, "celery")
    deliver.delay("00000000-0000-0000-0000-000000000000")
    assert r.llen(settings.ALERTS_DELIVERY_QUEUE) == 1
    assert r.llen("celery") == 0
    r.delete(settings.ALERTS_DELIVERY_QUEUE)


def test_a_delivery_fails_after_its_last_attempt(settings, org, app, receiver, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 2
    receiver.status = 503
    channel = make_webhook(org, receiver.url)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    assert deliver(str(delivery.id)) == DeliveryStatus.RETRYING
    Delivery.objects.for_org(org).filter(id=delivery.id).update(next_retry_at=timezone.now() - timedelta(seconds=1))
    assert deliver(str(delivery.id)) == DeliveryStatus.FAILED
    delivery = Delivery.objects.for_org(org).get(id=delivery.id)
    assert delivery.attempts == 2 and delivery.next_retry_at is None
    assert "HTTP 503" in delivery.last_error and "gave up after 2 attempts" in delivery.last_error
    assert len(receiver.drain()) == 2


@pytest.mark.django_db(transaction=True)
def test_an_attempt_is_counted_before_it_is_sent(org, app, raw_receiver):
    """So an attempt whose process is killed mid-send still counts towards the limit."""
    from alerts import actions
    from tests.alerts import factories

    seen = {}

    def look_at_the_row(receiver, conn):
        # Another connection: only what the task committed before sending is visible.
        seen["row"] = Delivery.objects.unscoped().filter(id=delivery_id).values_list("attempts", "status", "next_retry_at").get()
        connection.close()  # this thread's own, so the test database can be dropped
        receiver.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    receiver = raw_receiver(look_at_the_row)
    channel = make_webhook(org, receiver.url)
    incident = factories.incident(org, app)
    incident.condition.warning_channels.set([channel])
    actions.record_event(incident, "opened", "warning", value=400.0)
    delivery_id = Delivery.objects.for_org(org).get(event__incident=incident).id
    assert deliver(str(delivery_id)) == DeliveryStatus.SENT
    attempts, status, next_retry_at = seen["row"]
    assert (attempts, status) == (1, DeliveryStatus.RETRYING) and next_retry_at is not None


# --- test sends, limited per organisation ------------------------------------------------


def test_test_sends_are_limited_per_organisation(settings, org, owner_client, outsider_org, outsider_client):
    from tests.alerts import factories

    settings.ALERTS_TEST_SENDS_PER_HOUR = 2
    channel = factories.channel(org)
    test_url = f"/o/{org.slug}/alerts/channels/{channel.id}/test"
    for _ in range(2):
        assert owner_client.post(test_url).status_code == 302
    page = owner_client.post(test_url, follow=True).content.decode()
    assert "sent 2 test notifications in the last hour, the most allowed" in page
    api = owner_client.post(test_url, HTTP_ACCEPT="application/json")
    assert api.status_code == 429 and int(api["Retry-After"]) > 0
    assert api.json()["error"]["code"] == "throttled" and "Try again in" in api.json()["error"]["message"]
    assert Delivery.objects.for_org(org).filter(is_test=True).count() == 2
    # Another organisation's own limit is untouched.
    theirs = factories.channel(outsider_org)
    answer = outsider_client.post(f"/o/{outsider_org.slug}/alerts/channels/{theirs.id}/test", HTTP_ACCEPT="application/json")
    assert answer.status_code == 202
    assert Delivery.objects.for_org(outsider_org).filter(is_test=True).count() == 1


def silent_smtp(receiver, conn):
    # Accepts the connection and never greets, for longer than EMAIL_TIMEOUT's default.
    threading.Event().wait(25)


def test_a_silent_mail_server_fails_the_attempt_at_the_timeout(settings, org, app, django_capture_on_commit_callbacks):
    from alerts.models import ChannelKind, NotificationChannel

    server = RawReceiver(silent_smtp, read_request=False)
    try:
        host, port = server.sock.getsockname()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = host, port, False
        channel = NotificationChannel.objects.for_org(org).create(
            organization=org, name="mail", kind=ChannelKind.EMAIL, config={"addresses": ["oncall@example.org"]}
        )
        delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
        assert deliver(str(delivery.id)) == DeliveryStatus.RETRYING
        assert "timed out" in Delivery.objects.for_org(org).get(id=delivery.id).last_error
    finally:
        server.close()
