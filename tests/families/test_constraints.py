"""Database constraints on guardians and their links, on SQLite and PostgreSQL: a direct
insert that breaks a rule is refused by the database, whatever the services do."""

from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from families.models import Guardian, StudentGuardian
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = pytest.mark.django_db


@contextmanager
def refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


@pytest.fixture
def student(location):
    return StudentFactory(location=location)


def primary_link(student):
    return StudentGuardian.objects.get(student=student, relationship_type="primary")


def test_one_link_per_student_and_guardian(student):
    guardian = primary_link(student).guardian
    with refused_by_the_database():
        StudentGuardian.objects.create(student=student, guardian=guardian, relationship_type="secondary")
    assert StudentGuardian.objects.filter(student=student).count() == 1


def test_the_same_guardian_may_be_linked_to_many_students(student, location):
    guardian = primary_link(student).guardian
    sibling = StudentFactory(location=location, primary_guardian=guardian)
    assert set(guardian.student_links.values_list("student_id", flat=True)) == {student.pk, sibling.pk}


def test_at_most_one_primary_per_student(student):
    with refused_by_the_database():
        StudentGuardian.objects.create(
            student=student, guardian=GuardianFactory(), relationship_type="primary", can_authorize_medical=True
        )
    assert StudentGuardian.objects.filter(student=student, relationship_type="primary").count() == 1


def test_promoting_a_second_link_to_primary_is_refused(student):
    second = StudentGuardian.objects.create(
        student=student, guardian=GuardianFactory(), relationship_type="secondary", can_authorize_medical=True
    )
    with refused_by_the_database():
        StudentGuardian.objects.filter(pk=second.pk).update(relationship_type="primary")


def test_many_secondary_and_emergency_links_are_allowed(student):
    for kind in ("secondary", "secondary", "emergency", "emergency"):
        StudentGuardian.objects.create(student=student, guardian=GuardianFactory(), relationship_type=kind)
    assert StudentGuardian.objects.filter(student=student).count() == 5


def test_a_primary_must_authorise_medical_care(student):
    with refused_by_the_database():
        StudentGuardian.objects.filter(pk=primary_link(student).pk).update(can_authorize_medical=False)
    assert primary_link(student).can_authorize_medical
    other = StudentFactory(location=student.location, status="inactive")  # may be without a primary
    StudentGuardian.objects.filter(student=other).delete()
    with refused_by_the_database():
        StudentGuardian.objects.create(
            student=other, guardian=GuardianFactory(), relationship_type="primary", can_authorize_medical=False
        )


def test_the_relationship_type_must_be_known(student):
    with refused_by_the_database():
        StudentGuardian.objects.create(student=student, guardian=GuardianFactory(), relationship_type="cousin")


def test_full_clean_reports_the_same_rules_before_the_database(student):
    duplicate = StudentGuardian(
        student=student, guardian=GuardianFactory(), relationship_type="primary", can_authorize_medical=False
    )
    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()
    messages = " ".join(error.value.messages)
    assert "already has a primary guardian" in messages
    assert "authorise medical care" in messages


def test_guardian_emails_are_unique_whatever_their_case():
    GuardianFactory(email="sam@example.org")
    other = GuardianFactory()
    with refused_by_the_database():
        Guardian.objects.filter(pk=other.pk).update(email="SAM@EXAMPLE.ORG")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", ""),
        ("email", ""),
        ("phone", ""),
        ("account_status", "banned"),
        ("preferred_communication", "fax"),
    ],
)
def test_guardian_columns_are_checked(field, value):
    guardian = GuardianFactory()
    with refused_by_the_database():
        Guardian.objects.filter(pk=guardian.pk).update(**{field: value})


def test_guardian_numbers_are_unique():
    first, second = GuardianFactory(), GuardianFactory()
    with refused_by_the_database():
        Guardian.objects.filter(pk=second.pk).update(guardian_number=first.guardian_number)
