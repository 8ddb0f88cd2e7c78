"""The attendance API through the test client: the permission matrix of every operation,
instructors limited to their sections, the roster in one request (all or nothing), bad
input answered with a clear error and nothing written, and fixed query counts."""

import datetime
import re
from types import SimpleNamespace

import pytest

from attendance import services
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment
from notifications.models import Notification
from tests.api.conftest import ACTORS, share_world
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import ClassSessionFactory, SectionFactory, instructor_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory

share_world(globals())

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def rows() -> dict:
    """Everything an attendance write may touch ("nothing written")."""
    return {
        "records": AttendanceRecord.objects.count(),
        "record history": AttendanceRecord.history.count(),
        "credits": MakeupCredit.objects.count(),
        "credit history": MakeupCredit.history.count(),
        "counts": sorted(Enrollment.objects.values_list("pk", "sessions_completed", "sessions_remaining")),
        "notifications": Notification.objects.count(),
    }


@pytest.fixture
def aw(world):
    """The API world plus: ``enrollment`` (the parent's first child in the main section),
    ``record`` (the child marked absent in the section's session, with its make-up
    ``credit``), ``second`` (another past session of the section), ``makeup_session``
    (a session ahead in another section of the programme)."""
    s = world.s
    enrollment = EnrollmentFactory(student=world.child, section=s.section)
    sibling = EnrollmentFactory(student=world.children[1], section=s.section)
    second = ClassSessionFactory(section=s.section, date=datetime.date(2025, 9, 15))
    record = services.attendance_mark(
        class_session=s.session, student=world.child, status="absent", actor=world.users["office"]
    )
    other = SectionFactory(course=s.course, term=s.term, location=world.location, code="M", capacity=5)
    makeup_session = ClassSessionFactory(section=other, date=datetime.date.today() + datetime.timedelta(days=3))
    credit = record.makeup_credit
    credit.expires_on = makeup_session.date + datetime.timedelta(days=30)  # the world's session is long past
    credit.save(update_fields=["expires_on"])
    return SimpleNamespace(
        w=world,
        enrollment=enrollment,
        sibling=sibling,
        second=second,
        record=record,
        credit=credit,
        makeup_session=makeup_session,
    )


def expect(office, other_office, admin, parent, other_parent, anonymous):
    return dict(zip(ACTORS, (office, other_office, admin, parent, other_parent, anonymous), strict=True))


EVERYONE_READS = expect(200, 200, 200, 200, 200, 401)
CHILD_READ = expect(200, 404, 200, 200, 404, 401)
STAFF_READ = expect(200, 404, 200, 403, 403, 401)
CHILD_CHANGE = expect(200, 404, 200, 403, 403, 401)
CHILD_CREATE = expect(201, 400, 201, 403, 403, 401)
CHILD_DELETE = expect(204, 404, 204, 403, 403, 401)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405)

CASES = [
    ("attendance-list", "get", lambda a: f"{V1}/attendance/", None, EVERYONE_READS),
    ("attendance-get", "get", lambda a: f"{V1}/attendance/{a.record.pk}/", None, CHILD_READ),
    (
        "attendance-post",
        "post",
        lambda a: f"{V1}/attendance/",
        lambda a: {"class_session": str(a.second.pk), "student": str(a.w.child.pk), "status": "present"},
        CHILD_CREATE,
    ),
    (
        "attendance-patch",
        "patch",
        lambda a: f"{V1}/attendance/{a.record.pk}/",
        lambda a: {"status": "excused"},
        CHILD_CHANGE,
    ),
    (
        "attendance-delete",
        "delete",
        lambda a: f"{V1}/attendance/{a.record.pk}/",
        lambda a: {"reason": "Wrong child"},
        CHILD_DELETE,
    ),
    ("attendance-put", "put", lambda a: f"{V1}/attendance/{a.record.pk}/", lambda a: {}, ALWAYS_405),
    (
        "roster-get",
        "get",
        lambda a: f"{V1}/class-sessions/{a.w.s.session.pk}/attendance/",
        None,
        expect(200, 404, 200, 403, 403, 401),
    ),
    (
        "roster-post",
        "post",
        lambda a: f"{V1}/class-sessions/{a.w.s.session.pk}/attendance/",
        lambda a: {"marks": [{"student": str(a.w.children[1].pk), "status": "present"}]},
        CHILD_CHANGE,
    ),
    (
        "attendance-summary",
        "get",
        lambda a: f"{V1}/students/{a.w.child.pk}/attendance-summary/",
        None,
        CHILD_READ,
    ),
    ("credits-list", "get", lambda a: f"{V1}/makeup-credits/", None, EVERYONE_READS),
    ("credits-get", "get", lambda a: f"{V1}/makeup-credits/{a.credit.pk}/", None, CHILD_READ),
    (
        "credits-book",
        "post",
        lambda a: f"{V1}/makeup-credits/{a.credit.pk}/book/",
        lambda a: {"class_session": str(a.makeup_session.pk)},
        CHILD_CHANGE,
    ),
    (
        "credits-cancel",
        "post",
        lambda a: f"{V1}/makeup-credits/{a.credit.pk}/cancel/",
        lambda a: {},
        expect(409, 404, 409, 403, 403, 401),
    ),
    ("credits-delete", "delete", lambda a: f"{V1}/makeup-credits/{a.credit.pk}/", None, ALWAYS_405),
]


class _AnyRecord:
    pk = "00000000-0000-0000-0000-000000000000"

    def __getattr__(self, name):
        return self


def attendance_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_AnyRecord()))) for _id, method, path, _body, _expected in CASES}


@pytest.mark.parametrize(("method", "path", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_permission_matrix(aw, as_user, method, path, body, expected):
    def check(actor):
        client = as_user(actor)
        before = rows()
        kwargs = {"format": "json"} if body is not None else {}
        response = getattr(client, method)(path(aw), body(aw) if body is not None else None, **kwargs)
        assert response.status_code == expected[actor], response.content
        if response.status_code >= 400 and response.status_code != 405:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
        if method != "get" and response.status_code >= 400:
            assert rows() == before

    assert_for_each_actor(ACTORS, check)


class TestInstructors:
    @pytest.fixture
    def coach(self, aw):
        coach = instructor_user(username="coach")
        aw.w.s.section.instructor = coach
        aw.w.s.section.save()
        return coach

    def test_an_instructor_marks_their_own_section(self, aw, coach, client_for):
        response = client_for(coach).post(
            f"{V1}/class-sessions/{aw.w.s.session.pk}/attendance/",
            {"marks": [{"student": str(aw.w.children[1].pk), "status": "late", "minutes_late": 5}]},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()[0]["recorded_by"] == str(coach.pk)

    def test_an_instructor_neither_sees_nor_marks_another_section(self, aw, coach, client_for):
        aw.w.s.section.instructor = instructor_user(username="someone-else")
        aw.w.s.section.save()
        client = client_for(coach)
        assert client.get(f"{V1}/attendance/").json()["count"] == 0
        before = rows()
        response = client.post(
            f"{V1}/class-sessions/{aw.w.s.session.pk}/attendance/",
            {"marks": [{"student": str(aw.w.children[1].pk), "status": "present"}]},
            format="json",
        )
        assert response.status_code == 404
        assert client.get(f"{V1}/sections/{aw.w.s.section.pk}/").status_code == 404
        assert rows() == before

    def test_an_instructor_cannot_delete_a_mark(self, aw, coach, client_for):
        response = client_for(coach).delete(f"{V1}/attendance/{aw.record.pk}/", {"reason": "oops"}, format="json")
        assert response.status_code == 403


class TestRoster:
    def url(self, aw):
        return f"{V1}/class-sessions/{aw.w.s.session.pk}/attendance/"

    def test_get_lists_every_expected_student_with_their_mark(self, aw, as_user):
        body = as_user("office").get(self.url(aw)).json()
        by_student = {row["student"]: row for row in body}
        assert set(by_student) == {str(aw.w.child.pk), str(aw.w.children[1].pk)}
        assert by_student[str(aw.w.child.pk)]["record"]["status"] == "absent"
        assert by_student[str(aw.w.children[1].pk)]["record"] is None

    def test_post_marks_everyone_at_once(self, aw, as_user):
        marks = [
            {"student": str(aw.w.child.pk), "status": "present"},
            {"student": str(aw.w.children[1].pk), "status": "present"},
        ]
        response = as_user("office").post(self.url(aw), {"marks": marks}, format="json")
        assert response.status_code == 200, response.content
        assert sorted(r["status"] for r in response.json()) == ["present", "present"]
        aw.enrollment.refresh_from_db()
        assert aw.enrollment.sessions_completed == 1
        aw.credit.refresh_from_db()
        assert aw.credit.status == "revoked"

    def test_one_bad_row_is_a_400_on_that_row_and_nothing_is_written(self, aw, as_user):
        stranger = StudentFactory(location=aw.w.location)
        marks = [
            {"student": str(aw.w.children[1].pk), "status": "present"},
            {"student": str(stranger.pk), "status": "present"},
        ]
        before = rows()
        response = as_user("office").post(self.url(aw), {"marks": marks}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["marks[1].student"]
        assert rows() == before

    def test_check_out_before_check_in_is_a_400(self, aw, as_user):
        marks = [
            {
                "student": str(aw.w.children[1].pk),
                "status": "late",
                "check_in_at": "2025-09-08T10:10:00Z",
                "check_out_at": "2025-09-08T09:00:00Z",
            }
        ]
        before = rows()
        response = as_user("office").post(self.url(aw), {"marks": marks}, format="json")
        assert response.status_code == 400
        assert "Check-out cannot be before check-in." in str(response.json())
        assert rows() == before

    def test_an_unknown_session_is_a_404(self, aw, as_user):
        response = as_user("office").post(
            f"{V1}/class-sessions/00000000-0000-0000-0000-000000000000/attendance/",
            {"marks": [{"student": str(aw.w.child.pk), "status": "present"}]},
            format="json",
        )
        assert response.status_code == 404

    def test_an_empty_roster_or_bad_status_is_a_400(self, aw, as_user):
        client = as_user("office")
        assert client.post(self.url(aw), {"marks": []}, format="json").status_code == 400
        response = client.post(
            self.url(aw), {"marks": [{"student": str(aw.w.child.pk), "status": "asleep"}]}, format="json"
        )
        assert response.status_code == 400 and "marks[0].status" in response.json()

    def test_a_cancelled_session_is_a_409(self, aw, as_user):
        aw.w.s.session.is_cancelled = True
        aw.w.s.session.save()
        response = as_user("office").post(
            self.url(aw), {"marks": [{"student": str(aw.w.child.pk), "status": "present"}]}, format="json"
        )
        assert response.status_code == 409 and response.json()["code"] == "session_cancelled"

    def test_the_roster_reads_in_a_fixed_number_of_queries(self, aw, as_user, django_assert_max_num_queries):
        client = as_user("office")
        client.get(self.url(aw))
        with django_assert_max_num_queries(12):
            client.get(self.url(aw))
        added = [
            EnrollmentFactory(student=StudentFactory(location=aw.w.location), section=aw.w.s.section) for _ in range(15)
        ]
        services.attendance_mark_roster(
            class_session=aw.w.s.session,
            marks=[services.Mark(student=e.student, status="present") for e in added],
            actor=None,
        )
        with django_assert_max_num_queries(12):
            body = client.get(self.url(aw)).json()
        assert len(body) == 17 and sum(row["record"] is not None for row in body) == 16


class TestOneMark:
    def test_post_then_409_already_marked(self, aw, as_user):
        client = as_user("office")
        body = {"class_session": str(aw.second.pk), "student": str(aw.w.child.pk), "status": "present"}
        assert client.post(f"{V1}/attendance/", body, format="json").status_code == 201
        response = client.post(f"{V1}/attendance/", body, format="json")
        assert response.status_code == 409 and response.json()["code"] == "already_marked"

    def test_a_student_not_enrolled_is_a_400_on_student(self, aw, as_user):
        stranger = StudentFactory(location=aw.w.location)
        before = rows()
        response = as_user("office").post(
            f"{V1}/attendance/",
            {"class_session": str(aw.second.pk), "student": str(stranger.pk), "status": "present"},
            format="json",
        )
        assert response.status_code == 400 and list(response.json()) == ["student"]
        assert rows() == before

    def test_an_unknown_session_is_a_400_on_class_session(self, aw, as_user):
        response = as_user("office").post(
            f"{V1}/attendance/",
            {"class_session": "00000000-0000-0000-0000-000000000000", "student": str(aw.w.child.pk), "status": "late"},
            format="json",
        )
        assert response.status_code == 400 and "class_session" in response.json()

    def test_patch_to_present_consumes_and_revokes_the_credit(self, aw, as_user):
        response = as_user("office").patch(f"{V1}/attendance/{aw.record.pk}/", {"status": "present"}, format="json")
        assert response.status_code == 200
        assert response.json()["consumed_from"] == "enrollment"
        aw.credit.refresh_from_db()
        assert aw.credit.status == "revoked"

    def test_delete_needs_a_reason(self, aw, as_user):
        response = as_user("office").delete(f"{V1}/attendance/{aw.record.pk}/", {}, format="json")
        assert response.status_code == 400 and "reason" in response.json()

    def test_the_list_reads_in_a_fixed_number_of_queries(self, aw, as_user, django_assert_max_num_queries):
        client = as_user("office")
        client.get(f"{V1}/attendance/")
        with django_assert_max_num_queries(8):
            client.get(f"{V1}/attendance/")
        for day in range(20):
            session = ClassSessionFactory(
                section=aw.w.s.section, date=datetime.date(2025, 9, 20) + datetime.timedelta(day)
            )
            services.attendance_mark(class_session=session, student=aw.w.child, status="present", actor=None)
        with django_assert_max_num_queries(8):
            assert client.get(f"{V1}/attendance/").json()["count"] == 21


class TestSummaryAndCredits:
    def test_the_summary_per_month_and_enrollment(self, aw, as_user):
        as_user("office").post(
            f"{V1}/attendance/",
            {"class_session": str(aw.second.pk), "student": str(aw.w.child.pk), "status": "present"},
            format="json",
        )
        body = as_user("parent").get(f"{V1}/students/{aw.w.child.pk}/attendance-summary/").json()
        assert body["overall"]["total"] == 2 and body["overall"]["percentage"] == "50.00"
        assert body["months"] == [
            {
                "month": "2025-09-01",
                "total": 2,
                "attended": 1,
                "present": 1,
                "late": 0,
                "partial": 0,
                "absent": 1,
                "excused": 0,
                "percentage": "50.00",
            }
        ]
        (enrollment,) = body["enrollments"]
        assert enrollment["threshold"] == "75.00" and enrollment["eligible"] is False
        assert enrollment["sessions_completed"] == 1

    def test_the_summary_refuses_a_bad_date(self, aw, as_user):
        response = as_user("office").get(f"{V1}/students/{aw.w.child.pk}/attendance-summary/?from=yesterday")
        assert response.status_code == 400 and "from" in response.json()

    def test_booking_and_cancelling_a_make_up(self, aw, as_user):
        client = as_user("office")
        url = f"{V1}/makeup-credits/{aw.credit.pk}/"
        response = client.post(url + "book/", {"class_session": str(aw.makeup_session.pk)}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "booked"
        assert response.json()["booked_date"] == aw.makeup_session.date.isoformat()
        response = client.post(url + "cancel/", {"reason": "Sick"}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "available"

    def test_booking_a_full_session_is_a_409(self, aw, as_user):
        aw.makeup_session.section.capacity = 0
        aw.makeup_session.section.save()
        before = rows()
        response = as_user("office").post(
            f"{V1}/makeup-credits/{aw.credit.pk}/book/", {"class_session": str(aw.makeup_session.pk)}, format="json"
        )
        assert response.status_code == 409 and response.json()["code"] == "session_full"
        assert rows() == before
