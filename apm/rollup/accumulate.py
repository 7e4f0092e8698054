"""What a batch adds to each minute row, summed in Python before anything is written.

An Agg holds one rollup row's sums (per transaction, or per app and transaction type);
an AppBatch the rows and events one batch adds for one app.
"""

import operator

from apm.sketch_sums import Bins
from apm.sketches import encode_stored_bins

# A queued metric's stats, read in one C call (in the order of Agg's totals).
_METRIC_STATS = operator.attrgetter(
    "count", "errors", "sum", "min", "max", "apdex_s", "apdex_t", "apdex_f", "python", "database", "external",
    "template",
)
_TOTALS = ("count", "errors", "sum", "min", "max", "s", "t", "f", "py", "db", "ext", "tpl")
_FOLDS = (sum, sum, sum, min, max, sum, sum, sum, sum, sum, sum, sum)
# An Agg's totals as one tuple, in the order of the minute rows' stat columns (apm/rollup/minutes.py).
agg_totals = operator.attrgetter(*_TOTALS)


class Agg:
    """Sums of one rollup row within a batch: ``add_metric``/``add``, then ``finish``.

    Bins go to the batch's apm.sketch_sums.Bins under the row's number; ``bins`` gets
    their per-row sums, (indexes, counts) arrays, once the whole batch is in."""

    __slots__ = ("row", "stats", "zero_count", "bins", *_TOTALS)

    def __init__(self, row):
        self.row = row
        self.stats = []  # one tuple of _METRIC_STATS per metric; folded by finish()
        self.zero_count = 0
        self.bins = None

    def add_metric(self, m, bins):
        """Add one contract.queued.QueuedMetric (its sketch split or as bins)."""
        self.stats.append(_METRIC_STATS(m))
        self.zero_count += m.zero_count
        if m.first_count:
            bins.add_split(self.row, m.first_index, m.first_count, m.steps, m.counts)
        else:
            bins.add_dict(self.row, m.bins)

    def add(self, o, bins):
        """Add another row, already finished (its totals folded, its bins summed)."""
        self.stats.append(agg_totals(o))  # finish() folds totals as it folds stats: sums of sums, min of minima, ...
        self.zero_count += o.zero_count
        bins.add_arrays(self.row, *o.bins)

    def finish(self):
        """Fold the stats of everything added into the totals (count, sum, min, ...):
        column by column at C speed rather than a dozen attribute updates per metric."""
        for name, fold, column in zip(_TOTALS, _FOLDS, zip(*self.stats)):
            setattr(self, name, fold(column))
        return self

    def stored_sketch(self):
        return encode_stored_bins(self.zero_count, *self.bins)


class AppBatch:
    """What one batch adds for one app: the minute rows' sums, the transaction names, the
    sampled events (what apm.live publishes after the commit)."""

    def __init__(self, org_id, app_id):
        self.org_id = org_id
        self.app_id = app_id
        self.txn_rows = {}  # (txn_id, minute) -> Agg
        self.app_rows = {}  # (type, minute) -> Agg
        self.txn_names = {}  # txn_id -> (type, name)
        self.event_columns = []  # the batch's contract.queued.QueuedEvents


def collect(todo, txn_ids):
    """{(org, app): AppBatch} of the payloads ``todo`` [(contract.stream.Entry, QueuedPayload)], every Agg
    finished; ``txn_ids``: (org, app) -> {(type, name): transaction id}."""
    apps = {}
    txn_aggs, txn_bins = [], Bins()  # Agg.row numbers index txn_aggs
    for q, p in todo:
        k = (q.org_id, q.app_id)
        ab = apps.get(k)
        if ab is None:
            ab = apps[k] = AppBatch(q.org_id, q.app_id)
        ids = txn_ids[k]
        rows = ab.txn_rows
        for m in p.metrics:
            tid = ids[(m.type, m.name)]
            agg = rows.get((tid, m.minute))
            if agg is None:
                agg = rows[(tid, m.minute)] = Agg(len(txn_aggs))
                txn_aggs.append(agg)
                ab.txn_names[tid] = (m.type, m.name)
            agg.add_metric(m, txn_bins)
        if p.events:
            ab.event_columns.append(p.events)  # shaped by apm.live only if someone watches
    for agg, bins in zip(txn_aggs, txn_bins.sums(len(txn_aggs))):
        agg.bins = bins
    app_aggs, app_bins = [], Bins()
    for ab in apps.values():
        for (tid, minute), agg in ab.txn_rows.items():
            agg.finish()
            key = (ab.txn_names[tid][0], minute)
            app_agg = ab.app_rows.get(key)
            if app_agg is None:
                app_agg = ab.app_rows[key] = Agg(len(app_aggs))
                app_aggs.append(app_agg)
            app_agg.add(agg, app_bins)
    for agg, bins in zip(app_aggs, app_bins.sums(len(app_aggs))):
        agg.bins = bins
        agg.finish()
    return apps
