"""``verify_install`` checks of the students app: the trigram search index on PostgreSQL."""

from django.db import connection

from academy.common.registry import install_check


def postgres_index_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s", [name])
        return cursor.fetchone() is not None


@install_check("student search index")
def check_student_search_index() -> tuple[bool, str]:
    if connection.vendor != "postgresql":
        return True, f"not used on {connection.vendor} (search scans the search_text column)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_trgm'")
        extension = cursor.fetchone()
    if extension is None:
        return False, "extension pg_trgm is not installed"
    if not postgres_index_exists("student_search_trgm"):
        return False, "index student_search_trgm is missing"
    return True, f"pg_trgm {extension[0]} and student_search_trgm present"
