"""A real OpenID provider for the SSO tests: tests/oidc_provider/server.mjs (the npm package
``oidc-provider``) in a Node.js process of its own, and a way through its login page
without a browser.

Skips, naming the program, when Node.js or npm is missing; installs the package with
deploy/local/ensure_oidc_provider.sh when it is not installed yet (``make test`` does first).
"""

import html
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "tests" / "oidc_provider" / "server.mjs"
INSTALL = ROOT / "deploy" / "local" / "ensure_oidc_provider.sh"
CLIENT_ID = "pulse-tests"
CLIENT_SECRET = "a-client-secret-for-the-tests-only-0123456789"
PASSWORD = "provider password"


def account(sub, email, verified=True, name=""):
    """An account at the provider; its login name is the part of ``email`` before the @."""
    return {"sub": sub, "email": email, "email_verified": verified, "name": name, "password": PASSWORD}


ACCOUNTS = {
    "ann": account("sub-ann", "ann@corp.example", name="Ann Admin"),
    "carl": account("sub-carl", "carl@corp.example", name="Carl"),
    "dora": account("sub-dora", "dora@corp.example"),
    "una": account("sub-una", "una@corp.example", verified=False),
    "bob": account("sub-bob", "bob@example.com"),
    "mia": account("sub-mia", "mia@gmail.com"),
    "zed": account("sub-zed", "zed@other.example"),
}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ensure_installed():
    for program in ("node", "npm"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed: the SSO tests run the oidc-provider package on Node.js")
    if not (SERVER.parent / "node_modules" / "oidc-provider").is_dir():
        subprocess.run([str(INSTALL)], check=True, timeout=300)


class OidcProvider:
    """One provider process; ``issuer`` is its URL. Stop it with ``stop()``."""

    def __init__(self, redirect_uris, accounts=ACCOUNTS, **options):
        _ensure_installed()
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        clients = [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": list(redirect_uris)}]
        json.dump({"port": self.port, "clients": clients, "accounts": accounts, **options}, self._config)
        self._config.close()
        self.process = subprocess.Popen(
            ["node", str(SERVER), self._config.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        too_slow = threading.Timer(60, self.process.kill)
        too_slow.start()
        output = []
        for line in self.process.stdout:
            if line.strip() == "ready":
                break
            output.append(line)
        else:
            raise RuntimeError(f"the OpenID provider did not start (exit {self.process.wait()}): {''.join(output)}")
        too_slow.cancel()
        # Read on, so a full pipe never blocks the provider.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def settings(self, name="local", label="Local ID", issuer=None):
        """The entry of settings.OIDC_PROVIDERS for this provider."""
        return {
            "name": name,
            "label": label,
            "issuer": issuer or self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "openid email profile",
        }

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        Path(self._config.name).unlink(missing_ok=True)


def sign_in_at_provider(authorize_url, login, callback_prefix, password=PASSWORD):
    """Through the provider's login page as a browser would, without one: the URL the provider
    sends the browser back to (the callback with its code and state)."""
    browser = requests.Session()
    response = browser.get(authorize_url, allow_redirects=False, timeout=10)
    posted = False
    for _ in range(10):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(callback_prefix):
                return location
            response = browser.get(location, allow_redirects=False, timeout=10)
            continue
        if posted:
            raise AssertionError(f"the provider did not let {login} in: {response.status_code} {response.text[:300]}")
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', response.text).group(1))
        response = browser.post(
            urljoin(response.url, action),
            data={"username": login, "password": password},
            allow_redirects=False,
            timeout=10,
        )
        posted = True
    raise AssertionError("too many redirects at the provider")
