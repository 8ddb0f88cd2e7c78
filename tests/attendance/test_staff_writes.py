"""The staff attendance screen's POST and the make-up book/cancel pages: bad input is
answered on the page with nothing written, and who may post what (the permission
matrix of the writes, as ``test_pages.TestPagePermissions`` is of the reads)."""

from datetime import time, timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from attendance import services
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment
from notifications.models import Notification
from tests.attendance.conftest import add_sessions
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import finance_user, instructor_user, parent_user
from tests.factories.enrollment import EnrollmentFactory

pytestmark = pytest.mark.django_db


def rows() -> dict:
    """Everything a mark or a booking may write ("nothing written")."""
    return {
        "records": AttendanceRecord.objects.count(),
        "record history": AttendanceRecord.history.count(),
        "credits": sorted(MakeupCredit.objects.values_list("pk", "status", "booked_session_id")),
        "credit history": MakeupCredit.history.count(),
        "counts": sorted(Enrollment.objects.values_list("pk", "sessions_completed", "sessions_remaining")),
        "enrollment history": Enrollment.history.count(),
        "notifications": Notification.objects.count(),
    }


def session_url(session) -> str:
    return reverse("staff:attendance-session", args=[session.pk])


def roster_errors(response) -> str:
    html = response.content.decode()
    assert 'data-testid="roster-errors"' in html and "Nothing was saved." in html
    return html


# --- bad input on the attendance screen ----------------------------------------------------


class TestBadInput:
    @pytest.fixture
    def screen(self, client, enrolled, sessions, coach):
        """Two students enrolled; the coach on the first past session's screen."""
        first, second = enrolled(2)
        client.force_login(coach)
        return SimpleNamespace(client=client, url=session_url(sessions[0]), first=first, second=second)

    def test_a_bad_status_is_an_error_and_nothing_is_written(self, screen):
        before = rows()
        response = screen.client.post(
            screen.url, {f"status-{screen.first.student_id}": "present", f"status-{screen.second.student_id}": "asleep"}
        )
        assert response.status_code == 400
        html = roster_errors(response)
        assert f"{screen.second.student.full_name}: Choose one of: present, absent, late, excused, partial." in html
        assert rows() == before

    def test_a_student_not_on_the_roster_is_an_error_and_nothing_is_written(
        self, screen, make_student, make_section, location
    ):
        stranger = make_student()  # at the location, in no class
        elsewhere = EnrollmentFactory(student__location=location, section=make_section()).student
        for outsider in (stranger, elsewhere):
            before = rows()
            response = screen.client.post(
                screen.url,
                {f"status-{screen.first.student_id}": "present", f"status-{outsider.pk}": "present"},
            )
            assert response.status_code == 400
            assert "not on this session&#x27;s roster" in roster_errors(response)
            assert rows() == before
            assert not AttendanceRecord.objects.filter(student=outsider).exists()

    def test_check_out_before_check_in_is_an_error_and_nothing_is_written(self, screen):
        before = rows()
        response = screen.client.post(
            screen.url,
            {
                f"status-{screen.first.student_id}": "present",
                f"status-{screen.second.student_id}": "late",
                f"check_in-{screen.second.student_id}": "16:10",
                f"check_out-{screen.second.student_id}": "16:00",
            },
        )
        assert response.status_code == 400
        assert f"{screen.second.student.full_name}: Check-out cannot be before check-in." in roster_errors(response)
        # the first row was fine, the second consumed a session before failing: all rolled back
        assert rows() == before

    @pytest.mark.parametrize("bad", ["16h10", "25:00", "noon"])
    def test_a_time_that_is_not_one_is_an_error(self, screen, bad):
        before = rows()
        response = screen.client.post(
            screen.url, {f"status-{screen.first.student_id}": "late", f"check_in-{screen.first.student_id}": bad}
        )
        assert response.status_code == 400
        assert f"{screen.first.student.full_name}: enter the check-in time as HH:MM." in roster_errors(response)
        assert rows() == before

    def test_an_absent_student_has_no_check_in(self, screen):
        before = rows()
        response = screen.client.post(
            screen.url, {f"status-{screen.first.student_id}": "absent", f"check_in-{screen.first.student_id}": "16:00"}
        )
        assert response.status_code == 400
        assert "An absent student has no check-in time." in roster_errors(response)
        assert rows() == before

    def test_times_in_order_are_saved_on_the_sessions_day(self, screen, sessions):
        response = screen.client.post(
            screen.url,
            {
                f"status-{screen.first.student_id}": "late",
                f"check_in-{screen.first.student_id}": "16:10",
                f"check_out-{screen.first.student_id}": "17:00",
            },
        )
        assert response.status_code == 302
        record = AttendanceRecord.objects.get(student=screen.first.student)
        assert record.status == "late"
        check_in = timezone.localtime(record.check_in_at)
        assert (check_in.date(), check_in.time()) == (sessions[0].date, time(16, 10))
        assert record.check_out_at - record.check_in_at == timedelta(minutes=50)

    def test_the_posted_choices_are_kept_on_the_page(self, screen):
        response = screen.client.post(
            screen.url, {f"status-{screen.first.student_id}": "late", f"status-{screen.second.student_id}": "asleep"}
        )
        assert response.status_code == 400
        assert response.context["posted"][f"status-{screen.first.student_id}"] == "late"


# --- who may post ----------------------------------------------------------------------


@pytest.fixture
def writes(enrolled, sessions, coach, office, make_section, today):
    """``absent``: a student with an available credit (missed the first session);
    ``booked``: a student whose credit is booked into ``ahead`` (a session of another
    section of the programme, coming up)."""
    absent, booked = enrolled(2)
    for enrollment in (absent, booked):
        services.attendance_mark(class_session=sessions[0], student=enrollment.student, status="absent", actor=coach)
    (ahead,) = add_sessions(make_section(instructor=None), today, (3,))
    booked_credit = MakeupCredit.objects.get(student=booked.student)
    services.makeup_book(credit=booked_credit, class_session=ahead, actor=office)
    return SimpleNamespace(
        absent=absent,
        credit=MakeupCredit.objects.get(student=absent.student),
        booked_credit=booked_credit,
        ahead=ahead,
        second_session=sessions[1],
    )


def _mark(w):
    url = session_url(w.second_session)
    data = {f"status-{w.absent.student_id}": "present"}
    return url, data, lambda: AttendanceRecord.objects.filter(class_session=w.second_session).exists()


def _book(w):
    url = reverse("staff:attendance-makeup-book", args=[w.credit.pk])
    data = {"class_session": str(w.ahead.pk)}
    return url, data, lambda: MakeupCredit.objects.get(pk=w.credit.pk).status == "booked"


def _cancel(w):
    url = reverse("staff:attendance-makeup-cancel", args=[w.booked_credit.pk])
    return url, {"reason": "Ill"}, lambda: MakeupCredit.objects.get(pk=w.booked_credit.pk).status == "available"


WRITES = {"mark": _mark, "book": _book, "cancel": _cancel}

# (status of the POST per write); 302 = done and sent back to the page
EXPECTED = {
    #               mark  book  cancel
    "office": (302, 302, 302),
    "admin": (302, 302, 302),
    "coach": (302, 403, 403),  # teaches the section: marks, does not book
    "other_coach": (404, 403, 403),  # the section is not theirs; booking is not an instructor's
    "other_office": (404, 404, 404),  # another location's: nothing of it exists for them
    "finance": (403, 403, 403),  # reads attendance, writes none
}


@pytest.fixture
def actors(coach, office, other_office, academy_admin):
    return {
        "office": office,
        "admin": academy_admin,
        "coach": coach,
        "other_coach": instructor_user(username="other-coach"),
        "other_office": other_office,
        "finance": finance_user(username="cashier"),
    }


@pytest.mark.parametrize("write", list(WRITES))
def test_staff_posts(client, writes, actors, write):
    def check(actor):
        url, data, done = WRITES[write](writes)
        # a fresh login: the previous actor's session and cookies are gone first
        client.logout()
        client.force_login(actors[actor])
        before = rows()
        expected = EXPECTED[actor][list(WRITES).index(write)]
        response = client.post(url, data)
        assert response.status_code == expected, response.content.decode()[:500]
        if expected == 302:
            assert done()
            assert "/login/" not in response["Location"]
        else:
            assert not done()
            assert rows() == before

    assert_for_each_actor(EXPECTED, check)


@pytest.mark.parametrize("write", list(WRITES))
def test_anonymous_posts_go_to_the_staff_login(client, writes, write):
    url, data, done = WRITES[write](writes)
    before = rows()
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))
    assert not done() and rows() == before


@pytest.mark.parametrize("write", list(WRITES))
def test_a_parent_posting_is_sent_to_the_portal(client, writes, write):
    url, data, done = WRITES[write](writes)
    client.force_login(parent_user(username="a-parent"))
    before = rows()
    response = client.post(url, data)
    assert (response.status_code, response["Location"]) == (302, reverse("portal:dashboard"))
    assert not done() and rows() == before


def test_the_childs_own_guardian_is_sent_to_the_portal_as_well(client, writes):
    guardian = writes.absent.student.guardian_links.get(relationship_type="primary").guardian
    guardian.portal_user = parent_user(username="the-mother")
    guardian.save()
    client.force_login(guardian.portal_user)
    for write in WRITES.values():
        url, data, done = write(writes)
        before = rows()
        assert client.post(url, data)["Location"] == reverse("portal:dashboard")
        assert not done() and rows() == before
