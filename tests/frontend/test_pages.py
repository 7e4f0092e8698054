"""The monitoring pages through Django's test client, on data written by the pipeline."""

import re

import pytest
from django.urls import reverse

from apm.models import ErrorGroup, Transaction


def url(name, org, app=None, *args, query=""):
    parts = [org.slug] + ([app.id] if app is not None else []) + list(args)
    return reverse(name, args=parts) + query


def txn(org, app, name):
    return Transaction.objects.for_org(org).get(app=app, name=name)


def test_it_lists_apps_with_figures_and_sparklines(owner_client, org, app, seeded):
    response = owner_client.get(url("app_list", org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Shop (prod)" in html
    assert re.search(r'class="status-dot (ok|warn|bad)"', html)
    spark = re.search(r'data-spark="([^"]*)"', html).group(1).split(",")
    assert len(spark) == 59 and any(float(v) > 0 for v in spark if v)


def test_it_filters_and_sorts_apps(owner_client, org, app, seeded):
    from tenants.models import App

    App.objects.for_org(org).create(organization=org, name="Billing")
    html = owner_client.get(url("app_list", org, query="?q=shop")).content.decode()
    assert "Shop (prod)" in html and "Billing" not in html
    html = owner_client.get(url("app_list", org, query="?sort=rpm")).content.decode()
    # The app with traffic comes first by throughput; by name Billing would.
    assert html.index("Shop (prod)") < html.index("Billing")
    html = owner_client.get(url("app_list", org, query="?sort=name")).content.decode()
    assert html.index("Billing") < html.index("Shop (prod)")


def test_it_shows_install_instructions_without_apps(owner_client, org, settings):
    html = owner_client.get(url("app_list", org)).content.decode()
    assert "pip install pulse-agent" in html
    assert f"PULSE_ENDPOINT={settings.PUBLIC_URL}" in html


def test_the_overview_of_an_app_without_data_shows_how_to_install(owner_client, org, app, settings):
    html = owner_client.get(url("app_overview", org, app)).content.decode()
    assert "pip install pulse-agent" in html
    assert "PULSE_APP_NAME=&quot;Shop (prod)&quot;" in html or "Shop (prod)" in html
    assert f"PULSE_ENDPOINT={settings.PUBLIC_URL}" in html


def chart_data(response, element_id):
    import json

    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    return json.loads(match.group(1))


def test_the_overview_charts_follow_the_range(owner_client, org, app, seeded):
    short = owner_client.get(url("app_overview", org, app, query="?range=30m"))
    long = owner_client.get(url("app_overview", org, app, query="?range=6h"))
    assert short.status_code == long.status_code == 200
    a, b = chart_data(short, "overview-data"), chart_data(long, "overview-data")
    assert 25 <= len(a["t"]) <= 32 and len(b["t"]) > 300
    keys = {s["key"] for s in a["series"]}
    assert {"avg", "p50", "p95", "p99", "python", "database", "rpm", "error_rate", "apdex"} <= keys
    rpm = next(s for s in a["series"] if s["key"] == "rpm")["values"]
    assert max(v for v in rpm if v is not None) > 0
    assert b'data-chart="response"' in short.content


def test_the_overview_reads_a_custom_range(owner_client, org, app, seeded):
    end = seeded["last_minute"] + 60
    response = owner_client.get(url("app_overview", org, app, query=f"?from={end - 600}&to={end}"))
    data = chart_data(response, "overview-data")
    assert 10 <= len(data["t"]) <= 12
    assert b'aria-current="true" data-range-key' not in response.content  # no preset highlighted


def test_a_bad_range_is_explained(owner_client, org, app):
    response = owner_client.get(url("app_overview", org, app, query="?range=2w"))
    assert response.status_code == 400
    assert b"range must look like 30m, 6h or 7d" in response.content


def test_it_ranks_transactions_by_each_column(owner_client, org, app, seeded):
    def names(sort):
        html = owner_client.get(url("app_transactions", org, app, query=f"?range=1h&sort={sort}")).content.decode()
        return re.findall(r'<td class="name"><a href="[^"]+">([^<]+)</a>', html)

    assert names("time")[0] == "shop.views.checkout"  # 30 rpm × 250 ms is the most time
    assert names("rpm")[0] == "GET /items/{id}"
    assert names("avg")[0] == "shop.views.search"
    assert names("errors")[0] == "shop.views.checkout"
    assert "tasks.send_email" not in names("time")  # background is its own tab
    html = owner_client.get(url("app_transactions", org, app, query="?type=background")).content.decode()
    assert "tasks.send_email" in html


def test_it_filters_transactions_by_name(owner_client, org, app, seeded):
    html = owner_client.get(url("app_transactions", org, app, query="?q=search")).content.decode()
    assert "shop.views.search" in html and "shop.views.checkout" not in html


def test_the_transaction_detail_has_charts_segments_and_slow_traces(owner_client, org, app, seeded):
    checkout = txn(org, app, "shop.views.checkout")
    response = owner_client.get(url("transaction_detail", org, app, checkout.id, query="?range=6h"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "shop.views.checkout" in html
    data = chart_data(response, "transaction-data")
    assert len(data["t"]) > 60
    assert 'id="segments-table"' in html and "Database" in html
    for trace_id in seeded["trace_ids"]:
        assert reverse("trace_detail", args=[org.slug, app.id, trace_id]) in html


def test_the_trace_view_draws_the_waterfall(owner_client, org, app, seeded):
    response = owner_client.get(url("trace_detail", org, app, seeded["trace_ids"][0]))
    assert response.status_code == 200
    html = response.content.decode()
    assert seeded["trace_ids"][0] in html
    assert html.count("<tr data-span=") == 4
    assert "SELECT * FROM shop_item WHERE id = ?" in html
    assert "https://payments.example/charge" in html
    assert 'class="span-name span-depth-2"' in html  # retry() under the external call


def test_the_trace_view_links_other_services_with_the_same_trace(owner_client, org, app, seeded):
    from tenants.models import App
    from contract.builders import payload
    from tests.frontend.seed import apply, trace_payload

    other = App.objects.for_org(org).create(organization=org, name="Payments")
    trace_id = seeded["trace_ids"][0]
    apply(org, other, [payload("Payments", traces=[trace_payload("payments.charge", seeded["last_minute"] + 5, 0.5, trace_id=trace_id, parent_span_id="c" * 16)])])
    html = owner_client.get(url("trace_detail", org, app, trace_id)).content.decode()
    assert reverse("trace_detail", args=[org.slug, other.id, trace_id]) in html
    assert "payments.charge" in html


def test_an_unknown_trace_or_transaction_is_404(owner_client, org, app, seeded):
    assert owner_client.get(url("trace_detail", org, app, "f" * 32)).status_code == 404
    assert owner_client.get(url("trace_detail", org, app, "not-hex")).status_code == 404
    assert owner_client.get(url("transaction_detail", org, app, 987654321)).status_code == 404


def test_it_lists_error_groups_and_their_samples(owner_client, org, app, seeded):
    html = owner_client.get(url("app_errors", org, app, query="?range=6h")).content.decode()
    assert "ValueError" in html and "shop.views.checkout" in html
    assert re.search(r'data-spark="[^"]*[1-9]', html)
    group = ErrorGroup.objects.for_org(org).get(app=app)
    response = owner_client.get(url("error_detail", org, app, group.id, query="?range=6h"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<div class="stack"') == 5
    assert "shop/payments.py:40 in charge" in html
    assert sum(chart_data(response, "error-data")["series"][0]["values"]) == 5


def test_it_shows_instances(owner_client, org, app, seeded):
    response = owner_client.get(url("app_instances", org, app))
    html = response.content.decode()
    assert "web-1" in html and "web-2" in html
    # 162 calls a minute (all types) shared by the two processes reporting every minute.
    assert html.count(">81 rpm<") == 2
    cpu = chart_data(response, "cpu-data")
    assert len(cpu["series"]) == 2 and any(v for v in cpu["series"][0]["values"])
    # runtime metrics: GC time (at most 0.05 s of a 2 s period), lag under 20 ms, 3 connections
    gc_time, lag, db = (chart_data(response, n)["series"] for n in ("gc-data", "loop-lag-data", "db-data"))
    assert 0 < max(v for v in gc_time[0]["values"] if v is not None) <= 2.5
    assert 0 < max(v for v in lag[0]["values"] if v is not None) < 20
    assert {v for v in db[1]["values"] if v is not None} == {3}
    assert html.count("django:default</span> 3 (") == 2


def test_capacity_figures_and_what_if(owner_client, org, app, seeded):
    response = owner_client.get(url("app_capacity", org, app, query="?range=24h&target_tps=50&cpu_target=75"))
    assert response.status_code == 200
    html = response.content.decode()
    # Web traffic: 30 + 120 + 8 calls per minute = 2.63 TPS every minute.
    assert re.search(r'data-kpi="peak-tps">2\.63', html)
    instances = int(re.search(r'data-kpi="instances">(\d+)', html).group(1))
    assert instances >= 1


def test_capacity_explains_bad_what_if_input(owner_client, org, app, seeded):
    html = owner_client.get(url("app_capacity", org, app, query="?target_tps=-3&cpu_target=99")).content.decode()
    assert "greater than or equal to 0.01" in html
    assert "less than or equal to 90" in html


@pytest.mark.parametrize(
    "name,extra",
    [
        ("app_overview", ()),
        ("app_transactions", ()),
        ("app_errors", ()),
        ("app_instances", ()),
        ("app_capacity", ()),
    ],
)
def test_viewers_read_and_outsiders_get_404(name, extra, viewer_client, outsider_client, org, app, seeded):
    assert viewer_client.get(url(name, org, app, *extra)).status_code == 200
    assert outsider_client.get(url(name, org, app, *extra)).status_code == 404


def test_viewers_read_and_outsiders_get_404_on_object_pages(viewer_client, outsider_client, org, app, seeded):
    checkout = txn(org, app, "shop.views.checkout")
    group = ErrorGroup.objects.for_org(org).get(app=app)
    for target in (
        url("app_list", org),
        url("transaction_detail", org, app, checkout.id),
        url("trace_detail", org, app, seeded["trace_ids"][0]),
        url("error_detail", org, app, group.id),
    ):
        assert viewer_client.get(target).status_code == 200, target
        assert outsider_client.get(target).status_code == 404, target


def test_objects_of_another_app_or_org_are_404(owner_client, org, app, seeded, outsider, outsider_org):
    from tenants.models import App

    theirs = App.objects.for_org(outsider_org).create(organization=outsider_org, name="Theirs")
    assert owner_client.get(url("app_overview", org, theirs)).status_code == 404
    # Our transaction, trace and error group under another app of ours are not found either.
    mine = App.objects.for_org(org).create(organization=org, name="Other app")
    checkout = txn(org, app, "shop.views.checkout")
    group = ErrorGroup.objects.for_org(org).get(app=app)
    assert owner_client.get(url("transaction_detail", org, mine, checkout.id)).status_code == 404
    assert owner_client.get(url("error_detail", org, mine, group.id)).status_code == 404
    assert owner_client.get(url("trace_detail", org, mine, seeded["trace_ids"][0])).status_code == 404


def test_pages_are_get_only(owner_client, org, app):
    assert owner_client.post(url("app_overview", org, app)).status_code == 405


def test_open_incidents_raise_the_status_and_shade_the_charts(owner_client, org, app, seeded):
    from tests.alerts import factories as alert_factories

    incident = alert_factories.incident(org, app)
    html = owner_client.get(url("app_list", org)).content.decode()
    assert re.search(r'class="status-dot (warn|bad)" title="[^"]*open incident', html)
    response = owner_client.get(url("app_overview", org, app, query="?range=1h"))
    bands = chart_data(response, "overview-data")["bands"]
    assert [b["title"] for b in bands] == [incident.title]
    assert bands[0]["end"] is None and bands[0]["severity"] == "warning"
    assert reverse("alerts:incident", args=[org.slug, incident.id]) in response.content.decode()


def test_chart_headers_offer_an_alert_to_admins_only(owner_client, viewer_client, org, app, seeded):
    new_condition = reverse("alerts:condition_new", args=[org.slug])
    checkout = txn(org, app, "shop.views.checkout")
    page = url("transaction_detail", org, app, checkout.id)
    html = owner_client.get(page).content.decode()
    assert f"{new_condition}?app={app.id}&amp;metric=p95&amp;transaction=shop.views.checkout" in html
    assert new_condition not in viewer_client.get(page).content.decode()


def test_long_transaction_ranges_say_they_start_on_the_hour(owner_client, org, app, seeded):
    # Explicit ranges starting half past an hour: a preset ending "now" would start on
    # the hour itself during the first minute of every hour.
    half_past = seeded["last_minute"] // 3600 * 3600 - 7 * 3600 + 1800  # ends in the past
    long_range = f"?from={half_past}&to={half_past + 6 * 3600}"
    short_range = f"?from={half_past + 5 * 3600}&to={half_past + 6 * 3600}"
    assert b"Figures from whole hours" in owner_client.get(url("app_transactions", org, app, query=long_range)).content
    assert b"Figures from whole hours" not in owner_client.get(url("app_transactions", org, app, query=short_range)).content
