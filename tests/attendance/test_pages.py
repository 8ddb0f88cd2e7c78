"""The staff attendance pages and the parent portal's classes page: permissions,
marking a roster in one POST (all or nothing), make-up booking, the report with its
CSV, and fixed query counts."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse

from attendance import services
from attendance.models import AttendanceRecord, MakeupCredit
from tests.attendance.conftest import add_sessions
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import instructor_user, parent_user
from tests.factories.families import GuardianFactory

pytestmark = pytest.mark.django_db


def session_url(session):
    return reverse("staff:attendance-session", args=[session.pk])


def counts(enrollment):
    enrollment.refresh_from_db()
    return enrollment.sessions_completed, enrollment.sessions_remaining


class TestAttendanceScreen:
    def test_the_instructor_marks_the_whole_roster_in_one_post(self, client, enrolled, sessions, coach):
        enrollments = enrolled(3)
        client.force_login(coach)
        page = client.get(session_url(sessions[0]))
        assert page.status_code == 200
        assert page.content.decode().count('data-testid="roster-row"') == 3
        data = {
            f"status-{enrollments[0].student_id}": "present",
            f"status-{enrollments[1].student_id}": "absent",
            f"status-{enrollments[2].student_id}": "late",
            f"note-{enrollments[2].student_id}": "Bus was late",
        }
        response = client.post(session_url(sessions[0]), data)
        assert response.status_code == 302
        marks = dict(AttendanceRecord.objects.values_list("student_id", "status"))
        assert marks == {
            enrollments[0].student_id: "present",
            enrollments[1].student_id: "absent",
            enrollments[2].student_id: "late",
        }
        assert AttendanceRecord.objects.get(student=enrollments[2].student).instructor_notes == "Bus was late"
        assert counts(enrollments[0]) == (1, 4)
        page = client.get(session_url(sessions[0])).content.decode()
        assert "3 of 3 marked" in page

    def test_everyone_not_marked_is_present(self, client, enrolled, sessions, coach):
        enrollments = enrolled(3)
        client.force_login(coach)
        client.post(session_url(sessions[0]), {f"status-{enrollments[0].student_id}": "absent", "everyone": "present"})
        statuses = sorted(AttendanceRecord.objects.values_list("status", flat=True))
        assert statuses == ["absent", "present", "present"]

    def test_another_instructors_session_is_a_404_and_nothing_is_written(self, client, enrolled, sessions):
        enrollments = enrolled(1)
        client.force_login(instructor_user(username="other-coach"))
        assert client.get(session_url(sessions[0])).status_code == 404
        response = client.post(session_url(sessions[0]), {f"status-{enrollments[0].student_id}": "present"})
        assert response.status_code == 404
        assert not AttendanceRecord.objects.exists()

    def test_a_parent_and_an_anonymous_visitor_are_kept_out(self, client, sessions):
        assert client.get(session_url(sessions[0])).status_code == 302
        client.force_login(parent_user(username="a-parent"))
        assert client.get(session_url(sessions[0])).status_code in (302, 403)

    def test_a_future_session_is_shown_but_cannot_be_marked(self, client, enrolled, sessions, coach):
        (enrollment,) = enrolled(1)
        client.force_login(coach)
        page = client.get(session_url(sessions[3])).content.decode()
        assert 'data-testid="save-roster"' not in page
        response = client.post(session_url(sessions[3]), {f"status-{enrollment.student_id}": "present"})
        assert response.status_code == 400
        assert "not happened yet" in response.content.decode()
        assert not AttendanceRecord.objects.exists()

    def test_the_day_page_lists_the_sessions_to_mark(self, client, enrolled, sessions, coach):
        enrolled(1)
        client.force_login(coach)
        day = sessions[0].date
        page = client.get(reverse("staff:attendance-day") + f"?date={day:%Y-%m-%d}").content.decode()
        assert session_url(sessions[0]) in page
        assert session_url(sessions[1]) not in page
        assert client.get(reverse("staff:attendance-day") + "?date=nonsense").status_code == 400

    def test_the_screen_reads_in_a_fixed_number_of_queries(
        self, client, enrolled, sessions, coach, django_assert_max_num_queries
    ):
        enrolled(2)
        client.force_login(coach)
        client.get(session_url(sessions[0]))
        with django_assert_max_num_queries(14) as small:
            client.get(session_url(sessions[0]))
        enrolled(8)  # the section is full at 10
        with django_assert_max_num_queries(len(small.captured_queries)):
            page = client.get(session_url(sessions[0])).content.decode()
        assert page.count('data-testid="roster-row"') == 10


class TestStudentPageAndMakeups:
    def test_office_books_a_make_up_from_the_students_page(
        self, client, enrolled, sessions, coach, office, make_section, today
    ):
        (enrollment,) = enrolled(1)
        other = make_section()
        (makeup_session,) = add_sessions(other, today, (5,))
        services.attendance_mark(class_session=sessions[0], student=enrollment.student, status="absent", actor=coach)
        credit = MakeupCredit.objects.get()
        client.force_login(office)
        page = client.get(reverse("staff:attendance-student", args=[enrollment.student_id])).content.decode()
        assert reverse("staff:attendance-makeup-book", args=[credit.pk]) in page
        choose = client.get(reverse("staff:attendance-makeup-book", args=[credit.pk])).content.decode()
        assert str(makeup_session.pk) in choose
        assert str(sessions[3].pk) not in choose  # the student's own section
        response = client.post(
            reverse("staff:attendance-makeup-book", args=[credit.pk]), {"class_session": str(makeup_session.pk)}
        )
        assert response.status_code == 302
        credit.refresh_from_db()
        assert credit.status == "booked" and credit.booked_session == makeup_session
        client.post(reverse("staff:attendance-makeup-cancel", args=[credit.pk]))
        credit.refresh_from_db()
        assert credit.status == "available"

    def test_an_instructor_cannot_book(self, client, enrolled, sessions, coach):
        (enrollment,) = enrolled(1)
        services.attendance_mark(class_session=sessions[0], student=enrollment.student, status="absent", actor=coach)
        client.force_login(coach)
        credit = MakeupCredit.objects.get()
        assert client.get(reverse("staff:attendance-makeup-book", args=[credit.pk])).status_code == 403


class TestReport:
    def test_the_report_and_its_csv(self, client, enrolled, sessions, coach, office):
        first, second = enrolled(2)
        for enrollment, status in ((first, "present"), (second, "absent")):
            services.attendance_mark(class_session=sessions[0], student=enrollment.student, status=status, actor=coach)
        client.force_login(office)
        page = client.get(reverse("staff:attendance-report"))
        assert page.status_code == 200
        assert "50.00%" in page.content.decode()
        assert 'data-testid="attendance-trend"' in page.content.decode()
        response = client.get(reverse("staff:attendance-report") + "?format=csv")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0][0] == "section" and rows[1][3:5] == ["2", "1"] and rows[1][-1] == "50.00"

    def test_one_class_and_a_section_out_of_reach(self, client, enrolled, sessions, coach, office, make_section):
        (enrollment,) = enrolled(1)
        services.attendance_mark(class_session=sessions[0], student=enrollment.student, status="absent", actor=coach)
        client.force_login(office)
        url = reverse("staff:attendance-report") + f"?section={enrollment.section_id}"
        assert "0.00%" in client.get(url).content.decode()
        other = make_section()
        page = client.get(reverse("staff:attendance-report") + f"?section={other.pk}").content.decode()
        assert "No marks in this period." in page
        client.force_login(instructor_user(username="not-their-class"))
        assert "No marks in this period." in client.get(url).content.decode()

    def test_bad_filters_are_shown_as_errors_not_ignored_nor_a_500(self, client, office):
        client.force_login(office)
        query = "?date_from=2025-02-31&location=xyz&program=1&section=x"
        response = client.get(reverse("staff:attendance-report") + query)
        assert response.status_code == 400
        page = response.content.decode()
        for label in ("From", "Location", "Programme", "Section"):
            assert f"<p>{label}: " in page

    def test_the_report_reads_in_a_fixed_number_of_queries(
        self, client, enrolled, sessions, coach, office, django_assert_max_num_queries
    ):
        client.force_login(office)
        client.get(reverse("staff:attendance-report"))
        with django_assert_max_num_queries(12) as before:
            client.get(reverse("staff:attendance-report"))
        for enrollment in enrolled(10):
            for session in sessions[:3]:
                services.attendance_mark(
                    class_session=session, student=enrollment.student, status="present", actor=coach
                )
        with django_assert_max_num_queries(len(before.captured_queries)):
            client.get(reverse("staff:attendance-report"))


class TestPortal:
    @pytest.fixture
    def parent(self, enrolled, sessions, coach):
        (enrollment,) = enrolled(1)
        user = parent_user(username="mum")
        guardian = enrollment.student.guardian_links.get().guardian
        guardian.portal_user = user
        guardian.save()
        services.attendance_mark(class_session=sessions[0], student=enrollment.student, status="present", actor=coach)
        services.attendance_mark(class_session=sessions[1], student=enrollment.student, status="absent", actor=coach)
        return user, enrollment

    def test_the_parent_sees_classes_sessions_left_attendance_and_credits(self, client, parent, sessions):
        user, enrollment = parent
        client.force_login(user)
        page = client.get(reverse("portal:child-classes", args=[enrollment.student_id]))
        assert page.status_code == 200
        text = page.content.decode()
        assert "Attendance 50.00%" in text
        assert "4 of 5 sessions left" in text
        assert text.count('class="badge badge-att-') == 2
        assert f"{sessions[3].date:%a %-d %b}" in text  # a session coming up
        assert "available until" in text  # the make-up credit of the absence
        child_page = client.get(reverse("portal:child", args=[enrollment.student_id])).content.decode()
        assert reverse("portal:child-classes", args=[enrollment.student_id]) in child_page

    def test_another_family_gets_a_404(self, client, parent):
        _user, enrollment = parent
        stranger = parent_user(username="stranger")
        GuardianFactory(portal_user=stranger)
        client.force_login(stranger)
        assert client.get(reverse("portal:child-classes", args=[enrollment.student_id])).status_code == 404

    def test_the_page_reads_in_a_fixed_number_of_queries(
        self, client, parent, sessions, coach, django_assert_max_num_queries, today, section
    ):
        user, enrollment = parent
        client.force_login(user)
        url = reverse("portal:child-classes", args=[enrollment.student_id])
        client.get(url)
        with django_assert_max_num_queries(20) as before:
            client.get(url)
        for session in add_sessions(section, today, (-3, -2, -1)):
            services.attendance_mark(class_session=session, student=enrollment.student, status="late", actor=coach)
        add_sessions(section, today, (1, 2, 3))
        with django_assert_max_num_queries(len(before.captured_queries)):
            client.get(url)


def test_the_nav_links_to_attendance_for_instructors(client, coach):
    client.force_login(coach)
    page = client.get(reverse("staff:dashboard")).content.decode()
    assert reverse("staff:attendance-day") in page


def test_sessions_of_another_day(client, coach, sessions, enrolled):
    enrolled(1)
    client.force_login(coach)
    day = sessions[0].date + timedelta(days=1)
    page = client.get(reverse("staff:attendance-day") + f"?date={day:%Y-%m-%d}").content.decode()
    assert "No class sessions on this day" in page


class TestPagePermissions:
    """Every attendance page for every kind of user: 200 where they may look, 404 for
    what lies outside their locations or classes, 403 for a role without the right,
    the login page for anonymous visitors and parents."""

    @pytest.fixture
    def pages(self, enrolled, sessions, coach, make_section, today):
        (enrollment,) = enrolled(1)
        services.attendance_mark(class_session=sessions[0], student=enrollment.student, status="absent", actor=coach)
        add_sessions(make_section(), today, (3,))
        credit = MakeupCredit.objects.get()
        return {
            "day": reverse("staff:attendance-day"),
            "session": session_url(sessions[0]),
            "student": reverse("staff:attendance-student", args=[enrollment.student_id]),
            "book": reverse("staff:attendance-makeup-book", args=[credit.pk]),
            "report": reverse("staff:attendance-report"),
        }

    EXPECTED = {
        #               day  session student book report
        "office": (200, 200, 200, 200, 200),
        "other_office": (200, 404, 404, 404, 200),
        "admin": (200, 200, 200, 200, 200),
        "coach": (200, 200, 200, 403, 200),
        "other_coach": (200, 404, 404, 403, 200),  # not their student: 404 (families.selectors)
        "finance": (200, 200, 200, 403, 200),
    }

    def test_staff(self, client, pages, coach, office, other_office, academy_admin):
        from tests.factories.academy import finance_user

        users = {
            "office": office,
            "other_office": other_office,
            "admin": academy_admin,
            "coach": coach,
            "other_coach": instructor_user(username="other-coach"),
            "finance": finance_user(username="cashier"),
        }

        def check(actor):
            # a fresh login: the previous actor's session and cookies are gone first
            client.logout()
            client.force_login(users[actor])
            statuses = tuple(client.get(url).status_code for url in pages.values())
            assert statuses == self.EXPECTED[actor]

        assert_for_each_actor(self.EXPECTED, check)

    def test_anonymous_and_parents_are_sent_away(self, client, pages):
        for url in pages.values():
            response = client.get(url)
            assert response.status_code == 302 and "/staff/login/" in response["Location"]
        client.force_login(parent_user(username="a-parent"))
        for url in pages.values():
            assert client.get(url).status_code in (302, 403)
