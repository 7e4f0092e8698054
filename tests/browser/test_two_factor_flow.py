"""Two-factor in real Chromium: an organisation requires it, a member is sent to enrol,
scans (reads) the secret, confirms with a code, keeps the recovery codes, logs out, and
logs in again with the password and then a fresh code; the audit log shows the sign-in."""

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tenants.models import Membership, Organization
from tenants.roles import Role
from tests.conftest import PASSWORD, make_org, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(secret, steps_ahead=0):
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(timezone.now()) + steps_ahead)


def test_a_member_enrols_when_the_org_requires_it_then_logs_in_with_a_code(
    page, live_server, login, screenshot, console_errors
):
    base = live_server.url
    owner = make_user("alice@example.com")
    org = make_org("Acme", "acme", owner)
    member = make_user("bob@example.com")
    Membership.objects.for_org(org).create(organization=org, user=member, role=Role.ADMIN)
    Organization.objects.filter(pk=org.pk).update(require_two_factor=True)

    login(page, base, member.email, PASSWORD)
    page.goto(base + "/o/acme/settings/apps/")
    # Sent to enrol first, told why.
    expect(page.get_by_text("Acme requires two-factor authentication")).to_be_visible()
    expect(page.locator(".qr svg, svg.qr-code")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    screenshot(page, "1-enrol")
    page.fill("input[name=code]", _code(secret))
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Turn on two-factor").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    screenshot(page, "2-recovery-codes")
    page.goto(base + "/o/acme/settings/apps/")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    page.goto(base + "/login/?next=/o/acme/settings/audit/")
    page.fill("input[name=email]", member.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    screenshot(page, "3-code-step")
    # The next step's code: accepted now (clocks drift), and never the one that enrolled.
    page.fill("input[name=code]", _code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()

    # Signed in, at the page asked for before the password: the audit log, with this sign-in.
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    assert page.url == base + "/o/acme/settings/audit/"
    log = page.locator("#audit-log")
    expect(log).to_contain_text("Signed in")
    expect(log).to_contain_text("password+totp")
    expect(log).to_contain_text("Two-factor turned on")
    screenshot(page, "4-audit-log")
    assert console_errors == []
