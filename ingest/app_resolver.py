"""App name → (app id, Apdex T) for ingest, cached per process; apps are created on first data."""

import threading
import time

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction

_TTL = 10.0  # seconds: an Apdex T changed in the UI reaches agents within this
_MAX_ENTRIES = 50_000

_cache = {}  # (org_id, name) -> (result, expires_at)
_lock = threading.Lock()


class AppLimitReached(Exception):
    pass


def resolve_app(org_id, name, cache_only=False):
    """Return (app_id, apdex_t); raises AppLimitReached when the app would be one too many.

    With ``cache_only``, raises ingest.handler.NeedsDatabase instead of querying.
    """
    key = (org_id, name)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[1] > now:
        result = hit[0]
    elif cache_only:
        from ingest.handler import NeedsDatabase

        raise NeedsDatabase()
    else:
        if not connection.in_atomic_block:  # (tests run inside one)
            close_old_connections()
        result = _load_or_create(org_id, name)
        with _lock:
            if len(_cache) >= _MAX_ENTRIES:
                _cache.clear()
            _cache[key] = (result, now + _TTL)
    if result is None:
        raise AppLimitReached()
    return result


def _load_or_create(org_id, name):
    from tenants.models import App, Organization

    row = App.objects.for_org(org_id).filter(name__iexact=name).values_list("id", "apdex_t").first()
    if row:
        return row
    with transaction.atomic():
        # Lock the organisation so concurrent first payloads cannot overshoot the limit.
        Organization.objects.select_for_update().filter(pk=org_id).first()
        row = App.objects.for_org(org_id).filter(name__iexact=name).values_list("id", "apdex_t").first()
        if row:
            return row
        if App.objects.for_org(org_id).count() >= settings.APPS_PER_ORG_LIMIT:
            return None
        try:
            with transaction.atomic():
                app = App.objects.for_org(org_id).create(organization_id=org_id, name=name)
        except IntegrityError:
            return App.objects.for_org(org_id).filter(name__iexact=name).values_list("id", "apdex_t").first()
        return (app.id, app.apdex_t)


def clear_app_cache():
    with _lock:
        _cache.clear()
