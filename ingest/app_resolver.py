"""App name → (app id, Apdex T) for ingest, cached per process; apps are created on first data."""

from django.db import IntegrityError, close_old_connections, connection, transaction

from ingest.errors import NeedsDatabase
from tenants import limits
from tenants.actions import require_app_room
from tenants.caching import TTLCache
from tenants.models import App

_TTL = 10.0  # seconds: an Apdex T changed in the UI reaches agents within this
_MAX_ENTRIES = 50_000
_MISSING = object()

_cache = TTLCache(_MAX_ENTRIES, _TTL)  # (org_id, name) -> (app_id, apdex_t), or None over the app limit


def resolve_app(org_id, name, cache_only=False):
    """Return (app_id, apdex_t); raises tenants.limits.LimitReached when the app would be
    one too many (that answer is cached too).

    With ``cache_only``, raises NeedsDatabase instead of querying.
    """
    key = (org_id, name)
    result = _cache.get(key, _MISSING)
    if result is _MISSING:
        if cache_only:
            raise NeedsDatabase()
        if not connection.in_atomic_block:  # (tests run inside one)
            close_old_connections()
        result = _load_or_create(org_id, name)
        _cache.set(key, result)
    if result is None:
        raise limits.LimitReached(limits.APPS)
    return result


def _load_or_create(org_id, name):
    row = App.objects.for_org(org_id).filter(name__iexact=name).values_list("id", "apdex_t").first()
    if row:
        return row
    with transaction.atomic():
        limits.lock_organization(org_id)
        # Another request may have created it while this one waited for the lock.
        row = App.objects.for_org(org_id).filter(name__iexact=name).values_list("id", "apdex_t").first()
        if row:
            return row
        try:
            require_app_room(org_id)
        except limits.LimitReached:
            return None
        try:
            with transaction.atomic():
                app = App.objects.for_org(org_id).create(organization_id=org_id, name=name)
        except IntegrityError:
            return App.objects.for_org(org_id).filter(name__iexact=name).values_list("id", "apdex_t").first()
        return (app.id, app.apdex_t)


def clear_app_cache():
    _cache.clear()
