"""The transactions page in Chromium when a ranking by p95 would decode too many sketches
(P95_RANKING_MAX_SKETCHES): ranked by time consumed, with a notice saying why."""

import re

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_refused_p95_ranking_says_why_and_ranks_by_time(signed_in, live_server, owner, org, app, seeded, settings,
                                                         screenshot):
    settings.P95_RANKING_MAX_SKETCHES = 1
    page = signed_in(owner)
    page.goto(live_server.url + reverse("app_transactions", args=[org.slug, app.id]) + "?range=1h")
    first_by_time = page.locator("#transactions-table tbody tr td.name a").first.inner_text()
    assert page.locator("[data-ranking-notice]").count() == 0
    page.click('[data-sort-key="p95"]')
    page.wait_for_url(re.compile(r"sort=p95"))
    notice = page.locator("[data-ranking-notice]")
    assert notice.is_visible()
    assert "P95_RANKING_MAX_SKETCHES" in notice.inner_text() and "time consumed" in notice.inner_text()
    assert page.locator("#transactions-table tbody tr td.name a").first.inner_text() == first_by_time
    screenshot(page, "p95-ranking-refused")
