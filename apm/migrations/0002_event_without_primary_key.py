"""apm_event loses its primary key index: events are only appended (COPY), read by
(app, time) and dropped by partition, so a unique index on (id, end_time) would only
slow every COPY. The id column stays (Django addresses rows by it)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("apm", "0001_initial")]

    operations = [
        migrations.RunSQL(
            'ALTER TABLE "apm_event" DROP CONSTRAINT IF EXISTS "apm_event_pkey"',
            'ALTER TABLE "apm_event" ADD PRIMARY KEY ("id", "end_time")',
        ),
    ]
