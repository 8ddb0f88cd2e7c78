"""The database's guard on results (docs/rules.md, Grading), for migrations to call.

- a frozen result never changes and is never deleted;
- a published result is never deleted, never goes back to draft, and its grade (percentage,
  letter, points, pass) changes only together with ``last_change`` naming an approved
  change request for this result and this new letter;
- drafts are free (they follow the scores).

``ensure_result_guard`` is idempotent. On SQLite a migration that alters
``grading_result`` may rebuild the table, which drops its triggers: every such migration
must end with ``migrations.RunPython(ensure_result_guard, noop)``; ``verify_install``
checks that the guard is in place.
"""

TABLE = "grading_result"

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION grading_result_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'result_%: a % result is never deleted', OLD.state, OLD.state
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state = 'frozen' THEN
        RAISE EXCEPTION 'result_frozen: a frozen result never changes' USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.state = 'published' THEN
        IF NEW.state = 'draft' OR NEW.student_id <> OLD.student_id OR NEW.section_id <> OLD.section_id THEN
            RAISE EXCEPTION 'result_published: a published result does not go back to draft'
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF (NEW.percentage, NEW.letter_grade, NEW.grade_points, NEW.passed)
                IS DISTINCT FROM (OLD.percentage, OLD.letter_grade, OLD.grade_points, OLD.passed)
           AND (NEW.last_change_id IS NOT DISTINCT FROM OLD.last_change_id
                OR NOT EXISTS (
                    SELECT 1 FROM grading_resultchange c
                    WHERE c.id = NEW.last_change_id AND c.result_id = NEW.id
                      AND c.status = 'approved' AND c.new_grade = NEW.letter_grade)) THEN
            RAISE EXCEPTION 'result_published: a published result changes only through an approved change request'
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_TRIGGERS = {
    "grading_result_frozen_no_update": (
        "BEFORE UPDATE ON grading_result WHEN OLD.state = 'frozen' "
        "BEGIN SELECT RAISE(ABORT, 'result_frozen: a frozen result never changes'); END"
    ),
    "grading_result_published_guard": (
        "BEFORE UPDATE ON grading_result WHEN OLD.state = 'published' AND ("
        " NEW.state = 'draft' OR NEW.student_id <> OLD.student_id OR NEW.section_id <> OLD.section_id"
        " OR ((NEW.percentage IS NOT OLD.percentage OR NEW.letter_grade IS NOT OLD.letter_grade"
        "      OR NEW.grade_points IS NOT OLD.grade_points OR NEW.passed IS NOT OLD.passed)"
        "     AND (NEW.last_change_id IS OLD.last_change_id OR NOT EXISTS ("
        "       SELECT 1 FROM grading_resultchange c WHERE c.id = NEW.last_change_id AND c.result_id = NEW.id"
        "       AND c.status = 'approved' AND c.new_grade = NEW.letter_grade))))"
        " BEGIN SELECT RAISE(ABORT, 'result_published: a published result changes only through an approved"
        " change request'); END"
    ),
    "grading_result_no_delete": (
        "BEFORE DELETE ON grading_result WHEN OLD.state <> 'draft' "
        "BEGIN SELECT RAISE(ABORT, 'result_published: a published or frozen result is never deleted'); END"
    ),
}


def ensure_result_guard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_guard ON {TABLE}")
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_guard BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION grading_result_guard()"
        )
    elif vendor == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


def drop_result_guard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_guard ON {TABLE}")
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def result_guard_installed(connection) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", [f"{TABLE}_guard"])
            return cursor.fetchone()[0] == 1
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s)"
                % ", ".join(["%s"] * len(SQLITE_TRIGGERS)),
                list(SQLITE_TRIGGERS),
            )
            return cursor.fetchone()[0] == len(SQLITE_TRIGGERS)
    return False
