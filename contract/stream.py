"""The stream entry that carries one queued payload from ingest to a worker.

One Redis Stream (``key()``) read by one consumer group (``GROUP``). Each entry holds the
payload's organisation, app, the time ingest received it and the queued form's bytes
(contract/queued.py); ``f`` names that form, so a worker refuses (dead-letters) an entry
in a form it does not know instead of misreading it. This module is the only one that
knows the field names: ingest's enqueue script XADDs the pairs ``encode`` gives, the
consumer reads entries with ``parse``. Entries a worker cannot apply go to the
dead-letter stream (``dead_key``) with their reason; apm/dead_letters.py reads them back.
"""

import uuid

import msgspec
from django.conf import settings

from contract import queued

GROUP = "rollup"
FORMAT = b"q"  # the queued form of contract/queued.py


def key() -> str:
    """The stream key (a setting, so tests and deployments can keep theirs apart)."""
    return settings.INGEST_STREAM


def dead_key() -> str:
    """The dead-letter stream: entries a worker set aside, as they were queued plus ``REASON``."""
    return f"{key()}:dead"


REASON = "error"  # the dead-letter field saying why the entry was set aside


class Entry(msgspec.Struct):
    """One stream entry: a payload accepted by ingest for an organisation and app."""

    entry_id: str
    org_id: int
    app_id: str
    body: bytes  # contract.queued.pack's bytes
    received_at: float

    def fields(self) -> dict[str, int | str | bytes]:
        """The entry's fields as XADD takes them (e.g. to move it to the dead-letter stream)."""
        pairs = encode(self.org_id, self.app_id, self.received_at, self.body)
        return dict(zip(pairs[0::2], pairs[1::2]))


def encode(org_id: int, app_id: uuid.UUID | str, received_at: float, body: bytes) -> list:
    """The field/value pairs of a new entry, flat, in the order XADD takes them."""
    return ["o", org_id, "a", str(app_id), "f", FORMAT, "r", repr(received_at), "b", body]


def parse(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Entry:
    """The Entry of fields as XREADGROUP returns them; raises KeyError or ValueError for
    an entry that is not one (a missing field, another format)."""
    fmt = fields.get(b"f")
    if fmt != FORMAT:
        raise ValueError(f"unknown entry format {fmt!r}")
    return Entry(
        entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        org_id=int(fields[b"o"]),
        app_id=fields[b"a"].decode(),
        body=fields[b"b"],
        received_at=float(fields[b"r"]),
    )


def decode_entry(entry: Entry) -> queued.QueuedPayload:
    """The entry's payload in the queued form."""
    return queued.unpack(entry.body)
