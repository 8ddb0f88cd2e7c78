"""What a new user hit on the attendance pages (issue 12): a ``?date=`` that is not a
date said nothing and showed today; the report filtered by hand (now
``AttendanceReportFilterSet``, where a bad value is an error, not a wider report); and
the marking screen did not say that an instructor's note is shown to parents."""

import csv
import io

import pytest
from django.test import RequestFactory
from django.urls import reverse

from academy.models import Program
from attendance import selectors, services
from attendance.filters import AttendanceReportFilterSet
from tests.attendance.conftest import add_sessions
from tests.factories.academy import CourseFactory, LocationFactory, ProgramFactory, instructor_user, staff_user
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

DAY = reverse("staff:attendance-day")
REPORT = reverse("staff:attendance-report")


class TestDayParameter:
    @pytest.mark.parametrize("value", ["2025-02-30", "tomorrow", "2025-13-01", "31/12/2025"])
    def test_a_date_that_is_not_one_is_a_400_with_the_error_not_today(self, client, coach, section, today, value):
        # given a session today in the coach's section
        add_sessions(section, today, (0,))
        client.force_login(coach)
        # when the day page is asked for a value that is not a date
        response = client.get(DAY, {"date": value})
        # then it says so, and does not quietly list today's sessions
        assert response.status_code == 400
        page = response.content.decode()
        assert 'data-testid="date-error"' in page
        assert "is not a date" in page and "YYYY-MM-DD" in page
        assert 'data-testid="session-list"' not in page
        assert "(today)" not in page

    def test_no_date_is_today_and_a_real_date_is_that_day(self, client, coach, section, today):
        add_sessions(section, today, (0,))
        client.force_login(coach)
        page = client.get(DAY).content.decode()
        assert "(today)" in page and "1 session" not in page and "SWIM-1-S1" in page
        response = client.get(DAY, {"date": f"{today.replace(year=today.year - 1):%Y-%m-%d}"})
        assert response.status_code == 200
        assert "No class sessions on this day" in response.content.decode()


@pytest.fixture
def two_programmes(make_section, make_student, office, today, coach, location):
    """Two sections at the main location in different programmes, and one at another
    location; each with one past session and one student marked present."""
    from enrollment.services import enroll

    other_course = CourseFactory(code="DIVE-1", title="Dive", program=ProgramFactory(code="DIVE", name="Diving"))
    north = LocationFactory(code="NORTHX", name="North X")
    swim = make_section()
    dive = make_section(course=other_course)
    far = make_section(location=north)
    admin = staff_user(username="all-places", locations=[location, north])
    for section in (swim, dive, far):
        (session,) = add_sessions(section, today, (-7,))
        student = StudentFactory(location=section.location)
        enroll(student=student, section=section, actor=admin, enrollment_date=session.date)
        services.attendance_mark(class_session=session, student=student, status="present", actor=coach)
    return swim, dive, far


def section_names(response) -> list[str]:
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    return sorted(row[0] for row in rows[1:])


class TestReportFilterSet:
    def test_the_report_narrows_through_its_filterset(self, client, office, two_programmes):
        swim, _dive, _far = two_programmes
        client.force_login(office)  # office sees the main location only
        assert section_names(client.get(REPORT, {"format": "csv"})) == ["DIVE-1-S2", "SWIM-1-S1"]
        program = Program.objects.get(code="DIVE")
        assert section_names(client.get(REPORT, {"format": "csv", "program": program.pk})) == ["DIVE-1-S2"]
        assert section_names(client.get(REPORT, {"format": "csv", "section": swim.pk})) == ["SWIM-1-S1"]
        assert (
            section_names(client.get(REPORT, {"format": "csv", "date_from": "2000-01-01", "date_to": "2000-12-31"}))
            == []
        )

    def test_another_location_or_a_section_out_of_reach_is_an_error_not_a_wider_report(
        self, client, office, two_programmes
    ):
        _swim, _dive, far = two_programmes
        client.force_login(office)
        response = client.get(REPORT, {"location": far.location_id})
        assert response.status_code == 400
        page = response.content.decode()
        assert "<p>Location: " in page and "No marks in this period." in page
        response = client.get(REPORT, {"section": far.pk, "format": "csv"})
        assert response.status_code == 400
        assert "Section" in response.content.decode()

    def test_the_filterset_checks_the_section_against_the_callers_scope(self, office, two_programmes):
        swim, _dive, far = two_programmes
        request = RequestFactory().get(REPORT)
        request.user = instructor_user(username="someone-else")
        queryset = selectors.report_records(user=request.user)
        assert not AttendanceReportFilterSet({"section": str(swim.pk)}, queryset=queryset, request=request).is_valid()
        request.user = office
        queryset = selectors.report_records(user=office)
        filterset = AttendanceReportFilterSet({"section": str(swim.pk)}, queryset=queryset, request=request)
        assert filterset.is_valid() and filterset.qs.count() == 1
        assert not AttendanceReportFilterSet({"section": str(far.pk)}, queryset=queryset, request=request).is_valid()

    def test_the_default_range_is_the_last_twelve_months_and_this_one(self, office, today):
        request = RequestFactory().get(REPORT)
        request.user = office
        filterset = AttendanceReportFilterSet(
            request.GET, queryset=selectors.report_records(user=office), request=request
        )
        assert filterset.is_valid()
        assert filterset.form.cleaned_data["date_to"] == today
        assert filterset.form.cleaned_data["date_from"].day == 1
        assert 365 <= (today - filterset.form.cleaned_data["date_from"]).days <= 365 + 31


class TestNoteShownToParents:
    def test_the_marking_screen_says_notes_are_shown_to_parents(self, client, enrolled, sessions, coach):
        (enrollment,) = enrolled(1)
        client.force_login(coach)
        page = client.get(reverse("staff:attendance-session", args=[sessions[0].pk])).content.decode()
        student = enrollment.student
        assert page.count('data-testid="note-shown-to-parents"') == 1
        assert f"Shown word for word to {student.first_name}" in page
        assert f'aria-describedby="note-help-{student.pk}"' in page
        assert "(parents see it)" in page

    def test_and_the_parent_portal_does_show_it(self, client, enrolled, sessions, coach):
        from tests.factories.academy import parent_user

        (enrollment,) = enrolled(1)
        services.attendance_mark(
            class_session=sessions[0],
            student=enrollment.student,
            status="late",
            actor=coach,
            instructor_notes="Forgot goggles again",
        )
        guardian = enrollment.student.guardian_links.get().guardian
        guardian.portal_user = parent_user(username="mum")
        guardian.save()
        client.force_login(guardian.portal_user)
        page = client.get(reverse("portal:child-classes", args=[enrollment.student.pk])).content.decode()
        assert "Forgot goggles again" in page
