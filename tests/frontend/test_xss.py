"""Agent-supplied strings carrying an XSS corpus, shown on every page: nothing executes."""

import pytest
from django.urls import reverse

from apm.models import ErrorGroup, Transaction
from tenants.models import App
from tests.frontend.seed import XSS_ALL, seed_app

# Substrings that only appear if a payload reached the HTML unescaped.
RAW = ["<script>window.__xss", "<img src=x", "<svg onload", "</script><script>"]


@pytest.fixture
def evil_app(org):
    # Apps are created by name from agent data: the name is agent-supplied too.
    return App.objects.for_org(org).create(organization=org, name=("Evil " + XSS_ALL)[:255])


def evil_pages(org, app, facts):
    txn = Transaction.objects.for_org(org).filter(app=app, name__startswith="shop.views.checkout").get()
    group = ErrorGroup.objects.for_org(org).get(app=app)
    base = [org.slug, app.id]
    return [
        reverse("app_list", args=[org.slug]),
        reverse("app_list", args=[org.slug]) + "?q=" + "%3Cscript%3E",
        reverse("app_overview", args=base) + "?range=6h",
        reverse("app_transactions", args=base) + "?range=6h",
        reverse("transaction_detail", args=base + [txn.id]) + "?range=6h",
        reverse("trace_detail", args=base + [facts["trace_ids"][0]]),
        reverse("app_errors", args=base) + "?range=6h",
        reverse("error_detail", args=base + [group.id]) + "?range=6h",
        reverse("app_instances", args=base) + "?range=6h",
        reverse("app_capacity", args=base) + "?range=24h&target_tps=5",
    ]


def test_it_escapes_agent_strings_in_html_and_json(owner_client, org, evil_app):
    facts = seed_app(org, evil_app, minutes=20, evil=True)
    for path in evil_pages(org, evil_app, facts):
        response = owner_client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        for raw in RAW:
            assert raw not in html, f"{raw!r} unescaped on {path}"
    html = owner_client.get(evil_pages(org, evil_app, facts)[5]).content.decode()
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html  # the SQL/span names are shown, as text
    assert "{{ 7|add:7 }}" in html  # template syntax in data is shown literally, never evaluated


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_nothing_executes_in_the_browser(signed_in, live_server, owner, org, evil_app, console_errors, screenshot):
    facts = seed_app(org, evil_app, minutes=20, evil=True)
    page = signed_in(owner)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for n, path in enumerate(evil_pages(org, evil_app, facts)):
        page.goto(live_server.url + path)
        page.wait_for_selector("html[data-charts-ready]", state="attached")
        assert page.evaluate("window.__xss") is None, path
        # The strings are on the page as text.
        assert "<script>window.__xss=1</script>" in page.inner_text("body"), path
        if n in (2, 8):  # overview and instances: charts drew despite hostile labels
            assert page.locator("[data-chart] canvas").count() >= 2
        screenshot(page, f"xss-{n}")
    # Hover a chart so the tooltip renders the hostile series labels (process host names).
    page.goto(live_server.url + evil_pages(org, evil_app, facts)[8])
    page.wait_for_selector("html[data-charts-ready]", state="attached")
    box = page.locator('[data-chart="cpu"] .u-over').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert "<svg onload" in page.inner_text('[data-chart="cpu"] .chart-tooltip')
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert not [e for e in console_errors if "Content Security Policy" in e and "inline" in e and "__xss" in e]
