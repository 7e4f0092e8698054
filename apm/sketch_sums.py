"""Sketch bins of many rollup rows, summed in one numpy pass (the worker's hot loop).

A batch adds ~50 harvest sketches of a few bins each into the (transaction, minute)
rows it touches, those rows into their app's rows, and each row into what Postgres
already holds. One dict update per bin in Python was the worker's largest cost (about
two thirds of collecting a batch). Here every bin is laid out as flat arrays of
(row, index, count) and summed by one sort.
"""

import numpy as np

_EMPTY = np.zeros(0, np.int64)


class Bins:
    """Bins of sketches, each added to a numbered row; ``sums`` adds them up per row."""

    __slots__ = ("_split", "_arrays")

    def __init__(self):
        self._split = []  # (row, first index, first count, steps, counts): contract.sketches.split_small
        self._arrays = []  # (row, indexes, counts)

    def add_split(self, row, first_index, first_count, steps, counts):
        """A sketch in split form: its first bin, the index steps to each next bin and
        their counts (one byte each)."""
        self._split.append((row, first_index, first_count, steps, counts))

    def add_arrays(self, row, indexes, counts):
        if len(indexes):
            self._arrays.append((row, indexes, counts))

    def add_dict(self, row, bins):
        """Bins as an {index: count} dict (a DDSketch's ``bins``)."""
        n = len(bins)
        self.add_arrays(row, np.fromiter(bins.keys(), np.int64, n), np.fromiter(bins.values(), np.int64, n))

    def sums(self, n_rows):
        """[(indexes, counts)] for rows 0 .. n_rows - 1: int64 arrays, indexes ascending,
        each index once."""
        parts = [_expand(self._split)] if self._split else []
        if self._arrays:
            rows, indexes, counts = zip(*self._arrays)
            lens = np.fromiter(map(len, indexes), np.int64, len(indexes))
            parts.append((np.repeat(np.array(rows, np.int64), lens), np.concatenate(indexes), np.concatenate(counts)))
        if not parts:
            return [(_EMPTY, _EMPTY)] * n_rows
        rows, indexes, counts = (np.concatenate(c) for c in zip(*parts))
        return _sum_rows(rows, indexes, counts, n_rows)


def _expand(split):
    """Flat (rows, indexes, counts) of sketches in split form: their first bins, then
    all the later ones (order does not matter: _sum_rows sorts)."""
    rows, firsts, first_counts, steps, counts = zip(*split)
    rows = np.array(rows, np.int64)
    firsts = np.array(firsts, np.int64)
    lens = np.fromiter(map(len, counts), np.int64, len(counts))  # bins after the first
    position = np.cumsum(np.frombuffer(b"".join(steps), np.uint8), dtype=np.int64)
    # Each later bin's index: its sketch's first index plus the steps since it.
    before = np.concatenate(([0], position))[np.cumsum(lens) - lens]
    later = position + np.repeat(firsts - before, lens)
    return (
        np.concatenate((rows, np.repeat(rows, lens))),
        np.concatenate((firsts, later)),
        np.concatenate((np.array(first_counts, np.int64), np.frombuffer(b"".join(counts), np.uint8))),
    )


def _sum_rows(rows, indexes, counts, n_rows):
    lo = int(indexes.min())
    span = int(indexes.max()) - lo + 1
    key = rows * span + (indexes - lo)  # row-major: sorting groups rows, then bins
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    sums = np.add.reduceat(counts[order], first)
    key = key[first]
    row = key // span
    index = key - row * span + lo
    bounds = np.searchsorted(row, np.arange(n_rows + 1))
    return [(index[a:b], sums[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
