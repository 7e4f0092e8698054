import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from tenants import actions
from tenants.models import Membership, Organization, User
from tenants.roles import Role
from tests.conftest import PASSWORD


def _signup(client, email="new@example.com", password=PASSWORD, organization="Globex"):
    return client.post(reverse("signup"), {"email": email, "password": password, "organization": organization})


def test_it_shows_the_landing_page_to_anonymous_visitors(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert reverse("signup") in response.content.decode()


def _link(message):
    return re.search(r"http://127\.0\.0\.1:8000(/verify/\S+/)", message.body).group(1)


def _confirm(client, email="new@example.com", password=PASSWORD):
    """Log in, follow the link mailed to ``email`` and press its button."""
    client.post(reverse("login"), {"email": email, "password": password})
    message = next(m for m in reversed(mail.outbox) if m.to == [email])
    return client.post(_link(message))


def test_it_signs_up_an_owner_who_confirms_the_address_by_mail(client, db):
    response = _signup(client, email="New@Example.com")
    assert response.status_code == 302 and response["Location"] == reverse("signup_sent")
    assert "_auth_user_id" not in client.session  # nobody is signed in by a sign-up
    assert "We sent an email to <strong>new@example.com</strong>" in client.get(response["Location"]).content.decode()
    org = Organization.objects.get(name="Globex")
    user = User.objects.get(email="new@example.com")
    assert Membership.objects.for_org(org).get(user=user).role == Role.OWNER
    assert not user.email_verified
    [message] = mail.outbox
    assert message.to == ["new@example.com"] and message.subject == "Confirm your e-mail address for Pulse"

    link = _link(message)
    # The link confirms for the account signed in with its password: first, log in.
    assert client.get(link)["Location"] == f"{reverse('login')}?next={link}"
    client.post(reverse("login"), {"email": "new@example.com", "password": PASSWORD})
    assert "Confirm my address" in client.get(link).content.decode()  # a GET confirms nothing
    assert not User.objects.get(pk=user.pk).email_verified
    assert client.post(link)["Location"] == reverse("home")
    assert User.objects.get(pk=user.pk).email_verified
    page = client.get(reverse("org_home", args=[org.slug]))
    assert "Add your first app" in page.content.decode()


def test_an_unconfirmed_account_waits_at_check_your_email(client, db):
    _signup(client)
    client.post(reverse("login"), {"email": "new@example.com", "password": PASSWORD})
    org = Organization.objects.get(name="Globex")
    for url in [reverse("org_home", args=[org.slug]), f"/o/{org.slug}/settings/keys/", reverse("org_create")]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("signup_sent"), url
    assert client.post(reverse("org_create"), {"name": "Second"})["Location"] == reverse("signup_sent")
    assert Organization.objects.count() == 1
    # Nor does it open a live socket: the membership is not found for it.
    from tenants.access import find_membership

    assert find_membership(User.objects.get(email="new@example.com"), org.slug) is None
    # The page names the signed-in account's address and sends the link again.
    assert "new@example.com" in client.get(reverse("signup_sent")).content.decode()
    client.post(reverse("signup_sent"))
    assert [m.subject for m in mail.outbox] == ["Confirm your e-mail address for Pulse"] * 2


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(owner):
    def answer(email):
        client = Client()
        response = _signup(client, email=email)
        page = client.get(response["Location"]).content.decode().replace(email.lower(), "EMAIL")
        return response.status_code, response["Location"], page.split('name="csrfmiddlewaretoken"')[0]

    assert answer("ALICE@example.com") == answer("nobody@example.com")
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    assert not Organization.objects.filter(name="Globex", memberships__user=owner).exists()
    # Only the mail differs, and only its owner reads it.
    to_alice = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert "already has an account" in to_alice.body and "/verify/" not in to_alice.body


def test_the_link_works_once_and_for_its_own_account_only(client, db):
    _signup(client, email="a@example.com")
    _signup(Client(), email="b@example.com")
    client.post(reverse("login"), {"email": "a@example.com", "password": PASSWORD})
    link_a = _link(mail.outbox[0])
    uid_b = _link(mail.outbox[1]).split("/")[2]
    token_a = link_a.split("/")[3]
    assert client.get(f"/verify/{uid_b}/{token_a}/").status_code == 404
    assert client.post(f"/verify/{uid_b}/{token_a}/").status_code == 404
    assert not User.objects.get(email="b@example.com").email_verified
    assert client.post(link_a).status_code == 302
    response = client.post(link_a)
    assert response.status_code == 404 and "This link can" in response.content.decode()
    assert client.get("/verify/garbage/x/").status_code == 404
    # B's own link, opened in A's session, confirms nothing either.
    assert client.post(_link(mail.outbox[1])).status_code == 404
    assert not User.objects.get(email="b@example.com").email_verified


def test_a_sign_up_with_someone_elses_address_is_theirs_to_take_back(db):
    """Mallory signs up with Vic's address: Vic's click cannot confirm Mallory's account, and
    Vic's password reset confirms the address with Vic's password, shutting Mallory out."""
    mallory = Client(REMOTE_ADDR="203.0.113.66")
    _signup(mallory, email="vic@example.com", password="mallory knows this one")
    vic = Client(REMOTE_ADDR="198.51.100.7")
    response = vic.post(_link(mail.outbox[-1]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not User.objects.get(email="vic@example.com").email_verified

    vic.post(reverse("password_reset"), {"email": "vic@example.com"})
    reset = re.search(r"http://127\.0\.0\.1:8000(/reset/\S+/)", mail.outbox[-1].body).group(1)
    form_url = vic.get(reset)["Location"]
    vic.post(form_url, {"new_password1": "vic's own new passphrase", "new_password2": "vic's own new passphrase"})
    assert User.objects.get(email="vic@example.com").email_verified
    denied = mallory.post(reverse("login"), {"email": "vic@example.com", "password": "mallory knows this one"})
    assert "Incorrect email or password." in denied.content.decode()


def test_sign_ups_are_throttled_per_client_and_per_address(db, settings):
    settings.SIGNUP_IP_LIMIT = 2
    settings.SIGNUP_EMAIL_LIMIT = 1
    here = Client(REMOTE_ADDR="203.0.113.7")
    assert [_signup(here, email=f"u{i}@example.com").status_code for i in range(3)] == [302, 302, 429]
    elsewhere = Client(REMOTE_ADDR="198.51.100.1")
    response = _signup(elsewhere, email="u0@example.com")
    assert response.status_code == 429
    assert "Too many sign-ups" in response.content.decode()
    # The resend counts in the same windows.
    fresh = Client(REMOTE_ADDR="192.0.2.5")
    _signup(fresh, email="v@example.com")
    fresh.post(reverse("signup_sent"))
    assert len([m for m in mail.outbox if m.to == ["v@example.com"]]) == 1


def test_an_invitation_confirms_the_address_it_was_sent_to(client, org, owner):
    _signup(client, email="dana@example.com")
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)
    dana = User.objects.get(email="dana@example.com")
    actions.accept_invitation(sent.token, dana)
    assert User.objects.get(pk=dana.pk).email_verified


@pytest.mark.parametrize("password", ["short", "password123", "1234567890123", "new@example.com"])
def test_it_refuses_weak_passwords(client, db, password):
    response = _signup(client, password=password)
    assert response.status_code == 200
    assert not User.objects.exists()
    assert not Organization.objects.exists()
    assert 'class="field has-error"' in response.content.decode()


def test_it_requires_an_org_name_and_valid_email(client, db):
    response = _signup(client, email="not-an-email", organization="")
    body = response.content.decode()
    assert "Enter a valid email address." in body
    assert "This field is required." in body
    assert not User.objects.exists()


def test_it_escapes_the_org_name(client, db):
    _signup(client, organization="<script>alert(1)</script>")
    _confirm(client)
    client.post(reverse("login"), {"email": "new@example.com", "password": PASSWORD})
    page = client.get(reverse("org_home", args=[Organization.objects.get().slug])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_it_sends_signed_in_users_home_to_their_org(owner_client, org):
    response = owner_client.get("/")
    assert response["Location"] == reverse("org_home", args=["acme"])


def test_it_enforces_csrf_on_signup(db):
    client = Client(enforce_csrf_checks=True)
    response = _signup(client)
    assert response.status_code == 403
    assert not User.objects.exists()
