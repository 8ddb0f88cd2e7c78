"""The enrollment API through the test client: the permission matrix of every operation,
the 409 codes (with nothing written), the 202 waitlist answer and fixed query counts."""

import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from academy.models import Term
from enrollment.models import WaitlistEntry
from finance.models import Invoice
from tests.api.conftest import ACTORS
from tests.each_actor import assert_for_each_actor
from tests.enrollment.conftest import rows, term_running_today
from tests.factories.academy import SectionFactory, TermFactory
from tests.factories.enrollment import EnrollmentFactory, WaitlistEntryFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FinancePolicyFactory, issue

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def structure(structure):
    """The API world's term runs today (a term past its end takes no enrollment)."""
    return term_running_today(structure)


@pytest.fixture
def ew(world):
    """The API world plus: ``enrollment`` (the parent's first child in the main section),
    ``paused`` (the same child paused in a second section), ``target`` (a free section
    at the main location), ``entry`` (the child offered a seat in a full section)."""
    s = world.s
    enrollment = EnrollmentFactory(student=world.child, section=s.section)
    second = SectionFactory(course=s.course, term=s.term, location=world.location, code="P", capacity=5)
    paused = EnrollmentFactory(student=world.child, section=second, status="paused")
    target = SectionFactory(course=s.course, term=s.term, location=world.location, code="T", capacity=5)
    full = SectionFactory(course=s.course, term=s.term, location=world.location, code="F", capacity=1)
    now = timezone.now()
    entry = WaitlistEntryFactory(
        student=world.child,
        section=full,
        position=1,
        status="offered",
        offered_at=now,
        offer_expires_at=now + timedelta(hours=48),
    )
    return SimpleNamespace(w=world, enrollment=enrollment, paused=paused, target=target, full=full, entry=entry)


def expect(office, other_office, admin, parent, other_parent, anonymous):
    return dict(zip(ACTORS, (office, other_office, admin, parent, other_parent, anonymous), strict=True))


EVERYONE_READS = expect(200, 200, 200, 200, 200, 401)
CHILD_READ = expect(200, 404, 200, 200, 404, 401)
CHILD_CHANGE = expect(200, 404, 200, 403, 403, 401)
CHILD_CREATE = expect(201, 404, 201, 403, 403, 401)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405)

# (case id, method, path(ew), body(ew) or None, expected status per actor)
CASES = [
    ("enrollments-list", "get", lambda e: f"{V1}/enrollments/", None, EVERYONE_READS),
    ("enrollments-get", "get", lambda e: f"{V1}/enrollments/{e.enrollment.pk}/", None, CHILD_READ),
    (
        "enrollments-post",
        "post",
        lambda e: f"{V1}/enrollments/",
        lambda e: {"student": str(e.w.children[1].pk), "section": str(e.w.s.section.pk)},
        # another location's staff: neither the student nor the section is theirs -> 400
        expect(201, 400, 201, 403, 403, 401),
    ),
    (
        "enrollments-patch",
        "patch",
        lambda e: f"{V1}/enrollments/{e.enrollment.pk}/",
        lambda e: {"notes": "Bring goggles"},
        CHILD_CHANGE,
    ),
    ("enrollments-put", "put", lambda e: f"{V1}/enrollments/{e.enrollment.pk}/", lambda e: {}, ALWAYS_405),
    ("enrollments-delete", "delete", lambda e: f"{V1}/enrollments/{e.enrollment.pk}/", None, ALWAYS_405),
    (
        "enrollments-pause",
        "post",
        lambda e: f"{V1}/enrollments/{e.enrollment.pk}/pause/",
        lambda e: {"reason": "Holiday"},
        CHILD_CHANGE,
    ),
    ("enrollments-resume", "post", lambda e: f"{V1}/enrollments/{e.paused.pk}/resume/", None, CHILD_CHANGE),
    (
        "enrollments-withdraw",
        "post",
        lambda e: f"{V1}/enrollments/{e.enrollment.pk}/withdraw/",
        lambda e: {"reason": "Moved away"},
        CHILD_CHANGE,
    ),
    (
        "enrollments-transfer",
        "post",
        lambda e: f"{V1}/enrollments/{e.enrollment.pk}/transfer/",
        lambda e: {"section": str(e.target.pk)},
        CHILD_CREATE,
    ),
    ("waitlist-list", "get", lambda e: f"{V1}/waitlist/", None, EVERYONE_READS),
    ("waitlist-get", "get", lambda e: f"{V1}/waitlist/{e.entry.pk}/", None, CHILD_READ),
    ("waitlist-accept", "post", lambda e: f"{V1}/waitlist/{e.entry.pk}/accept/", None, CHILD_CREATE),
    (
        "waitlist-remove",
        "post",
        lambda e: f"{V1}/waitlist/{e.entry.pk}/remove/",
        lambda e: {"reason": "Declined"},
        CHILD_CHANGE,
    ),
    (
        "waitlist-move",
        "post",
        lambda e: f"{V1}/waitlist/{e.entry.pk}/move/",
        lambda e: {"position": 1},
        CHILD_CHANGE,
    ),
    ("waitlist-patch", "patch", lambda e: f"{V1}/waitlist/{e.entry.pk}/", lambda e: {}, ALWAYS_405),
    ("waitlist-delete", "delete", lambda e: f"{V1}/waitlist/{e.entry.pk}/", None, ALWAYS_405),
]


class _AnyRecord:
    """Stands in for the world when only the path templates are wanted."""

    pk = "00000000-0000-0000-0000-000000000000"

    def __getattr__(self, name):
        return self


def enrollment_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_AnyRecord()))) for _id, method, path, _body, _expected in CASES}


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_permission_matrix(ew, as_user, method, path, body, expected):
    def check(actor):
        client = as_user(actor)
        before = rows()
        kwargs = {"format": "json"} if body is not None else {}
        response = getattr(client, method)(path(ew), body(ew) if body is not None else None, **kwargs)
        assert response.status_code == expected[actor], response.content
        if response.status_code >= 400:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
        if method != "get" and response.status_code >= 400:
            assert rows() == before

    assert_for_each_actor(ACTORS, check)


class TestEnrollEndpoint:
    def post(self, client, ew, student=None, section=None, **extra):
        body = {"student": str((student or ew.w.children[1]).pk), "section": str((section or ew.w.s.section).pk)}
        return client.post(f"{V1}/enrollments/", body | extra, format="json")

    def test_201_with_the_enrollment_and_its_invoice(self, ew, as_user, fee_types):
        response = self.post(as_user("office"), ew, enrollment_fee="35.00")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["status"] == "enrolled" and body["enrollment_fee"] == "35.00"
        assert body["invoice_number"].startswith("INV-")
        assert Invoice.objects.get(pk=body["invoice"]).total == Decimal("35.00")

    def test_409_section_full_writes_nothing(self, ew, as_user):
        before = rows()
        response = self.post(as_user("office"), ew, section=ew.full)
        assert response.status_code == 409
        assert response.json()["code"] == "section_full"
        assert rows() == before

    def test_202_waitlisted_when_asked(self, ew, as_user):
        response = self.post(as_user("office"), ew, section=ew.full, waitlist=True)
        assert response.status_code == 202, response.content
        body = response.json()
        assert body["status"] == "waitlisted"
        assert body["waitlist_entry"]["status"] == "waiting" and body["waitlist_entry"]["place_in_line"] == 2

    def test_409_term_closed_writes_nothing(self, ew, as_user):
        Term.objects.filter(pk=ew.w.s.term.pk).update(status="closed")
        before = rows()
        response = self.post(as_user("office"), ew)
        assert (response.status_code, response.json()["code"]) == (409, "term_closed")
        assert rows() == before

    def test_409_term_closed_when_the_term_has_ended_writes_nothing(self, ew, as_user):
        # given a term still marked open whose last day was yesterday
        yesterday = timezone.localdate() - timedelta(days=1)
        Term.objects.filter(pk=ew.w.s.term.pk).update(start_date=yesterday - timedelta(days=90), end_date=yesterday)
        before = rows()
        response = self.post(as_user("office"), ew)
        assert (response.status_code, response.json()["code"]) == (409, "term_closed")
        assert rows() == before

    @pytest.mark.parametrize(
        "outside",
        [lambda term: term.start_date - timedelta(days=1), lambda term: term.end_date + timedelta(days=1)],
        ids=["before-the-term", "after-the-term"],
    )
    def test_a_start_date_outside_the_term_is_a_400_on_the_field(self, ew, as_user, outside):
        start = outside(ew.w.s.term)
        before = rows()
        response = self.post(as_user("office"), ew, start_date=start.isoformat())
        assert response.status_code == 400, response.content
        assert "inside the term" in response.json()["start_date"][0]
        assert rows() == before

    def test_a_start_date_inside_the_term_is_kept(self, ew, as_user):
        last_day = ew.w.s.term.end_date
        response = self.post(as_user("office"), ew, start_date=last_day.isoformat())
        assert response.status_code == 201, response.content
        assert response.json()["start_date"] == last_day.isoformat()

    def test_accepting_an_offer_in_a_term_that_has_ended_is_409_term_closed(self, ew, as_user):
        yesterday = timezone.localdate() - timedelta(days=1)
        Term.objects.filter(pk=ew.w.s.term.pk).update(start_date=yesterday - timedelta(days=90), end_date=yesterday)
        before = rows()
        response = as_user("office").post(f"{V1}/waitlist/{ew.entry.pk}/accept/")
        assert (response.status_code, response.json()["code"]) == (409, "term_closed")
        assert rows() == before

    def test_a_transfer_into_a_term_that_has_ended_is_409_term_closed(self, ew, as_user):
        yesterday = timezone.localdate() - timedelta(days=1)
        ended = TermFactory(
            academic_year=ew.w.s.term.academic_year,
            name="Ended",
            start_date=yesterday - timedelta(days=90),
            end_date=yesterday,
        )
        target = SectionFactory(course=ew.w.s.course, term=ended, location=ew.w.location, code="E", capacity=5)
        before = rows()
        response = as_user("office").post(
            f"{V1}/enrollments/{ew.enrollment.pk}/transfer/", {"section": str(target.pk)}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (409, "term_closed")
        assert rows() == before

    def test_409_already_enrolled_writes_nothing(self, ew, as_user):
        before = rows()
        response = self.post(as_user("office"), ew, student=ew.w.child)
        assert (response.status_code, response.json()["code"]) == (409, "already_enrolled")
        assert rows() == before

    def test_409_finance_hold_writes_nothing(self, ew, as_user, fee_types, office):
        student = ew.w.children[1]
        FinancePolicyFactory(location=student.location, block_enrollment=True, hold_threshold=Decimal("10.00"))
        issue(student, "25.00", actor=office)
        before = rows()
        response = self.post(as_user("office"), ew, student=student)
        assert (response.status_code, response.json()["code"]) == (409, "finance_hold")
        assert rows() == before

    @pytest.mark.parametrize(
        ("extra", "field"),
        [
            ({"enrollment_fee": "-5"}, "enrollment_fee"),
            ({"enrollment_fee": "abc"}, "enrollment_fee"),
            ({"sessions_allocated": -1}, "sessions_allocated"),
            ({"start_date": "2025-13-01"}, "start_date"),
            ({"section": "not-a-uuid"}, "section"),
        ],
    )
    def test_bad_input_is_a_400_on_the_field(self, ew, as_user, extra, field):
        before = rows()
        body = {"student": str(ew.w.children[1].pk), "section": str(ew.w.s.section.pk)} | extra
        response = as_user("office").post(f"{V1}/enrollments/", body, format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert rows() == before

    def test_a_fee_without_a_fee_type_is_a_400(self, ew, as_user):
        response = self.post(as_user("office"), ew, enrollment_fee="20.00")
        assert response.status_code == 400 and "enrollment_fee" in response.json()

    def test_409_invalid_status_change(self, ew, as_user):
        response = as_user("office").post(f"{V1}/enrollments/{ew.enrollment.pk}/resume/")
        assert (response.status_code, response.json()["code"]) == (409, "invalid_status_change")

    def test_accepting_an_expired_offer_is_409(self, ew, as_user):
        WaitlistEntry.objects.filter(pk=ew.entry.pk).update(
            offered_at=timezone.now() - timedelta(days=3), offer_expires_at=timezone.now() - timedelta(days=1)
        )
        before = rows()
        response = as_user("office").post(f"{V1}/waitlist/{ew.entry.pk}/accept/")
        assert (response.status_code, response.json()["code"]) == (409, "offer_expired")
        assert rows() == before


class TestFilters:
    def test_filter_by_status_and_section(self, ew, as_user):
        client = as_user("admin")
        paused = client.get(f"{V1}/enrollments/", {"status": "paused"}).json()["results"]
        assert [row["id"] for row in paused] == [str(ew.paused.pk)]
        in_section = client.get(f"{V1}/enrollments/", {"section": str(ew.w.s.section.pk)}).json()["results"]
        assert [row["id"] for row in in_section] == [str(ew.enrollment.pk)]

    def test_a_student_outside_the_scope_is_a_400(self, ew, as_user):
        response = as_user("other_office").get(f"{V1}/enrollments/", {"student": str(ew.w.child.pk)})
        assert response.status_code == 400 and "student" in response.json()

    def test_a_parent_sees_only_their_childrens(self, ew, as_user):
        other = EnrollmentFactory(student=ew.w.other_child, section=ew.target)
        ids = {row["id"] for row in as_user("parent").get(f"{V1}/enrollments/").json()["results"]}
        assert ids == {str(ew.enrollment.pk), str(ew.paused.pk)}
        assert str(other.pk) not in ids


def _add_rows(ew, n):
    start = WaitlistEntry.objects.count()
    for i in range(start, start + n):
        student = StudentFactory(location=ew.w.location)
        section = SectionFactory(
            course=ew.w.s.course, term=ew.w.s.term, location=ew.w.location, code=f"Q{i}", capacity=3
        )
        EnrollmentFactory(student=student, section=section)
        WaitlistEntryFactory(student=student, section=ew.full, position=10 + i)


@pytest.mark.parametrize("path", ["enrollments", "waitlist"])
@pytest.mark.parametrize("actor", ["office", "admin", "parent"])
def test_lists_cost_a_fixed_number_of_queries(ew, as_user, django_assert_max_num_queries, path, actor):
    client = as_user(actor)
    _add_rows(ew, 2)
    client.get(f"{V1}/{path}/")  # warm the caches (roles, content types)
    with django_assert_max_num_queries(12) as small:
        assert client.get(f"{V1}/{path}/").status_code == 200
    _add_rows(ew, 15)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"{V1}/{path}/")
    assert response.status_code == 200


def test_sections_report_real_seats(ew, as_user):
    """``sections/`` counts enrolled and paused students, and seats held for an offer."""
    sections = {row["code"]: row for row in as_user("office").get(f"{V1}/sections/").json()["results"]}
    assert (sections["P"]["enrolled_count"], sections["P"]["seats_left"]) == (1, 4)  # one paused
    assert (sections["F"]["enrolled_count"], sections["F"]["seats_left"]) == (0, 0)  # its seat is offered
    assert (sections["T"]["enrolled_count"], sections["T"]["seats_left"]) == (0, 5)
