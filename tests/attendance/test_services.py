"""The attendance services against the database: marks, session counting, make-up
credits, absence notifications and bad input (issue 5, attendance)."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from academy.common.exceptions import Conflict
from attendance import selectors, services
from attendance.models import AttendanceRecord, MakeupCredit
from attendance.services import Mark
from enrollment.models import Enrollment
from enrollment.services import enroll
from families.selectors import guardian_recipient_key
from finance.models import Invoice, SessionPackage
from notifications.models import Notification
from tests.attendance.conftest import add_sessions
from tests.factories.academy import ClassSessionFactory, CourseFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeTypeFactory, SessionPackageFactory

pytestmark = pytest.mark.django_db


def counts(enrollment):
    enrollment.refresh_from_db()
    return enrollment.sessions_allocated, enrollment.sessions_completed, enrollment.sessions_remaining


def mark(session, enrollment, status, actor, **details):
    return services.attendance_mark(
        class_session=session, student=enrollment.student, status=status, actor=actor, **details
    )


class TestSessionCounting:
    @pytest.mark.parametrize("status", ["present", "late", "partial"])
    def test_an_attended_mark_takes_one_of_the_enrollments_sessions(self, enrolled, sessions, coach, status):
        (enrollment,) = enrolled()
        record = mark(sessions[0], enrollment, status, coach)
        assert counts(enrollment) == (5, 1, 4)
        assert record.consumed_from == AttendanceRecord.Source.ENROLLMENT
        assert record.recorded_by == coach
        assert record.session_date == sessions[0].date
        assert record.session_duration_minutes == 60

    @pytest.mark.parametrize("status", ["absent", "excused"])
    def test_an_absence_takes_nothing(self, enrolled, sessions, coach, status):
        (enrollment,) = enrolled()
        record = mark(sessions[0], enrollment, status, coach)
        assert counts(enrollment) == (5, 0, 5)
        assert record.consumed_from == AttendanceRecord.Source.NONE

    def test_changing_and_deleting_a_mark_gives_back_what_it_took(self, enrolled, sessions, coach, office):
        (enrollment,) = enrolled()
        record = mark(sessions[0], enrollment, "present", coach)
        mark(sessions[0], enrollment, "late", coach)  # attended -> attended: nothing moves
        assert counts(enrollment) == (5, 1, 4)
        mark(sessions[0], enrollment, "absent", coach)
        assert counts(enrollment) == (5, 0, 5)
        mark(sessions[0], enrollment, "present", coach)
        assert counts(enrollment) == (5, 1, 4)
        services.attendance_delete(record=record, actor=office, reason="Marked the wrong child")
        assert counts(enrollment) == (5, 0, 5)
        assert not AttendanceRecord.objects.exists()
        deleted = AttendanceRecord.history.filter(history_type="-").get()
        assert deleted.history_change_reason == "Deleted: Marked the wrong child"
        assert deleted.history_user == office

    def test_one_record_per_student_and_session(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        mark(sessions[0], enrollment, "present", coach)
        mark(sessions[0], enrollment, "absent", coach)
        assert AttendanceRecord.objects.filter(student=enrollment.student).count() == 1

    def test_when_the_enrollment_runs_out_a_session_package_pays(self, enrolled, sessions, coach, today):
        (enrollment,) = enrolled(sessions_allocated=1)
        package = SessionPackageFactory(student=enrollment.student, sessions=3, course=enrollment.section.course)
        first = mark(sessions[0], enrollment, "present", coach)
        second = mark(sessions[1], enrollment, "present", coach)
        assert first.consumed_from == AttendanceRecord.Source.ENROLLMENT
        assert second.consumed_from == AttendanceRecord.Source.PACKAGE and second.package == package
        package.refresh_from_db()
        assert (package.sessions_used, package.sessions_remaining) == (1, 2)
        mark(sessions[1], enrollment, "excused", coach)
        package.refresh_from_db()
        assert (package.sessions_used, package.sessions_remaining) == (0, 3)
        assert counts(enrollment) == (1, 1, 0)

    def test_a_package_for_another_course_is_not_used(self, enrolled, sessions, coach):
        (enrollment,) = enrolled(sessions_allocated=0)
        SessionPackageFactory(student=enrollment.student, sessions=3, course=CourseFactory())
        record = mark(sessions[0], enrollment, "present", coach)
        assert record.consumed_from == AttendanceRecord.Source.UNCOVERED

    def test_nothing_to_pay_with_still_records_the_attendance_as_uncovered(self, enrolled, sessions, coach):
        (enrollment,) = enrolled(sessions_allocated=0)
        record = mark(sessions[0], enrollment, "present", coach)
        assert record.consumed_from == AttendanceRecord.Source.UNCOVERED
        assert counts(enrollment) == (0, 0, 0)
        mark(sessions[0], enrollment, "absent", coach)
        record.refresh_from_db()
        assert record.consumed_from == AttendanceRecord.Source.NONE
        assert counts(enrollment) == (0, 0, 0)

    def test_an_exhausted_package_becomes_active_again_when_a_mark_is_corrected(self, enrolled, sessions, coach):
        (enrollment,) = enrolled(sessions_allocated=0)
        package = SessionPackageFactory(student=enrollment.student, sessions=1)
        mark(sessions[0], enrollment, "present", coach)
        package.refresh_from_db()
        assert package.status == SessionPackage.Status.EXHAUSTED
        mark(sessions[0], enrollment, "absent", coach)
        package.refresh_from_db()
        assert package.status == SessionPackage.Status.ACTIVE and package.sessions_remaining == 1


class TestBadInput:
    def test_a_student_not_enrolled_is_refused(self, enrolled, sessions, coach, make_student):
        enrolled()
        with pytest.raises(ValidationError) as excinfo:
            services.attendance_mark(class_session=sessions[0], student=make_student(), status="present", actor=coach)
        assert "student" in excinfo.value.message_dict
        assert not AttendanceRecord.objects.exists()

    def test_a_withdrawn_student_cannot_get_a_new_mark(self, enrolled, sessions, coach, office):
        from enrollment.services import enrollment_withdraw

        (enrollment,) = enrolled()
        enrollment_withdraw(enrollment=enrollment, actor=office, reason="Moved away")
        with pytest.raises(ValidationError):
            mark(sessions[0], enrollment, "present", coach)

    def test_check_out_before_check_in_is_refused_and_nothing_changes(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        check_in = timezone.make_aware(datetime.combine(sessions[0].date, time(16, 5)))
        with pytest.raises(ValidationError) as excinfo:
            mark(
                sessions[0], enrollment, "late", coach, check_in_at=check_in, check_out_at=check_in - timedelta(hours=1)
            )
        assert "Check-out cannot be before check-in." in str(excinfo.value)
        assert not AttendanceRecord.objects.exists()
        assert counts(enrollment) == (5, 0, 5)

    def test_an_unknown_status_is_refused(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        with pytest.raises(ValidationError) as excinfo:
            mark(sessions[0], enrollment, "asleep", coach)
        assert "marks[0].status" in excinfo.value.message_dict or "status" in excinfo.value.message_dict

    def test_minutes_late_need_a_late_mark(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        with pytest.raises(ValidationError):
            mark(sessions[0], enrollment, "present", coach, minutes_late=10)
        assert counts(enrollment) == (5, 0, 5)

    def test_a_cancelled_or_future_session_cannot_be_marked(self, enrolled, sessions, section, today, coach):
        (enrollment,) = enrolled()
        cancelled = ClassSessionFactory(section=section, date=today - timedelta(days=3), is_cancelled=True)
        with pytest.raises(Conflict) as excinfo:
            mark(cancelled, enrollment, "present", coach)
        assert excinfo.value.code == "session_cancelled"
        with pytest.raises(Conflict) as excinfo:
            mark(sessions[3], enrollment, "present", coach)
        assert excinfo.value.code == "session_in_future"
        assert counts(enrollment) == (5, 0, 5)

    def test_a_roster_with_one_bad_row_writes_nothing(self, enrolled, sessions, coach, make_student):
        enrollments = enrolled(3)
        stranger = make_student()
        marks = [Mark(student=e.student, status="present") for e in enrollments] + [
            Mark(student=stranger, status="present")
        ]
        with pytest.raises(ValidationError) as excinfo:
            services.attendance_mark_roster(class_session=sessions[0], marks=marks, actor=coach)
        assert list(excinfo.value.message_dict) == ["marks[3].student"]
        assert not AttendanceRecord.objects.exists()
        assert all(counts(e) == (5, 0, 5) for e in enrollments)

    def test_a_roster_with_a_row_that_fails_late_writes_nothing(self, enrolled, sessions, coach):
        enrollments = enrolled(2)
        marks = [
            Mark(student=enrollments[0].student, status="present"),
            Mark(student=enrollments[1].student, status="present", details={"minutes_late": 5}),
        ]
        with pytest.raises(ValidationError) as excinfo:
            services.attendance_mark_roster(class_session=sessions[0], marks=marks, actor=coach)
        assert "marks[1].minutes_late" in excinfo.value.message_dict
        assert not AttendanceRecord.objects.exists()
        assert counts(enrollments[0]) == (5, 0, 5)

    def test_a_student_twice_in_a_roster_is_refused(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        marks = [Mark(student=enrollment.student, status="present"), Mark(student=enrollment.student, status="absent")]
        with pytest.raises(ValidationError) as excinfo:
            services.attendance_mark_roster(class_session=sessions[0], marks=marks, actor=coach)
        assert "marks[1].student" in excinfo.value.message_dict

    def test_deleting_needs_a_reason(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        record = mark(sessions[0], enrollment, "present", coach)
        with pytest.raises(ValidationError):
            services.attendance_delete(record=record, actor=coach, reason=" ")
        assert counts(enrollment) == (5, 1, 4)


class TestRoster:
    def test_a_whole_roster_in_one_call(self, enrolled, sessions, coach):
        enrollments = enrolled(3)
        statuses = ["present", "absent", "late"]
        records = services.attendance_mark_roster(
            class_session=sessions[0],
            marks=[Mark(student=e.student, status=s) for e, s in zip(enrollments, statuses, strict=True)],
            actor=coach,
        )
        assert [r.status for r in records] == statuses
        assert [counts(e)[1] for e in enrollments] == [1, 0, 1]

    def test_the_roster_lists_the_enrolled_the_booked_make_ups_and_those_already_marked(
        self, enrolled, sessions, coach, office, make_section, today
    ):
        enrollments = enrolled(2)
        other = make_section()
        other_sessions = add_sessions(other, today, (-7, 7))
        visitor = enroll(
            student=StudentFactory(location=other.location),
            section=other,
            actor=office,
            enrollment_date=today - timedelta(days=50),
        )
        mark(other_sessions[0], visitor, "absent", coach)
        credit = MakeupCredit.objects.get()
        services.makeup_book(credit=credit, class_session=sessions[3], actor=office)
        rows = selectors.roster(class_session=sessions[3])
        assert {row.student.pk for row in rows} == {
            enrollments[0].student_id,
            enrollments[1].student_id,
            visitor.student_id,
        }
        assert [row.makeup is not None for row in rows if row.student.pk == visitor.student_id] == [True]


class TestMakeups:
    def test_an_absence_earns_a_credit_that_expires_after_the_programmes_days(self, enrolled, sessions, coach, program):
        program.makeup_credit_days = 30
        program.save()
        (enrollment,) = enrolled()
        record = mark(sessions[0], enrollment, "absent", coach)
        credit = record.makeup_credit
        assert credit.status == MakeupCredit.Status.AVAILABLE
        assert credit.expires_on == sessions[0].date + timedelta(days=30)
        assert credit.enrollment == enrollment and credit.missed_session == sessions[0]

    @pytest.mark.parametrize(
        ("policy", "status", "earns"),
        [
            ("none", "absent", False),
            ("none", "excused", False),
            ("excused", "absent", False),
            ("excused", "excused", True),
            ("absent_or_excused", "absent", True),
            ("absent_or_excused", "excused", True),
        ],
    )
    def test_the_programme_decides_which_absences_earn_one(
        self, enrolled, sessions, coach, program, policy, status, earns
    ):
        program.makeup_policy = policy
        program.save()
        (enrollment,) = enrolled()
        mark(sessions[0], enrollment, status, coach)
        assert MakeupCredit.objects.exists() is earns

    def test_correcting_the_mark_to_present_revokes_an_unused_credit_and_back_restores_it(
        self, enrolled, sessions, coach
    ):
        (enrollment,) = enrolled()
        mark(sessions[0], enrollment, "absent", coach)
        mark(sessions[0], enrollment, "present", coach)
        credit = MakeupCredit.objects.get()
        assert credit.status == MakeupCredit.Status.REVOKED
        mark(sessions[0], enrollment, "excused", coach)
        credit.refresh_from_db()
        assert credit.status == MakeupCredit.Status.AVAILABLE
        assert MakeupCredit.objects.count() == 1

    def test_booking_uses_the_credit_and_the_make_up_mark_counts_against_the_missed_enrollment(
        self, enrolled, sessions, coach, office, make_section, today
    ):
        (enrollment,) = enrolled()
        other = make_section()
        (makeup_session,) = add_sessions(other, today, (0,))
        mark(sessions[0], enrollment, "absent", coach)
        credit = services.makeup_book(credit=MakeupCredit.objects.get(), class_session=makeup_session, actor=office)
        assert credit.status == MakeupCredit.Status.BOOKED and credit.booked_by == office
        record = mark(makeup_session, enrollment, "present", coach)
        assert record.is_makeup and record.original_session == sessions[0]
        assert record.enrollment == enrollment
        assert counts(enrollment) == (5, 1, 4)
        credit.refresh_from_db()
        assert credit.makeup_record == record
        with pytest.raises(Conflict) as excinfo:
            services.makeup_cancel(credit=credit, actor=office)
        assert excinfo.value.code == "makeup_attended"

    def test_a_full_session_cannot_take_a_make_up(
        self, enrolled, sessions, coach, office, make_section, today, make_student
    ):
        (enrollment,) = enrolled()
        full = make_section(capacity=1)
        (makeup_session,) = add_sessions(full, today, (7,))
        enroll(student=make_student(), section=full, actor=office)
        mark(sessions[0], enrollment, "absent", coach)
        credit = MakeupCredit.objects.get()
        with pytest.raises(Conflict) as excinfo:
            services.makeup_book(credit=credit, class_session=makeup_session, actor=office)
        assert excinfo.value.code == "session_full"
        credit.refresh_from_db()
        assert credit.status == MakeupCredit.Status.AVAILABLE

    def test_make_ups_take_seats_too(self, enrolled, sessions, coach, office, make_section, today):
        first, second = enrolled(2)
        small = make_section(capacity=1)
        (makeup_session,) = add_sessions(small, today, (7,))
        mark(sessions[0], first, "absent", coach)
        mark(sessions[0], second, "absent", coach)
        credits = list(MakeupCredit.objects.order_by("created_at"))
        services.makeup_book(credit=credits[0], class_session=makeup_session, actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.makeup_book(credit=credits[1], class_session=makeup_session, actor=office)
        assert excinfo.value.code == "session_full"

    def test_only_sessions_of_the_same_programme_ahead_and_before_expiry(
        self, enrolled, sessions, coach, office, location, term, today
    ):
        from tests.factories.academy import SectionFactory

        (enrollment,) = enrolled()
        mark(sessions[0], enrollment, "absent", coach)
        credit = MakeupCredit.objects.get()
        maths = SectionFactory(term=term, location=location, course=CourseFactory())
        (maths_session,) = add_sessions(maths, today, (7,))
        with pytest.raises(ValidationError):
            services.makeup_book(credit=credit, class_session=maths_session, actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.makeup_book(credit=credit, class_session=sessions[1], actor=office)
        assert excinfo.value.code in ("session_past", "already_enrolled")

    def test_the_make_up_fee_is_invoiced_and_cancelling_the_booking_cancels_it(
        self, enrolled, sessions, coach, office, make_section, today, program
    ):
        FeeTypeFactory(code="MAKEUP")
        program.makeup_fee = Decimal("15.00")
        program.save()
        (enrollment,) = enrolled()
        other = make_section()
        (makeup_session,) = add_sessions(other, today, (7,))
        mark(sessions[0], enrollment, "absent", coach)
        credit = services.makeup_book(credit=MakeupCredit.objects.get(), class_session=makeup_session, actor=office)
        invoice = credit.fee_invoice
        assert invoice.total == Decimal("15.00") and invoice.student == enrollment.student
        services.makeup_cancel(credit=credit, actor=office, reason="Family cannot come")
        invoice.refresh_from_db()
        credit.refresh_from_db()
        assert invoice.status == Invoice.Status.CANCELLED
        assert credit.status == MakeupCredit.Status.AVAILABLE and credit.booked_session is None

    def test_correcting_the_missed_mark_cancels_a_booking_not_yet_attended(
        self, enrolled, sessions, coach, office, make_section, today
    ):
        (enrollment,) = enrolled()
        other = make_section()
        (makeup_session,) = add_sessions(other, today, (7,))
        mark(sessions[0], enrollment, "absent", coach)
        services.makeup_book(credit=MakeupCredit.objects.get(), class_session=makeup_session, actor=office)
        mark(sessions[0], enrollment, "present", coach)
        credit = MakeupCredit.objects.get()
        assert credit.status == MakeupCredit.Status.REVOKED and credit.booked_session is None

    def test_an_expired_credit_cannot_be_booked_and_the_job_expires_it(
        self, enrolled, sessions, coach, office, make_section, today, program
    ):
        program.makeup_credit_days = 1
        program.save()
        (enrollment,) = enrolled()
        (makeup_session,) = add_sessions(make_section(), today, (7,))
        mark(sessions[0], enrollment, "absent", coach)
        credit = MakeupCredit.objects.get()
        with pytest.raises(Conflict) as excinfo:
            services.makeup_book(credit=credit, class_session=makeup_session, actor=office)
        assert excinfo.value.code == "credit_expired"
        assert services.makeup_credits_expire() == 1
        assert services.makeup_credits_expire() == 0
        credit.refresh_from_db()
        assert credit.status == MakeupCredit.Status.EXPIRED

    def test_deleting_the_missed_mark_revokes_the_credit(self, enrolled, sessions, coach, office):
        (enrollment,) = enrolled()
        record = mark(sessions[0], enrollment, "absent", coach)
        services.attendance_delete(record=record, actor=office, reason="Session was cancelled")
        credit = MakeupCredit.objects.get()
        assert credit.status == MakeupCredit.Status.REVOKED and credit.missed_record is None


class TestAbsenceNotifications:
    def test_guardians_who_receive_communications_are_told_once_per_absence(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        student = enrollment.student
        link = student.guardian_links.get()
        mark(sessions[0], enrollment, "absent", coach)
        mark(sessions[0], enrollment, "excused", coach)
        mark(sessions[0], enrollment, "absent", coach)
        told = Notification.objects.filter(kind="attendance_absent")
        assert told.count() == 1
        notification = told.get()
        assert student.full_name in notification.title
        assert notification.recipient_key == guardian_recipient_key(link.guardian)
        mark(sessions[1], enrollment, "absent", coach)
        assert told.count() == 2

    def test_nobody_is_told_when_no_guardian_receives_communications(self, enrolled, sessions, coach):
        (enrollment,) = enrolled()
        enrollment.student.guardian_links.update(receives_communications=False)
        mark(sessions[0], enrollment, "absent", coach)
        assert not Notification.objects.filter(kind="attendance_absent").exists()


class TestPercentages:
    def test_excused_absences_do_not_count_and_threshold_decides_eligibility(
        self, enrolled, sessions, coach, program, location
    ):
        (enrollment,) = enrolled()
        for session, status in zip(sessions[:3], ["present", "absent", "excused"], strict=True):
            mark(session, enrollment, status, coach)
        data = selectors.student_attendance(student=enrollment.student)
        assert (data.overall.total, data.overall.attended, data.overall.counted) == (3, 1, 2)
        assert data.overall.percentage == Decimal("50.00")
        (row,) = data.enrollments
        assert row.threshold == Decimal("75") and row.eligible is False
        location.attendance_threshold = Decimal("40")
        location.save()
        assert selectors.student_attendance(student=enrollment.student).enrollments[0].eligible is True
        program.attendance_threshold = Decimal("60")
        program.save()
        again = selectors.student_attendance(student=enrollment.student).enrollments[0]
        assert again.threshold == Decimal("60") and again.eligible is False

    def test_no_marks_means_no_percentage_not_zero(self, enrolled):
        (enrollment,) = enrolled()
        data = selectors.student_attendance(student=enrollment.student)
        assert data.overall.percentage is None
        assert data.enrollments[0].eligible is True

    def test_monthly_summary_groups_by_month(self, enrolled, section, coach, today):
        (enrollment,) = enrolled()
        first = today.replace(day=1)
        last_month = first - timedelta(days=1)
        dates = [last_month - timedelta(days=2), last_month, first]
        created = [ClassSessionFactory(section=section, date=d) for d in dates if d >= section.term.start_date]
        statuses = ["present", "absent", "late"][-len(created) :]
        for session, status in zip(created, statuses, strict=True):
            mark(session, enrollment, status, coach)
        months = selectors.monthly_summary(AttendanceRecord.objects.filter(student=enrollment.student))
        assert sum(summary.total for _, summary in months) == len(created)
        assert [m for m, _ in months] == sorted({d.replace(day=1) for d in dates if d >= section.term.start_date})


def test_enrollment_status_unchanged_by_marks(enrolled, sessions, coach):
    (enrollment,) = enrolled()
    mark(sessions[0], enrollment, "present", coach)
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.ENROLLED
