"""Enrollment dates: a term past its end date takes no enrollment (409 ``term_closed``,
like a closed one), classes start inside the term (a field error on ``start_date``) and
the enrollment date is never in the future (docs/rules.md,
Enrollment). Through the services, the waitlist and transfers, and the staff pages;
the API's answers are in ``test_api.py``."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from academy.common.exceptions import Conflict
from enrollment import services
from enrollment.models import Enrollment, WaitlistEntry
from tests.enrollment.conftest import rows
from tests.factories.academy import TermFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def ended_term(term, today):
    """A term still marked open whose last day was yesterday."""
    return TermFactory(
        academic_year=term.academic_year, name="Summer", start_date=today - 90 * DAY, end_date=today - DAY
    )


@pytest.fixture
def ended_section(make_section, ended_term):
    return make_section(capacity=5, term=ended_term)


class TestTermEnded:
    def test_enrolling_is_refused_like_a_closed_term(self, ended_section, make_student, office):
        before = rows()
        with pytest.raises(Conflict) as excinfo:
            services.enroll(student=make_student(), section=ended_section, actor=office, waitlist=True)
        assert excinfo.value.code == "term_closed"
        assert "ended on" in str(excinfo.value.detail)
        assert rows() == before

    def test_the_last_day_of_the_term_still_takes_enrollments(self, make_section, term, today, make_student, office):
        last_day = TermFactory(
            academic_year=term.academic_year, name="Ends today", start_date=today - 30 * DAY, end_date=today
        )
        enrollment = services.enroll(student=make_student(), section=make_section(term=last_day), actor=office)
        assert (enrollment.enrollment_date, enrollment.start_date) == (today, today)

    def test_accepting_an_offered_seat_is_refused(self, ended_section, make_student, office):
        now = timezone.now()
        entry = WaitlistEntry.objects.create(
            section=ended_section,
            student=make_student(),
            position=1,
            status=WaitlistEntry.Status.OFFERED,
            offered_at=now,
            offer_expires_at=now + datetime.timedelta(hours=48),
        )
        before = rows()
        with pytest.raises(Conflict) as excinfo:
            services.waitlist_accept(entry=entry, actor=office)
        assert excinfo.value.code == "term_closed"
        assert rows() == before

    def test_a_transfer_into_it_is_refused_and_nothing_changes(self, section, ended_section, make_student, office):
        enrollment = services.enroll(student=make_student(), section=section, actor=office)
        before = rows()
        with pytest.raises(Conflict) as excinfo:
            services.enrollment_transfer(enrollment=enrollment, to_section=ended_section, actor=office)
        assert excinfo.value.code == "term_closed"
        assert rows() == before
        enrollment.refresh_from_db()
        assert enrollment.status == Enrollment.Status.ENROLLED


class TestStartDate:
    @pytest.mark.parametrize(
        "outside",
        [lambda term: term.start_date - DAY, lambda term: term.end_date + DAY],
        ids=["before-the-term", "after-the-term"],
    )
    def test_a_start_outside_the_term_is_a_field_error(self, section, make_student, office, outside):
        term = section.term
        before = rows()
        with pytest.raises(ValidationError) as excinfo:
            services.enroll(
                student=make_student(),
                section=section,
                actor=office,
                enrollment_date=term.start_date - 10 * DAY,
                start_date=outside(term),
            )
        assert list(excinfo.value.message_dict) == ["start_date"]
        assert "inside the term" in excinfo.value.message_dict["start_date"][0]
        assert rows() == before

    def test_a_start_a_year_after_the_term_does_not_take_a_seat(self, section, make_student, office):
        # the reported case: a class of a term, a start date a year later, took a seat
        with pytest.raises(ValidationError):
            services.enroll(
                student=make_student(), section=section, actor=office, start_date=section.term.end_date + 365 * DAY
            )
        assert not Enrollment.objects.exists()

    def test_a_full_section_checks_the_dates_before_it_waitlists(self, make_section, make_student, office):
        full = make_section(capacity=1)
        services.enroll(student=make_student(), section=full, actor=office)
        before = rows()
        with pytest.raises(ValidationError) as excinfo:
            services.enroll(
                student=make_student(),
                section=full,
                actor=office,
                waitlist=True,
                start_date=full.term.end_date + DAY,
            )
        assert "start_date" in excinfo.value.message_dict
        assert rows() == before


class TestEnrollmentDate:
    def test_a_future_enrollment_date_is_refused(self, section, make_student, office, today):
        before = rows()
        with pytest.raises(ValidationError) as excinfo:
            services.enroll(student=make_student(), section=section, actor=office, enrollment_date=today + DAY)
        assert excinfo.value.message_dict["enrollment_date"] == ["The enrollment date cannot be in the future."]
        assert rows() == before

    def test_today_and_earlier_are_accepted(self, section, make_student, office, today):
        first = services.enroll(student=make_student(), section=section, actor=office, enrollment_date=today)
        second = services.enroll(student=make_student(), section=section, actor=office, enrollment_date=today - DAY)
        assert (first.enrollment_date, second.enrollment_date) == (today, today - DAY)


# --- the staff pages -------------------------------------------------------------------


@pytest.fixture
def staff_client(client, office):
    client.force_login(office)
    return client


def test_the_roster_of_an_ended_term_refuses_enrollment_with_a_form_error(
    staff_client, ended_section, make_student, fee_types
):
    student = make_student()
    before = rows()
    response = staff_client.post(
        reverse("staff:section-enroll", kwargs={"pk": ended_section.pk}),
        {"student": student.student_number, "enrollment_fee": "10.00"},
    )
    assert response.status_code == 400
    errors = response.context["enroll_form"].non_field_errors()
    assert len(errors) == 1 and "ended on" in errors[0]
    assert rows() == before
    # the roster says the term is closed
    roster = staff_client.get(reverse("staff:section-roster", kwargs={"pk": ended_section.pk}))
    assert 'data-testid="term-closed"' in roster.content.decode()


def test_the_student_page_offers_no_section_of_an_ended_term(staff_client, section, ended_section, make_student):
    student = make_student()
    url = reverse("staff:student-enroll", kwargs={"pk": student.pk})
    offered = list(staff_client.get(url).context["form"].fields["section"].queryset)
    assert section in offered and ended_section not in offered
    # posting it anyway is a field error on the choice, and nothing is written
    before = rows()
    response = staff_client.post(url, {"section": str(ended_section.pk)})
    assert response.status_code == 400 and "section" in response.context["form"].errors
    assert rows() == before


def test_a_start_date_outside_the_term_is_shown_next_to_the_field(staff_client, section, make_student, fee_types):
    student = make_student()
    before = rows()
    response = staff_client.post(
        reverse("staff:section-enroll", kwargs={"pk": section.pk}),
        {"student": student.student_number, "start_date": (section.term.end_date + DAY).isoformat()},
    )
    assert response.status_code == 400
    assert "inside the term" in response.context["enroll_form"].errors["start_date"][0]
    assert rows() == before


def test_an_enrollment_in_the_term_is_billed_as_before(staff_client, section, make_student, fee_types):
    student = make_student()
    response = staff_client.post(
        reverse("staff:section-enroll", kwargs={"pk": section.pk}),
        {"student": student.student_number, "enrollment_fee": "10.00"},
    )
    assert response.status_code == 302
    enrollment = Enrollment.objects.get(student=student)
    assert enrollment.invoice.total == Decimal("10.00")
