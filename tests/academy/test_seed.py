"""``manage.py seed --env dev|test|prod``: what each environment loads, and that running it
again changes nothing."""

import hashlib
import logging
import re
from datetime import date, timedelta
from io import StringIO
from itertools import pairwise

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q
from django.utils import timezone

from academy.common import registry
from academy.common.registry import seed_steps
from academy.models import (
    AcademicYear,
    ClassSession,
    Course,
    Curriculum,
    GradeLevel,
    Location,
    Program,
    Section,
    Term,
    User,
)
from academy.roles import ACADEMY_ADMIN, ALL_ROLES, FINANCE, INSTRUCTOR, OFFICE_STAFF
from academy.seeds import academic_year_span
from academy.services import structure_save
from attendance.selectors import sessions_for_marking
from families.models import Guardian, StudentGuardian
from families.selectors import students_visible_to
from finance.models import Adjustment, FeeStructure, Invoice, Payment
from finance.reports import AGEING_BUCKETS, monthly_revenue, overdue_invoices
from finance.selectors import ledger_verify
from grading.models import Result, ResultChange, Score, SkillRating
from grading.selectors import gradebook, skill_board, weighted_percentage
from students.models import Student
from students.services import student_update
from tests.enrollment.demo_checks import assert_enrollment_demo
from tests.factories.academy import staff_user

DEMO_USERNAMES = {"admin", "office", "finance", "instructor", "parent", "parent2"}
# The dev demo is dated around the day it runs; tests seed it as of fixed days.
DEMO_DAY = date(2026, 12, 3)  # a Thursday in Term 1 of 2026-27 (the day issue 12 was filed)
OTHER_DAY = date(2028, 1, 9)  # a Sunday in the second week of Term 2 of 2027-28

# What a production seed may write: roles and reference data, nothing else.
PROD_SEED_MAY_WRITE = {
    "auth.Group",
    "auth.Group_permissions",
    "academy.GradeLevel",
    "academy.HistoricalGradeLevel",
    "academy.AcademicYear",
    "academy.HistoricalAcademicYear",
    "finance.FeeType",
    "finance.HistoricalFeeType",
}


def seed(env: str, **options) -> str:
    out = StringIO()
    call_command("seed", env=env, stdout=out, **options)
    return out.getvalue()


def database_snapshot() -> dict[str, tuple[int, str]]:
    """Row count and a hash of every column of every row, for every table of every model
    (history and many-to-many tables included)."""
    snapshot = {}
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.managed or model._meta.proxy:
            continue
        columns = [field.attname for field in model._meta.concrete_fields]
        rows = list(model._base_manager.order_by("pk").values_list(*columns))
        snapshot[model._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return snapshot


def grade_ladder() -> list[str]:
    grade = GradeLevel.objects.get(previous_grade__isnull=True)
    names = [grade.name]
    while grade.next_grade_id:
        grade = grade.next_grade
        names.append(grade.name)
    return names


def active_students_without_one_primary():
    return (
        Student.objects.active()
        .annotate(primaries=Count("guardian_links", filter=Q(guardian_links__relationship_type="primary")))
        .exclude(primaries=1)
    )


# --- prod ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_prod_seed_loads_roles_grades_and_a_current_year_only():
    before = database_snapshot()

    output = seed("prod")

    changed = {label for label, state in database_snapshot().items() if state != before[label]}
    assert changed <= PROD_SEED_MAY_WRITE
    assert set(Group.objects.values_list("name", flat=True)) >= set(ALL_ROLES)
    assert Group.objects.get(name=OFFICE_STAFF).permissions.filter(
        content_type__app_label="students", codename="add_student"
    )
    assert grade_ladder() == ["Kindergarten", *(f"Grade {n}" for n in range(1, 13))]
    assert GradeLevel.objects.get(name="Grade 12").is_final
    year = AcademicYear.objects.get(is_current=True)
    assert year.start_date <= timezone.localdate() <= year.end_date
    assert not User.objects.exists()
    assert not Student.all_objects.exists() and not Guardian.objects.exists()
    assert not Location.objects.exists() and not Section.objects.exists()
    assert "Demo logins" not in output


@pytest.mark.django_db
def test_prod_seed_leaves_existing_academic_years_alone():
    structure_save(
        instance=AcademicYear(name="2024-25", start_date="2024-09-01", end_date="2025-06-30", is_current=True)
    )

    seed("prod")

    assert list(AcademicYear.objects.values_list("name", "is_current")) == [("2024-25", True)]


# --- test ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_test_seed_is_small_and_deterministic():
    seed("test")

    assert list(Location.objects.values_list("code", flat=True)) == ["MAIN"]
    assert list(AcademicYear.objects.values_list("name", "is_current")) == [("2025-26", True)]
    assert list(Term.objects.values_list("name", flat=True)) == ["Term 1", "Term 2"]
    assert list(Program.objects.values_list("code", flat=True)) == ["SWIM"]
    assert list(Course.objects.values_list("code", flat=True)) == ["SWIM-CLUB"]
    section = Section.objects.get()
    assert (section.location.code, section.term.name, section.code, section.capacity) == ("MAIN", "Term 1", "A", 12)
    assert section.instructor.username == "instructor"
    assert [str(session.date) for session in ClassSession.objects.filter(section=section)] == [
        "2025-09-01",
        "2025-09-03",
        "2025-09-08",
        "2025-09-10",
    ]
    assert sorted(Student.objects.values_list("student_number", "first_name", "last_name", "grade_level__name")) == [
        ("STU-2022-0001", "Emma", "Johnson", "Grade 4"),
        ("STU-2023-0001", "Sofia", "Garcia", "Grade 2"),
        ("STU-2024-0001", "Liam", "Johnson", "Grade 1"),
    ]
    year = timezone.localdate().year
    assert list(Guardian.objects.order_by("guardian_number").values_list("guardian_number", "email")) == [
        (f"PAR-{year}-0001", "sarah.johnson@example.org"),
        (f"PAR-{year}-0002", "david.johnson@example.org"),
        (f"PAR-{year}-0003", "maria.garcia@example.org"),
        (f"PAR-{year}-0004", "rosa.martinez@example.org"),
    ]
    assert set(User.objects.values_list("username", flat=True)) == DEMO_USERNAMES


@pytest.mark.django_db
def test_test_seed_creates_the_demo_logins_with_their_roles():
    output = seed("test")

    users = {user.username: user for user in User.objects.prefetch_related("groups")}
    assert all(user.check_password("academy-demo") for user in users.values())
    admin = users["admin"]
    assert admin.is_superuser and admin.is_staff and ACADEMY_ADMIN in admin.role_names
    for username, role in (("office", OFFICE_STAFF), ("finance", FINANCE), ("instructor", INSTRUCTOR)):
        assert users[username].role_names == {role}
        assert users[username].is_academy_staff and not users[username].is_staff
    assert users["parent"].is_parent and users["parent2"].is_parent
    assert users["parent"].guardian.email == "sarah.johnson@example.org"
    assert sorted(students_visible_to(users["parent"]).values_list("first_name", flat=True)) == ["Emma", "Liam"]
    assert list(students_visible_to(users["parent2"]).values_list("first_name", flat=True)) == ["Sofia"]
    for username in DEMO_USERNAMES:
        assert re.search(rf"^ +{username} +/ +academy-demo +- ", output, re.MULTILINE)
    assert "Demo logins (password 'academy-demo'" in output


@pytest.mark.django_db
def test_seed_keeps_what_the_academy_changed():
    seed("test")
    main = Location.objects.get(code="MAIN")
    structure_save(instance=main, data={"name": "Springfield Aquatic Centre"})
    # renamed by the office: the marker in her internal notes still identifies her
    student_update(student=Student.objects.get(first_name="Emma"), actor=None, data={"first_name": "Emily"})
    before = database_snapshot()

    seed("test")

    assert database_snapshot() == before
    assert Location.objects.get(code="MAIN").name == "Springfield Aquatic Centre"
    assert Student.objects.count() == 3


# --- every environment: idempotent --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("env", ["prod", "test"])  # dev: in test_dev_seed_builds_a_full_demo_academy_...
def test_seeding_twice_changes_nothing(env):
    seed(env)
    first = database_snapshot()
    assert first["academy.GradeLevel"][0] == 13
    if env == "test":
        assert first["students.Student"][0] == 3

    output = seed(env)

    assert database_snapshot() == first
    created = re.findall(r"(\d+) [a-z ]*created", output)
    assert created and set(created) == {"0"}


# --- dev -------------------------------------------------------------------------------


def assert_dated_around(day: date) -> None:
    """The dev demo seeded as of ``day`` lies around it: the year and the term that
    contain it, sessions before and after it (the instructor login's among them on the
    day itself), twelve months of invoices and payments up to it, and open invoices in
    every ageing bucket, not all 90+ days overdue."""
    year = AcademicYear.objects.get(is_current=True)
    assert year.name == academic_year_span(day)[0] and year.start_date <= day <= year.end_date
    terms = list(year.terms.order_by("start_date"))
    assert [term.name for term in terms] == ["Term 1", "Term 2", "Term 3"]
    assert terms[0].start_date == year.start_date and terms[-1].end_date == year.end_date
    assert all(a.end_date + timedelta(days=1) == b.start_date for a, b in pairwise(terms))
    (term,) = [term for term in terms if term.start_date <= day <= term.end_date]

    sessions = ClassSession.objects.filter(section__term=term)
    assert sessions.filter(date__lt=day).exists() and sessions.filter(date__gt=day).exists()
    assert not sessions.filter(Q(date__lt=term.start_date) | Q(date__gt=term.end_date)).exists()
    assert not sessions.filter(date__lt=day - timedelta(weeks=4)).exists()
    instructor = User.objects.get(username="instructor")
    assert sessions_for_marking(user=instructor, day=day).exists()
    taught = sessions.filter(section__instructor=instructor).values_list("date", flat=True)
    assert {taught_on.weekday() for taught_on in taught} == set(range(7))  # a class whatever the weekday

    first_month = date(day.year - (day.month < 12), day.month % 12 + 1, 1)  # eleven months before day's
    issued = Invoice.objects.values_list("issue_date", flat=True)
    assert min(issued) == first_month and max(issued) == day.replace(day=1)
    assert Invoice.objects.values("billing_period").distinct().count() == 12
    received = [moment.date() for moment in Payment.objects.values_list("received_at", flat=True)]
    assert first_month <= min(received) and max(received) < day

    admin = User.objects.get(username="admin")
    months = monthly_revenue(user=admin, today=day)
    assert months[0]["month"] == first_month and len(months) == 12
    assert all(row["invoiced"] > 0 for row in months)
    assert sum(row["collected"] > 0 for row in months) >= 11  # the month just begun may have none yet
    overdue = overdue_invoices(user=admin, today=day)
    counts = {bucket["bucket"]: bucket["count"] for bucket in overdue["buckets"]}
    assert all(counts[name] >= 1 for name, _low, _high in AGEING_BUCKETS)
    assert counts["90+"] < counts["0-30"] + counts["31-60"] + counts["61-90"]


def assert_graded_demo() -> None:
    """Grading in the dev demo: the swimming sections' gradebooks (weights 100, scores,
    comments), one term's results published and two of the instructor login's gradebooks
    still in draft, a change request an instructor asked for, and weekly skill ratings of
    the demo children, rising, with someone ready for the next level."""
    swimming = list(Section.objects.filter(course__code="SWIM-CLUB", enrollments__isnull=False).distinct())
    assert len(swimming) >= 4
    for section in swimming:
        book = gradebook(section)
        assert book.weights_complete and len(book.assessments) == 4
        assert all(row.scores and row.result is not None and row.result.comments for row in book.rows)
        for row in book.rows:  # a published result is the recomputation of its scores
            if row.result.state == "published":
                assert row.result.percentage == weighted_percentage(book.assessments, row.scores, final=True)
    published = Result.objects.filter(state="published")
    assert published.count() >= 20 and published.values("section__term").distinct().count() == 1
    assert Result.objects.filter(state="draft", section__instructor__username="instructor").exists()
    assert Score.objects.filter(status="excused").exists()
    assert set(published.values_list("letter_grade", flat=True)) >= {"A", "B", "C"}

    change = ResultChange.objects.select_related("requested_by", "result").get()
    assert change.status == "pending" and change.result.state == "published"
    assert INSTRUCTOR in change.requested_by.role_names and change.new_grade != change.old_grade

    children = Student.objects.filter(guardian_links__guardian__portal_user__username__in=["parent", "parent2"])
    assert children.distinct().count() == 3
    for child in children.distinct():
        ratings = SkillRating.objects.filter(student=child).order_by("assessment_date", "created_at")
        assert ratings.values("assessment_date").distinct().count() >= 3
        first, last = {}, {}
        for rating in ratings:
            rose = rating.previous_rating is None or rating.current_rating >= rating.previous_rating
            assert rose or rating.correction_reason
            first.setdefault(rating.skill_area_id, rating.current_rating)
            last[rating.skill_area_id] = rating.current_rating
        assert any(last[area] > first[area] for area in first)
    ready = [row.enrollment.student.first_name for section in swimming for row in skill_board(section) if row.ready]
    assert "Emma" in ready and len(ready) >= 3


@pytest.mark.django_db
def test_dev_seed_builds_a_full_demo_academy_and_a_later_run_changes_nothing(caplog):
    """One test, as a dev seed takes a while."""
    caplog.set_level(logging.INFO)

    output = seed("dev", today=DEMO_DAY)

    assert set(Location.objects.values_list("code", "name")) == {
        ("MAIN", "Springfield Main"),
        ("NORTH", "North Campus"),
    }
    assert {facility.kind for facility in Location.objects.get(code="MAIN").facilities.all()} == {"pool", "room"}
    year = AcademicYear.objects.get(is_current=True)
    assert year.name == "2026-27" and year.terms.count() == 3
    assert_dated_around(DEMO_DAY)

    curriculum = Curriculum.objects.get(course__code="SWIM-CLUB")
    assert curriculum.course.title == "Swimming Club"
    assert {"Breathing", "Floating", "Kicking", "Strokes"} <= set(curriculum.skill_areas.values_list("name", flat=True))
    assert curriculum.levels.count() >= 3
    assert all(level.modules.exists() for level in curriculum.levels.all())
    math = {course.code: course for course in Course.objects.filter(code__startswith="MATH-")}
    assert sorted(math) == [f"MATH-{n}" for n in range(1, 7)]
    assert all(
        math[f"MATH-{n}"].grade_level.name == f"Grade {n}" and math[f"MATH-{n}"].credits > 0 for n in range(1, 7)
    )

    for location in Location.objects.all():
        sections = Section.objects.filter(location=location, term__academic_year=year)
        assert sections.filter(course__code="SWIM-CLUB").exists() and sections.filter(course__code="MATH-1").exists()
        assert not sections.filter(Q(instructor__isnull=True) | Q(capacity=0) | Q(schedule="")).exists()
    for section in Section.objects.select_related("term"):
        dates = list(section.sessions.values_list("date", flat=True))
        assert dates and all(section.term.start_date <= day <= section.term.end_date for day in dates)

    students = Student.objects.all()
    assert students.count() == 200
    assert all("[demo-seed " in notes for notes in students.values_list("internal_notes", flat=True))
    active = students.filter(status="active").count()
    assert active >= 160 and set(students.values_list("status", flat=True)) > {"active"}
    assert all(students.filter(location__code=code).count() >= 50 for code in ("MAIN", "NORTH"))
    assert students.values("grade_level").distinct().count() == 13
    assert not active_students_without_one_primary().exists()
    links = StudentGuardian.objects.all()
    siblings = links.filter(relationship_type="primary").values("guardian").annotate(n=Count("id")).filter(n__gte=2)
    assert siblings.count() >= 20
    assert links.filter(relationship_type="secondary").count() >= 30
    assert links.filter(relationship_type="emergency").count() >= 15

    parent, parent2 = User.objects.get(username="parent"), User.objects.get(username="parent2")
    assert students_visible_to(parent).count() == 2
    assert students_visible_to(parent2).count() == 1
    assert set(User.objects.filter(groups__name=INSTRUCTOR).values_list("username", flat=True)) >= {"instructor"}
    assert set(User.objects.values_list("username", flat=True)) >= DEMO_USERNAMES
    assert "parent2" in output and "academy-demo" in output

    # money: fee structures, invoices paid in full, in part and not at all (overdue),
    # approved discounts and one kind waiting for approval
    assert FeeStructure.objects.filter(is_active=True).exists()
    statuses = set(Invoice.objects.values_list("status", flat=True))
    assert {"paid", "overdue"} <= statuses  # the demo months are past: what is open is overdue
    assert Invoice.objects.filter(status="overdue", amount_paid__gt=0).exists()  # partly paid
    assert Invoice.objects.filter(status="overdue", amount_paid=0).exists()  # not paid at all
    assert Invoice.objects.filter(status="pending").exists()  # this month's, not due yet
    assert Payment.objects.count() >= 100
    assert Adjustment.objects.filter(status="approved").exists()
    assert Adjustment.objects.filter(status="requested").exists()
    assert not Adjustment.objects.filter(status="approved", decided_by_id=F("requested_by_id")).exists()
    assert ledger_verify().problems == []

    assert_graded_demo()
    assert_enrollment_demo(DEMO_DAY)

    verify = StringIO()
    call_command("verify_install", stdout=verify)
    assert "FAIL" not in verify.getvalue()

    # quiet: a line per step, no record of each task, e-mail or SMS the services sent
    steps = seed_steps("dev")
    lines = [line for line in output.splitlines() if line.startswith("seed [")]
    assert len(lines) == len(steps) and all(re.search(r" \.\.\. \d+\.\d s", line) for line in lines)
    assert not [
        record
        for record in caplog.records
        if record.name.startswith(("celery", "kombu", "notifications")) and record.levelno < logging.WARNING
    ]

    # run again six weeks later, in the next term: nothing is added or moved
    first = database_snapshot()
    output = seed("dev", today=DEMO_DAY + timedelta(weeks=6))
    assert database_snapshot() == first
    assert set(re.findall(r"(\d+) [a-z ]*created", output)) == {"0"}


@pytest.mark.django_db
def test_dev_seed_dates_the_demo_around_the_day_it_runs():
    # given another day: a Sunday early in the second term of another year
    seed("dev", today=OTHER_DAY)

    assert_dated_around(OTHER_DAY)
    # the sessions before the day are marked, the day's own left to the instructor
    instructor = User.objects.get(username="instructor")
    today = sessions_for_marking(user=instructor, day=OTHER_DAY)
    assert today.exists() and all(session.marked_count == 0 for session in today)
    enrolled_sessions = ClassSession.objects.filter(section__enrollments__isnull=False).distinct()
    assert not enrolled_sessions.filter(date__gte=OTHER_DAY, attendance_records__isnull=False).exists()
    assert enrolled_sessions.filter(date__lt=OTHER_DAY, attendance_records__isnull=False).exists()


@pytest.mark.django_db
def test_seed_refuses_a_today_that_is_not_a_date():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("seed", "--env", "dev", "--today", "2026-13-01", stdout=StringIO())

    assert not AcademicYear.objects.exists()


@pytest.mark.django_db
def test_seed_as_of_another_day_moves_the_clock_for_the_run_only():
    real_today = timezone.localdate()

    output = seed("prod", today=OTHER_DAY)

    # the production year is the one containing that day, and the clock is back
    assert "seed: as of 2028-01-09" in output
    assert list(AcademicYear.objects.values_list("name", "is_current")) == [("2027-28", True)]
    assert timezone.localdate() == real_today


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dev_seed_commits_every_admission_past_the_deferred_primary_guardian_trigger():
    """Each step commits, so PostgreSQL's deferred trigger (student_has_primary_guardian)
    checks every admitted student at commit; inside a test transaction it never fires."""
    seed("dev")

    assert Student.objects.count() == 200
    assert not active_students_without_one_primary().exists()
    verify = StringIO()
    call_command("verify_install", stdout=verify)
    assert "PASS  primary guardian triggers" in verify.getvalue() and "FAIL" not in verify.getvalue()


# --- the command -------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_needs_an_environment():
    with pytest.raises(CommandError, match="--env"):
        call_command("seed")


@pytest.mark.django_db
def test_seed_refuses_the_demo_in_a_production_configuration(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="Refusing"):
        seed("dev")
    with pytest.raises(CommandError, match="Refusing"):
        seed("test")
    seed("prod")

    assert not User.objects.exists()
    assert AcademicYear.objects.filter(is_current=True).exists()


@pytest.mark.django_db
def test_a_failing_step_is_rolled_back_and_reported_by_name():
    # given a staff login already called "parent": it cannot become a parent's portal login
    staff_user(username="parent")

    with pytest.raises(CommandError, match="'parent portal logins' failed"):
        seed("test")

    # the steps before it are in place; the failing step wrote nothing (parent2 neither)
    assert Student.objects.count() == 3
    assert not Guardian.objects.filter(portal_user__isnull=False).exists()
    assert not User.objects.filter(username="parent2").exists()


def test_steps_run_in_app_order_whatever_the_import_order(monkeypatch):
    # given the apps' seeds modules imported in reverse order (a test module may import
    # a higher app's seeds before anything imports academy.seeds)
    seed_steps("dev")  # discovers every app's seeds module
    registered = {}
    for step in registry._seed_steps:
        registered.setdefault(step.func.__module__, []).append(step)
    monkeypatch.setattr(
        registry, "_seed_steps", [step for module in reversed(registered) for step in registered[module]]
    )

    steps = seed_steps("dev")

    # the steps run lowest layer first, each app's in the order of its module
    app_order = [config.name for config in apps.get_app_configs()]
    positions = [app_order.index(step.func.__module__.rsplit(".", 1)[0]) for step in steps]
    assert positions == sorted(positions)
    assert [step.name for step in steps][:3] == ["roles and permissions", "grade levels", "academic year and terms"]
    assert [step.name for step in steps if step.func.__module__ == "families.seeds"] == [
        "students and guardians",
        "parent portal logins",
    ]
