"""Summing many sketches' bins per row at once (apm/sketch_sums.py), and storing the sums."""

from hypothesis import given, settings, strategies as st
from pulse_agent.sketch import MAX_ABS_INDEX, DDSketch

from apm.sketch_sums import Bins
from apm.sketches import decode, encode_stored_bins
from contract.sketches import bins_of_small

ROWS = 4
index = st.integers(min_value=-MAX_ABS_INDEX, max_value=MAX_ABS_INDEX)
split = st.tuples(
    st.integers(min_value=0, max_value=ROWS - 1),
    st.one_of(st.integers(min_value=-60, max_value=60), index),
    st.integers(min_value=1, max_value=127),
    st.lists(st.tuples(st.integers(min_value=1, max_value=63), st.integers(min_value=1, max_value=127)), max_size=9),
)
as_dict = st.tuples(
    st.integers(min_value=0, max_value=ROWS - 1),
    st.dictionaries(index, st.integers(min_value=1, max_value=1 << 40), max_size=9),
)


@settings(max_examples=300, deadline=None)
@given(sketches=st.lists(st.one_of(split, as_dict), max_size=30))
def test_each_row_gets_the_sum_of_its_bins(sketches):
    bins, expected = Bins(), [{} for _ in range(ROWS)]
    for sketch in sketches:
        if len(sketch) == 4:
            row, first, first_count, later = sketch
            steps, counts = bytes(s for s, _ in later), bytes(c for _, c in later)
            bins.add_split(row, first, first_count, steps, counts)
            pairs = bins_of_small(first, first_count, steps, counts)
        else:
            row, as_bins = sketch
            bins.add_dict(row, as_bins)
            pairs = as_bins.items()
        for i, c in pairs:
            expected[row][i] = expected[row].get(i, 0) + c
    sums = bins.sums(ROWS)
    assert len(sums) == ROWS
    for (indexes, counts), want in zip(sums, expected):
        assert indexes.tolist() == sorted(want)
        assert dict(zip(indexes.tolist(), counts.tolist())) == want


def test_sums_of_sums_add_up_and_store():
    # As the worker does: transaction rows, then their app's row from theirs.
    rows = Bins()
    rows.add_split(0, 10, 1, b"\x01\x02", b"\x03\x04")  # bins 10, 11, 13
    rows.add_dict(1, {11: 5, -40_000: 2})
    app = Bins()
    for indexes, counts in rows.sums(2):
        app.add_arrays(0, indexes, counts)
    (indexes, counts), empty = app.sums(2)
    assert dict(zip(indexes.tolist(), counts.tolist())) == {-40_000: 2, 10: 1, 11: 8, 13: 4}
    assert len(empty[0]) == 0
    stored = decode(encode_stored_bins(7, indexes, counts))  # an index past int16: the wide form
    assert (stored.bins, stored.zero_count, stored.count) == ({-40_000: 2, 10: 1, 11: 8, 13: 4}, 7, 22)


def test_the_stored_form_keeps_counts_past_32_bits():
    s = DDSketch()
    s.add(0.25)
    (i,) = s.bins
    bins = Bins()
    bins.add_dict(0, {i: 1 << 40})
    bins.add_dict(0, {i: 3})
    ((indexes, counts),) = bins.sums(1)
    assert decode(encode_stored_bins(0, indexes, counts)).bins == {i: (1 << 40) + 3}
