"""Sampled events move from one row each (apm_event) to one row per payload with the
event columns as arrays (apm_eventbatch): ~200 rows, tuple headers and index entries
per payload became one, the largest share of Postgres CPU at ingest (bench/ingest.py).

Like the other high-volume tables, apm_eventbatch is range-partitioned by day (on
``end_max``) and created here by hand; Django's state only describes it. Existing
events are carried over grouped per (app, minute), then apm_event is dropped.
"""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models

CREATE = """
CREATE TABLE "apm_eventbatch" (
    "id" bigserial NOT NULL,
    "organization_id" bigint NOT NULL,
    "app_id" uuid NOT NULL,
    "end_min" timestamp with time zone NOT NULL,
    "end_max" timestamp with time zone NOT NULL,
    "transaction_ids" bigint[] NOT NULL,
    "end_times" double precision[] NOT NULL,
    "durations" double precision[] NOT NULL,
    "statuses" smallint[] NOT NULL,
    "errors" boolean[] NOT NULL,
    "trace_ids" varchar(32)[] NOT NULL,
    "has_trace" boolean[] NOT NULL
) PARTITION BY RANGE ("end_max");
CREATE INDEX "eventbatch_app_end" ON "apm_eventbatch" ("app_id", "end_max");
"""

# No primary key index, as on apm_event since 0002: rows are only appended, read by
# (app, time) and dropped by partition.
DROP = 'DROP TABLE IF EXISTS "apm_eventbatch"'

CARRY_OVER = """
INSERT INTO "apm_eventbatch" (organization_id, app_id, end_min, end_max, transaction_ids, end_times, durations,
    statuses, errors, trace_ids, has_trace)
SELECT organization_id, app_id, min(end_time), max(end_time), array_agg(transaction_id ORDER BY end_time),
    array_agg(extract(epoch FROM end_time)::float8 ORDER BY end_time), array_agg(duration ORDER BY end_time),
    array_agg(status ORDER BY end_time), array_agg(error ORDER BY end_time), array_agg(trace_id ORDER BY end_time),
    array_agg(has_trace ORDER BY end_time)
FROM "apm_event" GROUP BY organization_id, app_id, date_trunc('minute', end_time)
"""

OLD_EVENT = """
CREATE TABLE "apm_event" (
    "id" bigserial NOT NULL,
    "organization_id" bigint NOT NULL,
    "app_id" uuid NOT NULL,
    "transaction_id" bigint NOT NULL,
    "end_time" timestamp with time zone NOT NULL,
    "duration" double precision NOT NULL,
    "status" smallint NULL,
    "error" boolean NOT NULL DEFAULT false,
    "trace_id" varchar(32) NOT NULL,
    "has_trace" boolean NOT NULL DEFAULT false
) PARTITION BY RANGE ("end_time");
CREATE INDEX "event_app_end" ON "apm_event" ("app_id", "end_time");
"""


def _partition(cursor, table, day):
    # Frozen copy of the layout apm/partitions.py maintains: one partition per UTC day.
    import datetime

    nxt = day + datetime.timedelta(days=1)
    cursor.execute(
        f'CREATE TABLE IF NOT EXISTS "{table}_p{day:%Y%m%d}" PARTITION OF "{table}" '
        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{nxt.isoformat()}')"
    )


def _days(cursor, parent):
    import datetime

    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        [parent],
    )
    return {datetime.datetime.strptime(name[-8:], "%Y%m%d").date() for (name,) in cursor.fetchall()}


def _carry_over(apps, schema_editor):
    import datetime

    today = datetime.datetime.now(datetime.timezone.utc).date()
    with schema_editor.connection.cursor() as cursor:
        days = _days(cursor, "apm_event") | {today + datetime.timedelta(days=d) for d in range(-9, 4)}
        # Groups are per minute, so a group's end_max falls in a day apm_event had.
        for day in sorted(days):
            _partition(cursor, "apm_eventbatch", day)
        cursor.execute(CARRY_OVER)
        cursor.execute('DROP TABLE "apm_event"')


def _restore_event(apps, schema_editor):
    # Backwards: an empty apm_event (the batches are not split back into rows).
    import datetime

    today = datetime.datetime.now(datetime.timezone.utc).date()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(OLD_EVENT)
        for d in range(-9, 4):
            _partition(cursor, "apm_event", today + datetime.timedelta(days=d))


class Migration(migrations.Migration):
    dependencies = [
        ("apm", "0002_event_without_primary_key"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Event"),
                migrations.CreateModel(
                    name="EventBatch",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("end_min", models.DateTimeField()),
                        ("end_max", models.DateTimeField()),
                        ("transaction_ids", django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), size=None)),
                        ("end_times", django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), size=None)),
                        ("durations", django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), size=None)),
                        ("statuses", django.contrib.postgres.fields.ArrayField(base_field=models.SmallIntegerField(null=True), size=None)),
                        ("errors", django.contrib.postgres.fields.ArrayField(base_field=models.BooleanField(), size=None)),
                        ("trace_ids", django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=32), size=None)),
                        ("has_trace", django.contrib.postgres.fields.ArrayField(base_field=models.BooleanField(), size=None)),
                        ("app", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.app")),
                        ("organization", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.organization")),
                    ],
                    options={
                        "indexes": [models.Index(fields=["app", "end_max"], name="eventbatch_app_end")],
                    },
                ),
            ],
        ),
        migrations.RunSQL(CREATE, DROP),
        migrations.RunPython(_carry_over, _restore_event),
    ]
