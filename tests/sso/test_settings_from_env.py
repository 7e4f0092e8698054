"""PULSE_OIDC_PROVIDERS and each provider's PULSE_OIDC_<NAME>_* variables, read by
pulse/settings.py in a fresh process: secrets from *_FILE, and a clear error for what is
missing or wrong."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = "import django; django.setup(); import json; from django.conf import settings; print(json.dumps(settings.OIDC_PROVIDERS))"


def _settings(**env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PULSE_OIDC"))}
    return subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**base, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "pulse.settings", **env},
    )


def test_it_reads_several_providers_with_a_secret_from_a_file(tmp_path):
    secret = tmp_path / "okta-secret"
    secret.write_text("okta-secret-value\n")
    result = _settings(
        PULSE_OIDC_PROVIDERS="google, okta",
        PULSE_OIDC_GOOGLE_ISSUER="https://accounts.google.com",
        PULSE_OIDC_GOOGLE_CLIENT_ID="g-id",
        PULSE_OIDC_GOOGLE_CLIENT_SECRET="g-secret",
        PULSE_OIDC_OKTA_ISSUER="https://acme.okta.com/oauth2/default",
        PULSE_OIDC_OKTA_CLIENT_ID="o-id",
        PULSE_OIDC_OKTA_CLIENT_SECRET_FILE=str(secret),
        PULSE_OIDC_OKTA_NAME="Acme Okta",
    )
    assert result.returncode == 0, result.stderr
    google, okta = json.loads(result.stdout)
    assert google == {"name": "google", "label": "Google", "issuer": "https://accounts.google.com",
                      "client_id": "g-id", "client_secret": "g-secret", "scope": "openid email profile"}
    assert (okta["label"], okta["issuer"], okta["client_secret"]) == ("Acme Okta", "https://acme.okta.com/oauth2/default", "okta-secret-value")


def test_none_by_default():
    result = _settings()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_a_missing_variable_is_named():
    result = _settings(PULSE_OIDC_PROVIDERS="okta", PULSE_OIDC_OKTA_ISSUER="https://acme.okta.com")
    assert result.returncode != 0
    assert "PULSE_OIDC_OKTA_CLIENT_ID must be set for the OpenID provider 'okta'" in result.stderr


def test_a_bad_name_is_refused():
    result = _settings(PULSE_OIDC_PROVIDERS="my-idp")
    assert result.returncode != 0
    assert "PULSE_OIDC_PROVIDERS: 'my-idp' is not a provider name" in result.stderr


def test_scopes_without_openid_are_refused():
    result = _settings(
        PULSE_OIDC_PROVIDERS="okta", PULSE_OIDC_OKTA_ISSUER="https://acme.okta.com", PULSE_OIDC_OKTA_CLIENT_ID="id",
        PULSE_OIDC_OKTA_CLIENT_SECRET="s", PULSE_OIDC_OKTA_SCOPES="email profile",
    )
    assert result.returncode != 0
    assert "PULSE_OIDC_OKTA_SCOPES must include openid" in result.stderr


def test_production_wants_an_https_issuer():
    result = _settings(
        DEBUG="false", SECRET_KEY="x" * 50, PULSE_OIDC_PROVIDERS="kc",
        PULSE_OIDC_KC_ISSUER="http://keycloak.internal/realms/acme", PULSE_OIDC_KC_CLIENT_ID="id",
        PULSE_OIDC_KC_CLIENT_SECRET="s",
    )
    assert result.returncode != 0
    assert "PULSE_OIDC_KC_ISSUER must be an https:// URL" in result.stderr
