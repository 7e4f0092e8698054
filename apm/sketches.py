"""Server-side helpers around the shared DDSketch (agent/pulse_agent/sketch.py).

Two encodings. The wire encoding (version byte 0x01, varints; docs/protocol-v1.md) is
what agents send. Rollup rows store the *stored* encoding (0x02, fixed-width arrays;
``encode_stored``): a worker reads, merges and rewrites the sketch of every rollup row a
batch touches, and fixed-width arrays convert to and from a dict at C speed (about 10x
faster than varints for a minute row's ~100 bins) for ~2x the bytes. ``decode`` reads
both, so rows written before the stored encoding existed still read.

``decode_wire`` gives the same result as ``DDSketch.from_bytes`` and accepts exactly the
same input, only faster. A harvest sketch whose bytes after the first bin are all
one-byte varints is sliced apart; a large one (rollup rows written in the wire encoding) is split into varints by one
C-level regex pass, with a cache from each varint's bytes to its value; the checks run
on whole lists. Anything else goes to the shared decoder, which raises the precise error.
"""

import base64
import binascii
import re
import struct
import sys
from array import array
from itertools import accumulate, chain

import numpy as np

from pulse_agent.sketch import MAX_ABS_INDEX, MAX_BINS, DDSketch, SketchDecodeError

__all__ = [
    "DDSketch",
    "SketchDecodeError",
    "decode",
    "decode_base64",
    "decode_not_small",
    "decode_wire",
    "encode_stored",
    "encode_stored_bins",
    "bins_of_small",
    "split_small",
    "merge_encoded",
    "merge_into",
    "quantiles",
]

_VARINT = re.compile(rb"[\x80-\xff]{0,9}[\x00-\x7f]")
_VARINTS = re.compile(rb"(?:[\x80-\xff]{0,9}[\x00-\x7f])*")
_MAX_COUNT = (1 << 63) - 1
_values = {}  # varint bytes -> value (bounded)


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
    if total > _MAX_COUNT:
        return None
    s.zero_count = zero
    s.count = total
    return s


# A one-byte zigzag delta past the first bin -> its (positive) step; a byte that is no
# such delta (0: no step; odd: a step down; >= 0x80: part of a longer varint) -> 0.
_STEP = bytes((z >> 1) if z and not z & 1 and z < 0x80 else 0 for z in range(256))


def _varint(data, pos):
    result = shift = 0
    end = len(data)
    for _ in range(10):
        if pos >= end:
            raise SketchDecodeError("truncated sketch")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise SketchDecodeError("varint too long")


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


def split_small(data):
    """A harvest sketch (one-byte varints past the first bin), checked as ``decode_wire``
    would check it but not expanded: (zero count, first index, first count, steps, counts,
    total count), where ``steps`` (bytes) are the index increments from one bin to the
    next and ``counts`` (bytes) the counts of the bins after the first. None for any other
    sketch. ``bins_of_small`` expands it; ingest hands it to the workers as it is."""
    m = _HEAD.match(data)
    if m is None:
        return None
    head = [*map(_values.get, m.groups())]
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


def bins_of_small(first, first_count, steps, counts):
    """(index, count) pairs of a sketch split by ``split_small``."""
    return zip(accumulate(steps, initial=first), chain((first_count,), counts))


# --- the stored encoding ------------------------------------------------------------
#
#   0x02                      stored-encoding marker (the wire encoding starts with 0x01)
#   u8    flags               bit 0: indexes are int32 (else int16); bit 1: counts are
#                             uint64 (else uint32)
#   u64   zero_count
#   u32   n                   number of bins
#   n x index, then n x count (little-endian; bins in no particular order, counts >= 1)

STORED = 0x02
_STORED_HEAD = struct.Struct("<BBQI")
_WIDE_INDEX, _WIDE_COUNT = 1, 2
_LITTLE = sys.byteorder == "little"


def _array(typecode, raw):
    a = array(typecode)
    a.frombytes(raw)
    if not _LITTLE:
        a.byteswap()
    return a


def encode_stored(sketch):
    """The stored encoding of a DDSketch (what rollup rows hold)."""
    bins = sketch.bins
    n = len(bins)
    return encode_stored_bins(
        sketch.zero_count, np.fromiter(bins.keys(), np.int64, n), np.fromiter(bins.values(), np.int64, n)
    )


def encode_stored_bins(zero_count, indexes, counts):
    """The stored encoding of a sketch given as numpy int64 arrays of bin indexes and
    counts (each index once, counts >= 1; apm.sketch_sums)."""
    n = len(indexes)
    flags = 0
    if n and (indexes.min() < -0x8000 or indexes.max() > 0x7FFF):  # (rare: far outside any realistic duration)
        flags |= _WIDE_INDEX
    if n and counts.max() > 0xFFFFFFFF:
        flags |= _WIDE_COUNT
    return b"".join(
        (
            _STORED_HEAD.pack(STORED, flags, zero_count, n),
            indexes.astype("<i4" if flags & _WIDE_INDEX else "<i2").tobytes(),
            counts.astype("<u8" if flags & _WIDE_COUNT else "<u4").tobytes(),
        )
    )


def _decode_stored(data):
    if len(data) < _STORED_HEAD.size:
        raise SketchDecodeError("truncated sketch")
    _, flags, zero, n = _STORED_HEAD.unpack_from(data)
    if flags & ~(_WIDE_INDEX | _WIDE_COUNT) or n > MAX_BINS:
        raise SketchDecodeError("malformed stored sketch")
    wide_index = flags & _WIDE_INDEX
    start = _STORED_HEAD.size
    mid = start + n * (4 if wide_index else 2)
    if len(data) != mid + n * (8 if flags & _WIDE_COUNT else 4):
        raise SketchDecodeError("stored sketch length does not match its bin count")
    # Lists first: each array element becomes a Python int once, not once per check.
    indexes = _array("i" if wide_index else "h", data[start:mid]).tolist()
    counts = _array("Q" if flags & _WIDE_COUNT else "I", data[mid:]).tolist()
    s = DDSketch()
    if n:
        if 0 in counts or (wide_index and (min(indexes) < -MAX_ABS_INDEX or max(indexes) > MAX_ABS_INDEX)):
            raise SketchDecodeError("stored sketch has a bin out of range or empty")
        s.bins = dict(zip(indexes, counts))
        if len(s.bins) != n:
            raise SketchDecodeError("stored sketch repeats a bin")
    total = zero + sum(counts)
    if total > _MAX_COUNT:
        raise SketchDecodeError("sketch count too large")
    s.zero_count = zero
    s.count = total
    return s


def decode(data):
    """Decode a sketch in either encoding (rollup rows); raises SketchDecodeError on
    malformed input."""
    data = bytes(data)
    if data[:1] == b"\x02":
        return _decode_stored(data)
    return decode_wire(data)


def decode_wire(data):
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


def decode_not_small(data):
    """``decode_wire`` for bytes ``split_small`` already refused (skips trying it again)."""
    s = _large(data)
    return s if s is not None else DDSketch.from_bytes(data)


def decode_base64(text):
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SketchDecodeError(f"sketch is not valid base64: {exc}") from None
    return decode_wire(raw)


def merge_into(target, other):
    """Add ``other``'s counts into ``target`` (both DDSketch); returns target."""
    bins = target.bins
    get = bins.get
    for i, c in other.bins.items():
        bins[i] = get(i, 0) + c
    target.zero_count += other.zero_count
    target.count += other.count
    return target


def merge_encoded(blobs):
    """Merge encoded sketches (bytes, empty ones skipped) into one DDSketch."""
    out = DDSketch()
    for blob in blobs:
        if blob:
            merge_into(out, decode(bytes(blob)))
    return out


def quantiles(sketch, qs=(0.5, 0.95, 0.99)):
    """Several quantiles in one pass over the sorted bins; None for an empty sketch."""
    if sketch is None or sketch.count == 0:
        return [None] * len(qs)
    total = sketch.count
    ranks = [q * (total - 1) for q in qs]
    out = [None] * len(qs)
    pending = sorted(range(len(qs)), key=lambda k: ranks[k])
    seen = sketch.zero_count
    k = 0
    while k < len(pending) and ranks[pending[k]] < seen:
        out[pending[k]] = 0.0
        k += 1
    bins = sketch.bins
    last = None
    for i in sorted(bins):
        if k >= len(pending):
            break
        seen += bins[i]
        last = i
        while k < len(pending) and seen > ranks[pending[k]]:
            out[pending[k]] = DDSketch.index_value(i)
            k += 1
    while k < len(pending):
        out[pending[k]] = DDSketch.index_value(last) if last is not None else 0.0
        k += 1
    return out
