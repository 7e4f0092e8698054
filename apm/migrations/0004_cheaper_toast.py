"""Cheaper TOAST for the two large per-payload writes (measured with bench/ingest.py).

Each payload writes one apm_eventbatch row of seven ~1.6 KB arrays and three
apm_trace rows of a few KB of JSON. With the default pglz compression, Postgres spent
about 150 us of CPU per event row trying to compress arrays of random floats and
ids, which barely compress (12.4 KB vs 15.0 KB stored). So:

- event arrays are stored out of line without compression (STORAGE EXTERNAL; an
  ALTER on the partitioned table reaches every partition, and new partitions inherit it);
- trace spans are stored as ``json`` rather than ``jsonb`` (apm/fields.py): written
  once, read whole, and jsonb's conversion cost twice the CPU of json's syntax check;
- trace spans (JSON, which does compress) use lz4 where the server was built with it
  (Debian's and the official images are), several times cheaper than pglz. Compression
  does not recurse to existing partitions, so each is altered; new ones inherit it.
"""

from django.db import migrations

import apm.fields

EVENT_ARRAYS = ("transaction_ids", "end_times", "durations", "statuses", "errors", "trace_ids", "has_trace")


def _storage(kind):
    return "; ".join(f"ALTER TABLE apm_eventbatch ALTER COLUMN {c} SET STORAGE {kind}" for c in EVENT_ARRAYS)


def _spans_compression(method):
    return f"""
DO $$
DECLARE part regclass;
BEGIN
    ALTER TABLE ONLY apm_trace ALTER COLUMN spans SET COMPRESSION {method};
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'apm_trace'::regclass LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN spans SET COMPRESSION {method}', part);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available in this PostgreSQL build; trace spans keep pglz';
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("apm", "0003_eventbatch")]

    operations = [
        migrations.RunSQL(_storage("EXTERNAL"), reverse_sql=_storage("EXTENDED")),
        migrations.AlterField(model_name="trace", name="spans", field=apm.fields.JSONTextField(default=list)),
        migrations.RunSQL(_spans_compression("lz4"), reverse_sql=_spans_compression("pglz")),
    ]
