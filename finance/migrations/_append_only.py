"""Append-only triggers for the money tables, for migrations to call.

``ensure_append_only`` is idempotent. On SQLite, a migration that alters one of these
tables may rebuild it (copy, drop, rename), which drops its triggers: every such
migration must end with ``migrations.RunPython(ensure_append_only, noop)``. The
``verify_install`` check "money tables are append-only" fails if one is missing.
"""

from academy.common.db_guards import TRUNCATE_GUARD_SQL

APPEND_ONLY_TABLES = (
    "finance_payment",
    "finance_paymentallocation",
    "finance_paymentverification",
    "finance_paymentreversal",
    "finance_refund",
    "finance_ledgerentry",
)

PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION academy_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

"""


def ensure_append_only(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS, params=None)
        schema_editor.execute(TRUNCATE_GUARD_SQL, params=None)
        for table in APPEND_ONLY_TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION academy_append_only()"
            )
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION academy_append_only_truncate()"
            )
    elif vendor == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for operation in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} is not allowed'); END"
                )


def drop_append_only(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in APPEND_ONLY_TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
