"""Telemetry storage: rollups at three resolutions, error groups, traces, events, instances.

Every row carries its organisation. High-volume tables (minute rollups, events,
traces, the processed-batch ledger) are range-partitioned by day in PostgreSQL
(see apm/partitions.py and migration 0001): retention drops whole partitions
instead of deleting rows under the ingest workers' feet. On those tables the
database primary key is (id, <partition column>); Django only needs ``id``.

Writes go through apm/rollup/ (bulk SQL); reads through the query layer, apm/queries/.
Durations are stored in seconds.
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Func, Sum
from django.utils import timezone

from apm.fields import JSONBytesField
from tenants.scoping import OrgOwnedModel


class TxnType(models.TextChoices):
    WEB = "web", "Web"
    BACKGROUND = "background", "Background"


class Transaction(OrgOwnedModel):
    """A transaction name of an app; rollups reference it by id instead of repeating the name."""

    id = models.BigAutoField(primary_key=True)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=10, choices=TxnType.choices)
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "type", "name"], name="txn_unique_per_app")]

    def __str__(self):
        return self.name


class Operation(OrgOwnedModel):
    """A database or external operation of an app (protocol ``operations[]``): the database
    system and the statement's operation and table, or the host and HTTP method."""

    id = models.BigAutoField(primary_key=True)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=[("database", "database"), ("external", "external")])
    service = models.CharField(max_length=255)  # database system, or host[:port]
    operation = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True)  # the table; "" when none
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "kind", "service", "operation", "target"], name="operation_unique_per_app")
        ]

    def __str__(self):
        return f"{self.operation} {self.target}".strip()


class RollupFields(OrgOwnedModel):
    """Exact aggregates of one bucket; ``sketch`` is an encoded pulse_agent DDSketch."""

    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    time = models.DateTimeField()  # bucket start (UTC)
    count = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    sum = models.FloatField(default=0.0)
    min = models.FloatField(null=True)
    max = models.FloatField(null=True)
    apdex_s = models.BigIntegerField(default=0)
    apdex_t = models.BigIntegerField(default=0)
    apdex_f = models.BigIntegerField(default=0)
    seg_python = models.FloatField(default=0.0)
    seg_database = models.FloatField(default=0.0)
    seg_external = models.FloatField(default=0.0)
    seg_template = models.FloatField(default=0.0)
    sketch = models.BinaryField(default=b"")

    class Meta:
        abstract = True


class TxnRollup(RollupFields):
    id = models.BigAutoField(primary_key=True)
    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class AppRollup(RollupFields):
    """All transactions of one type of an app in one bucket."""

    id = models.BigAutoField(primary_key=True)
    txn_type = models.CharField(max_length=10, choices=TxnType.choices)

    class Meta:
        abstract = True


class TransactionMinute(TxnRollup):  # partitioned by day on ``time``
    class Meta:
        constraints = [models.UniqueConstraint(fields=["transaction", "time"], name="txn_minute_unique")]
        indexes = [models.Index(fields=["app", "time"], name="txn_minute_app_time")]


class TransactionHour(TxnRollup):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["transaction", "time"], name="txn_hour_unique")]
        indexes = [models.Index(fields=["app", "time"], name="txn_hour_app_time")]


class TransactionDay(TxnRollup):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["transaction", "time"], name="txn_day_unique")]
        indexes = [models.Index(fields=["app", "time"], name="txn_day_app_time")]


class AppMinute(AppRollup):  # partitioned by day on ``time``
    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "txn_type", "time"], name="app_minute_unique")]


class AppHour(AppRollup):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "txn_type", "time"], name="app_hour_unique")]


class AppDay(AppRollup):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "txn_type", "time"], name="app_day_unique")]


class ErrorGroup(OrgOwnedModel):
    """Errors with one fingerprint: class + normalised message + top in-app frame."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=40)  # sha1 hex
    error_class = models.CharField(max_length=255)
    message = models.TextField()  # the normalised message (numbers, ids, quoted values replaced)
    top_frame = models.CharField(max_length=1024, blank=True)
    transaction_name = models.CharField(max_length=255, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "fingerprint"], name="error_group_unique")]
        indexes = [models.Index(fields=["app", "last_seen"], name="error_group_app_seen")]


class ErrorMinute(OrgOwnedModel):
    id = models.BigAutoField(primary_key=True)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="+")
    time = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "time"], name="error_minute_unique")]
        indexes = [models.Index(fields=["app", "time"], name="error_minute_app_time")]


class ErrorSample(OrgOwnedModel):
    """One occurrence with its stack; at most ERROR_SAMPLES_PER_GROUP newest are kept per group."""

    id = models.BigAutoField(primary_key=True)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="+")
    time = models.DateTimeField()
    error_class = models.CharField(max_length=255)
    message = models.TextField()  # as sent
    transaction_name = models.CharField(max_length=255, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    stack = models.JSONField(default=list)  # [{file, line, function, code}], innermost last

    class Meta:
        indexes = [models.Index(fields=["group", "time"], name="error_sample_group_time")]


class Trace(OrgOwnedModel):  # partitioned by day on ``start``
    """A slow transaction with its span tree; ``trace_id`` is the W3C id the agent sent."""

    id = models.BigAutoField(primary_key=True)
    # No database-level foreign keys, like EventBatch: a constraint checked per row at
    # every commit (and a lock on the organisation's row) for three rows a payload.
    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    app = models.ForeignKey(
        "tenants.App", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    transaction = models.ForeignKey(
        Transaction, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    trace_id = models.CharField(max_length=32)
    parent_span_id = models.CharField(max_length=16, blank=True)
    start = models.DateTimeField()
    duration = models.FloatField()
    status = models.SmallIntegerField(null=True)
    error = models.BooleanField(default=False)
    span_count = models.IntegerField(default=0)
    spans = JSONBytesField(default=list)  # JSON [{id, parent, kind, name, offset, duration, attrs}]

    class Meta:
        indexes = [
            models.Index(fields=["app", "start"], name="trace_app_start"),
            models.Index(fields=["transaction", "start"], name="trace_txn_start"),
            models.Index(fields=["organization", "trace_id"], name="trace_org_trace_id"),
        ]


# Most an EventBatch row's end_max - end_min may be: readers (apm/queries/event_samples.py)
# look for a window's events in rows whose end_max lies in [since, until + span), so it is
# kept short (a harvest covers about a minute); the writer (apm/rollup/events.py) splits a
# payload whose events lie further apart into several rows.
EVENT_BATCH_SPAN = 600


class EventBatch(OrgOwnedModel):  # partitioned by day on ``end_max``; written with COPY
    """The sampled transactions (the agent's reservoir) of one payload, stored column-wise.

    One row per applied payload instead of one per event: the event columns are
    parallel arrays (element i of each array is event i). Ingest writes ~200 events a
    payload; a row each cost more Postgres CPU (tuple headers, index entries) than the
    rest of the pipeline. Readers unnest them (apm/queries/event_samples.py ``events``).
    ``end_min``/``end_max`` bound the events' end times, for range filters and pruning.
    """

    id = models.BigAutoField(primary_key=True)
    # No database-level foreign keys (as on Trace). Rows of a deleted app are removed by
    # Django's cascade or, at the latest, with their partition.
    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    app = models.ForeignKey(
        "tenants.App", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    end_min = models.DateTimeField()
    end_max = models.DateTimeField()
    transaction_ids = ArrayField(models.BigIntegerField())
    end_times = ArrayField(models.FloatField())  # unix seconds
    durations = ArrayField(models.FloatField())  # seconds
    statuses = ArrayField(models.SmallIntegerField(null=True))
    errors = ArrayField(models.BooleanField())
    trace_ids = ArrayField(models.CharField(max_length=32))
    has_trace = ArrayField(models.BooleanField())

    class Meta:
        indexes = [models.Index(fields=["app", "end_max"], name="eventbatch_app_end")]

    @staticmethod
    def events_in(batches):
        """How many events a queryset of batches holds (one per array element)."""
        n = batches.aggregate(n=Sum(Func("transaction_ids", function="cardinality")))["n"]
        return n or 0


class InstanceMinute(OrgOwnedModel):
    """The last sample of one agent process (host, pid) in one minute."""

    id = models.BigAutoField(primary_key=True)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    time = models.DateTimeField()
    cpu_percent = models.FloatField()
    memory_bytes = models.BigIntegerField()
    threads = models.IntegerField(null=True)
    started_at = models.DateTimeField(null=True)
    agent_version = models.CharField(max_length=64, blank=True)
    runtime_version = models.CharField(max_length=64, blank=True)
    framework = models.CharField(max_length=128, blank=True)
    dropped = models.JSONField(default=dict)
    # Runtime metrics of the sample's harvest period; null from agents that do not send them.
    gc_percent = models.FloatField(null=True)  # share of wall time spent in garbage collection
    gc_per_minute = models.JSONField(null=True)  # collections per minute, per generation
    loop_lag = models.FloatField(null=True)  # longest event-loop lateness, seconds
    db_connections = models.IntegerField(null=True)  # open, summed over db_pools
    db_pools = models.JSONField(null=True)  # [{name, open, in_use, max}]

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "host", "pid", "time"], name="instance_minute_unique")]
        indexes = [models.Index(fields=["app", "time"], name="instance_minute_app_time")]


class InstanceHour(OrgOwnedModel):
    """One agent process (host, pid) over one hour: sums of its minute samples (mergeable into
    longer buckets) and its newest sample, recomputed by apm/downsample.py."""

    id = models.BigAutoField(primary_key=True)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    time = models.DateTimeField()  # hour start (UTC)
    samples = models.IntegerField()  # minutes with a sample
    cpu_sum = models.FloatField()
    cpu_max = models.FloatField()
    memory_sum = models.BigIntegerField()
    memory_max = models.BigIntegerField()
    last_time = models.DateTimeField()  # the newest sample's minute, and what it said:
    last_cpu_percent = models.FloatField()
    last_memory_bytes = models.BigIntegerField()
    threads = models.IntegerField(null=True)
    started_at = models.DateTimeField(null=True)
    agent_version = models.CharField(max_length=64, blank=True)
    runtime_version = models.CharField(max_length=64, blank=True)
    framework = models.CharField(max_length=128, blank=True)
    gc_sum = models.FloatField(null=True)  # sum of the minutes' gc_percent ...
    gc_samples = models.IntegerField(default=0)  # ... over this many minutes that had one
    loop_lag_max = models.FloatField(null=True)
    db_connections_max = models.IntegerField(null=True)
    gc_per_minute = models.JSONField(null=True)  # the newest sample's
    db_pools = models.JSONField(null=True)  # the newest sample's

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "host", "pid", "time"], name="instance_hour_unique")]
        indexes = [models.Index(fields=["app", "time"], name="instance_hour_app_time")]


class StaleHour(OrgOwnedModel):
    """An hour whose hour and day rollups are behind its minutes (apm/stale_hours.py)."""

    id = models.BigAutoField(primary_key=True)
    hour = models.DateTimeField()
    # New from a sequence (migration 0008) each time a batch touches the hour, so a
    # downsample removes the mark only if no batch came after what it read.
    version = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "hour"], name="stale_hour_unique")]


class ProcessedBatch(OrgOwnedModel):  # partitioned by day on ``sent_day``
    """Ledger of applied payloads, written in the same transaction as their rollups.

    Agents keep ``batch_id`` and ``sent_at`` across retries, so a retry lands in the same
    partition and the unique key filters it out.
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    batch_id = models.CharField(max_length=32)
    sent_day = models.DateField()
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "batch_id", "sent_day"], name="processed_batch_unique")
        ]


class Deployment(OrgOwnedModel):
    """A release of an app, recorded by its CI (POST /api/v1/deployments) or by hand; marked on
    the app's charts and compared hour before against hour after."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="+")
    time = models.DateTimeField()
    version = models.CharField(max_length=100)
    commit = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=1000, blank=True)
    user = models.CharField(max_length=100, blank=True)  # who deployed, as the caller names them
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["app", "time"], name="deployment_app_time")]
