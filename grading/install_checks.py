"""``verify_install`` checks of the grading app (the install checklist of docs/rules.md):
the database's guard on results is in place (``grading.migrations._result_guard``), and
it refuses, in a savepoint that is always rolled back, a direct change of grade and a
deletion of a published or frozen result."""

from django.db import DatabaseError, connection, transaction

from academy.common.registry import install_check
from grading.migrations._result_guard import SQLITE_TRIGGERS, TABLE

GUARD_CODES = ("result_published", "result_frozen")


class _Rollback(Exception):
    pass


def _guard_installed() -> bool:
    """``_result_guard.result_guard_installed``'s question, asked with Django's ``%s``
    placeholders: that function passes SQLite's ``?``, which the query log (``DEBUG``,
    ``CaptureQueriesContext``) cannot format, so it raises there."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", [f"{TABLE}_guard"])
            return cursor.fetchone()[0] == 1
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            return set(SQLITE_TRIGGERS) <= {row[0] for row in cursor.fetchall()}
    return False


def _refused(sql: str, params: list) -> bool:
    """Whether the guard refuses ``sql``, run in a savepoint that is always rolled back;
    any other error does not count as refused."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL lock_timeout = '5s'")  # never queue long behind a busy row
                cursor.execute(sql, params)
            raise _Rollback
    except _Rollback:
        return False
    except DatabaseError as error:
        return any(code in str(error) for code in GUARD_CODES)


def _guard_probe() -> tuple[list[str], int]:
    """Try a new grade and a deletion on one published and one frozen result (when there
    are any), always rolled back. Answers what went through and how many rows were tried."""
    table = connection.ops.quote_name(TABLE)
    allowed, tried = [], 0
    for state in ("published", "frozen"):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {table} WHERE state = %s LIMIT 1", [state])  # noqa: S608 (our table)
            row = cursor.fetchone()
        if row is None:
            continue
        tried += 1
        grade = f"UPDATE {table} SET letter_grade = CASE WHEN letter_grade = 'Z' THEN 'Y' ELSE 'Z' END WHERE id = %s"  # noqa: S608
        if not _refused(grade, [row[0]]):
            allowed.append(f"a new grade on a {state} result")
        if not _refused(f"DELETE FROM {table} WHERE id = %s", [row[0]]):  # noqa: S608
            allowed.append(f"deleting a {state} result")
    return allowed, tried


@install_check("results guard")
def check_result_guard() -> tuple[bool, str]:
    if not _guard_installed():
        return False, (
            f"the triggers on {TABLE} are missing: published results could change without an approved "
            "request (run manage.py migrate; a migration that rebuilds the table must end with ensure_result_guard)"
        )
    allowed, tried = _guard_probe()
    if allowed:
        return False, f"the database allowed {', '.join(allowed)} (rolled back)"
    tried_text = f"tried on {tried} result(s), rolled back" if tried else "no published result yet to try it on"
    return True, f"published and frozen results refuse direct changes and deletion ({tried_text})"
