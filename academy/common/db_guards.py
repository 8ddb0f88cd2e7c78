"""Database triggers that guard rows against change, for migrations to call.

- ``TRUNCATE_GUARD_SQL``: the statement trigger function every guarded table uses to
  refuse TRUNCATE (only a throw-away test database whose session sets
  ``academy.allow_truncate = on`` may be emptied, by the test suite's flush).
- The audit log (``academy_auditlog``) is append-only: no UPDATE, except the one the
  database makes itself when the acting user's account is deleted (``actor`` set to
  NULL; the username written beside it stays); DELETE only of rows older than
  ``AUDIT_FLOOR_DAYS`` (``manage.py audit_prune`` removes rows past their retention,
  never fewer days than this); no TRUNCATE. SQLite gets the UPDATE guard only: its test
  flush empties tables with DELETE, which a DELETE guard would refuse.
"""

AUDIT_TABLE = "academy_auditlog"
AUDIT_FLOOR_DAYS = 30

TRUNCATE_GUARD_SQL = """
CREATE OR REPLACE FUNCTION academy_append_only_truncate() RETURNS trigger AS $$
BEGIN
    -- only a test database (Django names it test_...) may be emptied, by the suite's flush
    IF coalesce(current_setting('academy.allow_truncate', true), '') = 'on'
            AND current_database() LIKE 'test\\_%' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE is not allowed', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

AUDIT_GUARD_SQL = f"""
CREATE OR REPLACE FUNCTION academy_audit_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL
                AND to_jsonb(NEW) - 'actor_id' = to_jsonb(OLD) - 'actor_id' THEN
            RETURN NEW;  -- the account was deleted (ON DELETE SET NULL)
        END IF;
        RAISE EXCEPTION '% is append-only: UPDATE is not allowed', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.created_at < now() - interval '{AUDIT_FLOOR_DAYS} days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% keeps every row for {AUDIT_FLOOR_DAYS} days: DELETE is not allowed', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

_SQLITE_SAME = " AND ".join(
    f"NEW.{column} IS OLD.{column}"
    for column in (
        "id",
        "created_at",
        "actor_username",
        "interface",
        "method",
        "path",
        "view_name",
        "status_code",
        "summary",
        "request_data",
        "ip_address",
    )
)


def audit_log_guard(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(TRUNCATE_GUARD_SQL, params=None)
        schema_editor.execute(AUDIT_GUARD_SQL, params=None)
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE}_guard ON {AUDIT_TABLE}")
        schema_editor.execute(
            f"CREATE TRIGGER {AUDIT_TABLE}_guard BEFORE UPDATE OR DELETE ON {AUDIT_TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION academy_audit_guard()"
        )
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE}_no_truncate ON {AUDIT_TABLE}")
        schema_editor.execute(
            f"CREATE TRIGGER {AUDIT_TABLE}_no_truncate BEFORE TRUNCATE ON {AUDIT_TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION academy_append_only_truncate()"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_update BEFORE UPDATE ON {AUDIT_TABLE} "
            f"WHEN NOT (NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL AND {_SQLITE_SAME}) "
            f"BEGIN SELECT RAISE(ABORT, '{AUDIT_TABLE} is append-only: UPDATE is not allowed'); END"
        )


def audit_log_unguard(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE}_guard ON {AUDIT_TABLE}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE}_no_truncate ON {AUDIT_TABLE}")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE}_no_update")
