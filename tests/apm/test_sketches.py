"""apm.sketches: the stored encoding of rollup rows round-trips and refuses what is not one;
quantiles are the shared sketch's."""

import struct

import pytest

from hypothesis import given, settings, strategies as st
from pulse_agent.sketch import DDSketch, SketchDecodeError

from apm.sketches import decode, encode_stored, quantiles


@given(values=st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=500))
def test_it_answers_the_same_quantiles(values):
    s = DDSketch()
    for v in values:
        s.add(v)
    qs = (0.0, 0.5, 0.95, 0.99, 1.0)
    assert quantiles(s, qs) == [s.quantile(q) for q in qs]


def _sketch(bins, zero=0):
    s = DDSketch()
    s.bins = dict(bins)
    s.zero_count = zero
    s.count = zero + sum(bins.values())
    return s


@settings(max_examples=200, deadline=None)
@given(
    bins=st.dictionaries(st.integers(-(1 << 20), 1 << 20), st.integers(1, (1 << 63) // 10_000), max_size=300),
    zero=st.integers(0, 1 << 40),
)
def test_the_stored_encoding_round_trips_any_sketch(bins, zero):
    s = _sketch(bins, zero)
    assert decode(encode_stored(s)) == s


def test_the_stored_encoding_is_narrow_for_ordinary_rows_and_wide_when_it_must_be():
    ordinary = _sketch({-500: 3, 0: 1, 700: 40_000}, zero=2)
    assert len(encode_stored(ordinary)) == 14 + 3 * (2 + 4)
    wide = _sketch({-40_000: 1, 5: 1 << 40})
    assert len(encode_stored(wide)) == 14 + 2 * (4 + 8)
    assert decode(encode_stored(wide)) == wide
    assert decode(encode_stored(DDSketch())) == DDSketch()


def _stored(flags, zero, indexes, counts, n=None):
    it, ct = ("i" if flags & 1 else "h"), ("Q" if flags & 2 else "I")
    n = len(indexes) if n is None else n
    return struct.pack(f"<BBQI{len(indexes)}{it}{len(counts)}{ct}", 2, flags, zero, n, *indexes, *counts)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x02\x00\x00", "truncated"),
        (_stored(4, 0, [1], [1]), "unknown flag"),
        (_stored(0, 0, [1, 2], [1, 1], n=3), "bin count larger than the bins"),
        (_stored(0, 0, [1, 2], [1, 1])[:-1], "cut short"),
        (_stored(0, 0, [1, 2], [1, 1]) + b"\x00", "trailing byte"),
        (_stored(0, 0, [1, 2], [1, 0]), "empty bin"),
        (_stored(0, 0, [3, 3], [1, 1]), "repeated bin"),
        (_stored(1, 0, [(1 << 20) + 1], [1]), "index out of range"),
        (_stored(2, 1 << 62, [1], [1 << 62]), "count over 2**63 - 1"),
    ],
)
def test_decode_refuses_a_malformed_stored_sketch(data, reason):
    with pytest.raises(SketchDecodeError):
        decode(data)
