"""What a stream consumer takes to apply next: bounded in count and in bytes, suspects alone.

New entries. XREADGROUP's COUNT bounds the number of entries, not their size, and entries
differ in size by orders of magnitude. ``take`` runs a script that looks at the entries
after the group's last delivered one, counts how many fit in the count and byte budgets,
and reads exactly those, in one atomic step: a read never holds more than the budget,
except a single entry larger than all of it, which is read alone.

Entries left behind. A consumer that died (killed, out of memory) or hung leaves its
entries pending; once idle for INGEST_CLAIM_IDLE_SECONDS, ``claim`` hands them to another
consumer. Redis counts each entry's deliveries. An entry delivered before and neither
acknowledged nor handed back is a suspect — it may be what killed its consumer — so it is
claimed alone, and the entries that were read with it are applied without it. The caller
sets aside an entry delivered more than INGEST_MAX_DELIVERIES times instead of applying it.

Handing back. A consumer that gives up after a transient failure (PostgreSQL or Redis out
of reach) ``release``s its entries: claimable at once, that delivery not counted, so an
outage does not make healthy entries suspects.
"""

from contract.stream import GROUP

# KEYS: stream. ARGV: group, consumer, most entries, most bytes, 1 to take a first entry
# larger than the byte budget (else 0). Returns the entries read, as XREADGROUP does.
_TAKE = """
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if groups.err then return redis.error_reply('NOGROUP ' .. groups.err) end
local last
for _, g in ipairs(groups) do
  local name, delivered
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then delivered = g[i + 1] end
  end
  if name == ARGV[1] then last = delivered end
end
if not last then return redis.error_reply('NOGROUP no such consumer group') end
local budget, n, total = tonumber(ARGV[4]), 0, 0
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', ARGV[3])) do
  local size = 0
  for i = 2, #e[2], 2 do size = size + #e[2][i] end
  if total + size > budget and (n > 0 or ARGV[5] == '0') then break end
  n = n + 1
  total = total + size
end
if n == 0 then return {} end
return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n, 'STREAMS', KEYS[1], '>')[1][2]
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


def _fields(flat):
    return dict(zip(flat[0::2], flat[1::2]))
