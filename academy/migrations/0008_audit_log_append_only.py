"""The audit log becomes append-only in the database (``academy.common.db_guards``): no
UPDATE but the account-deleted SET NULL, DELETE only of rows older than 30 days, no
TRUNCATE (PostgreSQL; SQLite guards UPDATE)."""

from django.db import migrations

from academy.common.db_guards import audit_log_guard, audit_log_unguard


class Migration(migrations.Migration):
    dependencies = [("academy", "0007_location_billing_day")]

    operations = [migrations.RunPython(audit_log_guard, audit_log_unguard)]
