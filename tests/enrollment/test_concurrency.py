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


def run_together(*targets, timeout: float = 180) -> list[BaseException]:
    """Run each target in a thread of its own (so on a connection of its own, closed when
    it ends) and answer what they raised."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(target) -> None:
        try:
            target()
        except BaseException as error:  # reported by the caller
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors


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

    def withdraw() -> None:
        try:
            with transaction.atomic():
                student_change_status(student=leaver, status="withdrawn", actor=office)
                left.set()
                time.sleep(1.0)  # the other office enrolls meanwhile
        finally:
            left.set()

    def enroll() -> None:
        left.wait(timeout=30)
        try:
            services.enroll(student=leaver, section=other, actor=office)
            outcome.append("enrolled")
        except Conflict as conflict:
            outcome.append(conflict.code)

    errors = run_together(withdraw, enroll, timeout=60)
    assert not errors, errors
    assert outcome == ["student_not_active"]
    assert not Enrollment.objects.active().filter(student=leaver).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_accepting_and_removing_in_one_line_at_once_neither_deadlocks_nor_oversells():
    """Offices accept offered seats and take entries out of the same section's line at
    the same moment (each removal offers its seat to the next in line): every request
    ends in its outcome or a 409, none in a deadlock, and the seats held never exceed
    the capacity."""
    location = LocationFactory(code="MAIN")
    office = staff_user(username="office")
    term = running_term(name="Autumn")
    section = SectionFactory(location=location, capacity=4, term=term)
    for _ in range(4):
        services.enroll(student=StudentFactory(location=location), section=section, actor=office)
    entries = [
        services.enroll(student=StudentFactory(location=location), section=section, actor=office, waitlist=True)
        for _ in range(16)
    ]
    # four seats freed: the first four in line are offered one each
    for enrollment in Enrollment.objects.filter(section=section):
        services.enrollment_withdraw(enrollment=enrollment, actor=office, reason="moved away")
    offered = list(WaitlistEntry.objects.filter(section=section, status=WaitlistEntry.Status.OFFERED))
    assert len(offered) == 4
    # offices accept for families whose seat is offered, or about to be (the removals
    # ahead of them offer it), while others take entries out
    work = [("accept", entry) for entry in entries[:8]] + [("remove", entry) for entry in entries[2:14]]
    barrier = threading.Barrier(len(work))
    outcomes: list[str] = []

    def office_does(action: str, entry: WaitlistEntry):
        def run() -> None:
            barrier.wait(timeout=60)
            try:
                if action == "accept":
                    services.waitlist_accept(entry=entry, actor=office)
                else:
                    services.waitlist_remove(entry=entry, actor=office, reason="no longer interested")
                outcomes.append({"accept": "accepted", "remove": "removed"}[action])
            except Conflict as conflict:
                outcomes.append(conflict.code)

        return run

    errors = run_together(*(office_does(action, entry) for action, entry in work))
    assert not errors, errors
    assert len(outcomes) == len(work)
    assert set(outcomes) <= {"accepted", "removed", "offer_closed", "no_offer"}
    from enrollment.selectors import section_seats_taken

    assert section_seats_taken(section=section) <= section.capacity
    assert Enrollment.objects.filter(section=section).active().count() == outcomes.count("accepted")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reordering_the_line_while_a_student_of_it_is_locked_does_not_deadlock():
    """An office reorders a line while another request holds one of its students (an
    enrollment of that student locks the student, then the section). Reordering updates
    the entries twice, so PostgreSQL checks their student keys at commit (``FOR KEY
    SHARE``): the student lock must not exclude that check, or the reorder waits for the
    student while holding the section the enrollment waits for (a deadlock, a 500)."""
    location = LocationFactory(code="MAIN")
    office = staff_user(username="office")
    term = running_term(name="Autumn")
    section = SectionFactory(location=location, capacity=1, term=term)
    services.enroll(student=StudentFactory(location=location), section=section, actor=office)
    entries = [
        services.enroll(student=StudentFactory(location=location), section=section, actor=office, waitlist=True)
        for _ in range(3)
    ]
    held = entries[0].student  # first in line: moved down to place 2 by the reorder
    locked, moved = threading.Event(), threading.Event()
    order: list[str] = []

    def enrollment_of_the_held_student() -> None:
        try:
            with transaction.atomic():
                services._student_lock(held.pk)
                locked.set()
                moved.wait(timeout=3)  # the reorder commits meanwhile (or is stuck until we give up)
                services._section_lock(section)
                order.append("section locked")
        finally:
            locked.set()

    def reorder() -> None:
        locked.wait(timeout=30)
        services.waitlist_move(entry=entries[2], position=1, actor=office)
        order.append("moved")
        moved.set()

    errors = run_together(enrollment_of_the_held_student, reorder, timeout=60)
    assert not errors, errors
    assert order == ["moved", "section locked"]
    line = WaitlistEntry.objects.filter(section=section).order_by("position")
    assert [entry.pk for entry in line] == [entries[2].pk, entries[0].pk, entries[1].pk]
