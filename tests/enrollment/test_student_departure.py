"""A student who leaves (withdrawn, graduated or soft-deleted through
``students.services``) gives up their seats and places in line in the same transaction:
``students.signals.student_left`` -> ``enrollment.receivers`` ->
``enrollment.services.enrollments_end_for_departed_student``. Active enrollments end
with the withdraw form's billing effect (nothing billed, credited or cancelled), each
freed seat is offered to the first in line, the student's own waitlist entries are
removed, and the attendance rosters of later sessions no longer list them."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from attendance.selectors import roster
from enrollment import services
from enrollment.models import Enrollment, WaitlistEntry
from enrollment.selectors import enrollment_billing_effects, section_seats_taken
from finance.models import Invoice, LedgerEntry
from students import services as student_services
from students.models import Student
from students.signals import student_left
from tests.factories.academy import ClassSessionFactory, TermFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def snapshot(leaver) -> dict:
    """Everything a departure changes (or must leave alone)."""
    return {
        "student": Student.all_objects.filter(pk=leaver.pk).values_list("status", "deleted_at").get(),
        "enrollments": sorted(Enrollment.objects.values_list("pk", "status", "end_date")),
        "waitlist": sorted(WaitlistEntry.objects.values_list("pk", "status")),
        "enrollment history": Enrollment.history.count(),
        "waitlist history": WaitlistEntry.history.count(),
        "invoices": sorted(Invoice.objects.values_list("pk", "status", "total")),
        "ledger": LedgerEntry.objects.count(),
    }


@pytest.fixture
def leaving(make_section, make_student, office, fee_types, today):
    """``leaver`` holds: the last seat of ``full`` (billed, with ``next_up`` waiting for
    it), a paused seat in ``paused_in``, a seat in ``later`` starting next week, a
    place in the line of ``waited`` and a seat offered in ``offered_in`` (with
    ``after_offer`` waiting behind)."""
    leaver, next_up, after_offer = make_student(first_name="Lea"), make_student(), make_student()
    full, paused_in, later = make_section(capacity=1), make_section(capacity=3), make_section(capacity=3)
    waited, offered_in = make_section(capacity=1), make_section(capacity=1)
    for week in (1, 2):  # the seat buys the sessions ahead
        ClassSessionFactory(section=full, date=today + (7 * week - 1) * DAY)
    seat = services.enroll(
        student=leaver, section=full, actor=office, enrollment_fee=Decimal("40.00"), session_rate=Decimal("10.00")
    )
    services.enroll(student=next_up, section=full, actor=office, waitlist=True)
    paused = services.enroll(student=leaver, section=paused_in, actor=office)
    services.enrollment_pause(enrollment=paused, actor=office, reason="Injury")
    upcoming = services.enroll(student=leaver, section=later, actor=office, start_date=today + 7 * DAY)
    services.enroll(student=make_student(), section=waited, actor=office)
    own_place = services.enroll(student=leaver, section=waited, actor=office, waitlist=True)
    holder = services.enroll(student=make_student(), section=offered_in, actor=office)
    own_offer = services.enroll(student=leaver, section=offered_in, actor=office, waitlist=True)
    services.enroll(student=after_offer, section=offered_in, actor=office, waitlist=True)
    services.enrollment_withdraw(enrollment=holder, actor=office, reason="Moved")  # the seat is offered to leaver
    own_offer.refresh_from_db()
    assert own_offer.status == WaitlistEntry.Status.OFFERED
    return SimpleNamespace(
        leaver=leaver,
        next_up=next_up,
        after_offer=after_offer,
        full=full,
        paused_in=paused_in,
        later=later,
        waited=waited,
        offered_in=offered_in,
        seat=seat,
        paused=paused,
        upcoming=upcoming,
        own_place=own_place,
        own_offer=own_offer,
    )


def entry_of(student, section) -> WaitlistEntry:
    return WaitlistEntry.objects.get(student=student, section=section)


def assert_left(s, *, today, status_of_started: str) -> None:
    """The checks every departure shares."""
    s.seat.refresh_from_db()
    s.paused.refresh_from_db()
    s.upcoming.refresh_from_db()
    assert (s.seat.status, s.seat.end_date) == (status_of_started, today)
    assert (s.paused.status, s.paused.end_date) == (status_of_started, today)
    # an enrollment that had not started yet was never attended: withdrawn on its first day
    assert (s.upcoming.status, s.upcoming.end_date) == (Enrollment.Status.WITHDRAWN, s.upcoming.start_date)
    assert not Enrollment.objects.active().filter(student=s.leaver).exists()
    # the freed seats: the first in line is offered each, the sections no longer count the leaver
    assert entry_of(s.next_up, s.full).status == WaitlistEntry.Status.OFFERED
    assert section_seats_taken(section=s.full) == 1  # the seat held for next_up's offer
    assert section_seats_taken(section=s.paused_in) == 0 and section_seats_taken(section=s.later) == 0
    # the leaver's own places in line are gone; the seat offered to them goes to the next
    assert not WaitlistEntry.objects.live().filter(student=s.leaver).exists()
    assert entry_of(s.leaver, s.waited).status == WaitlistEntry.Status.REMOVED
    assert entry_of(s.leaver, s.offered_in).status == WaitlistEntry.Status.REMOVED
    assert entry_of(s.after_offer, s.offered_in).status == WaitlistEntry.Status.OFFERED


class TestWithdrawnStudent:
    def test_enrollments_end_seats_free_and_places_in_line_go(self, leaving, office, today):
        student_services.student_change_status(
            student=leaving.leaver, status="withdrawn", actor=office, reason="Moved away"
        )
        assert_left(leaving, today=today, status_of_started=Enrollment.Status.WITHDRAWN)
        leaving.seat.refresh_from_db()
        assert leaving.seat.status_reason == "The student was withdrawn: Moved away"
        latest = leaving.seat.history.first()
        assert (latest.history_user, latest.history_change_reason) == (
            office,
            "Withdrawn: The student was withdrawn: Moved away",
        )
        assert entry_of(leaving.leaver, leaving.waited).closed_reason == "The student was withdrawn: Moved away"

    def test_the_billing_effect_is_the_withdraw_forms(self, leaving, office):
        # given the effect the withdraw form states for the billed seat
        stated = enrollment_billing_effects(enrollment=leaving.seat)["withdraw"]
        assert stated.startswith(f"The invoice already issued ({leaving.seat.invoice.invoice_number}) stays as it is")
        assert "nothing more is billed" in stated and "not refunded automatically" in stated
        invoices = sorted(Invoice.objects.values_list("pk", "status", "total", "amount_adjusted", "amount_paid"))
        ledger = LedgerEntry.objects.count()
        # when the student is withdrawn
        student_services.student_change_status(student=leaving.leaver, status="withdrawn", actor=office)
        # then no invoice is issued, cancelled or credited, and no money moves
        assert (
            sorted(Invoice.objects.values_list("pk", "status", "total", "amount_adjusted", "amount_paid")) == invoices
        )
        assert LedgerEntry.objects.count() == ledger
        leaving.seat.refresh_from_db()
        assert leaving.seat.sessions_remaining == leaving.seat.sessions_allocated  # kept, as the form says

    def test_later_attendance_rosters_no_longer_list_the_student(self, leaving, office, today):
        next_week = ClassSessionFactory(section=leaving.full, date=today + 7 * DAY)
        assert leaving.leaver.pk in {row.student.pk for row in roster(class_session=next_week)}
        student_services.student_change_status(student=leaving.leaver, status="withdrawn", actor=office)
        assert leaving.leaver.pk not in {row.student.pk for row in roster(class_session=next_week)}

    def test_an_inactive_student_keeps_their_seats(self, leaving, office):
        # inactive is a pause of the record, not a departure
        before = snapshot(leaving.leaver)
        student_services.student_change_status(student=leaving.leaver, status="inactive", actor=office)
        after = snapshot(leaving.leaver)
        assert after["enrollments"] == before["enrollments"] and after["waitlist"] == before["waitlist"]

    def test_a_student_without_enrollments_leaves_quietly(self, make_student, office):
        student = make_student()
        history = Enrollment.history.count(), WaitlistEntry.history.count()
        student_services.student_change_status(student=student, status="withdrawn", actor=office)
        assert (Enrollment.history.count(), WaitlistEntry.history.count()) == history


class TestGraduatedStudent:
    def test_started_enrollments_complete_and_the_rest_is_freed_alike(self, leaving, office, today):
        student_services.student_change_status(student=leaving.leaver, status="graduated", actor=office)
        assert_left(leaving, today=today, status_of_started=Enrollment.Status.COMPLETED)
        leaving.seat.refresh_from_db()
        assert leaving.seat.status_reason == "The student graduated"


class TestDeletedStudent:
    def test_a_deleted_student_leaves_like_a_withdrawn_one(self, leaving, office, today):
        student_services.student_soft_delete(student=leaving.leaver, actor=office, reason="Entered twice")
        assert_left(leaving, today=today, status_of_started=Enrollment.Status.WITHDRAWN)
        leaving.seat.refresh_from_db()
        assert leaving.seat.status_reason == "The student's record was deleted: Entered twice"


class TestAllOrNothing:
    def test_a_failure_after_the_enrollments_ended_rolls_everything_back(self, leaving, office):
        # given a later receiver of the same signal that fails (our receiver ran first)
        def fail(sender, **kwargs):
            assert Enrollment.objects.active().filter(student=kwargs["student"]).count() == 0
            raise RuntimeError("a later receiver failed")

        before = snapshot(leaving.leaver)
        student_left.connect(fail, weak=False, dispatch_uid="test-departure-fails")
        try:
            for leave in (
                lambda: student_services.student_change_status(
                    student=leaving.leaver, status="withdrawn", actor=office
                ),
                lambda: student_services.student_change_status(
                    student=leaving.leaver, status="graduated", actor=office
                ),
                lambda: student_services.student_soft_delete(student=leaving.leaver, actor=office, reason="Twice"),
            ):
                with pytest.raises(RuntimeError):
                    leave()
                # then the student, the seats, the lines, the offers and the money are as before
                assert snapshot(leaving.leaver) == before
        finally:
            student_left.disconnect(dispatch_uid="test-departure-fails")

    def test_an_end_the_enrollment_rules_refuse_rolls_the_status_back(self, leaving, office, term):
        # given an enrollment whose end the enrollment rules refuse (a corrupt row the
        # database cannot catch: its term is not its section's, so full_clean fails)
        other_term = TermFactory(academic_year=term.academic_year, start_date=term.start_date, end_date=term.end_date)
        Enrollment.objects.filter(pk=leaving.paused.pk).update(term=other_term)
        before = snapshot(leaving.leaver)
        with pytest.raises(ValidationError):
            student_services.student_change_status(student=leaving.leaver, status="withdrawn", actor=office)
        assert snapshot(leaving.leaver) == before


class TestThroughTheInterfaces:
    def test_the_staff_status_form(self, client, leaving, office, today):
        client.force_login(office)
        response = client.post(
            reverse("staff:student-status", kwargs={"pk": leaving.leaver.pk}),
            {"status": "withdrawn", "reason": "Moved away"},
        )
        assert response.status_code == 302
        assert_left(leaving, today=today, status_of_started=Enrollment.Status.WITHDRAWN)

    def test_the_staff_delete_page(self, client, leaving, academy_admin, today):
        client.force_login(academy_admin)
        response = client.post(
            reverse("staff:student-delete", kwargs={"pk": leaving.leaver.pk}),
            {"reason": "Entered twice", "confirm": "on"},
        )
        assert response.status_code == 302
        assert_left(leaving, today=today, status_of_started=Enrollment.Status.WITHDRAWN)

    def test_the_api(self, client_for, leaving, office, today):
        response = client_for(office).patch(
            f"/api/v1/students/{leaving.leaver.pk}/", {"status": "graduated"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert_left(leaving, today=today, status_of_started=Enrollment.Status.COMPLETED)
