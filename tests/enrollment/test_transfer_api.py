"""The location transfer API (``transfers/``) through the test client: the permission
matrix of every operation, 400 and 409 answers with nothing written, apply with moves,
filters, a fixed query count for the list and the OpenAPI description."""

import io
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from academy.common.models import NumberSequence
from academy.models import Section
from enrollment import transfers
from enrollment.models import Enrollment
from finance.models import Adjustment, LedgerEntry
from students.models import LocationTransfer, Student
from tests.api.conftest import MATRIX_ACTORS
from tests.each_actor import assert_for_each_actor
from tests.enrollment.conftest import term_running_today
from tests.factories.academy import LocationFactory, SectionFactory, instructor_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EFFECTIVE = "2025-10-01"


@pytest.fixture
def structure(structure):
    """The API world's term runs today (a term past its end takes no enrollment)."""
    return term_running_today(structure)


def rows() -> dict:
    """Row counts of every table a transfer write may touch ("nothing written")."""
    return {
        "transfers": LocationTransfer.objects.count(),
        "transfer history": LocationTransfer.history.count(),
        "transfer states": sorted(LocationTransfer.objects.values_list("pk", "status")),
        "students at": sorted(Student.all_objects.values_list("pk", "location_id")),
        "student history": Student.history.count(),
        "enrollments": sorted(Enrollment.objects.values_list("pk", "status")),
        "enrollment history": Enrollment.history.count(),
        "adjustments": Adjustment.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "number series": sorted(NumberSequence.objects.values_list("key", "last_value")),
    }


def request(student, to_location, actor, **kwargs):
    kwargs.setdefault("transfer_type", "standard")
    kwargs.setdefault("reason", "Moving house")
    kwargs.setdefault("effective_date", "2025-10-01")
    return transfers.transfer_request(student=student, to_location=to_location, actor=actor, **kwargs)


@pytest.fixture
def tw(world):
    """The API world plus: ``west`` (a third location nobody but the admin manages),
    ``requested`` (the parent's first child to west, requested by the office, with an
    enrollment at the main location), ``approved`` (the other family's child to west,
    approved by the admin) and ``north_section`` (a section at the north location). The
    ``instructor`` actor teaches the section the first child is enrolled in: they see the
    student, and may neither see nor ask for a transfer."""
    west = LocationFactory(code="WEST", name="West campus")
    office, admin = world.users["office"], world.users["admin"]
    teacher = instructor_user(username="teacher", locations=[world.location])
    Section.objects.filter(pk=world.s.section.pk).update(instructor=teacher)
    world.users["instructor"] = teacher
    enrollment = EnrollmentFactory(student=world.child, section=world.s.section)
    requested = request(world.child, west, office)
    approved = request(world.other_child, west, office)
    transfers.transfer_approve(transfer=approved, actor=admin)
    return SimpleNamespace(
        w=world,
        west=west,
        enrollment=enrollment,
        requested=requested,
        approved=approved,
        north_section=world.s.other_section,
    )


def expect(office, other_office, admin, parent, other_parent, anonymous, *, instructor=403):
    statuses = (office, other_office, admin, parent, other_parent, anonymous, instructor)
    return dict(zip(MATRIX_ACTORS, statuses, strict=True))


STAFF_LIST = expect(200, 200, 200, 403, 403, 401)
IN_SCOPE_READ = expect(200, 404, 200, 403, 403, 401)
APPROVER_ONLY = expect(403, 403, 200, 403, 403, 401)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405, instructor=405)

# (case id, method, path(tw), body(tw) or None, expected status per actor)
CASES = [
    ("transfers-list", "get", lambda t: f"{V1}/transfers/", None, STAFF_LIST),
    ("transfers-get", "get", lambda t: f"{V1}/transfers/{t.requested.pk}/", None, IN_SCOPE_READ),
    (
        "transfers-post",
        "post",
        lambda t: f"{V1}/transfers/",
        lambda t: {
            "student": str(t.w.children[1].pk),
            "to_location": str(t.w.other_location.pk),
            "reason": "Closer to home",
            "effective_date": EFFECTIVE,
        },
        # another location's staff: the student is not theirs -> 400 on student
        expect(201, 400, 201, 403, 403, 401),
    ),
    (
        "transfers-approve",
        "post",
        lambda t: f"{V1}/transfers/{t.requested.pk}/approve/",
        lambda t: {"notes": "Seats available"},
        APPROVER_ONLY,
    ),
    (
        "transfers-reject",
        "post",
        lambda t: f"{V1}/transfers/{t.requested.pk}/reject/",
        lambda t: {"reason": "Family stays"},
        APPROVER_ONLY,
    ),
    ("transfers-apply", "post", lambda t: f"{V1}/transfers/{t.approved.pk}/apply/", lambda t: {}, APPROVER_ONLY),
    ("transfers-patch", "patch", lambda t: f"{V1}/transfers/{t.requested.pk}/", lambda t: {}, ALWAYS_405),
    ("transfers-put", "put", lambda t: f"{V1}/transfers/{t.requested.pk}/", lambda t: {}, ALWAYS_405),
    ("transfers-delete", "delete", lambda t: f"{V1}/transfers/{t.requested.pk}/", None, ALWAYS_405),
]


class _AnyRecord:
    """Stands in for the world when only the path templates are wanted."""

    pk = "00000000-0000-0000-0000-000000000000"

    def __getattr__(self, name):
        return self


def transfer_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_AnyRecord()))) for _id, method, path, _body, _expected in CASES}


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_permission_matrix(tw, as_user, method, path, body, expected):
    def check(actor):
        # given an actor and an endpoint
        client = as_user(actor)
        before = rows()
        # when the actor calls it
        kwargs = {"format": "json"} if body is not None else {}
        response = getattr(client, method)(path(tw), body(tw) if body is not None else None, **kwargs)
        # then the status is the one the matrix expects, with an error body where it is an error
        assert response.status_code == expected[actor], response.content
        if response.status_code >= 400:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
        # and a refused write wrote nothing
        if method != "get" and response.status_code >= 400:
            assert rows() == before

    assert_for_each_actor(MATRIX_ACTORS, check)


class TestRequest:
    def post(self, client, tw, **changes):
        body = {
            "student": str(tw.w.children[1].pk),
            "to_location": str(tw.w.other_location.pk),
            "reason": "Closer to home",
            "effective_date": EFFECTIVE,
        }
        return client.post(f"{V1}/transfers/", body | changes, format="json")

    def test_201_with_the_number_and_the_impact(self, tw, as_user):
        EnrollmentFactory(student=tw.w.children[1], section=tw.w.s.section, session_rate=Decimal("15.00"))
        response = self.post(as_user("office"), tw, transfer_type="emergency", notes="Urgent")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["transfer_number"].startswith("TRF-") and body["status"] == "requested"
        assert body["transfer_type"] == "emergency" and body["requested_by"] == "office"
        assert body["from_location"] == str(tw.w.location.pk)
        assert body["to_location_code"] == "NORTH"
        assert body["affected_enrollments"] == 1
        assert body["financial_impact"] == "180.00"  # 12 sessions x 15.00
        assert body["impact_details"][0]["unused_value"] == "180.00"
        assert body["approved_by"] is None and body["applied_at"] is None

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"reason": ""}, "reason"),
            ({"reason": "   "}, "reason"),
            ({"effective_date": "2025-13-01"}, "effective_date"),
            ({"effective_date": None}, "effective_date"),
            ({"transfer_type": "sideways"}, "transfer_type"),
            ({"transfer_type": "temporary"}, "end_date"),
            ({"transfer_type": "temporary", "end_date": "2025-09-01"}, "end_date"),
            ({"end_date": "2025-12-01"}, "end_date"),
            ({"student": "not-a-uuid"}, "student"),
            ({"to_location": "00000000-0000-0000-0000-000000000000"}, "to_location"),
        ],
    )
    def test_bad_input_is_a_400_on_the_field(self, tw, as_user, changes, field):
        before = rows()
        response = self.post(as_user("office"), tw, **changes)
        assert response.status_code == 400, response.content
        assert field in response.json()
        assert rows() == before

    def test_the_same_location_is_a_400(self, tw, as_user):
        before = rows()
        response = self.post(as_user("office"), tw, to_location=str(tw.w.location.pk))
        assert response.status_code == 400 and "to_location" in response.json()
        assert rows() == before

    def test_an_open_transfer_is_a_409(self, tw, as_user):
        before = rows()
        response = self.post(as_user("office"), tw, student=str(tw.w.child.pk))
        assert (response.status_code, response.json()["code"]) == (409, "transfer_open")
        assert tw.requested.transfer_number in response.json()["detail"]
        assert rows() == before


class TestDecide:
    def test_the_requester_cannot_approve(self, tw, as_user, client_for):
        admin = tw.w.users["admin"]
        own = request(tw.w.children[1], tw.w.other_location, admin)
        before = rows()
        response = as_user("admin").post(f"{V1}/transfers/{own.pk}/approve/", {}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "same_approver")
        assert rows() == before

    def test_approve_then_approve_again(self, tw, as_user):
        client = as_user("admin")
        response = client.post(f"{V1}/transfers/{tw.requested.pk}/approve/", {"notes": "OK"}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "approved" and response.json()["approved_by"] == "academy-admin"
        before = rows()
        again = client.post(f"{V1}/transfers/{tw.requested.pk}/approve/", {}, format="json")
        assert (again.status_code, again.json()["code"]) == (409, "invalid_status_change")
        assert rows() == before

    def test_reject_needs_a_reason(self, tw, as_user):
        before = rows()
        response = as_user("admin").post(f"{V1}/transfers/{tw.requested.pk}/reject/", {}, format="json")
        assert response.status_code == 400 and "reason" in response.json()
        assert rows() == before

    def test_reject(self, tw, as_user):
        response = as_user("admin").post(
            f"{V1}/transfers/{tw.requested.pk}/reject/", {"reason": "No seats"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["status"] == "rejected" and response.json()["rejection_reason"] == "No seats"


class TestApply:
    def approved_child(self, tw):
        """The parent's first child, with an enrollment at main, approved to north."""
        transfers.transfer_reject(transfer=tw.requested, actor=tw.w.users["admin"], reason="Replaced")
        transfer = request(tw.w.child, tw.w.other_location, tw.w.users["office"])
        return transfers.transfer_approve(transfer=transfer, actor=tw.w.users["admin"])

    def test_apply_withdraws_and_moves_the_student_then_a_second_apply_is_409(self, tw, as_user):
        transfer = self.approved_child(tw)
        client = as_user("admin")
        response = client.post(f"{V1}/transfers/{transfer.pk}/apply/", {}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "applied" and body["applied_by"] == "academy-admin"
        assert body["impact_details"][0]["action"] == "withdrawn"
        tw.enrollment.refresh_from_db()
        assert tw.enrollment.status == "withdrawn"
        assert Student.objects.get(pk=tw.w.child.pk).location == tw.w.other_location
        before = rows()
        again = client.post(f"{V1}/transfers/{transfer.pk}/apply/", {}, format="json")
        assert (again.status_code, again.json()["code"]) == (409, "invalid_status_change")
        assert rows() == before

    def test_apply_with_a_move(self, tw, as_user):
        transfer = self.approved_child(tw)
        moves = [{"enrollment": str(tw.enrollment.pk), "section": str(tw.north_section.pk)}]
        response = as_user("admin").post(f"{V1}/transfers/{transfer.pk}/apply/", {"moves": moves}, format="json")
        assert response.status_code == 200, response.content
        item = response.json()["impact_details"][0]
        assert item["action"] == "moved" and item["moved_to"] == f"{tw.w.s.course.code}-{tw.north_section.code}"
        assert Enrollment.objects.active().get(student=tw.w.child).section == tw.north_section

    @pytest.mark.parametrize(
        ("moves", "field"),
        [
            (lambda t: [{"enrollment": str(t.enrollment.pk), "section": str(t.w.s.section.pk)}], "moves"),
            (lambda t: [{"enrollment": str(t.enrollment.pk), "section": "nope"}], "moves[0].section"),
            (lambda t: [{"enrollment": str(t.enrollment.pk)}], "moves[0].section"),
            (
                lambda t: [
                    {"enrollment": str(t.enrollment.pk), "section": str(t.north_section.pk)},
                    {"enrollment": str(t.enrollment.pk), "section": str(t.north_section.pk)},
                ],
                "moves",
            ),
            (lambda t: "all", "moves"),
        ],
    )
    def test_bad_moves_are_a_400_and_write_nothing(self, tw, as_user, moves, field):
        transfer = self.approved_child(tw)
        before = rows()
        response = as_user("admin").post(f"{V1}/transfers/{transfer.pk}/apply/", {"moves": moves(tw)}, format="json")
        assert response.status_code == 400, response.content
        assert field in response.json()
        assert rows() == before

    def test_a_full_target_section_is_a_409_and_writes_nothing(self, tw, as_user):
        transfer = self.approved_child(tw)
        full = SectionFactory(
            course=tw.w.s.course, term=tw.w.s.term, location=tw.w.other_location, code="FULL", capacity=0
        )
        before = rows()
        moves = [{"enrollment": str(tw.enrollment.pk), "section": str(full.pk)}]
        response = as_user("admin").post(f"{V1}/transfers/{transfer.pk}/apply/", {"moves": moves}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "section_full")
        assert rows() == before

    def test_a_requested_transfer_cannot_be_applied(self, tw, as_user):
        before = rows()
        response = as_user("admin").post(f"{V1}/transfers/{tw.requested.pk}/apply/", {}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "invalid_status_change")
        assert rows() == before


class TestListAndFilters:
    def test_filters(self, tw, as_user):
        client = as_user("admin")
        everything = client.get(f"{V1}/transfers/").json()
        assert everything["count"] == 2
        requested = client.get(f"{V1}/transfers/", {"status": "requested"}).json()["results"]
        assert [t["id"] for t in requested] == [str(tw.requested.pk)]
        to_west = client.get(f"{V1}/transfers/", {"location": str(tw.west.pk)}).json()
        assert to_west["count"] == 2
        from_north = client.get(f"{V1}/transfers/", {"from_location": str(tw.w.other_location.pk)}).json()
        assert from_north["count"] == 0
        of_child = client.get(f"{V1}/transfers/", {"student": str(tw.w.child.pk)}).json()["results"]
        assert [t["id"] for t in of_child] == [str(tw.requested.pk)]

    @pytest.mark.parametrize("query", [{"status": "lost"}, {"location": "nope"}, {"ordering": "reason"}])
    def test_bad_filters_are_a_400(self, tw, as_user, query):
        response = as_user("admin").get(f"{V1}/transfers/", query)
        assert response.status_code == 400

    def test_location_limited_staff_see_transfers_from_or_to_their_locations(self, tw, as_user):
        north_bound = request(tw.w.children[1], tw.w.other_location, tw.w.users["office"])
        seen = as_user("other_office").get(f"{V1}/transfers/").json()["results"]
        assert [t["id"] for t in seen] == [str(north_bound.pk)]
        assert as_user("other_office").get(f"{V1}/transfers/{north_bound.pk}/").status_code == 200

    def test_the_list_costs_the_same_whatever_the_number_of_rows(self, tw, as_user):
        client = as_user("office")
        path = f"{V1}/transfers/?page_size=100"
        client.get(path)  # the caller's grants are read once, then cached (academy.authz)
        counts = []
        for n in (3, 27):
            for _ in range(n):
                student = StudentFactory(location=tw.w.location)
                EnrollmentFactory(student=student, section=tw.w.s.section)
                request(student, tw.west, tw.w.users["office"])
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            assert response.status_code == 200
            counts.append(len(queries))
        assert response.json()["count"] == 32
        assert counts[0] == counts[1] <= 8, counts


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("spectacular", "--format", "openapi", stdout=out)
    return yaml.safe_load(out.getvalue())


class TestOpenApi:
    def test_every_transfer_operation_is_described_with_its_errors(self, schema):
        paths = schema["paths"]
        expected = {
            "/api/v1/transfers/": {"get", "post"},
            "/api/v1/transfers/{id}/": {"get"},
            "/api/v1/transfers/{id}/approve/": {"post"},
            "/api/v1/transfers/{id}/reject/": {"post"},
            "/api/v1/transfers/{id}/apply/": {"post"},
        }
        for path, methods in expected.items():
            assert path in paths, path
            assert {m for m in paths[path] if m in ("get", "post", "patch", "put", "delete")} == methods, path
            for method in methods:
                codes = set(paths[path][method]["responses"])
                assert {"401", "403"} <= codes, (path, method)
                if "{id}" in path:
                    assert "404" in codes, (path, method)
                if method == "post":
                    assert {"400", "409"} <= codes, (path, method)

    def test_the_request_and_the_answer_are_described(self, schema):
        create = schema["paths"]["/api/v1/transfers/"]["post"]
        body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        properties = schema["components"]["schemas"][body]["properties"]
        assert {"student", "to_location", "transfer_type", "reason", "effective_date", "end_date"} <= set(properties)
        answer = schema["components"]["schemas"]["LocationTransfer"]["properties"]
        for name in ("transfer_number", "affected_enrollments", "affected_sessions", "financial_impact", "status"):
            assert name in answer
        assert set(schema["components"]["schemas"]["LocationTransferStatusEnum"]["enum"]) == {
            "requested",
            "approved",
            "rejected",
            "applied",
        }
        apply_body = schema["paths"]["/api/v1/transfers/{id}/apply/"]["post"]["requestBody"]
        apply_ref = apply_body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert "moves" in schema["components"]["schemas"][apply_ref]["properties"]
