"""contract.sketches: the wire decoder is the shared decoder, only faster (same sketches,
same refusals); the server's stored encoding is not accepted on the wire."""

import random

import pytest
from hypothesis import given, settings, strategies as st
from pulse_agent.sketch import DDSketch, SketchDecodeError

from apm.sketches import decode, encode_stored
from contract.queued import BadSketch, check_sketch
from contract.sketches import decode_not_small, decode_wire


def reference(data):
    try:
        return DDSketch.from_bytes(data)
    except SketchDecodeError:
        return None


def ours(data):
    try:
        return decode_wire(data)
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
    assert decode_wire(data) == s
    assert decode(data) == s  # rollup rows written in the wire encoding still read (apm.sketches)
    mutated = bytearray(data)
    for pos, byte in cuts:
        mutated[pos % len(mutated)] = byte
    if truncate:
        mutated = mutated[: random.Random(seed).randrange(len(mutated) + 1)]
    assert ours(bytes(mutated)) == reference(bytes(mutated))


def _sketch(bins):
    s = DDSketch()
    s.bins = dict(bins)
    s.count = sum(bins.values())
    return s


def test_agents_cannot_send_the_stored_encoding():
    # The stored encoding is the server's own: on the wire only version 1 is accepted.
    data = encode_stored(_sketch({1: 2, 3: 4}))
    for wire_decoder in (decode_wire, decode_not_small):
        with pytest.raises(SketchDecodeError):
            wire_decoder(data)
    with pytest.raises(BadSketch, match="^unsupported sketch version 2$"):
        check_sketch(data, 6)
