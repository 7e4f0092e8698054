import re
from datetime import timedelta

from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD

NEW_PASSWORD = "a much better passphrase 42"


def _reset_link(email):
    match = re.search(r"http://127\.0\.0\.1:8000(/reset/[^\s]+/)", email.body)
    assert match, email.body
    return match.group(1)


def _request_reset(client, address):
    return client.post("/password-reset/", {"email": address})


def test_it_emails_a_link_that_sets_a_new_password(client, owner):
    response = _request_reset(client, "ALICE@example.com")
    assert response["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    link = _reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    assert "Set a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == "/reset/done/"
    assert Client().post("/login/", {"email": owner.email, "password": NEW_PASSWORD}).status_code == 302
    assert Client().post("/login/", {"email": owner.email, "password": PASSWORD}).status_code == 200


def test_the_link_works_once(client, owner):
    _request_reset(client, owner.email)
    link = _reset_link(mail.outbox[0])
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    again = Client().get(link, follow=True)
    assert "invalid, has expired or was already used" in again.content.decode()


def test_the_link_expires(client, owner, settings, monkeypatch):
    _request_reset(client, owner.email)
    link = _reset_link(mail.outbox[0])
    # Django's tokens carry their creation time; move the clock past the timeout.
    from django.contrib.auth.tokens import default_token_generator

    later = default_token_generator._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    page = client.get(link, follow=True)
    assert "invalid, has expired or was already used" in page.content.decode()


def test_it_refuses_a_weak_new_password(client, owner):
    _request_reset(client, owner.email)
    set_url = client.get(_reset_link(mail.outbox[0]), follow=True).redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "password", "new_password2": "password"})
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_it_says_the_same_for_unknown_addresses_and_sends_nothing(client, db):
    response = _request_reset(client, "nobody@example.com")
    assert response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_the_link_uses_public_url_not_the_host_header(client, owner, settings):
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]
    client.post("/password-reset/", {"email": owner.email}, HTTP_HOST="evil.example")
    assert "evil.example" not in mail.outbox[0].body
    assert "http://127.0.0.1:8000/reset/" in mail.outbox[0].body


def test_it_stops_sending_after_too_many_requests_for_one_address(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(4):
        response = _request_reset(client, owner.email)
        assert response["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 2


def test_it_stops_sending_after_too_many_requests_from_one_client(owner, member, settings):
    settings.LOGIN_FAILURE_IP_LIMIT = 1
    client = Client(REMOTE_ADDR="203.0.113.9")
    _request_reset(client, owner.email)
    _request_reset(client, member.email)
    assert [m.to for m in mail.outbox] == [[owner.email]]
