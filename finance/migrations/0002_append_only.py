"""Database-level guarantees for money: payments, allocations, verifications, reversals,
refunds and ledger entries can be inserted, never updated or deleted (PostgreSQL and
SQLite triggers); on PostgreSQL TRUNCATE is refused too.

The one escape is for throw-away databases: a PostgreSQL session that sets
``academy.allow_truncate = on`` may TRUNCATE (the test suite's flush does). UPDATE and
DELETE have no escape.
"""

from django.db import migrations

from finance.migrations._append_only import drop_append_only, ensure_append_only


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial")]

    operations = [migrations.RunPython(ensure_append_only, drop_append_only)]
