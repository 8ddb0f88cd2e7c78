"""``verify_install`` checks of the families app: the primary-guardian triggers and the
guardian search index on PostgreSQL, and the rule itself on the data: every active
student has exactly one primary guardian."""

from django.db import connection
from django.db.models import Count, Q

from academy.common.registry import install_check
from families.models import StudentGuardian
from students.install_checks import postgres_index_exists
from students.models import Student

# trigger name -> the table it guards
PRIMARY_GUARDIAN_TRIGGERS = {
    "student_has_primary_guardian": "students_student",
    "student_guardian_keeps_primary": "families_studentguardian",
}


@install_check("primary guardian triggers")
def check_primary_guardian_triggers() -> tuple[bool, str]:
    if connection.vendor != "postgresql":
        return True, f"not available on {connection.vendor}; the services keep the rule"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.tgname, c.relname, t.tgenabled, t.tgdeferrable, t.tginitdeferred
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND t.tgname = ANY(%s) AND pg_table_is_visible(c.oid)
            """,
            [list(PRIMARY_GUARDIAN_TRIGGERS)],
        )
        found = {name: (table, enabled, deferrable, deferred) for name, table, enabled, deferrable, deferred in cursor}
    problems = []
    for name, table in PRIMARY_GUARDIAN_TRIGGERS.items():
        if name not in found:
            problems.append(f"{name} missing on {table}")
            continue
        actual_table, enabled, deferrable, deferred = found[name]
        if actual_table != table:
            problems.append(f"{name} is on {actual_table}, not {table}")
        if enabled == "D":
            problems.append(f"{name} is disabled")
        if not (deferrable and deferred):
            problems.append(f"{name} is not deferred to commit")
    if problems:
        return False, "; ".join(problems)
    return True, f"{', '.join(PRIMARY_GUARDIAN_TRIGGERS)} present, enabled, deferred"


@install_check("guardian search index")
def check_guardian_search_index() -> tuple[bool, str]:
    if connection.vendor != "postgresql":
        return True, f"not used on {connection.vendor} (search scans the search_text column)"
    if not postgres_index_exists("guardian_search_trgm"):
        return False, "index guardian_search_trgm is missing"
    return True, "guardian_search_trgm present"


@install_check("active students have one primary guardian")
def check_primary_guardians() -> tuple[bool, str]:
    active = Student.objects.active()
    wrong = list(
        active.annotate(
            primaries=Count(
                "guardian_links", filter=Q(guardian_links__relationship_type=StudentGuardian.RelationshipType.PRIMARY)
            )
        )
        .exclude(primaries=1)
        .values_list("student_number", flat=True)[:6]
    )
    if wrong:
        return (
            False,
            f"without exactly one primary guardian: {', '.join(wrong[:5])}{' and more' if len(wrong) > 5 else ''}",
        )
    return True, f"all {active.count()} active students"
