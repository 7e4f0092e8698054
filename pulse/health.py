"""Liveness and readiness probes for load balancers and Kubernetes.

Readiness checks PostgreSQL and each Redis role at once, each bounded by
HEALTH_CHECK_TIMEOUT, so the probe answers within about that long even while a server is
out of reach (a Kubernetes probe gives up after one second by default). The database
check asks the connection pool with that timeout, not the pool's own DB_POOL_TIMEOUT,
which is sized for requests that may wait for a busy pool.
"""

from concurrent.futures import ThreadPoolExecutor

import psycopg
import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from apm import dead_letters
from contract.redis_client import client

_REDIS_ROLES = ("QUEUE_REDIS_URL", "CACHE_REDIS_URL")
# One thread per check: the database and up to two Redis servers.
_checks = ThreadPoolExecutor(max_workers=1 + len(_REDIS_ROLES), thread_name_prefix="readiness")


@never_cache
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request):
    """Ready when PostgreSQL and each Redis role answer; 503 names what does not.

    A ready answer also counts the dead letters waiting, with ``alarm`` true past
    INGEST_DEAD_LETTER_ALARM."""
    timeout = settings.HEALTH_CHECK_TIMEOUT
    database = _checks.submit(_database_problem, timeout)
    problems = _redis_problems(timeout)
    problems = [p for p in [database.result()] if p] + problems
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    # Still ready: dead letters wait for an operator (apm/dead_letters.py), not for this process.
    return JsonResponse({"status": "ok", "dead_letters": dead_letters.status()})


def _database_problem(timeout):
    """None when PostgreSQL answers within ``timeout`` seconds, else what went wrong."""
    try:
        pool = connection.pool
        if pool is not None:
            pool.open()  # as Django does on first use; nothing when open already
            # The pool checks the connection it hands out and replaces a dead one.
            with pool.connection(timeout=timeout) as conn:
                conn.execute("SELECT 1")
        else:
            params = {**connection.get_connection_params(), "connect_timeout": max(1, round(timeout))}
            with psycopg.connect(**params) as conn:
                conn.execute("SELECT 1")
    except Exception as exc:  # any driver or pool error means not ready
        return f"database: {exc.__class__.__name__}"
    return None


def _redis_problems(timeout):
    """One problem per Redis role that does not answer, named after its setting."""
    urls = {name: getattr(settings, name) for name in _REDIS_ROLES}
    # By URL: one ping when both roles share a Redis.
    pings = {url: _checks.submit(_redis_problem, url, timeout) for url in set(urls.values())}
    return [f"redis ({name}): {pings[url].result()}" for name, url in urls.items() if pings[url].result()]


def _redis_problem(url, timeout):
    try:
        client(url, timeout=timeout).ping()
    except redis.RedisError as exc:
        return exc.__class__.__name__
    return None
