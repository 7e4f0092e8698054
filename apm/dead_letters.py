"""The dead-letter stream: entries the workers set aside, kept until an operator acts.

apm/consumer.py moves an entry here, as it was queued plus the reason, when it cannot be
applied (malformed, refused by the database, or delivered more than INGEST_MAX_DELIVERIES
times without being applied). Nothing trims this stream: past INGEST_DEAD_LETTER_ALARM
entries the consumer logs an error on each new one and /healthz/ready reports the alarm
(pulse/health.py). ``manage.py dead_letters`` lists, shows, replays and discards them.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings

from contract import backlog
from contract.redis_client import client
from contract.stream import REASON, Entry, dead_key, key, parse

log = logging.getLogger(__name__)
UTC = dt.timezone.utc


@dataclass
class DeadLetter:
    dead_id: str  # its id in the dead-letter stream (the time it was set aside)
    fields: dict[bytes, bytes]  # as queued, plus the reason

    @property
    def reason(self) -> str:
        return self.fields.get(REASON.encode(), b"").decode(errors="replace")

    @property
    def dead_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(self.dead_id.split("-")[0]) / 1000, UTC)

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.fields.values())

    def entry(self) -> Entry:
        """The queued entry; raises KeyError or ValueError for one that never was one."""
        return parse(self.dead_id, self.fields)

    def queued_fields(self) -> dict[bytes, bytes]:
        return {k: v for k, v in self.fields.items() if k != REASON.encode()}


def waiting() -> int:
    return client().xlen(dead_key())


def status() -> dict:
    """What /healthz/ready says of the dead letters."""
    n = waiting()
    return {"waiting": n, "alarm_at": settings.INGEST_DEAD_LETTER_ALARM, "alarm": n >= settings.INGEST_DEAD_LETTER_ALARM}


def warn_when_over_alarm(n: int) -> None:
    if n >= settings.INGEST_DEAD_LETTER_ALARM:
        log.error(
            "%d dead letters waiting in %s (alarm at %d): see manage.py dead_letters list",
            n, dead_key(), settings.INGEST_DEAD_LETTER_ALARM,
        )


def oldest(limit: int, after: str | None = None) -> list[DeadLetter]:
    """Up to ``limit`` dead letters, oldest first, after the id ``after`` (exclusive)."""
    start = f"({after}" if after else "-"
    return [_letter(i, f) for i, f in client().xrange(dead_key(), start, "+", count=limit)]


def get(dead_id: str) -> DeadLetter | None:
    found = client().xrange(dead_key(), dead_id, dead_id)
    return _letter(*found[0]) if found else None


def replay(dead_id: str) -> str | None:
    """Queue a dead letter again on the ingest stream and remove it from the dead-letter
    stream, in one transaction; returns its new entry id (None when there is no such
    dead letter).

    The entry is charged to its organisation's backlog bytes as ingest charges it
    (contract/backlog.py), so the release after it is applied leaves the count exact. It
    skips ingest's quota and share refusals: an operator chose to queue it."""
    letter = get(dead_id)
    if letter is None:
        return None
    fields = letter.queued_fields()
    pipe = client().pipeline(transaction=True)
    new_id = pipe.xadd(key(), fields)
    if b"o" in fields:  # one that never was an entry names no organisation, and is never released
        pipe.hincrby(backlog.key(), fields[b"o"], backlog.charge(fields.get(b"b", b"")))
    pipe.xdel(dead_key(), dead_id)
    new_id = pipe.execute()[0]
    return new_id.decode()


def discard(dead_id: str) -> bool:
    return bool(client().xdel(dead_key(), dead_id))


def _letter(dead_id, fields) -> DeadLetter:
    return DeadLetter(dead_id.decode() if isinstance(dead_id, bytes) else dead_id, fields)
