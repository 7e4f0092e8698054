"""Applying queued payloads to Postgres: exactly once in effect, many payloads per transaction.

``apply_batch(entries)`` writes, in ONE transaction: the processed-batch ledger (only
payloads never applied before go on), sampled events, slow traces, error groups with
per-minute counts and bounded samples, instance samples, and last the minute rollups per
transaction and per app (upserts that add counts). The caller acks the stream entries
only after the commit, so a crash before it re-delivers them and the ledger drops what
already counted. Rows are written in key order so concurrent workers lock them in the
same order.

- ``batch``: ``apply_batch``, the ledger, the server-binding cursor, marking the hours it applied (apm/stale_hours.py);
- ``names``: transaction names to ids, created on first sight and cached;
- ``accumulate``: a batch's sums per minute row (``Agg``) and per app (``AppBatch``);
- ``minutes``: the minute rollup upserts, sketches merged in Python;
- ``events``: sampled events and slow traces (binary COPY);
- ``errors``: error fingerprints, groups, per-minute counts and samples;
- ``instances``: instance samples;
- ``times``: cached minute datetimes.

After the commit, apm.live shapes and publishes what the batch added.
"""

from apm.rollup.batch import apply_batch

__all__ = ["apply_batch"]
