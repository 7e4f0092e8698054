"""DDSketch-style mergeable quantile sketch, shared by the agent and the server.

Relative accuracy alpha = 0.01: every quantile it answers is within 1 % of the
true value (for values above the zero threshold). Logarithmic mapping with
gamma = (1 + alpha) / (1 - alpha); value v > ZERO_THRESHOLD goes to bin
ceil(log(v) / log(gamma)); smaller values (and negatives) go to the zero bucket.

Binary encoding (docs/protocol-v1.md, "Sketch"):

    0x01                      version byte
    varint  zero_count
    varint  n                 number of bins
    n x (zigzag-varint delta, varint count)
                              delta = index - previous index (the first from 0);
                              indexes strictly ascending, counts >= 1

varint = unsigned LEB128. Standard library only: the server imports this module.
"""

import base64
import binascii
import math
from bisect import bisect_right
from itertools import groupby, repeat
from operator import mul

__all__ = [
    "DDSketch",
    "SketchDecodeError",
    "RELATIVE_ACCURACY",
    "GAMMA",
    "ZERO_THRESHOLD",
    "ENCODING_VERSION",
]

RELATIVE_ACCURACY = 0.01
GAMMA = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
_INV_LOG_GAMMA = 1.0 / _LOG_GAMMA
ZERO_THRESHOLD = 1e-9
ENCODING_VERSION = 1

# Decoding limits: the server decodes untrusted input with this module.
MAX_BINS = 8192  # a full 1e-9 s .. 1 day range needs ~1,600 bins
MAX_ABS_INDEX = 1 << 20
_MAX_VARINT_BYTES = 10  # 64-bit values
_MAX_COUNT = (1 << 63) - 1

_log = math.log
_ceil = math.ceil


class SketchDecodeError(ValueError):
    """The bytes are not a valid encoded sketch."""


class DDSketch:
    """Mergeable sketch of non-negative values (durations in seconds)."""

    __slots__ = ("bins", "zero_count", "count")

    def __init__(self):
        self.bins = {}  # index -> count
        self.zero_count = 0
        self.count = 0

    # -- building -----------------------------------------------------------

    def add(self, value):
        """Add one value. On the request path: one log, one dict update."""
        if value > ZERO_THRESHOLD:
            i = _ceil(_log(value) * _INV_LOG_GAMMA)
            bins = self.bins
            bins[i] = bins.get(i, 0) + 1
        else:
            self.zero_count += 1
        self.count += 1

    def add_sorted(self, values):
        """Add a list of values in ascending order: the same result as ``add`` for each,
        faster (the agent folds a batch of durations at once). Many values over few
        bins: one log per bin, the end of each bin's run guessed from its upper bound
        and then settled with ``add``'s own formula (so rounding at a bin edge can't
        move a value). Otherwise: one log per value, counted at C speed."""
        n = len(values)
        z = bisect_right(values, ZERO_THRESHOLD)  # these go to the zero bucket
        self.zero_count += z
        self.count += n
        if z == n:
            return
        bins = self.bins
        first = _ceil(_log(values[z]) * _INV_LOG_GAMMA)
        span = _ceil(_log(values[-1]) * _INV_LOG_GAMMA) - first + 1
        if n - z < 32 * span:
            positive = values[z:] if z else values
            # sorted values give sorted indexes: count runs
            for i, run in groupby(map(_ceil, map(mul, map(_log, positive), repeat(_INV_LOG_GAMMA)))):
                bins[i] = bins.get(i, 0) + len(list(run))
            return
        s = z
        while s < n:
            i = _ceil(_log(values[s]) * _INV_LOG_GAMMA)
            e = bisect_right(values, math.pow(GAMMA, i), s + 1, n)
            while e > s + 1 and _ceil(_log(values[e - 1]) * _INV_LOG_GAMMA) != i:
                e -= 1
            while e < n and _ceil(_log(values[e]) * _INV_LOG_GAMMA) == i:
                e += 1
            bins[i] = bins.get(i, 0) + e - s
            s = e

    def merge(self, other):
        """Add all of ``other``'s counts into this sketch; returns self."""
        bins = self.bins
        for i, c in other.bins.items():
            bins[i] = bins.get(i, 0) + c
        self.zero_count += other.zero_count
        self.count += other.count
        return self

    def copy(self):
        s = DDSketch()
        s.bins = dict(self.bins)
        s.zero_count = self.zero_count
        s.count = self.count
        return s

    # -- reading ------------------------------------------------------------

    @staticmethod
    def index_value(index):
        """The representative value of bin ``index`` (within alpha of any value in it)."""
        return 2.0 * math.pow(GAMMA, index) / (GAMMA + 1.0)

    def quantile(self, q):
        """Value at quantile ``q`` in [0, 1]; None for an empty sketch."""
        if not 0.0 <= q <= 1.0 or q != q:
            raise ValueError("quantile must be between 0 and 1")
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        if rank < self.zero_count:
            return 0.0
        seen = self.zero_count
        bins = self.bins
        last = None
        for i in sorted(bins):
            seen += bins[i]
            last = i
            if seen > rank:
                return self.index_value(i)
        return self.index_value(last)

    def __len__(self):
        return self.count

    def __eq__(self, other):
        if not isinstance(other, DDSketch):
            return NotImplemented
        return (
            self.zero_count == other.zero_count
            and self.count == other.count
            and self.bins == other.bins
        )

    def __repr__(self):
        return "DDSketch(count=%d, zero_count=%d, bins=%d)" % (
            self.count,
            self.zero_count,
            len(self.bins),
        )

    # -- encoding -----------------------------------------------------------

    def to_bytes(self):
        out = bytearray((ENCODING_VERSION,))
        _put_varint(out, self.zero_count)
        bins = self.bins
        indexes = sorted(i for i in bins if bins[i] > 0)
        _put_varint(out, len(indexes))
        prev = 0
        for i in indexes:
            d = i - prev
            _put_varint(out, (d << 1) if d >= 0 else ((-d << 1) - 1))
            _put_varint(out, bins[i])
            prev = i
        return bytes(out)

    @classmethod
    def from_bytes(cls, data):
        """Decode; raises SketchDecodeError (a ValueError) on any malformed input."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SketchDecodeError("sketch must be bytes")
        data = bytes(data)
        end = len(data)
        if end == 0:
            raise SketchDecodeError("empty sketch")
        if data[0] != ENCODING_VERSION:
            raise SketchDecodeError("unsupported sketch version %d" % data[0])
        zero_count, pos = _get_varint(data, 1, end)
        n, pos = _get_varint(data, pos, end)
        if n > MAX_BINS:
            raise SketchDecodeError("too many bins (%d > %d)" % (n, MAX_BINS))
        bins = {}
        total = zero_count
        prev = 0
        for k in range(n):
            z, pos = _get_varint(data, pos, end)
            d = (z >> 1) if not (z & 1) else -((z + 1) >> 1)
            if k and d <= 0:
                raise SketchDecodeError("bin indexes not strictly ascending")
            index = prev + d
            if -MAX_ABS_INDEX > index or index > MAX_ABS_INDEX:
                raise SketchDecodeError("bin index out of range")
            c, pos = _get_varint(data, pos, end)
            if c == 0:
                raise SketchDecodeError("bin with zero count")
            bins[index] = c
            total += c
            prev = index
        if pos != end:
            raise SketchDecodeError("trailing bytes after sketch")
        if total > _MAX_COUNT:
            raise SketchDecodeError("sketch count too large")
        s = cls()
        s.bins = bins
        s.zero_count = zero_count
        s.count = total
        return s

    def to_base64(self):
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_base64(cls, s):
        try:
            if isinstance(s, str):
                s = s.encode("ascii")
            raw = base64.b64decode(s, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise SketchDecodeError("sketch is not valid base64: %s" % exc) from None
        return cls.from_bytes(raw)


def _put_varint(out, n):
    if n < 0:
        raise ValueError("varint must be non-negative")
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _get_varint(data, pos, end):
    result = 0
    shift = 0
    for k in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise SketchDecodeError("truncated sketch")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            if result >> 64:
                raise SketchDecodeError("varint out of range")
            return result, pos
        shift += 7
    raise SketchDecodeError("varint too long")
