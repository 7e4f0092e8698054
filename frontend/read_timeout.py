"""A bound on the database time of a read: every SQL statement of a page or query-API GET runs
under PostgreSQL's statement_timeout (READ_STATEMENT_TIMEOUT_MS), so one expensive read cannot
hold a connection and a core for minutes. A cancelled statement is answered with a clear 503 (a
page saying so, or JSON naming ``query_timeout``), not a 500.

Writes are not bounded here (deleting an app's telemetry may take long), nor is ingest, the
health probes, the workers or migrations: they never pass through this middleware.
"""

import logging

import psycopg.errors
from django.conf import settings
from django.db import DatabaseError, connection
from django.shortcuts import render

from apm.json_output import json_response
from tenants.access import wants_json

log = logging.getLogger(__name__)

UNBOUNDED_PREFIXES = ("/api/v1/", "/healthz/", "/static/")
READ_METHODS = {"GET", "HEAD"}
RETRY_AFTER_SECONDS = 30


def _bounded(request):
    return request.method in READ_METHODS and not request.path.startswith(UNBOUNDED_PREFIXES)


def is_timeout(exc):
    """The database cancelled the statement (its statement_timeout passed)."""
    return isinstance(exc, DatabaseError) and isinstance(exc.__cause__, psycopg.errors.QueryCanceled)


class ReadTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _bounded(request):
            return self.get_response(request)
        _set_timeout(f"{settings.READ_STATEMENT_TIMEOUT_MS}ms")
        try:
            return self.get_response(request)
        finally:
            # Session state: the pooled connection goes on to serve requests that are not bounded.
            _set_timeout(None)

    def process_exception(self, request, exception):
        if not _bounded(request) or not is_timeout(exception):
            return None
        seconds = settings.READ_STATEMENT_TIMEOUT_MS / 1000
        message = (
            f"This read took more than {seconds:g} s of database time and was stopped "
            "(READ_STATEMENT_TIMEOUT_MS). Try a shorter time range, or try again shortly."
        )
        log.warning("read timed out: %s %s", request.method, request.path)
        if _answers_json(request):
            response = json_response({"error": {"code": "query_timeout", "message": message}}, status=503)
        else:
            response = render(request, "frontend/read_timeout.html", {"message": message}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def _answers_json(request):
    """The query API, the charts' JSON (``incidents.json``) and scripts asking for JSON."""
    return "/api/" in request.path or request.path.endswith(".json") or wants_json(request)


def _set_timeout(value):
    try:
        with connection.cursor() as cursor:
            if value is None:
                cursor.execute("RESET statement_timeout")
            else:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [value])
    except DatabaseError:
        # A broken connection must not go back to the pool still bounded (or unbounded).
        log.warning("could not set the read timeout; closing the connection", exc_info=True)
        connection.close()
