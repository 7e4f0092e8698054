"""The queued form carries each metric's sketch so that a worker merges exactly what the
agent sent, whichever way ingest handed it on (split harvest sketch or bins)."""

import msgspec
import pytest
from hypothesis import given, settings, strategies as st
from pulse_agent.sketch import DDSketch

from apm.rollup.accumulate import Agg
from apm.sketch_sums import Bins
from apm.sketches import decode
from contract import queued
from contract.queued import BadSketch, QueuedSketch, check_sketch


def _metric(sk):
    return queued.QueuedMetric(
        "t", "web", 0, 1, 0, 0.1, 0.1, 0.1, 1, 0, 0, 0.0, 0.0, 0.0, 0.0,
        sk.zero_count, sk.bins, sk.first_index, sk.first_count, sk.steps, sk.counts,
    )


durations = st.lists(
    st.one_of(st.floats(min_value=0, max_value=1e-9), st.floats(min_value=1e-6, max_value=3600)), min_size=1,
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(harvests=st.lists(durations, min_size=1, max_size=5))
def test_merging_queued_sketches_gives_the_sketch_of_all_values(harvests):
    expected = DDSketch()
    agg, bins = Agg(0), Bins()
    for values in harvests:
        s = DDSketch()
        for v in values:
            s.add(v)
            expected.add(v)
        agg.add_metric(_metric(check_sketch(s.to_bytes(), len(values))), bins)
    (agg.bins,) = bins.sums(1)
    assert decode(agg.stored_sketch()) == expected


def test_harvest_sketches_are_handed_on_split_and_others_as_bins():
    small = DDSketch()
    for v in (0.010, 0.011, 0.013):  # bins a few apart: one-byte steps
        small.add(v)
    big = DDSketch()
    for _ in range(300):
        big.add(0.5)
        big.add(0.6)  # a count over 127 past the first bin: not one-byte varints
    sketch = check_sketch(small.to_bytes(), 3)
    assert sketch.bins == {} and sketch.first_count == 1 and len(sketch.steps) == 2
    sketch = check_sketch(big.to_bytes(), 600)
    assert sketch.bins == big.bins and sketch.first_count == 0


def test_it_refuses_a_sketch_whose_count_differs_either_way():
    small = DDSketch()
    small.add(0.1)
    big = DDSketch()
    for _ in range(200):
        big.add(0.1)
    with pytest.raises(BadSketch, match="^sketch holds 1 values but count is 2$"):
        check_sketch(small.to_bytes(), 2)
    with pytest.raises(BadSketch, match="^sketch holds 200 values but count is 3$"):
        check_sketch(big.to_bytes(), 3)


def test_an_entry_queued_before_the_split_form_still_applies():
    s = DDSketch()
    for v in (0.01, 0.02, 0.4):
        s.add(v)
    current = queued.QueuedPayload(
        "a" * 32, 1.0, [_metric(QueuedSketch(s.zero_count, s.bins))], queued.QueuedEvents([], [], [], [], [], [], [], []), [],
        [], None,
    )
    as_lists = msgspec.to_builtins(current)
    as_lists[2][0] = as_lists[2][0][:17]  # the metric as the previous release laid it out: ends with bins
    old_body = msgspec.msgpack.encode(as_lists)
    agg, bins = Agg(0), Bins()
    agg.add_metric(queued.unpack(old_body).metrics[0], bins)
    (agg.bins,) = bins.sums(1)
    assert decode(agg.stored_sketch()) == s


def test_an_instance_queued_before_the_runtime_metrics_still_applies():
    inst = queued.QueuedInstance(
        "web-1", 7, 1.0, 12.5, 1000, 4, 0.5, "0.1.0", "3.11.7", None, {"events": 0}, 2.0, 0.1, [3, 1, 0], 0.02,
        [{"name": "django:default", "open": 2, "in_use": None, "max": None}],
    )
    current = queued.QueuedPayload("a" * 32, 1.0, [], queued.QueuedEvents([], [], [], [], [], [], [], []), [], [], inst)
    assert queued.unpack(msgspec.msgpack.encode(current)).instance == inst
    as_lists = msgspec.to_builtins(current)
    as_lists[6] = as_lists[6][:11]  # the instance as the previous release laid it out: ends with dropped
    old = queued.unpack(msgspec.msgpack.encode(as_lists)).instance
    assert (old.host, old.dropped) == ("web-1", {"events": 0})
    assert (old.period, old.gc_time, old.gc_collections, old.loop_lag, old.db_pools) == (0.0, None, None, None, None)
