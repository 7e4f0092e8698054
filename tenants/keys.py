"""Ingest keys: generation, hashing and the fast resolver ingest calls on every request.

A key looks like ``pulse_ik_`` + 40 base62 characters; its form and hash are those of
every Pulse secret (tenants/secret_tokens.py).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from tenants.caching import AnswerCache
from tenants.models import IngestKey
from tenants.secret_tokens import LastUsedMarks, SecretFormat, hash_secret

INGEST_KEY = SecretFormat("pulse_ik_")
KEY_PREFIX = INGEST_KEY.prefix
SHOWN_PREFIX_LENGTH = INGEST_KEY.shown_length
_CACHE_MAX_ENTRIES = 10_000

generate_key = INGEST_KEY.generate
looks_like_key = INGEST_KEY.looks_like
hash_key = hash_secret


@dataclass(frozen=True)
class ResolvedKey:
    key_id: object
    organization_id: int
    app_id: object = None  # the one app a bound key may send for, with its name
    app_name: str | None = None


_MISSING = object()


def _cache_seconds():
    return settings.INGEST_KEY_CACHE_SECONDS


_cache = AnswerCache(  # key hash -> ResolvedKey or None; unknown keys apart, never pushing out known ones
    _CACHE_MAX_ENTRIES, _cache_seconds, _CACHE_MAX_ENTRIES, _cache_seconds
)
_last_used = LastUsedMarks(IngestKey)


def resolve_ingest_key(raw):
    """Return the ResolvedKey for a presented key, or None if it is unknown or revoked.

    Answers come from a per-process cache for INGEST_KEY_CACHE_SECONDS (5 s by
    default), so steady-state ingest does not touch the database, and a revoked key
    stops working within that time. Unknown keys are cached too, apart from the known
    ones, so the same bad key again costs no query and a flood of distinct bad keys
    cannot push the real ones out.
    """
    if not looks_like_key(raw):
        return None
    digest = hash_key(raw)
    resolved = _cache.get(digest, _MISSING)
    if resolved is _MISSING:
        resolved = _load(digest)
        _cache.set(digest, resolved)
    if resolved is not None:
        _last_used.touch(resolved.key_id)
    return resolved


def _load(digest):
    row = (
        IngestKey.objects.unscoped()
        .filter(Q(key_hash=digest) & Q(revoked_at__isnull=True))
        .values_list("id", "organization_id", "app_id", "app__name")
        .first()
    )
    return ResolvedKey(*row) if row else None


def clear_key_cache():
    """Forget every cached answer (tests, and after a revocation in this process)."""
    _cache.clear()
    _last_used.clear()
