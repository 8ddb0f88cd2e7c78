"""Database constraints on students, on SQLite and PostgreSQL: a raw write that breaks a
rule is refused by the database itself, not only by the service."""

import datetime
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, transaction

from students.models import Student
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db


@contextmanager
def refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


def raw_update(student, **fields):
    Student.all_objects.filter(pk=student.pk).update(**fields)


def test_emails_are_unique_whatever_their_case(location):
    StudentFactory(location=location, email="kid@example.org")
    other = StudentFactory(location=location)
    with refused_by_the_database():
        raw_update(other, email="KID@example.org")


def test_many_students_may_have_no_email(location):
    StudentFactory(location=location, email=None)
    StudentFactory(location=location, email=None)
    assert Student.objects.filter(email__isnull=True).count() == 2


def test_student_numbers_are_unique(location):
    first = StudentFactory(location=location)
    other = StudentFactory(location=location)
    with refused_by_the_database():
        raw_update(other, student_number=first.student_number)


def test_a_student_cannot_be_born_after_enrolling(location):
    student = StudentFactory(location=location, enrollment_date=datetime.date(2025, 9, 1))
    with refused_by_the_database():
        raw_update(student, date_of_birth=datetime.date(2025, 9, 2))
    raw_update(student, date_of_birth=datetime.date(2025, 9, 1))  # the same day is allowed


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_names_cannot_be_blank(location, field):
    student = StudentFactory(location=location)
    with refused_by_the_database():
        raw_update(student, **{field: ""})


def test_the_status_must_be_known(location):
    student = StudentFactory(location=location)
    with refused_by_the_database():
        raw_update(student, status="expelled")


def test_the_search_text_is_kept_by_the_database(location):
    student = StudentFactory(location=location, first_name="Ada", last_name="LOVELACE", email=None, phone="555-1")
    raw_update(student, email="Ada@Example.org")
    student.refresh_from_db()
    assert student.search_text == f"{student.student_number.lower()} ada lovelace ada@example.org 555-1"
