"""Capacity under concurrent requests (PostgreSQL, real threads and connections)."""

import threading
import time

import pytest
from django.db import connection, transaction

from academy.common.exceptions import Conflict
from enrollment import services
from enrollment.models import Enrollment, WaitlistEntry
from students.services import student_change_status
from tests.factories.academy import LocationFactory, SectionFactory, running_term, staff_user
from tests.factories.families import StudentFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_enrollments_into_ten_seats():
    """50 threads enroll 50 students into a 10-seat section at once, half asking for the
    waitlist: exactly 10 enrolled, the other 40 refused (section_full) or waitlisted."""
    location = LocationFactory(code="MAIN")
    office = staff_user(username="office")
    term = running_term(name="Autumn")
    section = SectionFactory(location=location, capacity=10, term=term)
    students = [StudentFactory(location=location) for _ in range(50)]
    barrier = threading.Barrier(len(students))
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def enroll(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            try:
                result = services.enroll(
                    student=students[index], section=section, actor=office, waitlist=index % 2 == 0
                )
                outcome = "waitlisted" if isinstance(result, WaitlistEntry) else "enrolled"
            except Conflict as conflict:
                outcome = conflict.code
            with lock:
                outcomes.append(outcome)
        except BaseException as error:  # reported by the main thread
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=enroll, args=(index,)) for index in range(len(students))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert not errors, errors
    assert len(outcomes) == 50
    assert outcomes.count("enrolled") == 10
    assert outcomes.count("section_full") + outcomes.count("waitlisted") == 40
    assert set(outcomes) <= {"enrolled", "section_full", "waitlisted"}
    assert Enrollment.objects.filter(section=section).active().count() == 10
    positions = sorted(WaitlistEntry.objects.filter(section=section).values_list("position", flat=True))
    assert positions == list(range(1, outcomes.count("waitlisted") + 1))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_seat_given_while_the_student_leaves_waits_and_is_refused():
    """One office withdraws a student while another enrolls them into a section they do
    not hold a seat in: the enrollment waits for the student's row, then sees the
    student withdrawn (409 ``student_not_active``), so no seat is left behind."""
    location = LocationFactory(code="MAIN")
    office = staff_user(username="office")
    term = running_term(name="Autumn")
    held, other = (SectionFactory(location=location, capacity=5, term=term) for _ in range(2))
    leaver = StudentFactory(location=location)
    services.enroll(student=leaver, section=held, actor=office)
    left = threading.Event()
    outcome: list[str] = []
    errors: list[BaseException] = []

    def withdraw() -> None:
        try:
            with transaction.atomic():
                student_change_status(student=leaver, status="withdrawn", actor=office)
                left.set()
                time.sleep(1.0)  # the other office enrolls meanwhile
        except BaseException as error:
            errors.append(error)
            left.set()
        finally:
            connection.close()

    def enroll() -> None:
        try:
            left.wait(timeout=30)
            try:
                services.enroll(student=leaver, section=other, actor=office)
                outcome.append("enrolled")
            except Conflict as conflict:
                outcome.append(conflict.code)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=withdraw), threading.Thread(target=enroll)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert outcome == ["student_not_active"]
    assert not Enrollment.objects.active().filter(student=leaver).exists()
