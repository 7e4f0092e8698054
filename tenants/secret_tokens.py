"""Secrets handed to machines (ingest keys, organisation and personal API tokens): their form, their hash, last-used marks.

A secret is a recognisable prefix (``pulse_ik_``, ``pulse_at_``, ``pulse_pt_``) and 40 base62 characters
(≈238 bits), so secret scanners can spot leaked ones. Only its SHA-256 is stored: a fast
hash is right here because the secret is random, not a human password. Lists show the
prefix and a few characters so people can tell secrets apart.
"""

import hashlib
import secrets
import string
import time
from dataclasses import dataclass
from typing import NamedTuple

from django.utils import timezone

_ALPHABET = string.ascii_letters + string.digits
_BODY_LENGTH = 40
_SHOWN_BODY = 6  # characters after the prefix shown in lists


class Issued(NamedTuple):
    raw: str  # shown to the user once; never stored
    shown: str  # the prefix kept for lists
    digest: str  # what is stored


@dataclass(frozen=True)
class SecretFormat:
    prefix: str

    def generate(self) -> str:
        return self.prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))

    def issue(self) -> Issued:
        raw = self.generate()
        return Issued(raw, raw[: self.shown_length], hash_secret(raw))

    def looks_like(self, raw: object) -> bool:
        return (
            isinstance(raw, str)
            and len(raw) == len(self.prefix) + _BODY_LENGTH
            and raw.startswith(self.prefix)
            and all(c in _ALPHABET for c in raw[len(self.prefix) :])
        )

    @property
    def shown_length(self) -> int:
        return len(self.prefix) + _SHOWN_BODY


def bearer(authorization: str | None) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header, or None."""
    scheme, _, secret = (authorization or "").partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class LastUsedMarks:
    """Writes ``last_used_at`` of a secret's row at most once per ``every`` seconds per process:
    a secret used on every request must not cost a write on every request."""

    def __init__(self, model, every: float = 60.0) -> None:
        manager = model.objects
        # Organisation-owned secrets are marked outside any organisation's scope, on purpose.
        self._rows = manager.unscoped if hasattr(manager, "unscoped") else manager.all
        self._every = every
        self._written: dict[object, float] = {}  # row id -> monotonic time of the last write

    def touch(self, row_id: object, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        last = self._written.get(row_id)
        if last is not None and now - last < self._every:
            return
        self._written[row_id] = now
        self._rows().filter(id=row_id).update(last_used_at=timezone.now())

    def clear(self) -> None:
        self._written.clear()
