"""The trigram index for search-as-you-type over number, names, email and phone
(PostgreSQL; SQLite searches with a plain LIKE scan, see students.selectors)."""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite searches with a plain LIKE scan (see students.selectors)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS student_search_trgm ON students_student USING gin (search_text gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS student_search_trgm")
