"""Liveness and readiness probes for load balancers and Kubernetes."""

import redis
from django.conf import settings
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
    """Ready when PostgreSQL and each Redis role answer; 503 names what does not.

    A ready answer also counts the dead letters waiting, with ``alarm`` true past
    INGEST_DEAD_LETTER_ALARM."""
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means not ready
        problems.append(f"database: {exc.__class__.__name__}")
    problems += _redis_problems()
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    # Still ready: dead letters wait for an operator (apm/dead_letters.py), not for this process.
    return JsonResponse({"status": "ok", "dead_letters": dead_letters.status()})


def _redis_problems():
    """One problem per Redis role that does not answer, named after its setting."""
    roles = {"QUEUE_REDIS_URL": settings.QUEUE_REDIS_URL, "CACHE_REDIS_URL": settings.CACHE_REDIS_URL}
    answers: dict[str, str | None] = {}  # by URL: one ping when both roles share a Redis
    problems = []
    for name, url in roles.items():
        if url not in answers:
            try:
                client(url, timeout=1.0).ping()
                answers[url] = None
            except redis.RedisError as exc:
                answers[url] = exc.__class__.__name__
        if answers[url]:
            problems.append(f"redis ({name}): {answers[url]}")
    return problems
