import pytest
from django.conf import settings
from django.test import Client

# The browser fixtures (Debian's Chromium through Playwright, screenshots) are shared.
from tests.browser.conftest import (  # noqa: F401
    browser,
    console_errors,
    page,
    phone_page,
    pytest_runtest_makereport,
    screenshot,
)
from tests.frontend.seed import seed_app


@pytest.fixture
def seeded(org, app):
    """The ``app`` fixture with 90 minutes of traffic, traces, errors and two instances."""
    return seed_app(org, app, minutes=90)


def _signer(page, live_server):
    def sign_in(user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        return page

    return sign_in


@pytest.fixture
def signed_in(page, live_server):
    """sign_in(user): the laptop page's browser context carries a session of ``user``."""
    return _signer(page, live_server)


@pytest.fixture
def signed_in_phone(phone_page, live_server):
    """The same for a phone-sized page."""
    return _signer(phone_page, live_server)
