"""Ingest keys: generation, hashing and the fast resolver ingest calls on every request.

A key looks like ``pulse_ik_`` + 40 base62 characters (≈238 bits), so secret
scanners can recognise leaked ones by their prefix. Only its SHA-256 is stored: a
fast hash is right here because the key is random, not a human password.
"""

import hashlib
import secrets
import string
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tenants.caching import AnswerCache
from tenants.models import IngestKey

KEY_PREFIX = "pulse_ik_"
_ALPHABET = string.ascii_letters + string.digits
_BODY_LENGTH = 40
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 6
_CACHE_MAX_ENTRIES = 10_000
_LAST_USED_EVERY = 60.0  # seconds between last_used_at writes for one key in one process


def generate_key():
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))


def hash_key(raw):
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def presented_key(headers):
    """The key of an 'Authorization: Bearer <key>' header (``headers`` keyed in lower case),
    or None."""
    scheme, _, raw_key = headers.get("authorization", "").partition(" ")
    raw_key = raw_key.strip()
    return raw_key if scheme.lower() == "bearer" and raw_key else None


def looks_like_key(raw):
    return (
        isinstance(raw, str)
        and len(raw) == len(KEY_PREFIX) + _BODY_LENGTH
        and raw.startswith(KEY_PREFIX)
        and all(c in _ALPHABET for c in raw[len(KEY_PREFIX) :])
    )


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
_last_used_written = {}  # key id -> monotonic time of the last write


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
        _maybe_touch(resolved.key_id, time.monotonic())
    return resolved


def _load(digest):
    row = (
        IngestKey.objects.unscoped()
        .filter(Q(key_hash=digest) & Q(revoked_at__isnull=True))
        .values_list("id", "organization_id", "app_id", "app__name")
        .first()
    )
    return ResolvedKey(*row) if row else None


def _maybe_touch(key_id, now):
    last = _last_used_written.get(key_id)
    if last is not None and now - last < _LAST_USED_EVERY:
        return
    _last_used_written[key_id] = now
    IngestKey.objects.unscoped().filter(id=key_id).update(last_used_at=timezone.now())


def clear_key_cache():
    """Forget every cached answer (tests, and after a revocation in this process)."""
    _cache.clear()
    _last_used_written.clear()
