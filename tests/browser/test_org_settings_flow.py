"""Organisation settings in real Chromium: rename (the address stays), leave, the last owner
told why they cannot leave, delete after typing the name, and an invitation opened by the
wrong account."""

import pytest
from playwright.sync_api import expect

from tenants import actions
from tenants.models import Membership, Organization
from tenants.roles import Role
from tests.conftest import PASSWORD, make_org, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _accept_confirms(page, seen):
    # Our data-confirm forms ask with window.confirm; Playwright would dismiss it.
    def accept(dialog):
        seen.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)


def test_an_admin_renames_the_org_then_leaves_it(page, live_server, login, screenshot, console_errors):
    base = live_server.url
    owner = make_user("alice@example.com")
    org = make_org("Acme", "acme", owner)
    admin = make_user("adam@example.com")
    Membership.objects.for_org(org).create(organization=org, user=admin, role=Role.ADMIN)

    login(page, base, "adam@example.com", PASSWORD)
    page.goto(base + "/o/acme/settings/")
    page.get_by_role("link", name="Organisation").click()
    expect(page.get_by_role("heading", name="Name")).to_be_visible()
    page.fill("input[name=name]", "Acme <Industries>")
    page.get_by_role("button", name="Rename").click()

    expect(page.locator(".message-success")).to_have_text("Renamed to Acme <Industries>.")
    assert page.url == base + "/o/acme/settings/organization/"  # the address did not change
    expect(page.locator(".org-switcher summary")).to_have_text("Acme <Industries>")
    assert Organization.objects.get(slug="acme").name == "Acme <Industries>"
    screenshot(page, "1-renamed")

    confirms = []
    _accept_confirms(page, confirms)
    page.get_by_role("button", name="Leave organisation").click()
    page.get_by_role("heading", name="New organisation").wait_for()
    assert confirms == ["Leave Acme <Industries>?"]
    expect(page.locator(".message-success")).to_have_text("You left Acme <Industries>.")
    assert page.url == base + "/organizations/new/"  # no organisation left to land in
    assert not Membership.objects.for_org(org).filter(user=admin).exists()
    screenshot(page, "2-left")
    assert console_errors == []  # e.g. no CSP violation on the new pages
    assert page.goto(base + "/o/acme/").status == 404


def test_the_last_owner_is_told_to_hand_over_then_deletes(page, live_server, login, screenshot):
    base = live_server.url
    owner = make_user("alice@example.com")
    org = make_org("Acme", "acme", owner)
    member = make_user("bob@example.com")
    Membership.objects.for_org(org).create(organization=org, user=member, role=Role.MEMBER)

    login(page, base, "alice@example.com", PASSWORD)
    page.goto(base + "/o/acme/settings/organization/")
    leave = page.locator("#leave")
    expect(leave).to_contain_text("You are the only owner of Acme, so you cannot leave it.")
    expect(leave.get_by_role("button")).to_have_count(0)
    screenshot(page, "1-sole-owner")

    page.get_by_role("link", name="Delete organisation…").click()
    page.fill("input[name=confirm]", "acme")
    page.get_by_role("button", name="Delete organisation").click()
    expect(page.locator("p.error")).to_contain_text(
        "That is not the organisation's name."
    )
    assert Organization.objects.filter(slug="acme").exists()
    page.fill("input[name=confirm]", "Acme")
    page.get_by_role("button", name="Delete organisation").click()
    expect(page.locator(".message-success")).to_have_text("Deleted Acme and all of its data.")
    assert not Organization.objects.filter(slug="acme").exists()
    screenshot(page, "2-deleted")


def test_an_invitation_opened_by_another_account_is_refused(page, live_server, login, screenshot):
    base = live_server.url
    owner = make_user("alice@example.com")
    org = make_org("Acme", "acme", owner)
    make_org("Other Co", "other-co", make_user("charlie@example.com"))
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)

    login(page, base, "charlie@example.com", PASSWORD)
    page.goto(base + f"/invitations/{sent.token}/")
    expect(page.get_by_role("heading", name="This invitation is for another account")).to_be_visible()
    expect(page.locator(".card")).to_contain_text("is for dana@example.com; you are logged in as charlie@example.com")
    screenshot(page, "1-wrong-account")

    page.get_by_role("button", name="Log out and accept").click()
    expect(page.get_by_role("heading", name="Join Acme")).to_be_visible()
    expect(page.locator("input[name=email]")).to_have_value("dana@example.com")
    page.fill("input[name=password]", "a long and unusual passphrase")
    page.get_by_role("button", name="Create account and join").click()
    expect(page.locator(".message-success")).to_contain_text("Welcome to Acme")
    assert Membership.objects.for_org(org).filter(user__email="dana@example.com").exists()
    assert not Membership.objects.for_org(org).filter(user__email="charlie@example.com").exists()
