"""An instructor marks a whole roster on a phone, in one pass; the parent then sees the
attendance in the portal."""

from datetime import time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from attendance.models import AttendanceRecord
from enrollment.services import enroll
from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import (
    PASSWORD,
    AcademicYearFactory,
    ClassSessionFactory,
    CourseFactory,
    SectionFactory,
    TermFactory,
    instructor_user,
    parent_user,
    staff_user,
)
from tests.factories.families import GuardianFactory, StudentFactory

PHONE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_instructor_marks_a_roster_on_a_phone_and_the_parent_sees_it(browser, live_server, location):
    today = timezone.localdate()
    with transaction.atomic():
        coach = instructor_user(username="coach")
        office = staff_user(username="office")
        term = TermFactory(
            academic_year=AcademicYearFactory(),
            start_date=today - timedelta(days=30),
            end_date=today + timedelta(days=30),
        )
        section = SectionFactory(
            course=CourseFactory(code="SWIM-1", title="Swim level 1"),
            term=term,
            location=location,
            code="A",
            instructor=coach,
            capacity=8,
        )
        ClassSessionFactory(section=section, date=today, start_time=time(0, 0), end_time=time(0, 45))
        guardian = GuardianFactory(portal_user=parent_user(username="parent"), last_name="Okafor")
        child = StudentFactory(location=location, first_name="Ada", last_name="Okafor", primary_guardian=guardian)
        others = [StudentFactory(location=location, last_name=f"Swimmer{n}") for n in range(5)]
    with transaction.atomic():
        for student in [child, *others]:
            enroll(student=student, section=section, actor=office, enrollment_date=term.start_date)

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        # given the instructor signed in on a phone
        sign_in(page, live_server.url, "/staff/login/", "coach", PASSWORD)
        page.goto(f"{live_server.url}/staff/attendance/")
        # when they open today's session and tap one status per child, then save once
        page.get_by_role("link", name="SWIM-1-A").first.click()
        rows = page.get_by_test_id("roster-row")
        assert rows.count() == 6
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for index in range(rows.count()):
            row = rows.nth(index)
            name = row.locator("strong").inner_text()
            status = "absent" if name == "Ada Okafor" else ("late" if index == 1 else "present")
            row.locator(f"label.tap-{status}").tap()
        screenshot(page, "staff-attendance-roster-phone")
        page.get_by_test_id("save-roster").tap()
        # then every mark is saved at once and the screen says so
        page.get_by_text("Saved 6 marks.").wait_for()
        assert page.get_by_test_id("marked-count").inner_text() == "6 of 6 marked"
        statuses = sorted(AttendanceRecord.objects.values_list("status", flat=True))
        assert statuses == ["absent", "late", "present", "present", "present", "present"]
        context.clear_cookies()

        # and the parent sees the absence in the portal
        sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)
        page.wait_for_url(f"{live_server.url}/portal/")
        page.goto(f"{live_server.url}/portal/children/{child.pk}/classes/")
        history = page.get_by_test_id("attendance-history")
        assert "Absent" in history.inner_text()
        assert "Attendance 0.00%" in page.get_by_test_id("overall-attendance").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "portal-child-classes-phone")
    finally:
        context.close()
