"""Fixtures of the SSO tests: a real provider process per module, Pulse configured for it,
and ``sso_sign_in`` that goes through it with Django's test client."""

from urllib.parse import urlsplit

import pytest

from tests.sso.provider import OidcProvider, sign_in_at_provider

PUBLIC_URL = "http://testserver"
CALLBACK = PUBLIC_URL + "/sso/local/callback/"


@pytest.fixture(scope="module")
def oidc_provider():
    provider = OidcProvider([CALLBACK])
    yield provider
    provider.stop()


@pytest.fixture
def sso_settings(settings, oidc_provider):
    settings.PUBLIC_URL = PUBLIC_URL
    settings.OIDC_PROVIDERS = [oidc_provider.settings()]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def start(client, next_url=""):
    """The provider's authorization URL that Pulse's start route redirects to."""
    response = client.get("/sso/local/start/" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def callback_path(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def sso_sign_in(sso_settings):
    """sso_sign_in(client, login) -> Pulse's answer to the callback, after signing in as
    ``login`` at the provider."""

    def sign_in(client, login, next_url=""):
        url = sign_in_at_provider(start(client, next_url), login, CALLBACK)
        return client.get(callback_path(url))

    return sign_in
