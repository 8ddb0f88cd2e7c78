"""Student services: update, status transitions, soft delete, and the history they write."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from academy.common.exceptions import Conflict
from families.selectors import student_list, students_visible_to
from students import services
from students.models import Student
from tests.factories.academy import GradeLevelFactory, staff_user
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

ACTIVE, INACTIVE, GRADUATED, WITHDRAWN = "active", "inactive", "graduated", "withdrawn"
# The transitions an office expects; written out here so a change to the map is noticed.
ALLOWED = {
    (ACTIVE, INACTIVE),
    (ACTIVE, WITHDRAWN),
    (ACTIVE, GRADUATED),
    (INACTIVE, ACTIVE),
    (INACTIVE, WITHDRAWN),
    (WITHDRAWN, ACTIVE),
}
ALL_PAIRS = [(a, b) for a in (ACTIVE, INACTIVE, GRADUATED, WITHDRAWN) for b in (ACTIVE, INACTIVE, GRADUATED, WITHDRAWN)]


def student_in(status, **kwargs):
    student = StudentFactory(**kwargs)
    if status != ACTIVE:
        Student.all_objects.filter(pk=student.pk).update(status=status)
        student.refresh_from_db()
    return student


class TestStudentUpdate:
    def test_update_changes_fields_and_records_the_actor(self, location, office):
        student = StudentFactory(location=location, first_name="Emma")
        grade = GradeLevelFactory()
        services.student_update(
            student=student,
            actor=office,
            data={"first_name": "  Emily ", "email": " Emily@Example.ORG ", "grade_level": grade, "homeroom": "B"},
            reason="Name corrected",
        )
        student.refresh_from_db()
        assert (student.first_name, student.email, student.grade_level, student.homeroom) == (
            "Emily",
            "emily@example.org",
            grade,
            "B",
        )
        assert student.updated_by == office
        latest = student.history.first()
        assert (latest.history_user, latest.history_change_reason, latest.first_name) == (
            office,
            "Name corrected",
            "Emily",
        )

    def test_an_empty_email_is_stored_as_none(self, location, office):
        student = StudentFactory(location=location, email="kid@example.org")
        services.student_update(student=student, actor=office, data={"email": "  "})
        student.refresh_from_db()
        assert student.email is None

    def test_moving_to_another_location_remembers_the_previous_one(self, location, other_location, office):
        student = StudentFactory(location=location)
        services.student_update(student=student, actor=office, data={"location": other_location})
        student.refresh_from_db()
        assert (student.location, student.previous_location) == (other_location, location)

    def test_invalid_data_fails_and_changes_nothing(self, location, office):
        student = StudentFactory(location=location, first_name="Emma", date_of_birth=datetime.date(2015, 3, 15))
        history_rows = student.history.count()
        with pytest.raises(ValidationError) as error:
            services.student_update(
                student=student,
                actor=office,
                data={"first_name": "", "email": "not-an-email", "date_of_birth": "2030-01-01"},
            )
        assert {"first_name", "email"} <= set(error.value.message_dict)
        student.refresh_from_db()
        assert student.first_name == "Emma"
        assert student.history.count() == history_rows

    def test_an_email_used_by_another_student_is_refused_whatever_its_case(self, location, office):
        StudentFactory(location=location, email="taken@example.org")
        student = StudentFactory(location=location)
        with pytest.raises(ValidationError) as error:
            services.student_update(student=student, actor=office, data={"email": "TAKEN@example.org"})
        assert "already has this email" in str(error.value)

    @pytest.mark.parametrize("field", ["student_number", "status", "deleted_at", "created_by", "nonsense"])
    def test_fields_the_service_owns_cannot_be_set(self, location, office, field):
        student = StudentFactory(location=location)
        with pytest.raises(ValueError, match=field):
            services.student_update(student=student, actor=office, data={field: "x"})

    def test_a_deleted_student_cannot_be_updated(self, location, office):
        student = StudentFactory(location=location)
        services.student_soft_delete(student=student, actor=office, reason="Duplicate")
        with pytest.raises(Student.DoesNotExist):
            services.student_update(student=student, actor=office, data={"first_name": "Zed"})


class TestStatusTransitions:
    @pytest.mark.parametrize(("start", "target"), [p for p in ALL_PAIRS if p in ALLOWED])
    def test_allowed_transitions(self, location, office, start, target):
        student = student_in(start, location=location)
        services.student_change_status(student=student, status=target, actor=office, reason="Parent asked")
        student.refresh_from_db()
        assert student.status == target
        latest = student.history.first()
        assert (latest.history_user, latest.history_change_reason, latest.status) == (office, "Parent asked", target)

    @pytest.mark.parametrize(("start", "target"), [p for p in ALL_PAIRS if p not in ALLOWED and p[0] != p[1]])
    def test_refused_transitions_are_a_conflict(self, location, office, start, target):
        student = student_in(start, location=location)
        history_rows = student.history.count()
        with pytest.raises(Conflict) as error:
            services.student_change_status(student=student, status=target, actor=office)
        assert error.value.code == "invalid_status_change"
        student.refresh_from_db()
        assert student.status == start
        assert student.history.count() == history_rows

    def test_the_same_status_is_a_no_op(self, location, office):
        student = StudentFactory(location=location)
        history_rows = student.history.count()
        services.student_change_status(student=student, status=ACTIVE, actor=office)
        assert student.history.count() == history_rows

    def test_an_unknown_status_is_invalid_input(self, location, office):
        student = StudentFactory(location=location)
        with pytest.raises(ValidationError) as error:
            services.student_change_status(student=student, status="expelled", actor=office)
        assert "status" in error.value.message_dict

    def test_the_default_reason_names_the_new_status(self, location, office):
        student = StudentFactory(location=location)
        services.student_change_status(student=student, status=WITHDRAWN, actor=office)
        assert student.history.first().history_change_reason == "Status changed to withdrawn"


class TestSoftDelete:
    def test_a_deleted_student_is_hidden_but_kept(self, location, office, family):
        guardian, (child, sibling) = family
        services.student_soft_delete(student=child, actor=office, reason="Entered twice")

        assert not Student.objects.filter(pk=child.pk).exists()
        assert Student.all_objects.get(pk=child.pk).is_deleted
        unlimited = staff_user(username="head-office")
        assert child not in students_visible_to(unlimited)
        assert child not in students_visible_to(office)
        assert list(students_visible_to(guardian.portal_user)) == [sibling]
        assert child not in student_list(user=office)
        assert child not in student_list(user=office, search=child.student_number)
        assert child.guardian_links.exists()  # relationships are kept with the record

    def test_deletion_records_the_actor_and_reason(self, location, office):
        student = StudentFactory(location=location)
        services.student_soft_delete(student=student, actor=office, reason="Entered twice")
        latest = Student.all_objects.get(pk=student.pk).history.first()
        assert latest.history_user == office
        assert latest.history_change_reason == "Deleted: Entered twice"
        assert latest.deleted_at is not None

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_a_reason_is_required(self, location, office, reason):
        student = StudentFactory(location=location)
        with pytest.raises(ValidationError) as error:
            services.student_soft_delete(student=student, actor=office, reason=reason)
        assert "reason" in error.value.message_dict
        assert Student.objects.filter(pk=student.pk).exists()

    def test_deleting_twice_keeps_the_first_time(self, location, office):
        student = StudentFactory(location=location)
        first = services.student_soft_delete(student=student, actor=office, reason="Duplicate").deleted_at
        history_rows = Student.all_objects.get(pk=student.pk).history.count()
        again = services.student_soft_delete(student=student, actor=office, reason="Again")
        assert again.deleted_at == first
        assert Student.all_objects.get(pk=student.pk).history.count() == history_rows


@pytest.mark.django_db(transaction=True)
def test_create_refuses_to_run_outside_an_admission_transaction(location, office):
    # given autocommit: the student row would be committed without its primary guardian
    with pytest.raises(RuntimeError, match="admission transaction"):
        services.student_create(
            actor=office,
            data={"first_name": "A", "last_name": "B", "location": location, "date_of_birth": "2015-01-01"},
        )
    assert not Student.all_objects.exists()
