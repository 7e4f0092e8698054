"""The wire encoding of the shared DDSketch (agent/pulse_agent/sketch.py), decoded fast.

The wire encoding (version byte 0x01, varints; docs/protocol-v1.md) is what agents send
and what the queued form carries on (contract/queued.py). The server's own *stored*
encoding of rollup rows lives with the rows, in apm/sketches.py.

``decode_wire`` gives the same result as ``DDSketch.from_bytes`` and accepts exactly the
same input, only faster. A harvest sketch whose bytes after the first bin are all
one-byte varints is sliced apart (``split_small``); a large one is split into varints
by one C-level regex pass, with a cache from each varint's bytes to its value; the
checks run on whole lists. Anything else goes to the shared decoder, which raises the
precise error.
"""

import re
from itertools import accumulate, chain

from pulse_agent.sketch import MAX_ABS_INDEX, MAX_BINS, DDSketch, SketchDecodeError

__all__ = [
    "DDSketch",
    "SketchDecodeError",
    "bins_of_small",
    "decode_not_small",
    "decode_wire",
    "split_small",
]

_VARINT = re.compile(rb"[\x80-\xff]{0,9}[\x00-\x7f]")
_VARINTS = re.compile(rb"(?:[\x80-\xff]{0,9}[\x00-\x7f])*")
MAX_COUNT = (1 << 63) - 1
_values: dict[bytes, int] = {}  # varint bytes -> value (bounded)


def _value(token):
    result = shift = 0
    for b in token:
        result |= (b & 0x7F) << shift
        shift += 7
    if result >> 64:
        return None
    if len(_values) < 200_000:
        _values[token] = result
    return result


def _large(data):
    """A DDSketch of wire bytes split into varints by one regex pass, or None."""
    if len(data) < 3 or data[0] != 1 or not _VARINTS.fullmatch(data, 1):
        return None
    get = _values.get
    vals = []
    append = vals.append
    for token in _VARINT.findall(data, 1):
        v = get(token)
        if v is None:
            v = _value(token)
            if v is None:
                return None
        append(v)
    if len(vals) < 2:
        return None
    n = vals[1]
    if n > MAX_BINS or len(vals) != 2 + 2 * n:
        return None
    zero = vals[0]
    s = DDSketch()
    if n:
        zs = vals[2::2]
        counts = vals[3::2]
        if 0 in counts or any(z & 1 or not z for z in zs[1:]):
            return None
        z0 = zs[0]
        first = (z0 >> 1) if not (z0 & 1) else -((z0 + 1) >> 1)
        indexes = list(accumulate([z >> 1 for z in zs[1:]], initial=first))
        if indexes[0] < -MAX_ABS_INDEX or indexes[-1] > MAX_ABS_INDEX:
            return None
        total = zero + sum(counts)
        s.bins = dict(zip(indexes, counts))
    else:
        total = zero
    if total > MAX_COUNT:
        return None
    s.zero_count = zero
    s.count = total
    return s


# A one-byte zigzag delta past the first bin -> its (positive) step; a byte that is no
# such delta (0: no step; odd: a step down; >= 0x80: part of a longer varint) -> 0.
_STEP = bytes((z >> 1) if z and not z & 1 and z < 0x80 else 0 for z in range(256))

# A harvest sketch's head: version 1, then zero count, bin count, first index, first count.
_HEAD = re.compile(rb"\x01" + rb"([\x80-\xff]{0,9}[\x00-\x7f])" * 4)


def _small(data):
    """(zero count, bins, count) of a small sketch of one-byte varints past the first
    bin, or None for anything else."""
    parts = split_small(data)
    if parts is None:
        return None
    zero, first, c0, steps, cs, total = parts
    return zero, dict(bins_of_small(first, c0, steps, cs)), total


def split_small(data: bytes) -> tuple[int, int, int, bytes, bytes, int] | None:
    """A harvest sketch (one-byte varints past the first bin), checked as ``decode_wire``
    would check it but not expanded: (zero count, first index, first count, steps, counts,
    total count), where ``steps`` (bytes) are the index increments from one bin to the
    next and ``counts`` (bytes) the counts of the bins after the first. None for any other
    sketch. ``bins_of_small`` expands it; ingest hands it to the workers as it is."""
    m = _HEAD.match(data)
    if m is None:
        return None
    head: list = [*map(_values.get, m.groups())]
    if None in head:
        head = [_value(t) for t in m.groups()]
        if None in head:
            return None
    zero, n, z0, c0 = head
    if not 1 <= n <= MAX_BINS or not c0:
        return None
    rest = data[m.end() :]
    if len(rest) != 2 * (n - 1):
        return None
    steps = rest[0::2].translate(_STEP)
    cs = rest[1::2]
    if 0 in steps or 0 in cs or not cs.isascii():
        return None
    first = (z0 >> 1) if not (z0 & 1) else -((z0 + 1) >> 1)
    if first < -MAX_ABS_INDEX or first + sum(steps) > MAX_ABS_INDEX or zero >= 1 << 62:
        return None
    return zero, first, c0, steps, cs, zero + c0 + sum(cs)


def bins_of_small(first: int, first_count: int, steps: bytes, counts: bytes) -> "zip[tuple[int, int]]":
    """(index, count) pairs of a sketch split by ``split_small``."""
    return zip(accumulate(steps, initial=first), chain((first_count,), counts))


def decode_wire(data: bytes) -> DDSketch:
    """Decode the wire encoding only (what agents send): the same result as
    ``DDSketch.from_bytes``, accepting exactly the same input."""
    data = bytes(data)
    # Harvest sketches (small, one-byte varints) take slicing; anything else (a gap
    # between bins of 64 or more, a count over 127, hundreds of bins) the tokenizer.
    # Only input that neither accepts reaches the shared decoder, for its precise error.
    parts = _small(data) if len(data) < 512 else None
    if parts is not None:
        s = DDSketch()
        s.zero_count, s.bins, s.count = parts
        return s
    return decode_not_small(data)


def decode_not_small(data: bytes) -> DDSketch:
    """``decode_wire`` for bytes ``split_small`` already refused (skips trying it again)."""
    s = _large(data)
    return s if s is not None else DDSketch.from_bytes(data)

