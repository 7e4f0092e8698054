"""Liveness and readiness probes for load balancers and Kubernetes."""

import redis
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from apm import dead_letters
from contract.redis_client import client


@never_cache
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request):
    """Ready when PostgreSQL and Redis both answer; 503 names the one that does not.

    A ready answer also counts the dead letters waiting, with ``alarm`` true past
    INGEST_DEAD_LETTER_ALARM."""
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means not ready
        problems.append(f"database: {exc.__class__.__name__}")
    try:
        client(timeout=1.0).ping()
    except redis.RedisError as exc:
        problems.append(f"redis: {exc.__class__.__name__}")
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    # Still ready: dead letters wait for an operator (apm/dead_letters.py), not for this process.
    return JsonResponse({"status": "ok", "dead_letters": dead_letters.status()})
