"""Live views end to end: real uvicorn, a real Celery worker, Redis, Postgres and headless Chromium.

Payloads go in through the ingest API exactly as an agent sends them; the pages must change
without a reload, and after a dropped connection the gap must be filled from the query layer.
"""

import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db.models import Sum

from apm.models import AppMinute, EventBatch, Transaction
from tests.conftest import PASSWORD
from tests.live.poster import payload, post

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))  # last: bench scripts never shadow apps
import loadgen  # noqa: E402  (bench/loadgen.py: the load generator's realistic harvest payloads)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NEWEST_RPM = """() => {
  const chart = document.querySelector('[data-chart=throughput]').pulseChart;
  const values = chart.data[1];
  return values[values.length - 1];
}"""
DOTS = "() => Number(document.querySelector('[data-live-page]').dataset.dots || 0)"


def wait_js(page, getter, want):
    """Wait until the page-side function ``getter`` returns ``want`` (a function: the page's CSP forbids eval)."""
    page.wait_for_function(f"(want) => ({getter})() === want", arg=want)


def wait_for(check, what, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def applied_count(org, app):
    return AppMinute.objects.for_org(org).filter(app=app, txn_type="web").aggregate(n=Sum("count"))["n"] or 0


def applied_events(org, app):
    return EventBatch.events_in(EventBatch.objects.for_org(org).filter(app=app))


XSS_NAME = '<img src=x onerror="window.__pwned=1">'


def send(platform, key, app, n, errors=0, slow=False, names=("GET /items/{id}",)):
    durations = [(1.5 if slow else 0.05) + i / 1000 for i in range(n)]
    assert post(platform.url, key, payload(app.name, durations, errors=errors, names=names)) == 202


def send_harvest(platform, key, app):
    """One realistic harvest from the load generator (50 names, 200 events); returns its transaction count."""
    body = loadgen.Process(app.name, 0).payload()
    body["batch_id"] = uuid.uuid4().hex
    assert post(platform.url, key, body) == 202
    return sum(m["count"] for m in body["metrics"] if m["type"] == "web"), len(body["events"])


def drop_connection(page, indicator):
    """Take the browser offline and close the page's socket: it cannot reconnect until online again."""
    page.context.set_offline(True)
    page.evaluate(f"document.querySelector('{indicator}').pulseLive.close()")
    page.wait_for_selector(f"{indicator}[data-state=offline]")


def real_errors(errors):
    # While offline the browser logs failed reconnection attempts; those are expected.
    return [e for e in errors if "WebSocket" not in e and "ERR_INTERNET_DISCONNECTED" not in e]


@pytest.fixture
def minute_start_margin():
    # Everything below happens within the current minute's row; avoid starting at its very end.
    left = 60 - time.time() % 60
    if left < 40:
        time.sleep(left + 0.5)


def test_it_grows_the_overview_charts_without_reload_and_fills_the_gap(
    minute_start_margin, platform, page, login, member, org, app, ingest_key, console_errors, screenshot
):
    send(platform, ingest_key, app, 20)
    wait_for(lambda: applied_count(org, app) == 20, "the first payload to be applied")

    login(page, platform.url, member.email, PASSWORD)
    page.goto(f"{platform.url}/o/{org.slug}/apps/{app.id}/?range=30m")
    page.wait_for_selector("[data-live-charts][data-state=live]")
    assert page.evaluate(NEWEST_RPM) == 20

    send(platform, ingest_key, app, 30, errors=3)
    wait_js(page, NEWEST_RPM, 50)
    assert page.url.endswith("?range=30m")  # no reload, no navigation
    screenshot(page, "overview-live")

    drop_connection(page, "[data-live-charts]")
    send(platform, ingest_key, app, 7)
    wait_for(lambda: applied_count(org, app) == 57, "the payload sent while offline to be applied")
    time.sleep(1)  # its live message has gone out to nobody by now
    assert page.evaluate(NEWEST_RPM) == 50
    page.context.set_offline(False)
    page.wait_for_selector("[data-live-charts][data-state=live]")
    wait_js(page, NEWEST_RPM, 57)

    count, _ = send_harvest(platform, ingest_key, app)
    wait_js(page, NEWEST_RPM, 57 + count)
    assert real_errors(console_errors) == []


def test_it_draws_each_transaction_on_the_live_page_and_fills_the_gap(
    minute_start_margin, platform, page, login, viewer, org, app, ingest_key, console_errors, screenshot
):
    login(page, platform.url, viewer.email, PASSWORD)
    page.goto(f"{platform.url}/o/{org.slug}/apps/{app.id}/live/")
    page.wait_for_selector("[data-live-page] [data-live-indicator][data-state=live]")
    assert page.evaluate(DOTS) == 0

    send(platform, ingest_key, app, 25, errors=4)
    send(platform, ingest_key, app, 5, slow=True, names=(XSS_NAME,))  # agent-supplied names are untrusted
    wait_js(page, DOTS, 30)
    page.wait_for_function("() => document.querySelector('[data-live-stat=rpm]').textContent.startsWith('30')")
    assert page.text_content("[data-live-stat=avg]") != "–"
    assert "Little" in page.text_content(".live-side")

    # Drag a rectangle over the slow dots only (above 1 s): the five slow transactions are listed.
    over = page.locator("[data-live-scatter] .u-over")
    box = over.bounding_box()
    y_one_second = page.evaluate(
        "() => { const u = document.querySelector('[data-live-scatter]').pulseScatter; return u.valToPos(1000, 'y'); }"
    )
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    # To the right edge: the newest dots sit on it (a rectangle touching it takes them all).
    page.mouse.move(box["x"] + box["width"] - 1, box["y"] + y_one_second, steps=8)
    page.mouse.up()
    rows = page.locator("[data-live-selection] tbody tr")
    rows.first.wait_for()
    assert rows.count() == 5
    assert page.locator("[data-live-selection] tbody td.name").all_text_contents() == [XSS_NAME] * 5
    assert page.evaluate("() => window.__pwned") is None
    screenshot(page, "live-selection")

    # Paused: new dots wait; resumed: they appear.
    messages = "() => Number(document.querySelector('[data-live-page]').dataset.messages || 0)"
    page.click("[data-live-pause]")
    seen = page.evaluate(messages)
    send(platform, ingest_key, app, 3)
    page.wait_for_function(f"(seen) => ({messages})() > seen", arg=seen)
    assert page.evaluate(DOTS) == 30
    page.click("[data-live-pause]")
    wait_js(page, DOTS, 33)

    drop_connection(page, "[data-live-page] [data-live-indicator]")
    before = applied_events(org, app)
    send(platform, ingest_key, app, 6)
    wait_for(lambda: applied_events(org, app) == before + 6, "the events sent while offline to be stored")
    time.sleep(1)
    assert page.evaluate(DOTS) == 33
    page.context.set_offline(False)
    wait_js(page, DOTS, 39)

    _, events = send_harvest(platform, ingest_key, app)
    wait_js(page, DOTS, 39 + events)
    screenshot(page, "live-after-gap")
    assert real_errors(console_errors) == []


def test_it_grows_a_transactions_charts_live(
    minute_start_margin, platform, page, login, member, org, app, ingest_key, console_errors
):
    send(platform, ingest_key, app, 20)
    wait_for(lambda: applied_count(org, app) == 20, "the first payload to be applied")
    txn = Transaction.objects.for_org(org).get(app=app, name="GET /items/{id}")

    login(page, platform.url, member.email, PASSWORD)
    page.goto(f"{platform.url}/o/{org.slug}/apps/{app.id}/transactions/{txn.id}/?range=30m")
    page.wait_for_selector("[data-live-charts][data-state=live]")
    assert page.evaluate(NEWEST_RPM) == 20

    send(platform, ingest_key, app, 15)
    wait_js(page, NEWEST_RPM, 35)
    assert real_errors(console_errors) == []
