"""The monitoring pages in real headless Chromium against the live server, on seeded data."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from apm.models import Deployment, ErrorGroup, Transaction
from tests.frontend.seed import XSS, seed_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_charts(page):
    page.wait_for_selector("html[data-charts-ready]", state="attached")


def chart_points(page, name):
    return int(page.get_attribute(f'[data-chart="{name}"]', "data-points"))


def assert_charts_drawn(page):
    charts = page.locator("[data-chart]")
    assert charts.count() > 0
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.locator("canvas").count() == 1, chart.get_attribute("data-chart")
        assert int(chart.get_attribute("data-points")) > 0, chart.get_attribute("data-chart")


def csp_violations(errors):
    return [e for e in errors if "Content Security Policy" in e or "Refused to" in e]


def pages_of(org, app, seeded):
    checkout = Transaction.objects.for_org(org).get(app=app, name=seeded["transactions"][0])
    group = ErrorGroup.objects.for_org(org).get(app=app)
    base = [org.slug, app.id]
    return [
        ("apps", reverse("app_list", args=[org.slug]), "table#apps-table tbody tr"),
        ("overview", reverse("app_overview", args=base) + "?range=6h", "[data-chart]"),
        ("transactions", reverse("app_transactions", args=base) + "?range=6h", "#transactions-table tbody tr"),
        ("transaction", reverse("transaction_detail", args=base + [checkout.id]) + "?range=6h", "#traces-table tbody tr"),
        ("trace", reverse("trace_detail", args=base + [seeded["trace_ids"][0]]), "#waterfall tbody tr"),
        ("errors", reverse("app_errors", args=base) + "?range=6h", "#errors-table tbody tr"),
        ("error", reverse("error_detail", args=base + [group.id]) + "?range=6h", "#samples li"),
        ("instances", reverse("app_instances", args=base) + "?range=6h", "#instances-table tbody tr"),
        ("capacity", reverse("app_capacity", args=base) + "?range=24h&target_tps=10", "#heatmap tbody tr"),
    ]


def test_it_renders_every_page_with_data(signed_in, live_server, owner, org, app, seeded, console_errors, screenshot):
    page = signed_in(owner)
    for name, path, rows in pages_of(org, app, seeded):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        wait_for_charts(page)
        assert page.locator(rows).count() > 0, f"{name}: no {rows}"
        if page.locator("[data-chart]").count():
            assert_charts_drawn(page)
        if name == "apps":
            assert page.locator("[data-spark] canvas").count() == 1
            assert int(page.get_attribute("[data-spark]", "data-points")) == 59
        screenshot(page, name)
    assert not csp_violations(console_errors), console_errors
    assert not [e for e in console_errors if "TypeError" in e or "ReferenceError" in e], console_errors


def test_the_range_picker_changes_the_data(signed_in, live_server, owner, org, app, seeded):
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_overview", args=[org.slug, app.id]) + "?range=30m")
    wait_for_charts(page)
    short = chart_points(page, "throughput")
    page.click('[data-range-key="6h"]')
    page.wait_for_url(re.compile(r"range=6h"))
    wait_for_charts(page)
    assert chart_points(page, "throughput") > short * 5
    assert page.locator('[data-range-key="6h"][aria-current]').count() == 1


def test_sorting_the_transactions_reorders_rows(signed_in, live_server, owner, org, app, seeded):
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_transactions", args=[org.slug, app.id]) + "?range=1h")
    first = page.locator("#transactions-table tbody tr td.name a").first
    assert first.inner_text() == "shop.views.checkout"
    page.click('[data-sort-key="rpm"]')
    page.wait_for_url(re.compile(r"sort=rpm"))
    assert page.locator("#transactions-table tbody tr td.name a").first.inner_text() == "GET /items/{id}"
    page.click('[data-sort-key="avg"]')
    page.wait_for_url(re.compile(r"sort=avg"))
    assert page.locator("#transactions-table tbody tr td.name a").first.inner_text() == "shop.views.search"
    assert "range=1h" in page.url  # sorting keeps the range


def test_the_trace_waterfall_opens_from_a_transaction(signed_in, live_server, owner, org, app, seeded, screenshot):
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_overview", args=[org.slug, app.id]) + "?range=6h")
    page.click("text=All transactions")
    page.click("#transactions-table >> text=shop.views.checkout")
    page.wait_for_selector("#traces-table")
    page.locator("#traces-table tbody tr a").first.click()
    page.wait_for_selector("#waterfall")
    assert page.locator("#waterfall tbody tr").count() == 4
    assert page.locator(".span-sql").first.inner_text().startswith("SELECT * FROM shop_item")
    bars = page.locator("#waterfall .span-timeline rect:not(.track)")
    widths = [float(bars.nth(i).get_attribute("width")) for i in range(bars.count())]
    assert widths[0] == pytest.approx(100.0) and all(0 < w < 100 for w in widths[1:])
    screenshot(page, "waterfall")


def test_dragging_across_a_chart_zooms_into_that_range(signed_in, live_server, owner, org, app, seeded, screenshot):
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_overview", args=[org.slug, app.id]) + "?range=6h")
    wait_for_charts(page)
    before = chart_points(page, "response")
    box = page.locator('[data-chart="response"] .u-over').bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.80, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.90, y, steps=8)
    page.mouse.up()
    page.wait_for_url(re.compile(r"from=\d+&to=\d+|to=\d+&from=\d+"))
    wait_for_charts(page)
    params = parse_qs(urlparse(page.url).query)
    span = int(params["to"][0]) - int(params["from"][0])
    assert 120 <= span < 6 * 3600 * 0.2
    assert "range" not in params
    assert 0 < chart_points(page, "response") < before
    assert page.locator(".range-custom[open]").count() == 1
    screenshot(page, "zoomed")


def test_the_crosshair_is_shared_between_charts(signed_in, live_server, owner, org, app, seeded):
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_overview", args=[org.slug, app.id]) + "?range=1h")
    wait_for_charts(page)
    box = page.locator('[data-chart="response"] .u-over').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator('[data-chart="response"] .chart-tooltip')
    assert tooltip.is_visible()
    assert "UTC" in tooltip.inner_text()
    # The throughput chart's cursor follows (uPlot cursor sync moves its vertical line).
    cursor = page.locator('[data-chart="throughput"] .u-cursor-x')
    assert cursor.evaluate("el => el.style.transform || el.style.left") not in ("", None)


def test_an_open_incident_is_shaded_on_the_overview(signed_in, live_server, owner, org, app, seeded, screenshot):
    from tests.alerts import factories as alert_factories

    incident = alert_factories.incident(org, app)
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_overview", args=[org.slug, app.id]) + "?range=1h")
    wait_for_charts(page)
    assert_charts_drawn(page)
    link = page.locator("#incidents-in-range a")
    assert link.inner_text().startswith(incident.title)
    assert page.locator(".app-header .status-dot.warn, .app-header .status-dot.bad").count() == 1
    screenshot(page, "incident")


def test_the_pages_fit_a_phone(signed_in_phone, live_server, owner, org, app, seeded, screenshot):
    page = signed_in_phone(owner)
    for name, path, rows in pages_of(org, app, seeded):
        page.goto(live_server.url + path)
        wait_for_charts(page)
        # Wide tables scroll inside their card; the page itself never scrolls sideways.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} is {overflow}px wider than the phone"
        if name in ("overview", "transactions", "trace"):
            screenshot(page, f"phone-{name}")


# Canvas pixels close to a series colour: what a reader can see of that series.
_PIXELS_OF = """([selector, hex]) => {
  const canvas = document.querySelector(selector + " canvas");
  const target = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200 && target.every((c, k) => Math.abs(data[i + k] - c) < 24)) n++;
  }
  return n;
}"""


def test_a_new_apps_first_minute_is_drawn(signed_in, live_server, owner, org, app):
    seed_app(org, app, minutes=1)
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_overview", args=[org.slug, app.id]) + "?range=1h")
    wait_for_charts(page)
    for chart, colour in (("response", "#d97706"), ("throughput", "#2563eb"), ("apdex", "#059669")):
        assert chart_points(page, chart) > 1, chart  # the range's other minutes are gaps
        assert page.evaluate(_PIXELS_OF, [f'[data-chart="{chart}"]', colour]) > 10, chart


def test_a_deployment_is_marked_on_every_chart_and_links_to_the_list(
    signed_in, live_server, owner, org, app, seeded, screenshot
):
    Deployment.objects.for_org(org).create(
        organization=org, app=app, time=timezone.now() - timedelta(minutes=20), version=XSS[1][:100], commit="c0ffee",
    )
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_overview", args=[org.slug, app.id]) + "?range=1h")
    wait_for_charts(page)
    flags = page.locator("[data-chart] .deploy-flag")
    assert flags.count() == page.locator("[data-chart] canvas").count() > 0
    assert flags.first.get_attribute("title").startswith("Deployed " + XSS[1][:100] + " (c0ffee)")
    assert page.evaluate("window.__xss") is None
    screenshot(page, "overview")
    flags.first.click()
    page.wait_for_url(re.compile(r"/deployments/$"))
    assert page.locator("#deployments-table tbody tr").count() == 1
    screenshot(page, "list")
