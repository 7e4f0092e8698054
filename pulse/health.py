"""Liveness and readiness probes for load balancers and Kubernetes."""

import redis
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from contract.redis_client import client


@never_cache
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request):
    """Ready when PostgreSQL and Redis both answer; 503 names the one that does not."""
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
    return JsonResponse({"status": "ok"})
