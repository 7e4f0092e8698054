"""apm_stalehour: the hours whose hour and day rollups are behind their minutes, marked in
the ingest batch's transaction (apm/stale_hours.py). It replaces the Redis set the workers
added to after their commit; the hours of the last day that have minutes are marked once
here, so nothing that set held is missed."""

import django.db.models.deletion
from django.db import migrations, models

_VERSION = """
CREATE SEQUENCE apm_stalehour_version_seq OWNED BY apm_stalehour.version;
ALTER TABLE apm_stalehour ALTER COLUMN version SET DEFAULT nextval('apm_stalehour_version_seq');
INSERT INTO apm_stalehour (organization_id, hour)
SELECT DISTINCT organization_id, date_trunc('hour', time) FROM apm_appminute
WHERE time >= now() - interval '26 hours'
UNION
SELECT DISTINCT organization_id, date_trunc('hour', time) FROM apm_instanceminute
WHERE time >= now() - interval '26 hours';
"""


class Migration(migrations.Migration):
    dependencies = [
        ("apm", "0007_trace_without_org_constraint"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaleHour",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("hour", models.DateTimeField()),
                ("version", models.BigIntegerField()),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.organization"
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("organization", "hour"), name="stale_hour_unique")],
            },
        ),
        migrations.RunSQL(_VERSION, reverse_sql=migrations.RunSQL.noop),
    ]
