import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.urls import reverse

from tests.concurrency import run_together
from tests.conftest import PASSWORD

LOGIN = "/login/"


def _login(client, email, password, **extra):
    return client.post(LOGIN, {"email": email, "password": password}, **extra)


def test_it_logs_in_with_any_case_of_the_email(client, owner, org):
    response = _login(client, "Alice@Example.COM", PASSWORD)
    assert response.status_code == 302
    assert client.get("/").headers["Location"] == reverse("org_home", args=["acme"])


def test_it_follows_a_safe_next_url_only(client, owner, org):
    response = client.post(LOGIN + "?next=/o/acme/settings/keys/", {"email": owner.email, "password": PASSWORD})
    assert response["Location"] == "/o/acme/settings/keys/"
    client.post("/logout/")
    response = client.post(LOGIN + "?next=https://evil.example/", {"email": owner.email, "password": PASSWORD})
    assert response["Location"] == "/"


def test_it_gives_the_same_answer_for_unknown_email_and_wrong_password(client, owner):
    wrong = _login(client, owner.email, "not the password")
    unknown = _login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    assert "Incorrect email or password." in wrong.content.decode()
    # Same page apart from the e-mail address echoed back into the form and the CSRF token.
    strip = lambda r, e: r.content.decode().replace(e, "EMAIL").split('name="csrfmiddlewaretoken"')[0]  # noqa: E731
    assert strip(wrong, owner.email) == strip(unknown, "nobody@example.com")


class CountingHasher(PBKDF2PasswordHasher):
    iterations = 1000
    calls = 0

    def encode(self, password, salt, iterations=None):
        CountingHasher.calls += 1
        return super().encode(password, salt, iterations)


def test_it_hashes_once_for_unknown_email_and_for_wrong_password(client, settings, db):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    from tenants.models import User

    User.objects.create_user(email="zed@example.com", password=PASSWORD)
    CountingHasher.calls = 0
    _login(client, "zed@example.com", "wrong password")
    wrong = CountingHasher.calls
    CountingHasher.calls = 0
    _login(client, "nobody@example.com", "wrong password")
    assert wrong == CountingHasher.calls == 1


def test_it_throttles_an_account_at_the_address_that_keeps_failing(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert _login(client, owner.email, "wrong").status_code == 200
    # Even the right password is refused now from that address, with a clear message.
    response = _login(client, owner.email.upper(), PASSWORD)
    assert response.status_code == 429
    assert "Too many failed login attempts. Please try again later." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_stranger_guessing_cannot_lock_the_owner_out(owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    stranger = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(10):
        _login(stranger, owner.email, "wrong")
    assert _login(stranger, owner.email, PASSWORD).status_code == 429
    # The owner, at her own address, still gets in.
    assert _login(Client(REMOTE_ADDR="198.51.100.1"), owner.email, PASSWORD).status_code == 302


def test_guesses_from_many_addresses_lock_the_account_everywhere(owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_ACCOUNT_LIMIT = 6
    for i in range(6):
        _login(Client(REMOTE_ADDR=f"203.0.113.{i + 1}"), owner.email, "wrong")
    assert _login(Client(REMOTE_ADDR="198.51.100.1"), owner.email, PASSWORD).status_code == 429


def test_parallel_guesses_get_no_more_checks_than_the_limit(settings, transactional_db):
    """Requests sent at once each count before their password is checked: no race for extra guesses."""
    from tenants.models import User

    # Django's real hasher: the slow check is the window parallel requests would race through.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    settings.LOGIN_FAILURE_LIMIT = 3
    user = User.objects.create_user(email="zed@example.com", password=PASSWORD)
    attacker = lambda: _login(Client(REMOTE_ADDR="203.0.113.7"), user.email, "guess").status_code  # noqa: E731
    statuses = run_together(*[attacker] * 8)
    assert sorted(statuses) == [200] * 3 + [429] * 5


def test_it_throttles_unknown_accounts_the_same_way(client, db, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        _login(client, "ghost@example.com", "wrong")
    assert _login(client, "ghost@example.com", "wrong").status_code == 429


def test_it_throttles_a_client_address_across_accounts(owner, member, settings):
    settings.LOGIN_FAILURE_IP_LIMIT = 4
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(4):
        _login(attacker, f"user{i}@example.com", "wrong")
    assert _login(attacker, owner.email, PASSWORD).status_code == 429
    # Someone else, elsewhere, still gets in.
    assert _login(Client(REMOTE_ADDR="198.51.100.1"), owner.email, PASSWORD).status_code == 302


def test_a_success_resets_the_account_counter(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    _login(client, owner.email, "wrong")
    _login(client, owner.email, "wrong")
    assert _login(client, owner.email, PASSWORD).status_code == 302
    client.post("/logout/")
    _login(client, owner.email, "wrong")
    _login(client, owner.email, "wrong")
    assert _login(client, owner.email, PASSWORD).status_code == 302


def test_it_refuses_inactive_users_with_the_same_message(client, owner):
    owner.is_active = False
    owner.save()
    response = _login(client, owner.email, PASSWORD)
    assert "Incorrect email or password." in response.content.decode()


def _admin_login(client, email, password):
    return client.post("/admin/login/", {"username": email, "password": password, "next": "/admin/"})


def test_the_admin_login_is_throttled_the_same_way(client, db, settings):
    from tenants.models import User

    settings.LOGIN_FAILURE_LIMIT = 2
    staff = User.objects.create_superuser(email="ops@example.com", password=PASSWORD)
    for _ in range(2):
        assert "_auth_user_id" not in _admin_login(client, staff.email, "wrong").wsgi_request.session
    response = _admin_login(client, staff.email, PASSWORD)
    assert "Too many failed login attempts. Please try again later." in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address, and the right password: the admin signs in as before.
    other = Client(REMOTE_ADDR="198.51.100.1")
    assert _admin_login(other, staff.email, PASSWORD).status_code == 302
    assert other.session["_auth_user_id"] == str(staff.pk)


def test_logout_needs_a_post(owner_client):
    assert owner_client.get("/logout/").status_code == 405
    response = owner_client.post("/logout/")
    assert response.status_code == 302
    assert owner_client.get("/o/acme/settings/apps/").status_code == 302


@pytest.mark.parametrize("url", ["/login/", "/signup/", "/password-reset/"])
def test_forms_carry_a_csrf_token(client, db, url):
    assert 'name="csrfmiddlewaretoken"' in client.get(url).content.decode()


def test_it_enforces_csrf_on_login(owner):
    client = Client(enforce_csrf_checks=True)
    assert _login(client, owner.email, PASSWORD).status_code == 403


def test_it_stores_argon2_and_upgrades_older_hashes_at_login(client, owner, settings):
    from django.contrib.auth.hashers import make_password

    from pulse import settings as configured

    settings.PASSWORD_HASHERS = configured.PASSWORD_HASHERS  # (these tests hash with MD5, for speed)
    owner.set_password(PASSWORD)
    owner.save(update_fields=["password"])
    assert owner.password.startswith("argon2$")  # new passwords
    owner.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    owner.save(update_fields=["password"])
    assert _login(client, owner.email, PASSWORD).status_code == 302  # the old hash still works...
    owner.refresh_from_db()
    assert owner.password.startswith("argon2$")  # ...and is replaced at that login
    assert owner.check_password(PASSWORD)
