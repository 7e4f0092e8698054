"""API tokens in real Chromium: an owner creates one (shown once), Prometheus's request with it
reads the organisation's series, the list shows its last use, revoking it refuses the next."""

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, make_org, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_creates_uses_and_revokes_a_token(page, live_server, login, screenshot, console_errors):
    base = live_server.url
    owner = make_user("alice@example.com")
    make_org("Acme", "acme", owner)

    login(page, base, "alice@example.com", PASSWORD)
    page.goto(base + "/o/acme/settings/")
    page.get_by_role("link", name="API tokens").click()
    expect(page.locator("#api-tokens")).to_contain_text("No tokens yet.")
    page.fill("input[name=label]", "Prometheus <prod>")
    page.select_option("select[name=scope]", "read")
    page.get_by_role("button", name="Create token").click()

    raw = page.locator("#new-token").inner_text()
    assert raw.startswith("pulse_at_") and len(raw) == 49
    expect(page.locator("#scrape-config")).to_contain_text(f"credentials: {raw}")
    screenshot(page, "1-created")

    scrape = httpx.get(base + "/api/v1/metrics", headers={"Authorization": f"Bearer {raw}"})
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")

    page.get_by_role("link", name="Done").click()
    row = page.locator("#api-tokens tbody tr").first
    expect(row).to_contain_text("Prometheus <prod>")
    expect(row).to_contain_text(raw[:15] + "…")
    expect(row).to_contain_text("ago")  # last used by the scrape above
    assert raw not in page.content()
    screenshot(page, "2-listed")

    confirms = []
    page.on("dialog", lambda dialog: (confirms.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".message-success")).to_contain_text("Revoked “Prometheus <prod>”")
    assert confirms == ["Revoke “Prometheus <prod>”? Clients using it will be refused."]
    expect(page.locator("#api-tokens tbody tr").first).to_contain_text("revoked")
    assert httpx.get(base + "/api/v1/metrics", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert console_errors == []
