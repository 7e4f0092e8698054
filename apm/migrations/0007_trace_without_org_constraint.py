"""apm_trace without its database foreign key to the organisation (as apm_eventbatch):
ingest writes three traces a payload, and Postgres checked each at commit."""

import django.db.models.deletion
from django.db import migrations, models

_DROP = """
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'apm_trace'::regclass AND contype = 'f'
               AND confrelid = 'tenants_organization'::regclass LOOP
        EXECUTE format('ALTER TABLE apm_trace DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
"""
_ADD = (
    "ALTER TABLE apm_trace ADD FOREIGN KEY (organization_id) REFERENCES tenants_organization (id) "
    "DEFERRABLE INITIALLY DEFERRED"
)


class Migration(migrations.Migration):
    dependencies = [("apm", "0006_spans_bytea"), ("tenants", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="trace",
                    name="organization",
                    field=models.ForeignKey(
                        db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                        related_name="+", to="tenants.organization",
                    ),
                ),
            ],
            database_operations=[migrations.RunSQL(_DROP, reverse_sql=_ADD)],
        ),
    ]
