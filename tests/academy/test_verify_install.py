"""``manage.py verify_install``: one PASS/FAIL line per check, non-zero exit on any failure."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from academy.common import registry
from academy.models import AcademicYear
from academy.roles import FINANCE, OFFICE_STAFF, PARENT
from families.models import StudentGuardian
from families.services import primary_guardian_change

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    call_command("seed", env="test", stdout=StringIO())


def verify() -> tuple[int, list[str]]:
    """Run the command; return its exit code and its PASS/FAIL lines."""
    out = StringIO()
    try:
        call_command("verify_install", stdout=out)
        code = 0
    except CommandError as error:
        code = error.returncode
    return code, [line for line in out.getvalue().splitlines() if line.startswith(("PASS", "FAIL"))]


def line_for(lines: list[str], check: str) -> str:
    [line] = [line for line in lines if line.split("  ", 1)[1].startswith(f"{check}:")]
    return line


def failed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def test_passes_after_seeding_with_one_line_per_check(seeded, on_postgres):
    code, lines = verify()

    assert code == 0
    assert len(lines) == len(registry.install_checks()) and not failed(lines)
    for check in ("migrations applied", "tables", "named constraints and indexes", "grade levels"):
        assert line_for(lines, check).startswith("PASS")
    assert "2025-26 is current" in line_for(lines, "current academic year")
    assert "all 3 active students" in line_for(lines, "active students have one primary guardian")
    if on_postgres:
        assert "present, enabled, deferred" in line_for(lines, "primary guardian triggers")
        assert "student_search_trgm present" in line_for(lines, "student search index")
        assert "guardian_search_trgm present" in line_for(lines, "guardian search index")


def test_fails_without_reference_data_before_seeding():
    code, lines = verify()

    assert code == 1
    assert line_for(lines, "grade levels").startswith("FAIL")
    assert line_for(lines, "current academic year").startswith("FAIL")
    assert line_for(lines, "tables").startswith("PASS")


def test_fails_when_a_role_group_is_missing(seeded):
    Group.objects.filter(name=FINANCE).delete()

    code, lines = verify()

    assert code == 1
    assert failed(lines) == [line_for(lines, "role group 'Finance'")]
    assert "group missing" in failed(lines)[0]


def test_fails_when_a_role_lacks_a_permission(seeded):
    office = Group.objects.get(name=OFFICE_STAFF)
    office.permissions.remove(Permission.objects.get(content_type__app_label="students", codename="add_student"))

    code, lines = verify()

    assert code == 1
    assert "lacks students.add_student" in line_for(lines, "role group 'Office staff'")


def test_fails_when_parents_hold_a_staff_permission(seeded):
    parents = Group.objects.get(name=PARENT)
    parents.permissions.add(Permission.objects.get(content_type__app_label="students", codename="view_student"))

    code, lines = verify()

    assert code == 1
    assert "should not: students.view_student" in line_for(lines, "role group 'Parent'")


def test_fails_without_a_current_academic_year(seeded):
    AcademicYear.objects.update(is_current=False)

    code, lines = verify()

    assert code == 1
    assert failed(lines) == [line_for(lines, "current academic year")]
    assert "0 current academic years" in failed(lines)[0]


def test_fails_when_a_named_constraint_is_missing(seeded):
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX one_current_academic_year")

    code, lines = verify()

    assert code == 1
    assert "academy_academicyear.one_current_academic_year" in line_for(lines, "named constraints and indexes")


def test_fails_when_a_table_is_missing(seeded):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE academy_historicalclasssession")

    code, lines = verify()

    assert code == 1
    assert "academy_historicalclasssession" in line_for(lines, "tables")


def test_fails_when_a_migration_is_not_applied(seeded):
    latest = MigrationRecorder.Migration.objects.filter(app="families").order_by("-name").first()
    latest.delete()

    code, lines = verify()

    assert code == 1
    assert f"families.{latest.name}" in line_for(lines, "migrations applied")


def test_fails_when_an_active_student_has_no_primary_guardian(seeded):
    # Only possible inside a transaction: PostgreSQL's deferred trigger refuses it at commit.
    link = StudentGuardian.objects.filter(relationship_type="primary", student__first_name="Liam").get()
    link.delete()

    code, lines = verify()

    assert code == 1
    assert link.student.student_number in line_for(lines, "active students have one primary guardian")
    # Put the primary back: the test's teardown checks deferred constraints before rolling back.
    primary_guardian_change(student=link.student, guardian=link.guardian, actor=None)


@pytest.mark.postgres
def test_fails_when_the_primary_guardian_trigger_is_missing(seeded):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER student_guardian_keeps_primary ON families_studentguardian")

    code, lines = verify()

    assert code == 1
    assert "student_guardian_keeps_primary missing" in line_for(lines, "primary guardian triggers")


def test_a_check_that_raises_fails_and_the_others_still_run(seeded, monkeypatch):
    def broken_check():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        return True, "unreachable"

    broken_check.__module__ = "academy.common.checks"  # ordered as academy.common's: before every other check
    checks = [registry.InstallCheck("broken", broken_check), *registry.install_checks()]
    monkeypatch.setattr(registry, "_install_checks", checks)

    code, lines = verify()

    assert code == 1
    assert len(lines) == len(checks)
    assert lines[0] == line_for(lines, "broken")
    assert failed(lines) == [line_for(lines, "broken")]
    assert "raised" in failed(lines)[0]
