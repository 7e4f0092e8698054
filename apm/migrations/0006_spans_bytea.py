"""Trace span trees as bytea: the JSON bytes as ingest validated them, not re-checked by
Postgres (apm/fields.py JSONBytesField). Existing rows keep their text, as UTF-8."""

from django.db import migrations

import apm.fields

_LZ4 = """
DO $$
DECLARE part regclass;
BEGIN
    ALTER TABLE ONLY apm_trace ALTER COLUMN spans SET COMPRESSION lz4;
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'apm_trace'::regclass LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN spans SET COMPRESSION lz4', part);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available in this PostgreSQL build; trace spans keep pglz';
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("apm", "0005_instancehour")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="trace", name="spans", field=apm.fields.JSONBytesField(default=list)),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE apm_trace ALTER COLUMN spans DROP DEFAULT; "
                    "ALTER TABLE apm_trace ALTER COLUMN spans TYPE bytea USING convert_to(spans::text, 'UTF8')",
                    reverse_sql="ALTER TABLE apm_trace ALTER COLUMN spans TYPE json "
                    "USING convert_from(spans, 'UTF8')::json",
                ),
                migrations.RunSQL(_LZ4, reverse_sql=migrations.RunSQL.noop),
            ],
        ),
    ]
