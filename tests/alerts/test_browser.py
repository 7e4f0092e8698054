"""In headless Chromium: a channel, a condition started from a chart's "Create alert" link
with its preview, the incident on its chart and in the list, acknowledged."""

import re
from datetime import timedelta

import pytest

from alerts.evaluation import evaluate_org
from alerts.models import Condition, Incident, NotificationChannel
from tests.alerts.conftest import minute_floor
from tests.browser.conftest import browser, console_errors, login, page, screenshot  # noqa: F401
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_create_alert(page, base, org, app):
    """Follow the response-time chart's "+ Alert" link on the app page."""
    page.goto(f"{base}/o/{org.slug}/apps/{app.id}/")
    page.locator('a.chart-alert[href*="/alerts/conditions/new"][href*="metric=p95"]').first.click()
    page.wait_for_load_state()


def test_it_alerts_from_a_chart_and_acknowledges(page, live_server, login, screenshot, console_errors, org, owner, app, rollups, receiver):  # noqa: F811
    base_minute = minute_floor() - timedelta(minutes=20)
    # p95 around 600 ms for five minutes, fast before and after.
    rollups.minutes(app, [base_minute + timedelta(minutes=i) for i in range(-10, 0)], p95=0.05)
    rollups.minutes(app, [base_minute + timedelta(minutes=i) for i in range(0, 5)], p95=0.6)
    login(page, live_server.url, owner.email, PASSWORD)

    # A signed webhook channel.
    page.goto(f"{live_server.url}/o/{org.slug}/alerts/channels/new")
    page.fill("input[name=name]", "Ops hook")
    page.select_option("select[name=kind]", "webhook")
    # Only the chosen kind's settings are shown.
    assert page.locator("input[name=routing_key]").is_hidden()
    assert page.locator("textarea[name=addresses]").is_hidden()
    page.fill("input[name=url]", receiver.url)
    page.click("#save-channel")
    page.wait_for_load_state()
    assert page.locator("#webhook-secret").inner_text().strip() == NotificationChannel.objects.for_org(org).get().secret

    # The condition, from the chart's link: app and metric arrive filled in.
    open_create_alert(page, live_server.url, org, app)
    assert page.locator("select[name=metric]").input_value() == "p95"
    assert page.locator("select[name=app]").input_value() == str(app.id)
    page.fill("input[name=warning_threshold]", "300")
    page.fill("input[name=critical_threshold]", "1000")
    page.fill("input[name=window_minutes]", "3")
    page.check("input[name=warning_channels]")
    page.check("input[name=critical_channels]")
    page.click("#preview")
    page.wait_for_load_state()
    # The preview draws the last day with the thresholds and says when it would have fired.
    page.wait_for_selector("#condition-preview .chart canvas")
    assert page.locator("[data-fired-count]").get_attribute("data-fired-count") == "1"
    assert "csrfmiddlewaretoken" not in page.url
    screenshot(page, "preview")
    page.click("#save-condition")
    page.wait_for_load_state()
    condition = Condition.objects.for_org(org).get()
    assert condition.warning_channels.count() == 1 and condition.window_minutes == 3
    assert page.locator("#conditions").inner_text().count("Ops hook") >= 1

    # The evaluator runs for the minute after the breach window.
    evaluate_org(org, base_minute + timedelta(minutes=3))
    incident = Incident.objects.for_org(org).get()

    # On the app's charts: the incident is listed over them and shaded (frontend's bands).
    page.goto(f"{live_server.url}/o/{org.slug}/apps/{app.id}/")
    assert incident.title in page.locator("#incidents-in-range").inner_text()
    screenshot(page, "app-chart")

    page.goto(f"{live_server.url}/o/{org.slug}/alerts/")
    row = page.locator(f'#open-incidents tr[data-incident="{incident.id}"]')
    assert "warning" in row.inner_text()
    row.locator("a").click()
    page.wait_for_load_state()
    # The incident's card: its metric chart (uPlot canvas) with the thresholds, and the timeline.
    page.wait_for_selector("#incident .chart canvas")
    assert page.locator('#timeline li[data-kind="opened"]').count() == 1
    page.click("#acknowledge")
    page.wait_for_load_state()
    assert page.locator("#incident").get_attribute("data-state") == "acknowledged"
    assert re.search(r"Acknowledged\s.*by alice@example\.com", page.locator("#incident .facts").inner_text())
    assert page.locator('#timeline li[data-kind="acknowledged"]').count() == 1
    screenshot(page, "acknowledged")
    incident.refresh_from_db()
    assert incident.acknowledged_by == owner
    # The test server speaks WSGI only, so the app page's live websocket cannot connect;
    # anything else (a Content-Security-Policy violation, a script error) fails the test.
    assert [e for e in console_errors if "WebSocket" not in e] == []
