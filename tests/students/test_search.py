"""Student search (students.selectors.student_search): number, names, email and phone,
every word must match, case does not matter; the same results on SQLite and PostgreSQL."""

import datetime

import pytest
from django.db import connection

from families.selectors import student_list
from students.models import Student
from students.selectors import student_search
from students.services import student_soft_delete, student_update
from tests.factories.academy import staff_user
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pupils(location):
    """Three students whose numbers, names, emails and phones overlap in known ways."""
    return {
        "emma_j": StudentFactory(
            location=location, first_name="Emma", last_name="Johnson", email="emma.j@example.org", phone="555-0101"
        ),
        "emma_g": StudentFactory(
            location=location, first_name="Emma", last_name="Garcia", email="garcia.e@mail.test", phone="555-0202"
        ),
        "liam_j": StudentFactory(location=location, first_name="Liam", last_name="Johnson", email=None, phone=""),
    }


def found(term, queryset=None):
    return set(student_search(queryset if queryset is not None else Student.objects.all(), term))


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("emma", {"emma_j", "emma_g"}),
        ("johnson", {"emma_j", "liam_j"}),
        ("JOHNSON", {"emma_j", "liam_j"}),
        ("ohns", {"emma_j", "liam_j"}),
        ("Emma Johnson", {"emma_j"}),
        ("johnson   EMMA", {"emma_j"}),
        ("mail.test", {"emma_g"}),
        ("EMMA.J@EXAMPLE.ORG", {"emma_j"}),
        ("555-0202", {"emma_g"}),
        ("0101", {"emma_j"}),
        ("555", {"emma_j", "emma_g"}),
        ("liam garcia", set()),
        ("zebra", set()),
    ],
)
def test_search_matches_names_email_and_phone(pupils, term, expected):
    assert found(term) == {pupils[key] for key in expected}


def test_search_matches_the_student_number_whole_or_in_part(pupils):
    target = pupils["emma_g"]
    assert found(target.student_number) == {target}
    assert found(target.student_number.lower()) == {target}
    serial = target.student_number.rsplit("-", 1)[1]  # "0002"
    assert found(serial) == {target}
    assert found(f"{serial} emma") == {target}
    assert found(f"{serial} liam") == set()


@pytest.mark.parametrize("term", ["", "   "])
def test_a_blank_term_filters_nothing(pupils, term):
    assert found(term) == set(pupils.values())


def test_percent_and_underscore_are_literal(pupils):
    assert found("%") == set()
    assert found("_") == set()


def test_search_follows_changes_to_the_record(pupils, office):
    student = pupils["liam_j"]
    student_update(student=student, actor=office, data={"last_name": "Okafor", "phone": "555-7788"})
    assert found("okafor") == {student}
    assert found("7788") == {student}
    assert student not in found("johnson")


def test_search_within_a_scope_never_widens_it(pupils, other_location, office):
    far_away = StudentFactory(location=other_location, first_name="Emma", last_name="North")
    assert set(student_list(user=office, search="emma")) == {pupils["emma_j"], pupils["emma_g"]}
    unlimited = staff_user(username="head-office")
    assert set(student_list(user=unlimited, search="emma")) == {pupils["emma_j"], pupils["emma_g"], far_away}


def test_deleted_students_are_not_found(pupils, office):
    student_soft_delete(student=pupils["emma_g"], actor=office, reason="Duplicate")
    assert set(student_list(user=office, search="emma")) == {pupils["emma_j"]}


@pytest.mark.postgres
def test_non_ascii_names_match_whatever_their_case(location):
    """On PostgreSQL lower() folds every letter (SQLite's lower() folds only ASCII)."""
    emile = StudentFactory(location=location, first_name="Émile", last_name="Ørsted")
    assert found("émile") == {emile}
    assert found("ÉMILE ØRSTED") == {emile}


@pytest.mark.postgres
def test_the_search_can_use_the_trigram_index(location):
    """EXPLAIN of the search on a few thousand rows: the planner answers ``LIKE '%word%'``
    from ``student_search_trgm`` instead of reading the table."""
    from academy.common.numbering import STUDENT_NUMBERS, number_block

    count = 3000
    numbers = number_block(STUDENT_NUMBERS, count)
    Student.all_objects.bulk_create(
        Student(
            student_number=number,
            first_name=f"First{index}",
            last_name=f"Family{index % 500}",
            email=f"pupil{index}@example.org",
            phone=f"555-{index:05d}",
            date_of_birth=datetime.date(2015, 1, 1),
            enrollment_date=datetime.date(2025, 9, 1),
            location=location,
            status=Student.Status.INACTIVE,  # an active student would need a primary guardian
        )
        for index, number in enumerate(numbers)
    )
    with connection.cursor() as cursor:
        # what autovacuum does in a live database: merge the GIN pending list, refresh statistics
        cursor.execute("SELECT gin_clean_pending_list('student_search_trgm')")
        cursor.execute("ANALYZE students_student")
    queryset = student_search(Student.objects.all(), "family123")
    assert queryset.count() == count // 500
    plan = queryset.explain()
    assert "student_search_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan
