"""The attendance rules of one row are database constraints: the database refuses a raw
write that breaks them (no service, no ``full_clean``): ``objects.create``,
``bulk_create`` and ``QuerySet.update`` straight to the table."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from attendance.models import AttendanceRecord, MakeupCredit
from tests.factories.academy import ClassSessionFactory
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.finance import SessionPackageFactory

pytestmark = pytest.mark.django_db

SEPT_8 = datetime.date(2025, 9, 8)
# the constraint a refusal names: PostgreSQL names every constraint; SQLite names a
# check constraint, the columns of a unique constraint and the index of a partial one
ONE_MARK = "one_attendance_record_per_student_session|attendance_attendancerecord.student_id"
ONE_BOOKING = "one_makeup_booking_per_student_session|attendance_makeupcredit.student_id"
PACKAGE = "attendance_package_named_when_used"
MAKEUP = "attendance_makeup_names_missed_session"
BOOKED = "makeup_credit_booked_names_session"


def refused(queryset, constraint, **changes):
    """``queryset.update(**changes)`` fails on ``constraint`` (both databases name a
    check constraint in the error)."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        queryset.update(**changes)


def refused_create(constraint, **fields):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        AttendanceRecord.objects.create(**fields)


@pytest.fixture
def enrollment(location):
    return EnrollmentFactory(student__location=location)


@pytest.fixture
def sessions(enrollment):
    """Two sessions of the enrollment's section a week apart."""
    return [
        ClassSessionFactory(section=enrollment.section, date=SEPT_8 + datetime.timedelta(days=7 * week))
        for week in range(2)
    ]


def mark_fields(enrollment, session, **fields):
    """The columns of a sane present mark counted against the enrollment."""
    return {
        "student": enrollment.student,
        "class_session": session,
        "enrollment": enrollment,
        "status": "present",
        "session_date": session.date,
        "consumed_from": "enrollment",
        **fields,
    }


@pytest.fixture
def record(enrollment, sessions):
    """A present mark in the first session, written straight to the table."""
    return AttendanceRecord.objects.create(**mark_fields(enrollment, sessions[0]))


def rows(record):
    return AttendanceRecord.objects.filter(pk=record.pk)


class TestAttendanceRecordConstraints:
    def test_a_sane_row_is_accepted(self, record):
        # given the fixture's raw row: the constraints below refuse only what is wrong
        assert AttendanceRecord.objects.filter(pk=record.pk, status="present").exists()

    def test_one_mark_per_student_and_session(self, record, enrollment, sessions):
        refused_create(ONE_MARK, **mark_fields(enrollment, sessions[0], status="absent", consumed_from="none"))
        # bulk_create of the same pair is refused as well, and writes neither row
        with pytest.raises(IntegrityError, match=ONE_MARK), transaction.atomic():
            AttendanceRecord.objects.bulk_create(
                [
                    AttendanceRecord(**mark_fields(enrollment, sessions[1])),
                    AttendanceRecord(**mark_fields(enrollment, sessions[1], status="late")),
                ]
            )
        assert AttendanceRecord.objects.count() == 1

    def test_the_same_student_in_another_session_is_fine(self, record, enrollment, sessions):
        assert AttendanceRecord.objects.create(**mark_fields(enrollment, sessions[1])).pk

    def test_status_valid(self, record):
        # an unknown status breaks "consumption matches status" too; PostgreSQL may name either
        refused(rows(record), "attendance_status_valid|attendance_consumption_matches_status", status="asleep")

    def test_check_out_not_before_check_in(self, record):
        check_in = timezone.make_aware(datetime.datetime(2025, 9, 8, 16, 0))
        refused(
            rows(record),
            "attendance_check_out_after_check_in",
            check_in_at=check_in,
            check_out_at=check_in - datetime.timedelta(minutes=1),
        )
        # the same moment, or only one of the two, is fine
        rows(record).update(check_in_at=check_in, check_out_at=check_in)
        rows(record).update(check_in_at=None, check_out_at=check_in)

    def test_time_attended_at_most_an_hour_over_the_session(self, record):
        refused(
            rows(record), "attendance_duration_consistent", session_duration_minutes=45, actual_duration_minutes=106
        )
        rows(record).update(session_duration_minutes=45, actual_duration_minutes=105)

    @pytest.mark.parametrize(
        ("status", "consumed_from"),
        [
            ("present", "none"),  # attended, but counted nowhere
            ("late", "none"),
            ("partial", "none"),
            ("absent", "enrollment"),  # not attended, but took a session
            ("excused", "uncovered"),
        ],
    )
    def test_consumption_matches_status(self, record, status, consumed_from):
        refused(rows(record), "attendance_consumption_matches_status", status=status, consumed_from=consumed_from)

    def test_an_unpaid_attended_mark_says_uncovered(self, record):
        rows(record).update(consumed_from="uncovered")
        rows(record).update(status="absent", consumed_from="none")

    def test_consumed_from_valid(self, record):
        refused(rows(record), "attendance_consumed_from_valid", consumed_from="voucher")

    def test_a_package_is_named_when_used_and_only_then(self, record, enrollment):
        package = SessionPackageFactory(student=enrollment.student, course=enrollment.section.course)
        refused(rows(record), PACKAGE, consumed_from="package")  # package used, none named
        refused(rows(record), PACKAGE, package=package)  # counted on the enrollment, yet a package named
        rows(record).update(consumed_from="package", package=package)

    def test_a_make_up_names_the_missed_session(self, record, enrollment, sessions):
        refused(rows(record), MAKEUP, is_makeup=True)  # a make-up without the session it replaces
        refused(rows(record), MAKEUP, original_session=sessions[1])  # not a make-up, yet names one
        refused(rows(record), MAKEUP, is_makeup=True, original_session=sessions[0])  # makes up for itself
        rows(record).update(is_makeup=True, original_session=sessions[1])

    def test_create_is_refused_as_well(self, enrollment, sessions):
        refused_create(MAKEUP, **mark_fields(enrollment, sessions[0], is_makeup=True))
        refused_create("attendance_consumption_matches_status", **mark_fields(enrollment, sessions[0], status="absent"))
        assert not AttendanceRecord.objects.exists()


class TestMakeupCreditConstraints:
    @pytest.fixture
    def credit(self, enrollment, sessions):
        """An available credit earned by missing the first session."""
        return MakeupCredit.objects.create(
            student=enrollment.student,
            enrollment=enrollment,
            missed_session=sessions[0],
            expires_on=SEPT_8 + datetime.timedelta(days=60),
        )

    @pytest.fixture
    def elsewhere(self, location, enrollment):
        """A session of another section of the same course (where a make-up goes)."""
        other = EnrollmentFactory(student__location=location, section__course=enrollment.section.course).section
        return ClassSessionFactory(section=other, date=SEPT_8 + datetime.timedelta(days=3))

    def credits(self, credit):
        return MakeupCredit.objects.filter(pk=credit.pk)

    def test_a_sane_booking_is_accepted(self, credit, elsewhere):
        self.credits(credit).update(status="booked", booked_session=elsewhere, booked_at=timezone.now())
        assert MakeupCredit.objects.get(pk=credit.pk).booked_session == elsewhere

    def test_status_valid(self, credit):
        refused(self.credits(credit), "makeup_credit_status_valid", status="spent")

    def test_a_booked_credit_names_its_session_and_when(self, credit, elsewhere):
        refused(self.credits(credit), BOOKED, status="booked")
        refused(self.credits(credit), BOOKED, status="booked", booked_session=elsewhere)  # no booked_at
        refused(self.credits(credit), BOOKED, status="booked", booked_at=timezone.now())  # no session

    def test_a_credit_not_booked_names_no_session(self, credit, elsewhere):
        for status in ("available", "revoked", "expired"):
            refused(self.credits(credit), BOOKED, status=status, booked_session=elsewhere, booked_at=timezone.now())

    def test_the_make_up_is_not_the_missed_session(self, credit, sessions):
        refused(
            self.credits(credit),
            "makeup_credit_not_the_missed_session",
            status="booked",
            booked_session=sessions[0],
            booked_at=timezone.now(),
        )

    def test_an_attended_make_up_is_booked(self, credit, enrollment, sessions):
        mark = AttendanceRecord.objects.create(
            **mark_fields(enrollment, sessions[1], is_makeup=True, original_session=sessions[0])
        )
        refused(self.credits(credit), "makeup_credit_attended_is_booked", makeup_record=mark)  # still "available"

    def test_one_booking_per_student_and_session(self, credit, enrollment, sessions, elsewhere):
        now = timezone.now()
        self.credits(credit).update(status="booked", booked_session=elsewhere, booked_at=now)
        with pytest.raises(IntegrityError, match=ONE_BOOKING), transaction.atomic():
            MakeupCredit.objects.create(
                student=enrollment.student,
                enrollment=enrollment,
                missed_session=sessions[1],
                expires_on=credit.expires_on,
                status="booked",
                booked_session=elsewhere,
                booked_at=now,
            )
        # a second credit of the student may be booked elsewhere, or sit unbooked
        second = MakeupCredit.objects.create(
            student=enrollment.student, enrollment=enrollment, missed_session=sessions[1], expires_on=credit.expires_on
        )
        assert second.pk
