import base64
import math
import random

import pytest

from pulse_agent.sketch import (
    DDSketch,
    GAMMA,
    RELATIVE_ACCURACY,
    SketchDecodeError,
    ZERO_THRESHOLD,
)


def exact_quantile(values, q):
    s = sorted(values)
    return s[int(math.floor(q * (len(s) - 1)))]


def make(values):
    s = DDSketch()
    for v in values:
        s.add(v)
    return s


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_answers_quantiles_within_relative_accuracy(seed):
    rng = random.Random(seed)
    values = [rng.lognormvariate(-3, 1.5) for _ in range(20000)]
    s = make(values)
    assert s.count == len(values)
    for q in (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0):
        want = exact_quantile(values, q)
        got = s.quantile(q)
        assert abs(got - want) <= RELATIVE_ACCURACY * want * (1 + 1e-9), (q, got, want)


def test_it_uses_the_documented_mapping():
    assert GAMMA == pytest.approx(1.01 / 0.99)
    s = make([1.0, GAMMA ** 10, GAMMA ** 10 * 1.0001])
    assert s.bins == {0: 1, 10: 1, 11: 1}


def test_it_counts_tiny_and_negative_values_in_the_zero_bucket():
    s = make([0.0, ZERO_THRESHOLD / 2, -1.0, 0.5])
    assert s.zero_count == 3
    assert s.count == 4
    assert s.quantile(0.5) == 0.0
    assert s.quantile(1.0) == pytest.approx(0.5, rel=RELATIVE_ACCURACY)


def test_empty_sketch():
    s = DDSketch()
    assert s.quantile(0.5) is None
    assert s.to_bytes() == b"\x01\x00\x00"
    assert DDSketch.from_bytes(s.to_bytes()) == s


def test_it_merges_by_adding_counts():
    rng = random.Random(7)
    a_vals = [rng.expovariate(10) for _ in range(5000)]
    b_vals = [rng.expovariate(1) for _ in range(5000)]
    a, b = make(a_vals), make(b_vals)
    merged = a.copy().merge(b)
    assert merged == make(a_vals + b_vals)
    assert merged.count == 10000
    want = exact_quantile(a_vals + b_vals, 0.95)
    assert merged.quantile(0.95) == pytest.approx(want, rel=RELATIVE_ACCURACY)


def test_merge_is_commutative_and_associative():
    x, y, z = make([0.1, 0.2]), make([3.0, 0.0]), make([0.2, 50.0])
    assert x.copy().merge(y).merge(z) == z.copy().merge(x).merge(y)


def test_encoding_is_exactly_as_documented():
    s = DDSketch()
    s.zero_count = 2
    s.bins = {-3: 1, 0: 300, 5: 2}
    s.count = 305
    # version, zero=2, n=3, (zigzag(-3)=5, 1), (zigzag(3)=6, 300=0xac 0x02), (zigzag(5)=10, 2)
    assert s.to_bytes() == bytes([1, 2, 3, 5, 1, 6, 0xAC, 0x02, 10, 2])
    assert DDSketch.from_bytes(s.to_bytes()) == s


def test_it_round_trips_through_base64():
    rng = random.Random(3)
    s = make([rng.uniform(0, 30) for _ in range(3000)] + [0.0])
    text = s.to_base64()
    assert base64.b64decode(text) == s.to_bytes()
    back = DDSketch.from_base64(text)
    assert back == s
    assert back.quantile(0.5) == s.quantile(0.5)


def test_full_duration_range_fits_the_protocol_size_limit():
    # One value per bin across 1 ns .. 1 day with large counts: the worst realistic sketch.
    s = DDSketch()
    v = 1.5e-9
    while v < 86400:
        for _ in range(3):
            s.add(v)
        v *= GAMMA
    s.bins = {i: 10_000_000 for i in s.bins}
    assert len(s.to_base64()) <= 16 * 1024


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02\x00\x00",  # unknown version
        b"\x01",  # truncated
        b"\x01\x00\x01\x02",  # bin without count
        b"\x01\x00\x01\x02\x00",  # zero count
        b"\x01\x00\x02\x02\x01\x00\x01",  # index not ascending
        b"\x01\x00\x00\x00",  # trailing bytes
        b"\x01" + b"\xff" * 11,  # varint too long
        b"\x01\x00\x01\xfe\xff\xff\x7f\x01",  # index out of range
        b"\x01\x00\xff\xff\x03",  # too many bins
    ],
)
def test_it_rejects_malformed_bytes(data):
    with pytest.raises(SketchDecodeError):
        DDSketch.from_bytes(data)


def test_it_rejects_bad_base64():
    with pytest.raises(ValueError):
        DDSketch.from_base64("not base64!!")


def test_quantile_rejects_out_of_range_q():
    with pytest.raises(ValueError):
        make([1.0]).quantile(1.5)


@pytest.mark.parametrize("seed", [1, 2])
def test_add_sorted_gives_the_same_sketch_as_add_one_by_one(seed):
    rng = random.Random(seed)
    values = [rng.lognormvariate(-7, 3) for _ in range(5000)]
    values += [rng.uniform(5e-5, 6e-5) for _ in range(2000)]
    values += [0.0, ZERO_THRESHOLD, ZERO_THRESHOLD / 2, -1.0]
    for i in range(-600, 300, 7):  # values on and next to bin edges
        edge = GAMMA ** i
        values += [edge, math.nextafter(edge, 0.0), math.nextafter(edge, 1.0)]
    batched = DDSketch()
    batched.add_sorted(sorted(values[:100]))
    batched.add_sorted(sorted(values[100:]))
    assert batched.to_bytes() == make(values).to_bytes()
    assert batched.count == len(values)


def test_add_sorted_with_many_values_in_few_bins_settles_each_bin_edge_exactly():
    rng = random.Random(3)
    values = []
    for i in range(-480, -470):  # ten bins, each edge and its neighbours many times
        edge = GAMMA ** i
        values += [edge, math.nextafter(edge, 0.0), math.nextafter(edge, 1.0)] * 40
    values += [rng.uniform(GAMMA ** -480, GAMMA ** -470) for _ in range(500)]
    batched = DDSketch()
    batched.add_sorted(sorted(values))
    assert batched.to_bytes() == make(values).to_bytes()
