"""The OpenID providers of ``settings.OIDC_PROVIDERS`` and the protocol with them, by Authlib.

Authlib does the protocol: it reads the issuer's ``/.well-known/openid-configuration``,
sends the user to the authorization endpoint with a PKCE challenge (S256), a state and a
nonce kept in the session, trades the code for tokens, and checks the ID token's
signature against the issuer's JWKS and its issuer, audience, expiry and nonce. A state
is used once: the callback takes it out of the session whatever happens next.

Here: the discovered issuer must be the configured one; a token answer without an ID
token is refused (Authlib would only skip the checks); the e-mail is read from the
userinfo endpoint when the ID token leaves it out, and only for the same subject.
"""

import logging
from dataclasses import dataclass

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import Http404
from joserfc.errors import JoseError

log = logging.getLogger(__name__)


class SignInFailed(Exception):
    """The provider's answer was refused; the message is shown to the user."""


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    issuer: str


@dataclass(frozen=True)
class Claims:
    """What the provider vouches for about the person who signed in."""

    provider: Provider
    subject: str
    email: str
    email_verified: bool
    name: str

    @property
    def issuer(self):
        return self.provider.issuer


def configured():
    return [Provider(p["name"], p["label"], p["issuer"]) for p in settings.OIDC_PROVIDERS]


def get(name):
    """The provider called ``name``; 404 for a name that is not configured."""
    for provider in configured():
        if provider.name == name:
            return provider
    raise Http404("No such sign-in provider")


_registry = {}


def _client(name):
    """Authlib's client for ``name``, kept per process (it caches discovery and the JWKS),
    and made again when the provider's settings change."""
    config = next(p for p in settings.OIDC_PROVIDERS if p["name"] == name)
    key = tuple(sorted(config.items())) + (settings.OIDC_TIMEOUT,)
    cached = _registry.get(name)
    if cached is None or cached[0] != key:
        oauth = OAuth()
        client = oauth.register(
            name=name,
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            server_metadata_url=config["issuer"].rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": config["scope"],
                "code_challenge_method": "S256",
                "default_timeout": settings.OIDC_TIMEOUT,
            },
        )
        cached = _registry[name] = (key, client)
    return cached[1]


def _metadata(provider, client):
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        log.warning("OIDC provider %s: discovery failed: %r", provider.name, exc)
        raise SignInFailed(f"{provider.label} cannot be reached right now; please try again later.") from exc
    if metadata.get("issuer") != provider.issuer:
        client.server_metadata.clear()  # asked again next time: the operator may fix it
        log.error("OIDC provider %s: configured issuer %r, discovery says %r", provider.name, provider.issuer,
                  metadata.get("issuer"))
        raise SignInFailed(f"{provider.label} is misconfigured: its discovery document names another issuer.")
    return metadata


def redirect_to_provider(request, provider, redirect_uri):
    """The redirect to the provider's sign-in page, the state, nonce and PKCE verifier kept in
    the session."""
    client = _client(provider.name)
    _metadata(provider, client)
    try:
        return client.authorize_redirect(request, redirect_uri)
    except (AuthlibBaseError, requests.RequestException) as exc:
        log.warning("OIDC provider %s: %r", provider.name, exc)
        raise SignInFailed(f"{provider.label} cannot be reached right now; please try again later.") from exc


def finish(request, provider):
    """The claims of the callback's ID token, once every check has passed."""
    client = _client(provider.name)
    _metadata(provider, client)
    refused = f"Signing in with {provider.label} did not work"
    if request.GET.get("error"):
        raise SignInFailed(f"{refused}: {provider.label} answered “{request.GET['error'][:100]}”.")
    if not request.GET.get("state") or not request.GET.get("code"):
        raise SignInFailed(f"{refused}: the answer has no code or state. Please start again.")
    try:
        token = client.authorize_access_token(request)
        if "userinfo" not in token:
            raise SignInFailed(f"{refused}: {provider.label} sent no ID token.")
        claims = dict(token["userinfo"])
        if "email" not in claims:
            claims = _with_userinfo(client, token, claims)
    except SignInFailed:
        raise
    except AuthlibBaseError as exc:
        # A state not started in this browser, used already, or expired; a code refused.
        raise SignInFailed(f"{refused}: {exc.description or exc.error}. Please start again.") from exc
    except JoseError as exc:
        # A signature no key of the provider's JWKS makes; a wrong nonce, issuer or audience.
        raise SignInFailed(f"{refused}: the ID token was not valid ({exc.description or exc.error}).") from exc
    except requests.RequestException as exc:
        raise SignInFailed(f"{refused}: {provider.label} could not be reached.") from exc
    return Claims(
        provider=provider,
        subject=str(claims["sub"]),
        email=str(claims.get("email") or "").strip().lower(),
        email_verified=claims.get("email_verified") in (True, "true"),
        name=str(claims.get("name") or "")[:150],
    )


def _with_userinfo(client, token, claims):
    info = client.userinfo(token=token)
    if info.get("sub") != claims["sub"]:
        return claims  # another subject's answer is not about this sign-in
    return {**claims, "email": info.get("email"), "email_verified": info.get("email_verified")}
