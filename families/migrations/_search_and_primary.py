"""The guardian search index and the deferred "an active student has a primary guardian"
triggers (PostgreSQL)."""

# At commit, every active, not deleted student has a primary guardian. Deferred so a
# student and its guardian links can be written in either order inside one transaction.
# "At most one primary" is the partial unique index one_primary_guardian_per_student.
PRIMARY_CHECK = """
CREATE OR REPLACE FUNCTION academy_check_student_has_primary(student uuid) RETURNS void AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM students_student s
        WHERE s.id = student AND s.status = 'active' AND s.deleted_at IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM families_studentguardian l
              WHERE l.student_id = s.id AND l.relationship_type = 'primary'
          )
    ) THEN
        RAISE EXCEPTION 'Active student % must have exactly one primary guardian', student
            USING ERRCODE = '23514', CONSTRAINT = 'active_student_has_primary_guardian';
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION academy_student_primary_guardian_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'students_student' THEN
        PERFORM academy_check_student_has_primary(NEW.id);
    ELSE
        PERFORM academy_check_student_has_primary(OLD.student_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER student_has_primary_guardian
    AFTER INSERT OR UPDATE OF status, deleted_at ON students_student
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION academy_student_primary_guardian_trigger();

CREATE CONSTRAINT TRIGGER student_guardian_keeps_primary
    AFTER UPDATE OR DELETE ON families_studentguardian
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION academy_student_primary_guardian_trigger();
"""

DROP = """
DROP TRIGGER IF EXISTS student_guardian_keeps_primary ON families_studentguardian;
DROP TRIGGER IF EXISTS student_has_primary_guardian ON students_student;
DROP FUNCTION IF EXISTS academy_student_primary_guardian_trigger();
DROP FUNCTION IF EXISTS academy_check_student_has_primary(uuid);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS guardian_search_trgm ON families_guardian USING gin (search_text gin_trgm_ops)"
    )
    schema_editor.execute(PRIMARY_CHECK, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS guardian_search_trgm")
    schema_editor.execute(DROP)
