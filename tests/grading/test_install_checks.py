"""``verify_install``'s "results guard": the triggers of ``grading.migrations._result_guard``
are in place and refuse, rolled back, a direct change of grade and a deletion of a
published and of a frozen result."""

import contextlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from academy.common.registry import install_checks
from enrollment.services import enroll
from grading import services
from grading.install_checks import check_result_guard
from grading.migrations._result_guard import PG_FUNCTION, SQLITE_TRIGGERS, ensure_result_guard
from grading.models import Result
from tests.factories.academy import SectionFactory
from tests.factories.families import StudentFactory
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db


class _Editor:
    """What ``ensure_result_guard`` needs of a schema editor (SQLite's refuses to open
    inside the test's transaction)."""

    connection = connection

    def execute(self, sql, params=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.fixture
def published_and_frozen(section, students, assessments, cell, teacher, registrar):
    """``section``'s results frozen, another section's published, in a closed term."""
    other = SectionFactory(course=section.course, term=section.term, location=section.location, code="B")
    newcomer = StudentFactory(location=section.location)
    enroll(student=newcomer, section=other, actor=registrar)
    exam = services.assessment_create(section=other, actor=teacher, type="final", title="Exam", weight=Decimal(100))
    services.gradebook_save(section=other, cells=[cell(exam, newcomer, 88)], actor=teacher)
    quiz, midterm, final = assessments
    services.gradebook_save(
        section=section,
        cells=[cell(a, pupil, 75) for pupil in students for a in (quiz, midterm, final)],
        actor=teacher,
    )
    services.term_publish(term=section.term, actor=registrar)
    section.term.status = "closed"
    section.term.save()
    services.section_freeze(section=section, actor=registrar)
    assert set(Result.objects.values_list("state", flat=True)) == {"published", "frozen"}


def test_the_check_is_registered_for_verify_install():
    assert "results guard" in [check.name for check in install_checks()]


def test_a_migrated_database_passes_before_any_result_is_published():
    passed, detail = check_result_guard()

    assert passed, detail
    assert "no published result yet" in detail


def test_the_guard_is_tried_on_a_published_and_a_frozen_result_and_nothing_changes(published_and_frozen):
    before = list(Result.objects.order_by("pk").values())

    passed, detail = check_result_guard()

    assert passed, detail
    assert "tried on 2 result(s), rolled back" in detail
    assert list(Result.objects.order_by("pk").values()) == before


def test_the_check_runs_while_queries_are_logged(published_and_frozen):
    """As under DEBUG=1 (``manage.py verify_install`` on a development install)."""
    with CaptureQueriesContext(connection) as queries:
        passed, detail = check_result_guard()

    assert passed, detail
    assert len(queries.captured_queries) >= 5


def test_verify_install_prints_the_check(published_and_frozen):
    out = StringIO()
    # reference data other apps seed (grade levels, fee types) is not loaded here: those fail
    with contextlib.suppress(CommandError):
        call_command("verify_install", stdout=out)

    assert "PASS  results guard: published and frozen results refuse direct changes" in out.getvalue()


def test_missing_triggers_fail_the_check():
    # given the guard dropped (as a migration rebuilding the table on SQLite would)
    if connection.vendor == "postgresql":
        _execute("DROP TRIGGER grading_result_guard ON grading_result")
    else:
        _execute("DROP TRIGGER grading_result_published_guard")
    try:
        passed, detail = check_result_guard()
    finally:
        ensure_result_guard(None, _Editor())

    assert not passed
    assert "triggers on grading_result are missing" in detail
    assert check_result_guard()[0]


def test_a_guard_that_lets_changes_through_fails_the_check(published_and_frozen):
    # given triggers with the guard's names that refuse nothing
    if connection.vendor == "postgresql":
        _execute(
            "CREATE OR REPLACE FUNCTION grading_result_guard() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql"
        )
    else:
        for name in SQLITE_TRIGGERS:
            _execute(f"DROP TRIGGER {name}")
            _execute(f"CREATE TRIGGER {name} BEFORE UPDATE ON grading_result WHEN 0 BEGIN SELECT 1; END")
    try:
        passed, detail = check_result_guard()
    finally:
        if connection.vendor == "postgresql":
            _execute(PG_FUNCTION)
        else:
            for name in SQLITE_TRIGGERS:
                _execute(f"DROP TRIGGER {name}")
        ensure_result_guard(None, _Editor())

    assert not passed
    for allowed in ("a new grade on a published result", "deleting a frozen result"):
        assert allowed in detail
    assert check_result_guard()[0]
    assert Result.objects.filter(state="frozen").count() == 4
