"""Smoke test of a running Pulse stack, as a new user and their app would meet it.

Signs up, confirms the address from the mailed link, creates an app and an ingest key in
the pages, runs a tiny WSGI app under the real agent posting to the stack, and waits for its
transaction on the app's transactions page. Standard library and the agent only, so it runs
from any checkout against any stack:

    python deploy/smoke.py --url http://127.0.0.1:8000 --ingest-url http://127.0.0.1:8001 \
        --mail-command "docker-compose -f deploy/compose.yaml logs --no-color web"

``--mail-command`` prints the mail the stack sent (the console e-mail backend writes it to the
web container's log); the newest verification link in its output is followed. Exits 0 when
the transaction is seen, otherwise 1 with the step that failed and what was found instead.
"""

import argparse
import html
import http.cookiejar
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

PASSWORD = "smoke test passphrase, long enough"
TRANSACTION_PATH = "/smoke/checkout"


class SmokeFailure(Exception):
    """A step of the journey did not do what a user would see it do."""


class Browser:
    """Cookies, CSRF tokens and redirects, like the pages' user agent."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, data=None):
        url = path if path.startswith("http") else self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=30) as response:
                return response.geturl(), response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.geturl(), exc.code, exc.read().decode(errors="replace")

    def submit(self, path, fields, step):
        """GET the page, POST its form to where the GET landed (after any redirect, as a
        browser would) with the page's CSRF token; the final URL and page."""
        landed, status, page = self.request(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            raise SmokeFailure(f"{step}: GET {path} answered {status} without a form ({_excerpt(page)})")
        url, status, page = self.request(landed, {"csrfmiddlewaretoken": token.group(1), **fields})
        if status >= 400:
            raise SmokeFailure(f"{step}: POST {path} answered {status} ({_excerpt(page)})")
        return url, page


def _excerpt(page):
    """What the page says, shortly: its form errors or else its title."""
    errors = re.findall(r'class="[^"]*error[^"]*"[^>]*>\s*([^<]+)', page)
    if errors:
        return "errors: " + "; ".join(html.unescape(e.strip()) for e in errors[:3])
    title = re.search(r"<title>([^<]*)</title>", page)
    return "page: " + (html.unescape(title.group(1).strip()) if title else page[:200])


def wait_ready(browser, timeout):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            _, status, body = browser.request("/healthz/ready")
            if status == 200:
                return
            last = f"{status} {body[:200]}"
        except OSError as exc:
            last = str(exc)
        time.sleep(1)
    raise SmokeFailure(f"waiting for {browser.base}/healthz/ready: not ready after {timeout}s ({last})")


def check_ingest_only(ingest):
    """An ingest node (PULSE_ROLE=ingest) serves no pages: its role was applied."""
    _, status, _ = ingest.request("/login/")
    if status != 404:
        raise SmokeFailure(f"checking the ingest node: /login/ on {ingest.base} answered {status}, not 404")


def sign_up(browser, email, mail_command):
    url, _ = browser.submit("/signup/", {"email": email, "password": PASSWORD, "organization": "Smoke"}, "signing up")
    if not url.endswith("/signup/sent/"):
        raise SmokeFailure(f"signing up: expected the 'check your email' page, landed on {url}")
    link = _verification_link(mail_command, email)
    url, page = browser.submit(link, {"email": email, "password": PASSWORD, "next": link}, "logging in from the link")
    if urllib.parse.urlparse(url).path != link:
        raise SmokeFailure(f"logging in from the link: expected to return to {link}, landed on {url} ({_excerpt(page)})")
    url, page = browser.submit(link, {}, "confirming the address")
    org = re.search(r"/o/([\w-]+)/$", url)
    if not org or "Your email address is confirmed." not in page:
        raise SmokeFailure(f"confirming the address: expected the organisation's page, landed on {url} ({_excerpt(page)})")
    return org.group(1)


def _verification_link(mail_command, email, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(mail_command, shell=True, capture_output=True, text=True, check=False).stdout
        # The newest mail to this address; its link path is the same on any PUBLIC_URL.
        mails = [m for m in out.split("To: ") if m.startswith(email)]
        links = re.findall(r"https?://[^/\s]+(/verify/[^/\s]+/[^/\s]+/)", mails[-1]) if mails else []
        if links:
            return links[-1]
        time.sleep(1)
    raise SmokeFailure(f"reading the verification mail: no link to /verify/ for {email} in the output of {mail_command!r}")


def create_app_and_key(browser, org):
    url, page = browser.submit(f"/o/{org}/", {"name": "Smoke shop", "apdex_t": "0.5"}, "creating an app")
    app = re.search(r"[?&]app=([0-9a-f-]{36})", url)
    if not app:
        raise SmokeFailure(f"creating an app: expected the key page for the new app, landed on {url} ({_excerpt(page)})")
    keys = f"/o/{org}/settings/keys/?app={app.group(1)}"
    _, page = browser.submit(keys, {"label": "smoke", "app": app.group(1)}, "creating an ingest key")
    key = re.search(r'id="new-key"[^>]*>\s*(pulse_ik_\w+)', page)
    if not key:
        raise SmokeFailure(f"creating an ingest key: no new key shown ({_excerpt(page)})")
    return app.group(1), key.group(1)


def run_agent(ingest_url, key, requests):
    """Serve a tiny WSGI app under the agent and call it; the agent's payloads go to the stack."""
    import pulse_agent
    from pulse_agent.instrumentation.wsgi import WSGIMiddleware

    if pulse_agent.init(endpoint=ingest_url, ingest_key=key, app_name="Smoke shop", harvest_interval=0.5) is None:
        raise SmokeFailure("starting the agent: pulse_agent.init() returned None (see its warnings above)")

    def shop(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ordered\n"]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, WSGIMiddleware(shop), handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for _ in range(requests):
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{TRANSACTION_PATH}", timeout=10).read()
    finally:
        server.shutdown()
        pulse_agent.shutdown(timeout=10)


def see_transaction(browser, org, app, timeout):
    """Poll the transactions page until the agent's transaction is listed."""
    path = f"/o/{org}/apps/{app}/transactions/"
    deadline = time.monotonic() + timeout
    while True:
        _, status, page = browser.request(path)
        if status == 200 and f"GET {TRANSACTION_PATH}" in html.unescape(page):
            return path
        if time.monotonic() > deadline:
            raise SmokeFailure(
                f"seeing the transaction: 'GET {TRANSACTION_PATH}' not on {path} after {timeout}s "
                f"(status {status}, {_excerpt(page)}); is the worker consuming the ingest stream?"
            )
        time.sleep(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the UI (web) node")
    parser.add_argument("--ingest-url", help="an ingest-only node, where the agent posts (default: --url)")
    parser.add_argument("--mail-command", required=True, help="a shell command printing the mail sent")
    parser.add_argument("--ready-timeout", type=float, default=180)
    parser.add_argument("--timeout", type=float, default=60, help="seconds for the transaction to show")
    args = parser.parse_args(argv)
    browser = Browser(args.url)
    email = f"smoke-{int(time.time() * 1000)}@example.com"
    started = time.monotonic()
    try:
        wait_ready(browser, args.ready_timeout)
        if args.ingest_url:
            wait_ready(Browser(args.ingest_url), args.ready_timeout)
            check_ingest_only(Browser(args.ingest_url))
        org = sign_up(browser, email, args.mail_command)
        print(f"smoke: signed up {email}, confirmed, organisation {org}")
        app, key = create_app_and_key(browser, org)
        print(f"smoke: app {app}, ingest key {key[:15]}…")
        run_agent(args.ingest_url or args.url, key, requests=5)
        posted = time.monotonic()
        page = see_transaction(browser, org, app, args.timeout)
    except SmokeFailure as exc:
        print(f"smoke: FAILED {exc}", file=sys.stderr)
        return 1
    print(f"smoke: 'GET {TRANSACTION_PATH}' shown on {page} {time.monotonic() - posted:.1f}s after the agent's last post")
    print(f"smoke: passed in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
