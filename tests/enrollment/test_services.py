"""The enrollment services against the database: every rule of issue 5 (enrollment)."""

import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.models import Term
from enrollment import selectors, services
from enrollment.models import Enrollment, WaitlistEntry
from finance.models import Invoice, LedgerEntry
from notifications.models import Notification
from tests.factories.academy import ClassSessionFactory
from tests.factories.finance import FinancePolicyFactory, issue

pytestmark = pytest.mark.django_db


def conflict_code(excinfo) -> str:
    return excinfo.value.code


class TestEnroll:
    def test_enrolls_with_the_sections_term_and_its_sessions(self, section, make_student, office):
        first_day = section.term.start_date
        ClassSessionFactory(section=section, date=first_day + datetime.timedelta(days=7))
        ClassSessionFactory(section=section, date=first_day + datetime.timedelta(days=14))
        ClassSessionFactory(section=section, date=first_day + datetime.timedelta(days=21), is_cancelled=True)
        student = make_student()
        enrollment = services.enroll(
            student=student, section=section, actor=office, enrollment_date=first_day - datetime.timedelta(days=12)
        )
        enrollment.refresh_from_db()
        assert enrollment.status == Enrollment.Status.ENROLLED
        assert enrollment.term == section.term
        assert enrollment.start_date == section.term.start_date
        assert (enrollment.sessions_allocated, enrollment.sessions_completed, enrollment.sessions_remaining) == (
            2,
            0,
            2,
        )
        assert enrollment.invoice is None  # no enrollment fee set up: nothing billed
        assert enrollment.created_by == office
        assert enrollment.history.get().history_user == office

    def test_bills_the_enrollment_fee_and_session_package_on_one_invoice(
        self, section, make_student, office, enrollment_fee
    ):
        student = make_student()
        enrollment = services.enroll(
            student=student, section=section, actor=office, sessions_allocated=10, session_rate=Decimal("12.50")
        )
        invoice = enrollment.invoice
        assert enrollment.enrollment_fee == Decimal("50.00")
        assert invoice.student == student and invoice.term == section.term
        assert invoice.total == Decimal("175.00")
        assert sorted((line.fee_type.code, line.quantity, line.amount) for line in invoice.lines.all()) == [
            ("ENROLLMENT", 1, Decimal("50.00")),
            ("TUITION", 10, Decimal("125.00")),
        ]
        assert LedgerEntry.objects.filter(invoice=invoice).count() == 2

    def test_an_explicit_fee_overrides_the_fee_structure(self, section, make_student, office, enrollment_fee):
        enrollment = services.enroll(student=make_student(), section=section, actor=office, enrollment_fee=0)
        assert enrollment.enrollment_fee == Decimal("0.00") and enrollment.invoice is None

    def test_a_fee_without_its_fee_type_is_refused_and_nothing_is_written(self, section, make_student, office):
        with pytest.raises(ValidationError) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office, enrollment_fee=Decimal("20"))
        assert "enrollment_fee" in excinfo.value.message_dict
        assert not Enrollment.objects.exists() and not Invoice.objects.exists()

    def test_a_negative_fee_is_a_field_error(self, section, make_student, office, fee_types):
        with pytest.raises(ValidationError) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office, enrollment_fee=Decimal("-1"))
        assert "enrollment_fee" in excinfo.value.message_dict

    def test_a_closed_term_is_refused(self, section, make_student, office):
        Term.objects.filter(pk=section.term_id).update(status=Term.Status.CLOSED)
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office)
        assert conflict_code(excinfo) == "term_closed"
        assert not Enrollment.objects.exists()

    def test_a_second_active_enrollment_is_refused(self, section, make_student, office):
        student = make_student()
        services.enroll(student=student, section=section, actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=student, section=section, actor=office, waitlist=True)
        assert conflict_code(excinfo) == "already_enrolled"
        assert Enrollment.objects.count() == 1 and not WaitlistEntry.objects.exists()

    def test_a_withdrawn_student_may_enroll_again(self, section, make_student, office):
        student = make_student()
        first = services.enroll(student=student, section=section, actor=office)
        services.enrollment_withdraw(enrollment=first, actor=office, reason="Moved")
        again = services.enroll(student=student, section=section, actor=office)
        assert again.pk != first.pk and Enrollment.objects.active().get() == again

    def test_a_finance_hold_is_refused(self, section, make_student, office, fee_types):
        student = make_student()
        FinancePolicyFactory(location=student.location, block_enrollment=True, hold_threshold=Decimal("100.00"))
        issue(student, "150.00", actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=student, section=section, actor=office, waitlist=True)
        assert conflict_code(excinfo) == "finance_hold"
        assert not Enrollment.objects.exists() and not WaitlistEntry.objects.exists()

    def test_a_balance_under_the_threshold_is_no_hold(self, section, make_student, office, fee_types):
        student = make_student()
        FinancePolicyFactory(location=student.location, block_enrollment=True, hold_threshold=Decimal("100.00"))
        issue(student, "80.00", actor=office)
        assert services.enroll(student=student, section=section, actor=office).pk

    def test_a_full_section_is_refused(self, section, make_student, office):
        for _ in range(2):
            services.enroll(student=make_student(), section=section, actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office)
        assert conflict_code(excinfo) == "section_full"
        assert Enrollment.objects.count() == 2 and not WaitlistEntry.objects.exists()

    def test_a_paused_student_keeps_the_seat(self, section, make_student, office):
        first = services.enroll(student=make_student(), section=section, actor=office)
        services.enroll(student=make_student(), section=section, actor=office)
        services.enrollment_pause(enrollment=first, actor=office, reason="Injury")
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office)
        assert conflict_code(excinfo) == "section_full"

    def test_a_full_section_waitlists_at_the_end_of_the_line_when_asked(self, section, make_student, office):
        for _ in range(2):
            services.enroll(student=make_student(), section=section, actor=office)
        first = services.enroll(student=make_student(), section=section, actor=office, waitlist=True)
        second = services.enroll(student=make_student(), section=section, actor=office, waitlist=True)
        assert isinstance(first, WaitlistEntry) and isinstance(second, WaitlistEntry)
        assert (first.status, first.position, second.position) == ("waiting", 1, 2)
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=first.student, section=section, actor=office, waitlist=True)
        assert conflict_code(excinfo) == "already_waitlisted"

    def test_an_inactive_student_is_refused(self, section, make_student, office):
        student = make_student(status="inactive")
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=student, section=section, actor=office)
        assert conflict_code(excinfo) == "student_not_active"

    def test_a_section_of_another_location_is_a_field_error(self, make_section, other_location, make_student, office):
        section = make_section(location=other_location)
        with pytest.raises(ValidationError) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office)
        assert "section" in excinfo.value.message_dict

    def test_a_start_before_the_enrollment_date_is_a_field_error(self, section, make_student, office):
        with pytest.raises(ValidationError) as excinfo:
            services.enroll(
                student=make_student(),
                section=section,
                actor=office,
                enrollment_date=datetime.date(2025, 9, 10),
                start_date=datetime.date(2025, 9, 1),
            )
        assert "start_date" in excinfo.value.message_dict


class TestStatusChanges:
    def test_pause_resume_and_withdraw(self, section, make_student, office):
        enrollment = services.enroll(student=make_student(), section=section, actor=office)
        services.enrollment_pause(enrollment=enrollment, actor=office, reason="Holiday")
        enrollment.refresh_from_db()
        assert (enrollment.status, enrollment.status_reason) == ("paused", "Holiday")
        services.enrollment_resume(enrollment=enrollment, actor=office)
        enrollment.refresh_from_db()
        assert enrollment.status == "enrolled"
        services.enrollment_withdraw(enrollment=enrollment, actor=office, reason="Moved away")
        enrollment.refresh_from_db()
        assert enrollment.status == "withdrawn" and enrollment.end_date >= enrollment.start_date
        assert [h.history_change_reason for h in enrollment.history.order_by("history_date")] == [
            "Enrolled",
            "Paused: Holiday",
            "Resumed",
            "Withdrawn: Moved away",
        ]

    @pytest.mark.parametrize(
        ("setup", "change"),
        [
            ("enrolled", "resume"),
            ("paused", "pause"),
            ("withdrawn", "pause"),
            ("withdrawn", "resume"),
            ("withdrawn", "withdraw"),
            ("completed", "withdraw"),
        ],
    )
    def test_transitions_not_allowed_are_refused(self, section, make_student, office, setup, change):
        enrollment = services.enroll(student=make_student(), section=section, actor=office)
        if setup == "paused":
            services.enrollment_pause(enrollment=enrollment, actor=office)
        elif setup == "withdrawn":
            services.enrollment_withdraw(enrollment=enrollment, actor=office)
        elif setup == "completed":
            services.enrollment_complete(enrollment=enrollment, actor=office)
        before = Enrollment.history.count()
        call = {
            "pause": services.enrollment_pause,
            "resume": services.enrollment_resume,
            "withdraw": services.enrollment_withdraw,
        }[change]
        with pytest.raises(Conflict) as excinfo:
            call(enrollment=enrollment, actor=office)
        assert conflict_code(excinfo) == "invalid_status_change"
        assert Enrollment.history.count() == before

    def test_withdrawal_before_the_start_is_a_field_error(self, section, make_student, office):
        enrollment = services.enroll(
            student=make_student(), section=section, actor=office, enrollment_date=datetime.date(2025, 8, 1)
        )
        with pytest.raises(ValidationError) as excinfo:
            services.enrollment_withdraw(enrollment=enrollment, actor=office, end_date=datetime.date(2025, 8, 15))
        assert "end_date" in excinfo.value.message_dict
        enrollment.refresh_from_db()
        assert enrollment.status == "enrolled"

    def test_update_changes_only_the_safe_fields(self, section, make_student, office):
        enrollment = services.enroll(student=make_student(), section=section, actor=office)
        services.enrollment_update(enrollment=enrollment, actor=office, data={"notes": "Needs goggles"})
        enrollment.refresh_from_db()
        assert enrollment.notes == "Needs goggles"
        with pytest.raises(ValueError, match="cannot set"):
            services.enrollment_update(enrollment=enrollment, actor=office, data={"status": "withdrawn"})


class TestWaitlist:
    @pytest.fixture
    def full(self, section, make_student, office):
        """The two-seat section full, with two students in line."""
        seated = [services.enroll(student=make_student(), section=section, actor=office) for _ in range(2)]
        line = [services.enroll(student=make_student(), section=section, actor=office, waitlist=True) for _ in range(2)]
        return seated, line

    def test_a_withdrawal_offers_the_seat_to_the_first_in_line(self, full, office, settings):
        settings.ENROLLMENT_OFFER_HOURS = 24
        seated, line = full
        before = timezone.now()
        services.enrollment_withdraw(enrollment=seated[0], actor=office)
        first, second = (WaitlistEntry.objects.get(pk=e.pk) for e in line)
        assert first.status == "offered" and second.status == "waiting"
        assert first.offered_at >= before
        assert first.offer_expires_at - first.offered_at == timedelta(hours=24)
        # the first in line's guardian is told; nobody else is
        told = Notification.objects.filter(kind="waitlist_seat_offered")
        guardian = first.student.guardian_links.get(relationship_type="primary").guardian
        assert [n.recipient_key for n in told] == [f"families.guardian:{guardian.pk}"]
        assert first.student.full_name in told.get().title

    def test_an_offered_seat_is_held_for_the_offer(self, full, section, make_student, office):
        seated, _line = full
        services.enrollment_withdraw(enrollment=seated[0], actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office)
        assert conflict_code(excinfo) == "section_full"

    def test_accepting_the_offer_enrolls(self, full, section, office):
        seated, line = full
        services.enrollment_withdraw(enrollment=seated[0], actor=office)
        enrollment = services.waitlist_accept(entry=line[0], actor=office)
        entry = WaitlistEntry.objects.get(pk=line[0].pk)
        assert entry.status == "accepted" and entry.enrollment == enrollment
        assert enrollment.student == line[0].student and enrollment.status == "enrolled"
        assert selectors.section_seats_taken(section=section) == 2

    def test_a_waiting_entry_cannot_accept(self, full, office):
        _seated, line = full
        with pytest.raises(Conflict) as excinfo:
            services.waitlist_accept(entry=line[0], actor=office)
        assert conflict_code(excinfo) == "no_offer"

    def test_an_expired_offer_cannot_be_accepted(self, full, office):
        seated, line = full
        services.enrollment_withdraw(enrollment=seated[0], actor=office)
        WaitlistEntry.objects.filter(pk=line[0].pk).update(
            offered_at=timezone.now() - timedelta(hours=50), offer_expires_at=timezone.now() - timedelta(hours=2)
        )
        with pytest.raises(Conflict) as excinfo:
            services.waitlist_accept(entry=line[0], actor=office)
        assert conflict_code(excinfo) == "offer_expired"
        assert Enrollment.objects.active().count() == 1

    def test_expiry_moves_on_to_the_next_and_is_idempotent(self, full, office):
        seated, line = full
        services.enrollment_withdraw(enrollment=seated[0], actor=office)
        later = timezone.now() + timedelta(hours=49)
        assert services.waitlist_expire_offers(now=later) == 1
        first, second = (WaitlistEntry.objects.get(pk=e.pk) for e in line)
        assert first.status == "expired" and second.status == "offered"
        assert second.offer_expires_at > later
        assert services.waitlist_expire_offers(now=later) == 0
        assert WaitlistEntry.objects.filter(status="offered").count() == 1

    def test_a_capacity_raise_is_offered_by_the_scheduled_job(self, full, section, office):
        type(section).objects.filter(pk=section.pk).update(capacity=4)
        services.waitlist_expire_offers()
        assert set(WaitlistEntry.objects.values_list("status", flat=True)) == {"offered"}

    def test_free_seats_go_to_the_line_before_a_newcomer(self, full, section, make_student, office):
        _seated, line = full
        type(section).objects.filter(pk=section.pk).update(capacity=3)
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office)
        # the newcomer does not jump the line; the refused request wrote nothing
        assert conflict_code(excinfo) == "section_full"
        assert not Enrollment.objects.filter(status="enrolled").exclude(pk__in=[e.pk for e in _seated]).exists()
        # and the scheduled job offers the raised seat to the first in line
        services.waitlist_expire_offers()
        assert [WaitlistEntry.objects.get(pk=e.pk).status for e in line] == ["offered", "waiting"]

    def test_removing_an_offered_entry_offers_the_seat_to_the_next(self, full, office):
        seated, line = full
        services.enrollment_withdraw(enrollment=seated[0], actor=office)
        services.waitlist_remove(entry=line[0], actor=office, reason="Family declined")
        first, second = (WaitlistEntry.objects.get(pk=e.pk) for e in line)
        assert (first.status, first.closed_reason) == ("removed", "Family declined")
        assert second.status == "offered"
        with pytest.raises(Conflict):
            services.waitlist_remove(entry=line[0], actor=office)

    def test_place_in_line_counts_only_live_entries(self, full, section, office, academy_admin):
        _seated, line = full
        services.waitlist_remove(entry=line[0], actor=office)
        rows = {e.pk: e.place_in_line for e in selectors.waitlist_list(user=academy_admin)}
        assert rows[line[1].pk] == 1


class TestTransfer:
    def test_moves_the_unused_sessions_atomically(self, section, make_section, make_student, office):
        target = make_section(capacity=1)
        enrollment = services.enroll(student=make_student(), section=section, actor=office, sessions_allocated=10)
        Enrollment.objects.filter(pk=enrollment.pk).update(sessions_completed=3, sessions_remaining=7)
        moved = services.enrollment_transfer(enrollment=enrollment, to_section=target, actor=office)
        enrollment.refresh_from_db()
        assert enrollment.status == "withdrawn"
        assert (enrollment.sessions_allocated, enrollment.sessions_completed, enrollment.sessions_remaining) == (
            3,
            3,
            0,
        )
        assert (moved.section, moved.sessions_allocated, moved.sessions_remaining) == (target, 7, 7)
        assert moved.invoice is None

    def test_a_full_target_refuses_and_nothing_changes(self, section, make_section, make_student, office):
        target = make_section(capacity=1)
        services.enroll(student=make_student(), section=target, actor=office)
        enrollment = services.enroll(student=make_student(), section=section, actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.enrollment_transfer(enrollment=enrollment, to_section=target, actor=office)
        assert conflict_code(excinfo) == "section_full"
        enrollment.refresh_from_db()
        assert enrollment.status == "enrolled" and Enrollment.objects.count() == 2

    def test_a_closed_target_term_refuses(self, section, make_section, make_student, office, term):
        closed = make_section(
            term=type(term).objects.create(
                academic_year=term.academic_year,
                name="Spring",
                start_date=datetime.date(2026, 1, 5),
                end_date=datetime.date(2026, 3, 31),
                status="closed",
            )
        )
        enrollment = services.enroll(student=make_student(), section=section, actor=office)
        with pytest.raises(Conflict) as excinfo:
            services.enrollment_transfer(enrollment=enrollment, to_section=closed, actor=office)
        assert conflict_code(excinfo) == "term_closed"

    def test_the_freed_seat_is_offered_to_the_old_sections_line(self, section, make_section, make_student, office):
        target = make_section(capacity=5)
        seated = [services.enroll(student=make_student(), section=section, actor=office) for _ in range(2)]
        waiting = services.enroll(student=make_student(), section=section, actor=office, waitlist=True)
        services.enrollment_transfer(enrollment=seated[0], to_section=target, actor=office)
        assert WaitlistEntry.objects.get(pk=waiting.pk).status == "offered"


class TestSeats:
    def test_sections_with_seats_counts_enrolled_paused_and_offers(self, section, make_student, office, academy_admin):
        seated = [services.enroll(student=make_student(), section=section, actor=office) for _ in range(2)]
        services.enroll(student=make_student(), section=section, actor=office, waitlist=True)
        services.enroll(student=make_student(), section=section, actor=office, waitlist=True)
        services.enrollment_pause(enrollment=seated[1], actor=office)
        services.enrollment_withdraw(enrollment=seated[0], actor=office)
        row = selectors.sections_with_seats(type(section).objects.filter(pk=section.pk)).get()
        assert (row.enrolled_count, row.offered_count, row.waitlist_count) == (1, 1, 2)
