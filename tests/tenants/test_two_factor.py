"""TOTP two-factor: enrolment, the login's second step, replay, recovery codes, throttle,
turning it off, and organisations that require it. Codes are computed here with pyotp
from the secret the page shows, as an authenticator app would."""

import re

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenants import two_factor
from tenants.models import Organization, RecoveryCode, TwoFactor
from tests.conftest import PASSWORD, client_for

LOGIN = "/login/"
CODE = "/login/code/"
ACCOUNT = "/account/"


def _secret_on_page(response):
    return re.search(r'id="totp-secret">([A-Z2-7]+)<', response.content.decode()).group(1)


def _code(secret, steps_ahead=0):
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(timezone.now()) + steps_ahead)


def _next_code(secret):
    """The code of the next step: accepted now (clocks drift) and after the one that enrolled,
    however the 30-second steps fall during the test."""
    return _code(secret, steps_ahead=1)


def _wrong_code(secret):
    near = {_code(secret, steps) for steps in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in near)


def _enrol(user):
    """Enrol ``user`` through the account page; returns (secret, recovery codes)."""
    client = client_for(user)
    page = client.get(ACCOUNT)
    secret = _secret_on_page(page)
    response = client.post(ACCOUNT, {"code": _code(secret), "password": PASSWORD})
    assert response.status_code == 200
    codes = re.findall(r"\b[0-9a-f]{6}-[0-9a-f]{6}\b", response.content.decode())
    return secret, codes


def _password_step(client, user):
    return client.post(LOGIN, {"email": user.email, "password": PASSWORD})


def test_enrolment_shows_a_qr_code_and_the_secret_and_needs_a_right_code(owner):
    client = client_for(owner)
    page = client.get(ACCOUNT)
    body = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in body and "qr-code" in body
    secret = _secret_on_page(page)
    assert client.get(ACCOUNT).content.decode().count(secret) == 1  # a reload keeps the same secret

    wrong = client.post(ACCOUNT, {"code": _wrong_code(secret), "password": PASSWORD})
    assert wrong.status_code == 400
    assert two_factor.CODE_REFUSED in wrong.content.decode()
    # A session alone (without the password) cannot turn it on and lock the owner out.
    no_password = client.post(ACCOUNT, {"code": _code(secret), "password": "not it"})
    assert "That is not your password." in no_password.content.decode()
    assert not two_factor.is_enrolled(owner)

    done = client.post(ACCOUNT, {"code": _code(secret), "password": PASSWORD})
    codes = re.findall(r"\b[0-9a-f]{6}-[0-9a-f]{6}\b", done.content.decode())
    assert len(codes) == two_factor.RECOVERY_CODES == len(set(codes))
    assert two_factor.is_enrolled(owner)
    assert TwoFactor.objects.get(user=owner).secret == secret
    # Stored hashed only, and never shown again.
    stored = set(RecoveryCode.objects.filter(user=owner).values_list("code_hash", flat=True))
    assert not stored & set(codes)
    again = client.get(ACCOUNT).content.decode()
    assert not any(code in again for code in codes)
    assert "10 unused recovery codes left" in again


def test_login_asks_for_the_code_and_is_not_signed_in_before_it(owner, org):
    secret, _ = _enrol(owner)
    client = Client()
    first = _password_step(client, owner)
    assert first.status_code == 302 and first["Location"] == reverse("login_code")
    assert "_auth_user_id" not in client.session
    # No organisation page before the second step.
    assert client.get("/o/acme/").status_code == 302
    assert client.get("/o/acme/")["Location"].startswith(LOGIN)

    assert client.post(CODE, {"code": _next_code(secret)}).status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)
    assert client.session[two_factor.AUTH_METHOD_KEY] == "password+totp"
    assert client.get("/o/acme/").status_code == 200


def test_the_code_step_without_a_password_step_goes_back_to_login(owner):
    _enrol(owner)
    response = Client().post(CODE, {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == LOGIN


def test_a_code_cannot_be_replayed_within_its_window(owner, org):
    secret, _ = _enrol(owner)
    code = _next_code(secret)
    first = Client()
    _password_step(first, owner)
    assert first.post(CODE, {"code": code}).status_code == 302

    second = Client()
    _password_step(second, owner)
    replay = second.post(CODE, {"code": code})
    assert replay.status_code == 200
    assert two_factor.CODE_REFUSED in replay.content.decode()
    assert "_auth_user_id" not in second.session
    # An older code than one used is refused too.
    assert second.post(CODE, {"code": _code(secret)}).status_code == 200
    assert "_auth_user_id" not in second.session


def test_the_code_used_to_enrol_cannot_sign_in(owner):
    client = client_for(owner)
    secret = _secret_on_page(client.get(ACCOUNT))
    code = _code(secret)
    client.post(ACCOUNT, {"code": code, "password": PASSWORD})
    login = Client()
    _password_step(login, owner)
    assert login.post(CODE, {"code": code}).status_code == 200
    assert "_auth_user_id" not in login.session


def test_a_recovery_code_works_once(owner, org):
    _, codes = _enrol(owner)
    first = Client()
    _password_step(first, owner)
    assert first.post(CODE, {"code": codes[0].upper()}).status_code == 302
    assert first.session[two_factor.AUTH_METHOD_KEY] == "password+recovery_code"

    second = Client()
    _password_step(second, owner)
    assert second.post(CODE, {"code": codes[0]}).status_code == 200
    assert "_auth_user_id" not in second.session
    assert second.post(CODE, {"code": codes[1]}).status_code == 302
    assert two_factor.recovery_codes_left(owner) == two_factor.RECOVERY_CODES - 2


def test_the_code_step_is_throttled_like_the_password_step(owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    secret, _ = _enrol(owner)
    client = Client()
    _password_step(client, owner)
    wrong = _wrong_code(secret)
    enrolled_step = TwoFactor.objects.get(user=owner).last_step
    for _ in range(3):
        assert client.post(CODE, {"code": wrong}).status_code == 200
    # The right code is refused unchecked once the limit is reached.
    response = client.post(CODE, {"code": _next_code(secret)})
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert TwoFactor.objects.get(user=owner).last_step == enrolled_step


def test_new_recovery_codes_replace_the_old_ones_for_a_current_code(owner):
    secret, old_codes = _enrol(owner)
    client = client_for(owner)
    refused = client.post("/account/two-factor/recovery-codes/", {"code": old_codes[0]})
    assert refused.status_code == 400 and two_factor.recovery_codes_left(owner) == two_factor.RECOVERY_CODES
    response = client.post("/account/two-factor/recovery-codes/", {"code": _next_code(secret)})
    new_codes = re.findall(r"\b[0-9a-f]{6}-[0-9a-f]{6}\b", response.content.decode())
    assert len(new_codes) == two_factor.RECOVERY_CODES and not set(new_codes) & set(old_codes)
    assert two_factor.verify(owner, old_codes[1]) is None
    assert two_factor.verify(owner, new_codes[0]) == "recovery_code"


def test_turning_it_on_off_or_renewing_is_throttled(owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    secret, _ = _enrol(owner)
    client = client_for(owner)
    for _ in range(2):
        client.post("/account/two-factor/disable/", {"password": "guess", "code": _next_code(secret)})
    response = client.post("/account/two-factor/disable/", {"password": PASSWORD, "code": _next_code(secret)})
    assert "Too many failed login attempts" in response.content.decode()
    assert two_factor.is_enrolled(owner)


def test_the_pending_step_expires(owner, settings):
    secret, _ = _enrol(owner)
    client = Client()
    _password_step(client, owner)
    settings.TWO_FACTOR_LOGIN_SECONDS = -1
    response = client.post(CODE, {"code": _next_code(secret)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


def test_turning_it_off_takes_the_password_and_a_code(owner, org):
    secret, _ = _enrol(owner)
    client = client_for(owner)
    client.post("/account/two-factor/disable/", {"password": "wrong password", "code": _next_code(secret)})
    assert two_factor.is_enrolled(owner)
    client.post("/account/two-factor/disable/", {"password": PASSWORD, "code": "12345"})
    assert two_factor.is_enrolled(owner)
    client.post("/account/two-factor/disable/", {"password": PASSWORD, "code": _next_code(secret)})
    assert not two_factor.is_enrolled(owner)
    assert not RecoveryCode.objects.filter(user=owner).exists()
    # Logging in takes the password alone again.
    assert _password_step(Client(), owner)["Location"] == "/"


def _require(org):
    Organization.objects.filter(pk=org.pk).update(require_two_factor=True)


def test_an_admin_turns_it_on_for_the_org_only_with_it_on_for_herself(org, owner, owner_client):
    response = owner_client.post("/o/acme/settings/organization/two-factor/", {"require_two_factor": "on"}, follow=True)
    assert "Turn on two-factor authentication for your own account first" in response.content.decode()
    assert not Organization.objects.get(pk=org.pk).require_two_factor
    _enrol(owner)
    response = owner_client.post("/o/acme/settings/organization/two-factor/", {"require_two_factor": "on"})
    assert response.status_code == 302
    assert Organization.objects.get(pk=org.pk).require_two_factor


def test_an_org_that_requires_it_sends_members_without_it_to_enrol(org, member):
    _require(org)
    member_client = Client()
    _password_step(member_client, member)
    blocked = member_client.get("/o/acme/settings/apps/")
    assert blocked.status_code == 302
    assert blocked["Location"] == "/account/?required_by=acme"
    page = member_client.get(blocked["Location"])
    assert "Acme requires two-factor authentication" in page.content.decode()
    secret = _secret_on_page(page)
    member_client.post(blocked["Location"], {"code": _code(secret), "password": PASSWORD})
    assert member_client.get("/o/acme/settings/apps/").status_code == 200


def test_the_requirement_is_per_organisation(org, member, outsider, outsider_org):
    _require(outsider_org)
    client = client_for(member)
    assert client.get("/o/acme/settings/apps/").status_code == 200
    assert client_for(outsider).get("/o/other-co/settings/apps/").status_code == 302


def test_single_sign_on_sessions_are_exempt(org, member):
    _require(org)
    client = client_for(member)
    session = client.session
    session[two_factor.AUTH_METHOD_KEY] = two_factor.SSO
    session.save()
    assert client.get("/o/acme/settings/apps/").status_code == 200


def test_outsiders_still_get_404_from_an_org_that_requires_it(org, outsider_client):
    _require(org)
    assert outsider_client.get("/o/acme/settings/apps/").status_code == 404


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_only_owners_and_admins_set_the_requirement(request, persona, org):
    client = client_for(request.getfixturevalue(persona))
    response = client.post("/o/acme/settings/organization/two-factor/", {"require_two_factor": "on"})
    assert response.status_code == 403
    assert not Organization.objects.get(pk=org.pk).require_two_factor


def test_the_admin_login_does_not_skip_the_second_factor(db):
    from tenants.models import User

    staff = User.objects.create_superuser(email="ops@example.com", password=PASSWORD)
    secret, _ = _enrol(staff)
    client = Client()
    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "This account uses two-factor authentication" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Through Pulse's own login, with a code, the admin opens.
    _password_step(client, staff)
    client.post(CODE, {"code": _next_code(secret)})
    assert client.get("/admin/tenants/app/").status_code == 200


def test_an_operator_turns_it_off_in_the_admin_for_a_lost_phone(owner, org):
    from tenants.models import AuditEntry, User

    _enrol(owner)
    staff = User.objects.create_superuser(email="ops@example.com", password=PASSWORD)
    response = client_for(staff).post(
        "/admin/tenants/user/", {"action": "turn_off_two_factor", "_selected_action": [owner.pk]}
    )
    assert response.status_code == 302
    assert not two_factor.is_enrolled(owner) and not RecoveryCode.objects.filter(user=owner).exists()
    entry = AuditEntry.objects.for_org(org).get(action="two_factor.disabled")
    assert entry.details == {"by_operator": "ops@example.com"}


@pytest.mark.django_db(transaction=True)
def test_one_code_sent_in_parallel_signs_in_once(owner, settings):
    from tests.concurrency import run_together

    settings.LOGIN_FAILURE_LIMIT = 100  # the refusals here are replays, not the throttle
    secret, codes = _enrol(owner)
    clients = [Client(REMOTE_ADDR=f"198.51.100.{i}") for i in range(4)]
    for client in clients:
        _password_step(client, owner)
    code = _next_code(secret)
    statuses = run_together(*[lambda c=client: c.post(CODE, {"code": code}).status_code for client in clients])
    assert sorted(statuses) == [200, 200, 200, 302]
    # A recovery code too.
    for client in clients:
        client.cookies.clear()
        _password_step(client, owner)
    statuses = run_together(*[lambda c=client: c.post(CODE, {"code": codes[0]}).status_code for client in clients])
    assert sorted(statuses) == [200, 200, 200, 302]
