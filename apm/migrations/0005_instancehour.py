"""Hourly instance rows (apm.models.InstanceHour), filled from the minute samples already kept.

Long instance ranges read hour rows for their whole hours (apm/queries/processes.py), so
the hours before this migration are backfilled here; apm/downsample.py keeps them up to date.
"""

import django.db.models.deletion
from django.db import migrations, models

_LAST = ("cpu_percent", "memory_bytes", "threads", "started_at", "agent_version", "runtime_version", "framework")
BACKFILL = (
    "INSERT INTO apm_instancehour (organization_id, app_id, host, pid, time, samples, cpu_sum, cpu_max, memory_sum, "
    "memory_max, last_time, last_cpu_percent, last_memory_bytes, threads, started_at, agent_version, runtime_version, "
    "framework) SELECT organization_id, app_id, host, pid, date_trunc('hour', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' "
    "AS b, count(*), sum(cpu_percent), max(cpu_percent), sum(memory_bytes), max(memory_bytes), max(time), "
    + ", ".join(f"(array_agg({c} ORDER BY time DESC))[1]" for c in _LAST)
    + " FROM apm_instanceminute GROUP BY organization_id, app_id, host, pid, b"
)


class Migration(migrations.Migration):
    dependencies = [
        ("apm", "0004_cheaper_toast"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="InstanceHour",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("host", models.CharField(max_length=255)),
                ("pid", models.IntegerField()),
                ("time", models.DateTimeField()),
                ("samples", models.IntegerField()),
                ("cpu_sum", models.FloatField()),
                ("cpu_max", models.FloatField()),
                ("memory_sum", models.BigIntegerField()),
                ("memory_max", models.BigIntegerField()),
                ("last_time", models.DateTimeField()),
                ("last_cpu_percent", models.FloatField()),
                ("last_memory_bytes", models.BigIntegerField()),
                ("threads", models.IntegerField(null=True)),
                ("started_at", models.DateTimeField(null=True)),
                ("agent_version", models.CharField(blank=True, max_length=64)),
                ("runtime_version", models.CharField(blank=True, max_length=64)),
                ("framework", models.CharField(blank=True, max_length=128)),
                (
                    "app",
                    models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.app"),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.organization"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["app", "time"], name="instance_hour_app_time")],
                "constraints": [
                    models.UniqueConstraint(fields=("app", "host", "pid", "time"), name="instance_hour_unique")
                ],
            },
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
