"""Each organisation's share of the backlog: the bytes of its entries still in the stream.

Ingest and the workers keep one Redis hash together, organisation id → bytes charged for
its queued entries. Ingest's enqueue script (ingest/handoff.py) adds an entry's charge
in the same call as its XADD; a worker takes it off with ``Release``, in the same call
as the XACK and XDEL, and only when the XDEL removed the entry, so an entry acked twice
(redelivered after a crash) is taken off once. The counts are exact whatever process
dies between calls, and the enqueue script forgets them all whenever the stream is
empty, the one moment every count is known to be zero.
"""

from collections.abc import Iterable

import redis
from redis.commands.core import Script

from contract import stream

# An entry is charged at least this, so a share bounds an organisation's entries as well
# as its bytes: tiny entries cannot fill the global bound on the stream's length.
MIN_CHARGE = 16 * 1024


def key(stream_key: str | None = None) -> str:
    """The hash of queued bytes per organisation, beside the stream (default: the configured one)."""
    return f"{stream_key or stream.key()}:backlog"


def charge(body: bytes) -> int:
    """The bytes an entry of ``body`` (contract.queued.pack's) counts against its organisation's share."""
    return max(len(body), MIN_CHARGE)


_RELEASE = """
for i = 2, #ARGV, 3 do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    if redis.call('HINCRBY', KEYS[2], ARGV[i + 1], -tonumber(ARGV[i + 2])) <= 0 then
      redis.call('HDEL', KEYS[2], ARGV[i + 1])
    end
  end
end
return 0
"""


class Release:
    """XACK + XDEL of applied entries, taking their charges off their organisations' counts."""

    def __init__(self, r: redis.Redis, stream_key: str) -> None:
        self._script: Script = r.register_script(_RELEASE)
        self._keys = [stream_key, key(stream_key)]

    def __call__(self, entries: Iterable[tuple[str, int | bytes, bytes]], client: redis.Redis | None = None) -> None:
        """``entries``: (entry id, organisation id, body) of each; ``client``: a pipeline to
        run in, else the client this was made with."""
        args: list[int | str | bytes] = [stream.GROUP]
        for entry_id, org_id, body in entries:
            args += [entry_id, org_id, charge(body)]
        self._script(keys=self._keys, args=args, client=client)
