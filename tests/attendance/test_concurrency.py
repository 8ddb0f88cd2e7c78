"""Concurrent marks for one enrollment (PostgreSQL, real threads and connections)."""

import random
import threading
from datetime import time, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from attendance import services
from attendance.models import AttendanceRecord
from enrollment.models import Enrollment
from enrollment.services import enroll
from finance.models import SessionPackage
from tests.factories.academy import (
    AcademicYearFactory,
    ClassSessionFactory,
    LocationFactory,
    SectionFactory,
    TermFactory,
    instructor_user,
    staff_user,
)
from tests.factories.families import StudentFactory
from tests.factories.finance import SessionPackageFactory


def run_threads(count, work):
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index):
        try:
            barrier.wait(timeout=60)
            work(index)
        except BaseException as error:  # reported by the main thread
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_marks_for_one_enrollment_leave_correct_counts():
    """20 threads mark 20 sessions of one enrollment present at once (8 sessions of its
    own, then a 4-session package, then uncovered); then 20 threads change those marks
    at random at once. The counts equal a recount both times."""
    today = timezone.localdate()
    location = LocationFactory(code="MAIN")
    office = staff_user(username="office")
    coach = instructor_user(username="coach")
    term = TermFactory(
        academic_year=AcademicYearFactory(), start_date=today - timedelta(days=60), end_date=today + timedelta(days=5)
    )
    section = SectionFactory(location=location, term=term, capacity=5, instructor=coach)
    sessions = [
        ClassSessionFactory(section=section, date=today - timedelta(days=day), start_time=time(16), end_time=time(17))
        for day in range(1, 21)
    ]
    student = StudentFactory(location=location)
    enrollment = enroll(
        student=student, section=section, actor=office, enrollment_date=term.start_date, sessions_allocated=8
    )
    package = SessionPackageFactory(student=student, sessions=4)

    def mark_present(index):
        services.attendance_mark(class_session=sessions[index], student=student, status="present", actor=coach)

    run_threads(20, mark_present)
    enrollment.refresh_from_db()
    package.refresh_from_db()
    assert (enrollment.sessions_completed, enrollment.sessions_remaining) == (8, 0)
    assert (package.sessions_used, package.status) == (4, SessionPackage.Status.EXHAUSTED)
    by_source = {
        source: AttendanceRecord.objects.filter(enrollment=enrollment, consumed_from=source).count()
        for source in AttendanceRecord.Source.values
    }
    assert by_source == {"none": 0, "enrollment": 8, "package": 4, "uncovered": 8}

    rng = random.Random(5)
    statuses = [rng.choice(AttendanceRecord.Status.values) for _ in range(20)]

    def remark(index):
        services.attendance_mark(class_session=sessions[index], student=student, status=statuses[index], actor=coach)

    run_threads(20, remark)
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    package.refresh_from_db()
    assert enrollment.sessions_completed == AttendanceRecord.objects.filter(consumed_from="enrollment").count()
    assert enrollment.sessions_remaining == 8 - enrollment.sessions_completed
    assert package.sessions_used == AttendanceRecord.objects.filter(package=package).count()
    attended = sum(status in AttendanceRecord.ATTENDED for status in statuses)
    assert AttendanceRecord.objects.exclude(consumed_from="none").count() == attended
