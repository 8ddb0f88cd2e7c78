"""The database roles of a production install (PostgreSQL).

The append-only triggers (money tables, the audit log) stop a bug, but the role that
owns a table can switch its triggers off (``ALTER TABLE ... DISABLE TRIGGER``), and a
superuser can also skip them for a session (``SET session_replication_role``). So in
production two roles:

- the **owner** (the one ``manage.py migrate`` runs as) creates and alters the tables;
- the **runtime role** (the web and worker processes' ``DATABASE_URL``) may only read
  and write rows: SELECT, INSERT, UPDATE, DELETE on the tables and use of their
  sequences; no TRUNCATE, no DDL, no ownership, not a superuser, so it can neither
  disable a trigger nor change ``session_replication_role``. The append-only tables
  refuse it DELETE twice over (no privilege, and the trigger) and UPDATE by the trigger
  (the privilege stays: ``SELECT ... FOR UPDATE`` needs it).

``manage.py db_roles --role NAME`` (run as the owner, after every ``migrate``: tables a
migration adds get the same grants by default privileges too) creates or updates the
runtime role. ``verify_install`` says which role it runs as.
"""

from dataclasses import dataclass

from django.db import connection

# the trigger function of the append-only tables (their migrations create it)
APPEND_ONLY_FUNCTION = "academy_append_only"


@dataclass(frozen=True)
class RoleFacts:
    name: str
    superuser: bool
    owns_tables: int  # of the project's tables
    can_create_in_schema: bool

    @property
    def restricted(self) -> bool:
        return not self.superuser and not self.owns_tables and not self.can_create_in_schema


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def role_facts() -> RoleFacts | None:
    """The role this connection runs as, and what it could do to the tables (PostgreSQL;
    ``None`` on SQLite, which has no roles)."""
    if connection.vendor != "postgresql":
        return None
    tables = list(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, has_schema_privilege(current_user, current_schema(), 'CREATE') "
            "FROM pg_roles WHERE rolname = current_user"
        )
        name, superuser, create = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND pg_has_role(current_user, tableowner, 'USAGE')",
            [tables],
        )
        (owned,) = cursor.fetchone()
    return RoleFacts(name=name, superuser=superuser, owns_tables=owned, can_create_in_schema=create)


def append_only_tables() -> list[str]:
    """The tables guarded by the append-only trigger function, whichever app has them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = %s AND NOT t.tgisinternal ORDER BY 1",
            [APPEND_ONLY_FUNCTION],
        )
        return [name for (name,) in cursor.fetchall()]


def runtime_role_grant(*, role: str, password: str | None = None) -> list[str]:
    """Create (or update) ``role`` as the runtime role of this database: login, no
    superuser, no DDL; read and write rows of every table, no TRUNCATE, no UPDATE or
    DELETE of the append-only tables. Run as the tables' owner (or a superuser).
    Answers the statements run."""
    database = connection.settings_dict["NAME"]
    quoted = _quote(role)
    statements = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        exists = cursor.fetchone() is not None
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
    statements.append(f"{'ALTER' if exists else 'CREATE'} ROLE {quoted} WITH {attributes}")
    if password:
        with connection.cursor() as cursor:
            cursor.execute("SELECT quote_literal(%s)", [password])
            (literal,) = cursor.fetchone()
        statements.append(f"ALTER ROLE {quoted} PASSWORD {literal}")
    schema = "public"
    statements += [
        f"GRANT CONNECT, TEMPORARY ON DATABASE {_quote(database)} TO {quoted}",
        f"REVOKE CREATE ON SCHEMA {schema} FROM {quoted}",
        f"GRANT USAGE ON SCHEMA {schema} TO {quoted}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quoted}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}",
        *(f"REVOKE DELETE ON {_quote(table)} FROM {quoted}" for table in append_only_tables()),
        # tables and sequences a later migration (run as this owner) creates
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {_quote(owner)} IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {_quote(owner)} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {quoted}",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return [
        statement.split(" PASSWORD ")[0] + (" PASSWORD '…'" if " PASSWORD " in statement else "")
        for statement in statements
    ]
