"""Shared fixtures for browser tests: Debian's Chromium, headless, driven by Playwright.

Use them like this (mark the test, and ask for ``live_server`` plus ``transactional_db``
so the server thread sees the rows the test writes):

    @pytest.mark.browser
    def test_it_works(page, live_server, transactional_db, screenshot):
        page.goto(live_server.url + "/login/")
        screenshot(page, "login")

``page`` is a laptop-sized page in a fresh browser context (its own cookies);
``phone_page`` is a phone-sized one. ``console_errors`` collects the page's console
errors (a Content-Security-Policy violation shows up there). ``login(page, url, email,
password)`` logs in through the form. Screenshots go to ``test-artifacts/`` (git-ignored),
and every failing browser test leaves one there named after the test.
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    """Chromium for the tests of one module.

    While Playwright's sync API is alive, its event loop counts as running in this thread:
    Django then refuses synchronous ORM calls and asgiref refuses async_to_sync. So the
    browser lives for one module only (not the session, which would break every later
    test), and Django's guard stands aside only meanwhile.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _new_page(browser, request, viewport, **options):
    context = browser.new_context(viewport=viewport, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _save(page, f"FAILED-{request.node.name}")
    context.close()


@pytest.fixture
def page(browser, request):
    yield from _new_page(browser, request, LAPTOP)


@pytest.fixture
def phone_page(browser, request):
    yield from _new_page(browser, request, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


def _save(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120] + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception:  # a crashed page must not hide the test's own failure
        return None
    return path


@pytest.fixture
def screenshot(request):
    """screenshot(page, "step-name") saves test-artifacts/<test>-<step-name>.png."""

    def take(page, name):
        return _save(page, f"{request.node.name}-{name}")

    return take


@pytest.fixture
def console_errors(page):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def login():
    def log_in(page, base_url, email, password):
        page.goto(base_url + "/login/")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("form button[type=submit]")
        page.wait_for_load_state()

    return log_in


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets the page fixtures know whether the test body failed (to keep a screenshot).
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
