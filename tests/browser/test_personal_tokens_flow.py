"""Personal API tokens in real Chromium: a user creates one on the account page (shown once),
a script reads the organisation's apps with it, the list shows its last use, and revoking
it refuses the next request."""

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, make_org, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_creates_uses_and_revokes_a_personal_token(page, live_server, login, screenshot, console_errors):
    base = live_server.url
    owner = make_user("alice@example.com")
    make_org("Acme", "acme", owner)

    login(page, base, "alice@example.com", PASSWORD)
    page.goto(base + "/account/")
    expect(page.locator("#personal-token-list")).to_contain_text("No personal tokens yet.")
    page.fill("#personal-token-new input[name=label]", "laptop <script>")
    page.select_option("#personal-token-new select[name=scope]", "write")
    page.get_by_role("button", name="Create token").click()

    raw = page.locator("#new-token").inner_text()
    assert raw.startswith("pulse_pt_") and len(raw) == 49
    expect(page.locator("#curl-example")).to_contain_text(f"export PULSE_TOKEN={raw}")
    screenshot(page, "1-created")

    headers = {"Authorization": f"Bearer {raw}"}
    apps = httpx.get(base + "/o/acme/api/apps", headers=headers)
    assert apps.status_code == 200 and apps.json() == {"apps": []}
    channel = httpx.post(base + "/o/acme/api/alerts/channels", headers=headers,
                         json={"name": "Ops", "kind": "email", "members": True})
    assert channel.status_code == 201, channel.text

    page.get_by_role("link", name="Done").click()
    row = page.locator("#personal-token-list tbody tr").first
    expect(row).to_contain_text("laptop <script>")
    expect(row).to_contain_text("read and write")
    expect(row).to_contain_text("ago")  # last used by the requests above
    assert raw not in page.content()
    screenshot(page, "2-listed")

    page.on("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".message-success")).to_contain_text("Revoked “laptop <script>”")
    expect(page.locator("#personal-token-list tbody tr").first).to_contain_text("revoked")
    assert httpx.get(base + "/o/acme/api/apps", headers=headers).status_code == 401
    assert console_errors == []
