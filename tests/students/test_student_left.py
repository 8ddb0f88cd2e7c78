"""``students.signals.student_left``: the students service tells the apps above it
(which it may not import) that a student left, inside its own transaction. What
enrollment does with it is in ``tests/enrollment/test_student_departure.py``."""

import pytest
from django.utils import timezone

from students import services
from students.models import Student
from students.signals import student_left
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """The signals sent during the test, each with the state it was sent in."""
    calls = []

    def listen(sender, **kwargs):
        calls.append(
            {
                "sender": sender,
                **kwargs,
                "status_saved": Student.all_objects.filter(pk=kwargs["student"].pk).values_list("status", flat=True)[0],
            }
        )

    student_left.connect(listen, weak=False, dispatch_uid="test-student-left")
    yield calls
    student_left.disconnect(dispatch_uid="test-student-left")


@pytest.mark.parametrize("status", ["withdrawn", "graduated"])
def test_withdrawing_or_graduating_sends_it_inside_the_transaction(heard, location, office, status):
    student = StudentFactory(location=location)
    services.student_change_status(student=student, status=status, actor=office, reason="  Moved away ")
    assert len(heard) == 1
    call = heard[0]
    assert (call["sender"], call["student"].pk, call["actor"], call["departure"]) == (
        Student,
        student.pk,
        office,
        status,
    )
    assert (call["reason"], call["on"]) == ("Moved away", timezone.localdate())
    assert call["status_saved"] == status  # sent after the student's change, before the commit


def test_soft_delete_sends_it_once(heard, location, office):
    student = StudentFactory(location=location)
    services.student_soft_delete(student=student, actor=office, reason="Entered twice")
    services.student_soft_delete(student=student, actor=office, reason="Again")
    assert [(call["departure"], call["reason"]) for call in heard] == [("deleted", "Entered twice")]


@pytest.mark.parametrize(("start", "status"), [("active", "inactive"), ("inactive", "active"), ("active", "active")])
def test_other_status_changes_send_nothing(heard, location, office, start, status):
    student = StudentFactory(location=location)
    Student.all_objects.filter(pk=student.pk).update(status=start)
    services.student_change_status(student=student, status=status, actor=office)
    assert heard == []


def test_a_failing_receiver_rolls_the_status_change_back(location, office):
    student = StudentFactory(location=location)

    def fail(sender, **kwargs):
        raise RuntimeError("a receiver failed")

    student_left.connect(fail, weak=False, dispatch_uid="test-student-left-fails")
    try:
        with pytest.raises(RuntimeError):
            services.student_change_status(student=student, status="withdrawn", actor=office)
        with pytest.raises(RuntimeError):
            services.student_soft_delete(student=student, actor=office, reason="Entered twice")
    finally:
        student_left.disconnect(dispatch_uid="test-student-left-fails")
    student = Student.all_objects.get(pk=student.pk)
    assert (student.status, student.deleted_at) == ("active", None)
