"""apm.sketches.decode is the shared decoder, only faster: same sketches, same refusals."""

import random

from hypothesis import given, settings, strategies as st
from pulse_agent.sketch import DDSketch, SketchDecodeError

from apm.sketches import decode, quantiles


def reference(data):
    try:
        return DDSketch.from_bytes(data)
    except SketchDecodeError:
        return None


def ours(data):
    try:
        return decode(data)
    except SketchDecodeError:
        return None


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.floats(min_value=0, max_value=86400), max_size=3000), seed=st.integers(0, 2**32),
       cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3), truncate=st.booleans())
def test_it_decodes_and_refuses_exactly_like_the_shared_decoder(values, seed, cuts, truncate):
    s = DDSketch()
    for v in values:
        s.add(v)
    data = s.to_bytes()
    assert decode(data) == s
    mutated = bytearray(data)
    for pos, byte in cuts:
        mutated[pos % len(mutated)] = byte
    if truncate:
        mutated = mutated[: random.Random(seed).randrange(len(mutated) + 1)]
    assert ours(bytes(mutated)) == reference(bytes(mutated))


@given(values=st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=500))
def test_it_answers_the_same_quantiles(values):
    s = DDSketch()
    for v in values:
        s.add(v)
    qs = (0.0, 0.5, 0.95, 0.99, 1.0)
    assert quantiles(s, qs) == [s.quantile(q) for q in qs]
