"""The first user journey in real Chromium: sign up, confirm the address, first app, first key,
log out, log in."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tenants.keys import hash_key
from tests.frontend.seed import seed_app
from tenants.models import App, IngestKey, Organization

pytestmark = pytest.mark.browser

EMAIL = "founder@example.com"
PASSWORD = "a long and unusual passphrase"


@pytest.mark.django_db(transaction=True)
def test_it_signs_up_confirms_creates_an_app_and_a_key_then_logs_out_and_in(
    page, live_server, screenshot, console_errors, login
):
    base = live_server.url
    page.goto(base + "/")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=organization]", "Founders & Co")
    screenshot(page, "1-signup")
    page.get_by_role("button", name="Sign up").click()

    # The address is confirmed by the mailed link before the organisation can be used.
    page.get_by_role("heading", name="Check your email").wait_for()
    assert EMAIL in page.content()
    screenshot(page, "1b-check-your-email")
    link = re.search(r"http://127\.0\.0\.1:8000(/verify/\S+/)", mail.outbox[-1].body).group(1)
    page.goto(base + link)
    # The link asks who is confirming: log in on the page it leads to, and come back to it.
    page.get_by_role("heading", name="Log in").wait_for()
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.locator(".message-success")).to_contain_text("Your email address is confirmed.")

    page.get_by_role("heading", name="Add your first app").wait_for()
    org = Organization.objects.get()
    assert page.url == f"{base}/o/{org.slug}/"
    assert "Founders &amp; Co" in page.content()
    assert page.locator(".org-switcher summary").inner_text().strip() == "Founders & Co"
    screenshot(page, "2-first-app")

    page.fill("input[name=name]", "Shop")
    page.get_by_role("button", name="Create app").click()
    page.get_by_role("heading", name="Create an ingest key").wait_for()
    assert App.objects.for_org(org).get().apdex_t == 0.5
    assert page.input_value("input[name=label]") == "Shop"
    page.get_by_role("button", name="Create key").click()

    key_text = page.locator("#new-key").inner_text().strip()
    assert re.fullmatch(r"pulse_ik_[A-Za-z0-9]{40}", key_text)
    assert IngestKey.objects.for_org(org).get().key_hash == hash_key(key_text)
    shell = page.locator("#install-shell").inner_text()
    assert f"PULSE_INGEST_KEY={key_text}" in shell and 'PULSE_APP_NAME="Shop"' in shell
    copy = page.locator(".secret [data-copy]")
    copy.click()
    expect(copy).to_have_text(re.compile(r"^(Copied|Press Ctrl\+C)$"))  # our script runs under the CSP
    screenshot(page, "3-key-shown-once")

    # The page waits for the agent's first data and says when it arrives.
    waiting = page.locator(".first-data[data-watching]")
    expect(waiting).to_contain_text("Waiting for the first data from Shop")
    seed_app(org, App.objects.for_org(org).get(), minutes=1)
    expect(waiting).to_contain_text("First data from Shop arrived.", timeout=15_000)
    screenshot(page, "3b-first-data")
    shop = App.objects.for_org(org).get()
    assert waiting.get_by_role("link", name="Open Shop").get_attribute("href") == f"/o/{org.slug}/apps/{shop.id}/"

    page.get_by_role("link", name="Done").click()
    page.get_by_role("heading", name="Create an ingest key").wait_for()
    assert key_text not in page.content()
    assert key_text[:15] in page.content()  # the prefix identifies it in the list
    assert console_errors == []

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
    page.goto(f"{base}/o/{org.slug}/settings/keys/")
    assert page.url.startswith(f"{base}/login/")

    login(page, base, EMAIL, "wrong password")
    assert "Incorrect email or password." in page.content()
    login(page, base, EMAIL.upper(), PASSWORD)
    assert page.url.startswith(f"{base}/o/{org.slug}/")
    assert "Shop" in page.content()
    screenshot(page, "4-logged-in-again")


@pytest.mark.django_db(transaction=True)
def test_the_layout_fits_a_phone(phone_page, live_server, screenshot):
    from tests.conftest import PASSWORD as FIXTURE_PASSWORD, make_org, make_user

    make_org("A rather long organisation name", "long-org", make_user("phone@example.com"))
    phone_page.goto(live_server.url + "/login/")
    phone_page.fill("input[name=email]", "phone@example.com")
    phone_page.fill("input[name=password]", FIXTURE_PASSWORD)
    phone_page.get_by_role("button", name="Log in").click()
    phone_page.goto(live_server.url + "/o/long-org/settings/members/")
    overflow = phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # The organisation switcher opens without JavaScript of ours (a <details> element).
    phone_page.locator(".org-switcher summary").click()
    assert phone_page.get_by_role("link", name="+ New organisation").is_visible()
    screenshot(phone_page, "members-on-a-phone")


@pytest.mark.django_db(transaction=True)
def test_it_invites_a_teammate_who_signs_up_from_the_emailed_link(browser, page, live_server, login, screenshot):
    from django.core import mail

    from tests.conftest import PASSWORD as FIXTURE_PASSWORD, make_org, make_user

    make_org("Acme", "acme", make_user("boss@example.com"))
    login(page, live_server.url, "boss@example.com", FIXTURE_PASSWORD)
    page.goto(live_server.url + "/o/acme/settings/members/")
    page.fill("input[name=email]", "newbie@example.com")
    page.select_option("select[name=role]", "viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".message-success")).to_contain_text("Invitation sent to newbie@example.com")

    link = re.search(r"http://127\.0\.0\.1:8000(/invitations/\S+/)", mail.outbox[-1].body).group(1)
    teammate = browser.new_context().new_page()
    try:
        teammate.goto(live_server.url + link)
        expect(teammate.locator("input[name=email]")).to_have_value("newbie@example.com")
        teammate.fill("input[name=password]", PASSWORD)
        teammate.get_by_role("button", name="Create account and join").click()
        expect(teammate.locator(".message-success")).to_contain_text("Welcome to Acme")
        assert teammate.url.startswith(live_server.url + "/o/acme/")
        screenshot(teammate, "teammate-joined")
        teammate.goto(live_server.url + link)  # the link worked once
        expect(teammate.get_by_role("heading", name="This invitation can't be used")).to_be_visible()
    finally:
        teammate.context.close()
