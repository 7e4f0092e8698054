"""Expensive reads bounded (frontend/read_timeout.py): a page or query-API GET whose statement
runs past READ_STATEMENT_TIMEOUT_MS is cancelled by PostgreSQL and answered with a clear 503;
the connection goes back unbounded; writes are not bounded."""

import contextlib
import json

import pytest
from django.db import connection

from tenants.models import App

# Real cancellations by PostgreSQL: outside a test transaction, which a cancel would abort.
pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "SELECT pg_sleep(1)"


@contextlib.contextmanager
def slow_statements(matching):
    """Every statement whose SQL contains ``matching`` is preceded by a second's sleep, in the
    same connection and through the same path as the request's own statements."""

    slowed = []

    def wrapper(execute, sql, params, many, context):
        if matching in sql:
            slowed.append(sql)
            execute(SLOW, None, False, context)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield slowed


def _timeout_now():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_a_page_read_past_the_timeout_shows_why_instead_of_an_error(org, app, owner_client, settings):
    settings.READ_STATEMENT_TIMEOUT_MS = 200
    with slow_statements("JOIN apm_transaction t"):
        response = owner_client.get(f"/o/{org.slug}/apps/{app.id}/transactions/?range=24h")
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "took more than 0.2 s of database time" in page and "READ_STATEMENT_TIMEOUT_MS" in page
    assert _timeout_now() == "0"  # the connection is not left bounded


def test_a_query_api_read_past_the_timeout_is_a_json_503_naming_it(org, app, owner_client, settings):
    settings.READ_STATEMENT_TIMEOUT_MS = 200
    with slow_statements("JOIN apm_transaction t"):
        response = owner_client.get(f"/o/{org.slug}/api/apps/{app.id}/transactions", {"range": "24h"})
    assert response.status_code == 503
    error = json.loads(response.content)["error"]
    assert error["code"] == "query_timeout" and "READ_STATEMENT_TIMEOUT_MS" in error["message"]


def test_the_charts_json_past_the_timeout_is_a_json_503(org, app, owner_client, settings):
    settings.READ_STATEMENT_TIMEOUT_MS = 200
    with slow_statements("alerts_incident") as slowed:
        response = owner_client.get(f"/o/{org.slug}/alerts/incidents.json", {"range": "1d"})
    assert slowed and response.status_code == 503
    assert json.loads(response.content)["error"]["code"] == "query_timeout"


def test_a_read_within_the_timeout_is_answered(org, app, owner_client, settings):
    settings.READ_STATEMENT_TIMEOUT_MS = 5_000
    with slow_statements("JOIN apm_transaction t") as slowed:
        response = owner_client.get(f"/o/{org.slug}/api/apps/{app.id}/transactions", {"range": "24h"})
    assert slowed and response.status_code == 200


def test_writes_are_not_bounded(org, owner_client, settings):
    settings.READ_STATEMENT_TIMEOUT_MS = 200
    with slow_statements("INSERT INTO \"tenants_app\"") as slowed:
        response = owner_client.post(f"/o/{org.slug}/settings/apps/", {"name": "Slow to create", "apdex_t": "0.5"})
    assert slowed and response.status_code == 302
    assert App.objects.for_org(org).filter(name="Slow to create").exists()
