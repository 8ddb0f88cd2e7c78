"""The production database roles: the web and workers connect as a role that reads and
writes rows and can do nothing else (PostgreSQL)."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from academy.db_roles import append_only_tables, role_facts
from academy.install_checks import check_database_role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROLE = "academy_test_runtime"


@pytest.fixture
def runtime(django_db_blocker):
    """A connection of its own as the runtime role ``manage.py db_roles`` made."""
    call_command("db_roles", "--role", ROLE, "--password", "runtime-pw")
    settings = connection.settings_dict
    conn = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user=ROLE,
        password="runtime-pw",
        autocommit=True,
    )
    yield conn
    conn.close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {ROLE}")
        cursor.execute(f"DROP ROLE {ROLE}")


def _refused(conn, sql: str, params=None) -> str:
    with pytest.raises(psycopg.Error) as error:
        conn.execute(sql, params)
    return str(error.value)


def test_the_runtime_role_reads_and_writes_rows_and_nothing_else(runtime):
    # rows: read, insert, update, delete
    assert runtime.execute("SELECT count(*) FROM academy_location").fetchone()[0] >= 0
    runtime.execute(
        "INSERT INTO academy_location (id, code, name, address, phone, email, is_active, created_at, updated_at) "
        "VALUES (gen_random_uuid(), 'RT', 'Runtime', '', '', '', true, now(), now())"
    )
    runtime.execute("UPDATE academy_location SET name = 'Runtime campus' WHERE code = 'RT'")
    runtime.execute("DELETE FROM academy_location WHERE code = 'RT'")
    # no DDL, no trigger switched off, no replication-role bypass, no TRUNCATE
    assert "must be owner" in _refused(runtime, "ALTER TABLE finance_payment DISABLE TRIGGER ALL")
    assert "must be owner" in _refused(runtime, "DROP TRIGGER finance_payment_append_only ON finance_payment")
    assert "permission denied" in _refused(runtime, "CREATE TABLE academy_sneaky (id int)")
    assert "permission denied" in _refused(runtime, "SET session_replication_role = replica")
    assert "permission denied" in _refused(runtime, "TRUNCATE academy_location")
    # the append-only tables: no DELETE privilege (their triggers refuse UPDATE as well)
    assert "permission denied" in _refused(runtime, "DELETE FROM finance_ledgerentry")
    # the audit log: it writes a row, and may neither change nor remove it
    runtime.execute(
        "INSERT INTO academy_auditlog (created_at, actor_username, interface, method, path, view_name, "
        "status_code, summary, request_data) VALUES (now(), '', 'api', 'POST', '/x', '', 201, 'kept', '{}')"
    )
    assert "append-only" in _refused(runtime, "UPDATE academy_auditlog SET summary = ''")
    assert "keeps every row" in _refused(runtime, "DELETE FROM academy_auditlog")


def test_tables_a_later_migration_adds_are_granted_by_default(runtime):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE academy_later (id serial PRIMARY KEY, note text)")
    try:
        runtime.execute("INSERT INTO academy_later (note) VALUES ('a row')")
        assert runtime.execute("SELECT note FROM academy_later").fetchone() == ("a row",)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE academy_later")


def test_verify_install_says_which_role_it_runs_as(runtime):
    owner = role_facts()
    assert not owner.restricted
    ok, message = check_database_role()
    assert ok and f"runs as {owner.name}" in message and "manage.py db_roles" in message
    # as the runtime role the facts say restricted
    row = runtime.execute(
        "SELECT rolsuper, has_schema_privilege(current_user, 'public', 'CREATE') "
        "FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False)
    owned = runtime.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND pg_has_role(current_user, tableowner, 'USAGE')"
    ).fetchone()[0]
    assert owned == 0


def test_the_append_only_tables_are_found_by_their_trigger():
    assert set(append_only_tables()) >= {"finance_payment", "finance_ledgerentry", "finance_refund"}
    assert "academy_auditlog" not in append_only_tables()  # its own guard allows pruning old rows
