"""Every active, not deleted student has exactly one primary guardian, at every commit.

On PostgreSQL the rule is held by the partial unique index (at most one) and the
deferred constraint triggers ``student_has_primary_guardian`` /
``student_guardian_keeps_primary`` (at least one). These tests commit for real
(``transaction=True``) so the deferred triggers fire."""

import datetime
import itertools

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from academy.common.exceptions import Conflict
from families import services
from families.models import Guardian, StudentGuardian
from students.models import Student
from students.services import student_change_status, student_soft_delete
from tests.factories.academy import LocationFactory, staff_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STATUSES = ["active", "inactive", "graduated", "withdrawn"]
ALLOWED_STATUS_CHANGES = {
    ("active", "inactive"),
    ("active", "withdrawn"),
    ("active", "graduated"),
    ("inactive", "active"),
    ("inactive", "withdrawn"),
    ("withdrawn", "active"),
}
_serial = itertools.count(1)


def guardian_data():
    n = next(_serial)
    return {"first_name": "Pat", "last_name": f"Family{n}", "email": f"guardian{n}@example.org", "phone": "555-0100"}


def student_data(location):
    return {
        "first_name": "Kid",
        "last_name": f"Family{next(_serial)}",
        "date_of_birth": "2015-03-15",
        "enrollment_date": "2025-09-01",
        "location": location,
    }


def students_breaking_the_rule() -> list:
    """Active, not deleted students without exactly one primary link, and any student
    with more than one."""
    counted = Student.all_objects.annotate(
        primaries=Count("guardian_links", filter=Q(guardian_links__relationship_type="primary"))
    )
    return list(
        counted.filter(Q(status="active", deleted_at__isnull=True, primaries__lt=1) | Q(primaries__gt=1)).values_list(
            "student_number", "status", "primaries"
        )
    )


@pytest.fixture
def location():
    return LocationFactory(code="MAIN")


@pytest.fixture
def office():
    return staff_user(username="office")


def admit(location, office, **kwargs) -> Student:
    kwargs.setdefault("primary", services.GuardianLinkSpec("primary", data=guardian_data()))
    return services.student_admit(actor=office, student_data=student_data(location), **kwargs)


# --- no sequence of service calls breaks the rule ----------------------------------------


def test_no_sequence_of_service_calls_leaves_an_active_student_without_one_primary(location, office):
    class FamilyMachine(RuleBasedStateMachine):
        """Admissions, links, unlinks, primary swaps, status changes and soft deletes in
        any order; each service call is its own committed transaction."""

        def __init__(self):
            super().__init__()
            self.student_ids: list = []
            self.guardian_ids: list = []
            self.calls = 0

        def student(self, index) -> Student:
            return Student.all_objects.get(pk=self.student_ids[index % len(self.student_ids)])

        def guardian(self, index) -> Guardian:
            return Guardian.objects.get(pk=self.guardian_ids[index % len(self.guardian_ids)])

        def remember(self, student):
            self.student_ids.append(student.pk)
            for guardian_id in student.guardian_links.values_list("guardian_id", flat=True):
                if guardian_id not in self.guardian_ids:
                    self.guardian_ids.append(guardian_id)

        @initialize()
        def first_admission(self):
            self.remember(admit(location, office))

        @rule(
            existing_primary=st.booleans(),
            primary_index=st.integers(0, 50),
            others=st.lists(
                st.tuples(st.sampled_from(["secondary", "emergency"]), st.booleans(), st.integers(0, 50)), max_size=2
            ),
        )
        def admit_student(self, existing_primary, primary_index, others):
            chosen = {self.guardian(primary_index).pk} if existing_primary else set()
            specs = []
            for kind, existing, index in others:
                guardian = self.guardian(index) if existing else None
                if guardian is not None and guardian.pk in chosen:
                    continue  # listing a guardian twice is refused; covered in test_admission
                if guardian is not None:
                    chosen.add(guardian.pk)
                specs.append(
                    services.GuardianLinkSpec(kind, guardian=guardian, data=None if guardian else guardian_data())
                )
            primary = (
                services.GuardianLinkSpec("primary", guardian=self.guardian(primary_index))
                if existing_primary
                else services.GuardianLinkSpec("primary", data=guardian_data())
            )
            self.remember(admit(location, office, primary=primary, others=specs))

        @rule()
        def create_guardian(self):
            self.guardian_ids.append(services.guardian_create(actor=office, data=guardian_data()).pk)

        @rule(
            student_index=st.integers(0, 50),
            guardian_index=st.integers(0, 50),
            kind=st.sampled_from(["secondary", "emergency", "primary"]),
        )
        def link(self, student_index, guardian_index, kind):
            student, guardian = self.student(student_index), self.guardian(guardian_index)
            already = StudentGuardian.objects.filter(student=student, guardian=guardian).exists()
            try:
                services.student_guardian_link(actor=office, student=student, guardian=guardian, relationship_type=kind)
            except Conflict as error:
                assert error.code == ("primary_guardian_exists" if kind == "primary" else "already_linked")
            except Student.DoesNotExist:
                assert student.is_deleted
            else:
                assert kind != "primary" and not already and not student.is_deleted

        @rule(student_index=st.integers(0, 50), link_index=st.integers(0, 5))
        def unlink(self, student_index, link_index):
            links = list(StudentGuardian.objects.filter(student=self.student(student_index)).order_by("created_at"))
            link = links[link_index % len(links)]
            try:
                services.student_guardian_unlink(link=link, actor=office)
            except Conflict as error:
                assert error.code == "primary_guardian_required" and link.relationship_type == "primary"
            else:
                assert link.relationship_type != "primary"

        @rule(
            student_index=st.integers(0, 50),
            link_index=st.integers(0, 5),
            kind=st.sampled_from(["secondary", "emergency", "primary"]),
        )
        def change_link_type(self, student_index, link_index, kind):
            links = list(StudentGuardian.objects.filter(student=self.student(student_index)).order_by("created_at"))
            link = links[link_index % len(links)]
            try:
                services.student_guardian_update(link=link, actor=office, data={"relationship_type": kind})
            except Conflict as error:
                assert error.code == "primary_guardian_change"
                assert "primary" in (kind, link.relationship_type) and kind != link.relationship_type

        @rule(student_index=st.integers(0, 50), guardian_index=st.integers(0, 50))
        def change_primary(self, student_index, guardian_index):
            student, guardian = self.student(student_index), self.guardian(guardian_index)
            services.primary_guardian_change(student=student, guardian=guardian, actor=office)
            assert StudentGuardian.objects.get(student=student, relationship_type="primary").guardian == guardian

        @rule(student_index=st.integers(0, 50), status=st.sampled_from(STATUSES))
        def change_status(self, student_index, status):
            student = self.student(student_index)
            try:
                student_change_status(student=student, status=status, actor=office)
            except Conflict as error:
                assert error.code == "invalid_status_change"
                assert (student.status, status) not in ALLOWED_STATUS_CHANGES
            except Student.DoesNotExist:
                assert student.is_deleted
            else:
                assert student.status == status or (student.status, status) in ALLOWED_STATUS_CHANGES

        @precondition(lambda self: len(self.student_ids) > 1)
        @rule(student_index=st.integers(0, 50))
        def soft_delete(self, student_index):
            student_soft_delete(student=self.student(student_index), actor=office, reason="Entered twice")

        @invariant()
        def every_active_student_has_exactly_one_primary(self):
            assert not connection.in_atomic_block  # each call committed on its own
            assert students_breaking_the_rule() == []
            assert not StudentGuardian.objects.filter(relationship_type="primary", can_authorize_medical=False).exists()

    run_state_machine_as_test(
        FamilyMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert Student.all_objects.count() >= 15  # the machine really ran and committed


# --- bypassing the services, the database still refuses at commit ---------------------------


def primary_link_id(student):
    return StudentGuardian.objects.values_list("pk", flat=True).get(student=student, relationship_type="primary")


def test_a_raw_delete_of_the_primary_link_fails_at_commit(location, office):
    student = admit(location, office)
    link_id = primary_link_id(student)
    with pytest.raises(IntegrityError, match="primary guardian"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM families_studentguardian WHERE id = %s", [link_id])
        assert cursor.rowcount == 1  # the statement itself succeeds; the commit does not
    assert primary_link_id(student) == link_id


def test_a_raw_delete_in_autocommit_fails_too(location, office):
    student = admit(location, office)
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute("DELETE FROM families_studentguardian WHERE student_id = %s", [student.pk])
    assert StudentGuardian.objects.filter(student=student).count() == 1


def test_a_raw_demotion_of_the_primary_fails_at_commit(location, office):
    student = admit(location, office)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE families_studentguardian SET relationship_type = 'secondary' WHERE student_id = %s", [student.pk]
        )
    assert primary_link_id(student)


def test_replacing_the_primary_inside_one_transaction_passes(location, office):
    student = admit(location, office)
    other = services.guardian_create(actor=office, data=guardian_data())
    with transaction.atomic():
        StudentGuardian.objects.filter(student=student).delete()
        StudentGuardian.objects.create(
            student=student, guardian=other, relationship_type="primary", can_authorize_medical=True
        )
    assert StudentGuardian.objects.get(student=student).guardian == other


def _raw_student(location, status):
    return Student(
        student_number=f"STU-RAW-{next(_serial)}",
        first_name="Raw",
        last_name="Insert",
        date_of_birth=datetime.date(2015, 1, 1),
        enrollment_date=datetime.date(2025, 9, 1),
        location=location,
        status=status,
    )


def test_a_raw_insert_of_an_active_student_without_a_guardian_fails_at_commit(location):
    with pytest.raises(IntegrityError, match="primary guardian"), transaction.atomic():
        Student.all_objects.bulk_create([_raw_student(location, "active")])
        assert Student.all_objects.count() == 1  # the insert itself succeeds; the commit does not
    assert not Student.all_objects.exists()


def test_an_inactive_student_without_a_guardian_commits_but_cannot_become_active(location):
    student = Student.all_objects.bulk_create([_raw_student(location, "inactive")])[0]
    assert Student.all_objects.filter(pk=student.pk).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Student.all_objects.filter(pk=student.pk).update(status="active")
    assert Student.all_objects.get(pk=student.pk).status == "inactive"


def test_undeleting_a_student_without_a_primary_fails_at_commit(location, office):
    student = admit(location, office)
    student_soft_delete(student=student, actor=office, reason="Duplicate")
    StudentGuardian.objects.filter(student=student).delete()  # allowed: a deleted student is exempt
    with pytest.raises(IntegrityError), transaction.atomic():
        Student.all_objects.filter(pk=student.pk).update(deleted_at=None)
    assert Student.all_objects.get(pk=student.pk).is_deleted


def test_the_partial_unique_index_refuses_a_second_primary_at_once(location, office):
    student = admit(location, office)
    other = services.guardian_create(actor=office, data=guardian_data())
    with pytest.raises(IntegrityError, match="one_primary_guardian_per_student"), transaction.atomic():
        StudentGuardian.objects.create(
            student=student, guardian=other, relationship_type="primary", can_authorize_medical=True
        )
    assert StudentGuardian.objects.filter(student=student).count() == 1
