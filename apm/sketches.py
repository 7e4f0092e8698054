"""Server-side helpers around the shared DDSketch (agent/pulse_agent/sketch.py).

``decode`` gives the same result as ``DDSketch.from_bytes`` (and rejects the same
input) but takes a fast path for the common shape of a harvest sketch, where every
byte after the first bin is a one-byte varint: slicing and C-level iteration instead
of a Python loop per byte. Anything else goes to the shared decoder.
"""

import base64
import binascii
from itertools import accumulate, chain

from pulse_agent.sketch import MAX_ABS_INDEX, MAX_BINS, DDSketch, SketchDecodeError

__all__ = ["DDSketch", "SketchDecodeError", "decode", "decode_base64", "merge_encoded", "quantiles"]

_HALF = tuple(z >> 1 for z in range(128))
# Maps every odd byte (a negative zigzag delta) to 1 and every even one to 0.
_ODD = bytes.maketrans(bytes(range(256)), bytes(b & 1 for b in range(256)))


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


def decode(data):
    """Decode encoded sketch bytes; raises SketchDecodeError on malformed input."""
    try:
        if len(data) >= 3 and data[0] == 1:
            zero, pos = _varint(data, 1)
            n, pos = _varint(data, pos)
            if 1 <= n <= MAX_BINS:
                z0, pos = _varint(data, pos)
                c0, pos = _varint(data, pos)
                rest = data[pos:]
                if c0 and rest.isascii() and len(rest) == 2 * (n - 1):
                    zs = rest[0::2]
                    cs = rest[1::2]
                    if 0 not in zs and 0 not in cs and 1 not in zs.translate(_ODD):
                        first = (z0 >> 1) if not (z0 & 1) else -((z0 + 1) >> 1)
                        indexes = list(accumulate(map(_HALF.__getitem__, zs), initial=first))
                        if -MAX_ABS_INDEX <= indexes[0] and indexes[-1] <= MAX_ABS_INDEX and zero < (1 << 62):
                            s = DDSketch()
                            s.bins = dict(zip(indexes, chain((c0,), cs)))
                            s.zero_count = zero
                            s.count = zero + c0 + sum(cs)
                            return s
    except SketchDecodeError:
        pass  # the shared decoder gives the authoritative error below
    return DDSketch.from_bytes(data)


def decode_base64(text):
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SketchDecodeError(f"sketch is not valid base64: {exc}") from None
    return decode(raw)


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
