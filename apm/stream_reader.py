"""What a stream consumer takes to apply next: bounded in count and in bytes, suspects alone.

New entries. XREADGROUP's COUNT bounds the number of entries, not their size, and entries
differ in size by orders of magnitude. ``take`` runs a script that reads within the count
and keeps only the entries that fit in the byte budget, handing the others back to the
group in the same atomic step: no consumer ever receives more than the budget, except a
single entry larger than all of it, which is read alone.

Entries left behind. A consumer that died (killed, out of memory) or hung leaves its
entries pending; once idle for INGEST_CLAIM_IDLE_SECONDS, ``claim`` hands them to another
consumer. Redis counts each entry's deliveries. An entry delivered before and neither
acknowledged nor handed back is a suspect — it may be what killed its consumer — so it is
claimed alone, and the entries that were read with it are applied without it. The caller
sets aside an entry delivered more than INGEST_MAX_DELIVERIES times instead of applying it.

Handing back. A consumer that gives up after a transient failure (PostgreSQL or Redis out
of reach) ``release``s its entries: claimable at once, that delivery not counted, so an
outage does not make healthy entries suspects. A read whose reply was lost (Redis
restarted, the connection cut) left entries delivered to this consumer that it never
received: ``release_lost`` hands those back the same way, at once rather than after the
claim timeout.
"""

from contract.stream import GROUP

# KEYS: stream. ARGV: group, consumer, most entries, most bytes, 1 to take a first entry
# larger than the byte budget (else 0). Returns the entries read, as XREADGROUP does.
# Reads up to the count, keeps what fits in the bytes, and hands the rest back as if never
# read (XACK drops them from the pending list, SETID moves the group back before them),
# all in one atomic step: the common read, within both budgets, costs one XREADGROUP.
_TAKE = """
local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not got then return {} end
local entries = got[1][2]
local budget, n, total = tonumber(ARGV[4]), 0, 0
for _, e in ipairs(entries) do
  local size = 0
  for i = 2, #e[2], 2 do size = size + #e[2][i] end
  if total + size > budget and (n > 0 or ARGV[5] == '0') then break end
  n = n + 1
  total = total + size
end
if n == #entries then return entries end
local back = {}
for i = n + 1, #entries do back[#back + 1] = entries[i][1] end
redis.call('XACK', KEYS[1], ARGV[1], unpack(back))
local last
if n > 0 then
  last = entries[n][1]
else
  local ms, seq = string.match(entries[1][1], '^(%d+)-(%d+)$')
  if seq == '0' then last = string.format('%.0f-18446744073709551615', tonumber(ms) - 1)
  else last = ms .. '-' .. string.format('%.0f', tonumber(seq) - 1) end
end
redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], last)
for i = #entries, n + 1, -1 do entries[i] = nil end
return entries
"""

# KEYS: stream. ARGV: group, consumer, least idle ms, most entries, most bytes.
# Returns {deliveries, entries}: a run of entries never delivered unacknowledged (within
# the budgets), or one suspect alone; deliveries counts this one.
_CLAIM = """
local ids, total, deliveries = {}, 0, 1
local budget = tonumber(ARGV[5])
for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', ARGV[4])) do
  if p[4] > 0 then
    if #ids == 0 then
      ids[1] = p[1]
      deliveries = p[4] + 1
    end
    break
  end
  local size = 0
  local e = redis.call('XRANGE', KEYS[1], p[1], p[1])[1]
  if e then for i = 2, #e[2], 2 do size = size + #e[2][i] end end
  if #ids > 0 and total + size > budget then break end
  ids[#ids + 1] = p[1]
  total = total + size
end
if #ids == 0 then return {0, {}} end
return {deliveries, redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], unpack(ids))}
"""


def size(entries):
    """Bytes of field values in entries as (id, fields) pairs: what the budgets count."""
    return sum(len(v) for _, fields in entries for v in fields.values())


class StreamReader:
    """The scripts of one consumer on one stream (redis-py reloads them after a Redis restart)."""

    def __init__(self, r, stream, consumer):
        self.redis, self.stream, self.consumer = r, stream, consumer
        self._take = r.register_script(_TAKE)
        self._claim = r.register_script(_CLAIM)

    def take(self, count, budget, oversized_first=True):
        """New entries, at most ``count`` and ``budget`` bytes, as (id, fields) pairs.

        ``oversized_first``: a first entry larger than ``budget`` is taken alone (else nothing)."""
        if count <= 0:
            return []
        reply = self._take(keys=[self.stream], args=[GROUP, self.consumer, count, budget, int(oversized_first)])
        return [(entry_id, _fields(flat)) for entry_id, flat in reply]

    def read_one(self, block_ms):
        """The next new entry, waiting up to ``block_ms`` for one: [] or [(id, fields)]."""
        resp = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=1, block=block_ms)
        return resp[0][1] if resp else []

    def claim(self, idle_ms, count, budget):
        """(deliveries, entries) left behind by other consumers, idle for ``idle_ms``:
        several never delivered unacknowledged, or one suspect; (0, []) when none."""
        deliveries, claimed = self._claim(keys=[self.stream], args=[GROUP, self.consumer, idle_ms, count, budget])
        return deliveries, [(entry_id, _fields(flat)) for entry_id, flat in claimed]

    def release(self, entry_ids, deliveries, idle_ms):
        """Hand back entries this consumer gave up on after a transient failure: claimable
        at once (idle ``idle_ms``), with this delivery not counted."""
        self.redis.xclaim(
            self.stream, GROUP, self.consumer, 0, entry_ids, idle=idle_ms, retrycount=deliveries - 1, justid=True
        )

    def release_lost(self, count, idle_ms):
        """Hand back the entries Redis delivered to this consumer once that it does not hold
        (called between batches, after a failed read): claimable at once, the lost
        delivery not counted. Returns how many."""
        pending = self.redis.xpending_range(self.stream, GROUP, "-", "+", count, consumername=self.consumer)
        lost = [p["message_id"] for p in pending if p["times_delivered"] == 1]
        if lost:
            self.release(lost, 1, idle_ms)
        return len(lost)


def _fields(flat):
    return dict(zip(flat[0::2], flat[1::2]))
