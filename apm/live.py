"""Hook between the ingest workers and the live (websocket) views.

The ingest worker calls ``publish_batch`` once per app after each committed
Postgres transaction, never before the commit, so subscribers only ever see data
that the query layer will also return. It must not raise into the worker: failures
are logged and dropped (live views are best effort; the query layer is the truth).
"""


def publish_batch(org_id, app_id, minute_aggregates, events_sample):
    """Publish what one committed batch added for one app.

    ``org_id``: int. ``app_id``: str (UUID).

    ``minute_aggregates``: list of dicts, the increments this batch applied, one per
    (transaction, minute) plus one per (type, minute) for the whole app
    (``transaction_id`` None)::

        {"minute": 1764129960, "txn_type": "web", "transaction_id": 17 or None,
         "name": "shop.views.checkout" or None, "count": 12, "errors": 1,
         "sum": 1.234, "min": 0.010, "max": 0.400,        # seconds
         "apdex_s": 10, "apdex_t": 1, "apdex_f": 1}

    ``events_sample``: list of at most ~500 dicts, in the shape of the events endpoint
    of docs/query-api.md::

        {"t": 1764129990.12, "transaction_id": 17, "name": "...", "type": "web",
         "duration_ms": 84.0, "status": 200, "error": False,
         "trace_id": "32 hex", "has_trace": False}

    No-op until the websocket side fills it in.
    """
    return None
