"""The server's own sketch encoding and the arithmetic on sketches (DDSketch, shared with the agent).

Rollup rows store the *stored* encoding (0x02, fixed-width arrays; ``encode_stored``):
a worker reads, merges and rewrites the sketch of every rollup row a batch touches, and
fixed-width arrays convert to and from a dict at C speed (about 10x faster than varints
for a minute row's ~100 bins) for ~2x the bytes. ``decode`` reads both it and the wire
encoding (contract/sketches.py), so rows written before the stored encoding existed
still read. Only the server writes it: agents cannot send it.
"""

import struct
import sys
from array import array

import numpy as np

from contract.sketches import MAX_COUNT, decode_wire
from pulse_agent.sketch import MAX_ABS_INDEX, MAX_BINS, DDSketch, SketchDecodeError

__all__ = [
    "DDSketch",
    "SketchDecodeError",
    "decode",
    "encode_stored",
    "encode_stored_bins",
    "merge_encoded",
    "merge_into",
    "quantiles",
]


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
    if total > MAX_COUNT:
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
