"""Promotion runs through the API: the permission matrix of every operation (office staff
of the location and of another, admin, the child's parent, another family's parent,
anonymous, the child's instructor), a run taken from draft to its records, bad input
answered 400 with field messages and nothing written, the services' 409s, the idempotent
start, the proposals' filters, a fixed query count for the list, and the next academic
year the dev seed makes for the wizard.

The world is tests/api's (``instructor_world``): ``child`` (the parent's) and
``other_child`` (another family's) are at the main location, in Grade 1 of ``s.year``."""

import datetime
import re
from types import SimpleNamespace

import pytest
from django.utils import timezone

from academy.jobs import job_run
from academy.models import AcademicYear, Job
from promotion import services
from promotion.models import PromotionProposal, PromotionRecord, PromotionRun
from students.models import Student
from tests.api import conftest as api_world
from tests.api.conftest import MATRIX_ACTORS
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import AcademicYearFactory, finance_user
from tests.factories.families import StudentFactory

# the API tests' fixtures (tests/api/conftest.py), for this module
roles = api_world.roles
client_for = api_world.client_for
structure = api_world.structure
world = api_world.world
instructor_world = api_world.instructor_world
as_user = api_world.as_user

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _run(w, *, actor, location=None, **extra):
    return services.run_create(
        location=location or w.location, from_year=w.s.year, to_year=w.next_year, actor=actor, **extra
    )


@pytest.fixture
def pw(instructor_world, django_capture_on_commit_callbacks):
    """The world plus the next year; the main location's students in Grade 1 of
    ``s.year``; runs of the main location made by the office: ``draft``, ``previewed``,
    ``approved`` (by the admin) and ``done`` (``child`` promoted by it, a record); and
    ``other`` (the other location's, a draft of its office)."""
    w = instructor_world
    office, admin = w.users["office"], w.users["admin"]
    w.next_year = AcademicYearFactory(
        name="2026-27",
        start_date=w.s.year.end_date + datetime.timedelta(days=1),
        end_date=w.s.year.end_date + datetime.timedelta(days=365),
        is_current=False,
    )
    Student.objects.filter(location=w.location).update(grade_level=w.s.grade_one, academic_year=w.s.year)
    draft = _run(w, actor=office)
    previewed = services.run_preview(run=_run(w, actor=office), actor=office)
    approved = services.run_approve(run=services.run_preview(run=_run(w, actor=office), actor=office), actor=admin)
    done = services.run_approve(
        run=services.run_preview(run=_run(w, actor=office, students=[w.child.pk]), actor=office), actor=admin
    )
    with django_capture_on_commit_callbacks(execute=False):
        record = services.student_promote(run=done, proposal=done.proposals.get(student=w.child), actor=admin)
    other = _run(w, actor=w.users["other_office"], location=w.other_location)
    return SimpleNamespace(
        w=w, draft=draft, previewed=previewed, approved=approved, done=done, record=record, other=other
    )


def expect(office, other_office, admin, parent, other_parent, anonymous, instructor):
    return dict(
        zip(MATRIX_ACTORS, (office, other_office, admin, parent, other_parent, anonymous, instructor), strict=True)
    )


# instructors and parents hold no promotion permission (403); another location's run: 404
LIST = expect(200, 200, 200, 403, 403, 401, 403)
READ = expect(200, 404, 200, 403, 403, 401, 403)
# the other office does not see the main location: a 400 on ``location``
CREATE = expect(201, 400, 201, 403, 403, 401, 403)
CHANGE = expect(200, 404, 200, 403, 403, 401, 403)
JOB = expect(202, 404, 202, 403, 403, 401, 403)
# approving needs promotion.approve_promotionrun: the admin only
APPROVE = expect(403, 403, 200, 403, 403, 401, 403)
# a student's records: staff who see the child and the child's own parents
PROMOTIONS = expect(200, 404, 200, 200, 404, 401, 403)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405, 405)

CASES = [
    ("runs-list", "get", lambda p: f"{V1}/promotion-runs/", None, LIST),
    (
        "runs-post",
        "post",
        lambda p: f"{V1}/promotion-runs/",
        lambda p: {
            "location": str(p.w.location.pk),
            "from_year": str(p.w.s.year.pk),
            "to_year": str(p.w.next_year.pk),
            "grades": [str(p.w.s.grade_one.pk)],
            "min_attendance": "75.00",
        },
        CREATE,
    ),
    ("runs-get", "get", lambda p: f"{V1}/promotion-runs/{p.previewed.pk}/", None, READ),
    ("runs-preview", "post", lambda p: f"{V1}/promotion-runs/{p.draft.pk}/preview/", None, JOB),
    (
        "runs-override",
        "post",
        lambda p: f"{V1}/promotion-runs/{p.previewed.pk}/override/",
        lambda p: {"student": str(p.w.child.pk), "outcome": "detained", "reason": "Missed the spring term"},
        CHANGE,
    ),
    ("runs-approve", "post", lambda p: f"{V1}/promotion-runs/{p.previewed.pk}/approve/", None, APPROVE),
    ("runs-start", "post", lambda p: f"{V1}/promotion-runs/{p.approved.pk}/start/", None, JOB),
    ("runs-cancel", "post", lambda p: f"{V1}/promotion-runs/{p.draft.pk}/cancel/", None, CHANGE),
    ("runs-proposals", "get", lambda p: f"{V1}/promotion-runs/{p.previewed.pk}/proposals/", None, READ),
    ("runs-records", "get", lambda p: f"{V1}/promotion-runs/{p.done.pk}/records/", None, READ),
    ("runs-patch", "patch", lambda p: f"{V1}/promotion-runs/{p.draft.pk}/", lambda p: {}, ALWAYS_405),
    ("runs-delete", "delete", lambda p: f"{V1}/promotion-runs/{p.draft.pk}/", None, ALWAYS_405),
    ("student-promotions", "get", lambda p: f"{V1}/students/{p.w.child.pk}/promotions/", None, PROMOTIONS),
]


class _Any:
    """Stands in for the world: any attribute is a UUID (for the paths' templates)."""

    def __getattr__(self, name):
        return self

    @property
    def pk(self):
        return "00000000-0000-0000-0000-000000000000"


def promotion_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_Any()))) for _id, method, path, _body, _expected in CASES}


def written() -> tuple:
    """Everything a promotion write may touch ("nothing written")."""
    return (
        sorted(PromotionRun.objects.values_list("pk", "state", "approved_by")),
        PromotionRun.history.count(),
        sorted(PromotionProposal.objects.values_list("pk", "outcome", "override_outcome", "override_reason")),
        PromotionRecord.objects.count(),
        sorted(Job.objects.values_list("pk", "state")),
    )


@pytest.mark.parametrize(("method", "path", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_permission_matrix(pw, as_user, method, path, body, expected, django_capture_on_commit_callbacks):
    def check(actor):
        client = as_user(actor)
        before = written()
        kwargs = {"format": "json"} if body is not None else {}
        # the jobs a call starts stay queued
        with django_capture_on_commit_callbacks(execute=False):
            response = getattr(client, method)(path(pw), body(pw) if body is not None else None, **kwargs)
        assert response.status_code == expected[actor], getattr(response, "content", b"")[:500]
        if response.status_code >= 400:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
            if method != "get":
                assert written() == before

    assert_for_each_actor(MATRIX_ACTORS, check)


# --- the run from draft to records ----------------------------------------------------------


def test_a_run_from_draft_to_records(pw, as_user, django_capture_on_commit_callbacks):
    w = pw.w
    office, admin = as_user("office"), as_user("admin")
    # given a draft made by the office for Grade 1
    response = office.post(
        f"{V1}/promotion-runs/",
        {"location": str(w.location.pk), "from_year": str(w.s.year.pk), "to_year": str(w.next_year.pk)},
        format="json",
    )
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    assert response.json()["state"] == "draft" and response.json()["summary"] == []
    # when it is previewed (a job: 202 with where to poll)
    with django_capture_on_commit_callbacks(execute=False):
        response = office.post(f"{V1}/promotion-runs/{run_id}/preview/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["run"] == run_id and body["url"].endswith("?format=json")
    job_run(body["id"])
    # then the run shows a summary per grade and one proposal per student
    detail = office.get(f"{V1}/promotion-runs/{run_id}/").json()
    assert detail["state"] == "previewed"
    proposals = office.get(f"{V1}/promotion-runs/{run_id}/proposals/").json()
    students = {row["student"]: row for row in proposals["results"]}
    # the child was promoted from the year by another run already: skipped
    assert students[str(w.child.pk)]["final_outcome"] == "skipped"
    untaught = students[str(w.untaught_child.pk)]
    assert untaught["final_outcome"] == "promoted" and untaught["to_grade"] == str(w.s.grade_two.pk)
    # (the child is in Grade 2 of the next year now)
    counts = {row["grade"]: row["counts"] for row in detail["summary"]}
    assert counts["Grade 2"] == {"skipped": 1}
    assert sum(sum(c.values()) for c in counts.values()) == proposals["count"]
    # when the office detains one student, with a reason
    response = office.post(
        f"{V1}/promotion-runs/{run_id}/override/",
        {"student": str(w.untaught_child.pk), "outcome": "detained", "reason": "Parents asked for another year"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["final_outcome"] == "detained"
    # then the filters find them
    detained = office.get(f"{V1}/promotion-runs/{run_id}/proposals/?outcome=detained").json()
    assert [row["student"] for row in detained["results"]] == [str(w.untaught_child.pk)]
    other_grade = office.get(f"{V1}/promotion-runs/{run_id}/proposals/?grade={w.s.grade_two.pk}").json()
    assert [row["student"] for row in other_grade["results"]] == [str(w.child.pk)]
    assert office.get(f"{V1}/promotion-runs/{run_id}/proposals/?outcome=nonsense").status_code == 400
    # when the creator approves it: 403 (no permission); the admin approves
    assert office.post(f"{V1}/promotion-runs/{run_id}/approve/").status_code == 403
    response = admin.post(f"{V1}/promotion-runs/{run_id}/approve/")
    assert response.status_code == 200 and response.json()["state"] == "approved"
    # and once approved, no more overrides
    response = office.post(
        f"{V1}/promotion-runs/{run_id}/override/",
        {"student": str(w.untaught_child.pk), "outcome": "", "reason": ""},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "run_not_editable"
    # when the office starts it, twice with the same key
    with django_capture_on_commit_callbacks(execute=False):
        first = office.post(f"{V1}/promotion-runs/{run_id}/start/", HTTP_IDEMPOTENCY_KEY="start-1")
        again = office.post(f"{V1}/promotion-runs/{run_id}/start/", HTTP_IDEMPOTENCY_KEY="start-1")
    assert first.status_code == 202 and again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert Job.objects.filter(kind=services.RUN_JOB, params__run=run_id).count() == 1
    # and a start without the key: the run is running already
    response = office.post(f"{V1}/promotion-runs/{run_id}/start/")
    assert response.status_code == 409 and response.json()["code"] == "run_not_approved"
    with django_capture_on_commit_callbacks(execute=True):
        job_run(first.json()["id"])
    # then the run completed and its records are listed, the detained student's among them
    assert office.get(f"{V1}/promotion-runs/{run_id}/").json()["state"] == "completed"
    records = office.get(f"{V1}/promotion-runs/{run_id}/records/").json()["results"]
    outcomes = {row["student"]: row["outcome"] for row in records}
    assert outcomes[str(w.untaught_child.pk)] == "detained" and str(w.child.pk) not in outcomes
    # and the parent reads their child's promotions
    mine = as_user("parent").get(f"{V1}/students/{w.untaught_child.pk}/promotions/").json()
    assert [row["outcome"] for row in mine] == ["detained"]


def test_the_creator_does_not_approve(pw, as_user):
    # given a previewed run the admin made themself
    admin_user = pw.w.users["admin"]
    run = services.run_preview(run=_run(pw.w, actor=admin_user), actor=admin_user)
    # when they approve it: 409 same_approver, and the run stays previewed
    response = as_user("admin").post(f"{V1}/promotion-runs/{run.pk}/approve/")
    assert response.status_code == 409 and response.json()["code"] == "same_approver"
    run.refresh_from_db()
    assert run.state == "previewed" and run.approved_by is None


def test_state_conflicts(pw, as_user):
    office = as_user("office")
    # a draft is not approved; an approved run is not previewed again; a cancelled one not cancelled
    response = as_user("admin").post(f"{V1}/promotion-runs/{pw.draft.pk}/approve/")
    assert response.status_code == 409 and response.json()["code"] == "run_not_previewed"
    response = office.post(f"{V1}/promotion-runs/{pw.approved.pk}/preview/")
    assert response.status_code == 409 and response.json()["code"] == "run_not_editable"
    response = office.post(f"{V1}/promotion-runs/{pw.draft.pk}/start/")
    assert response.status_code == 409 and response.json()["code"] == "run_not_approved"
    assert office.post(f"{V1}/promotion-runs/{pw.draft.pk}/cancel/").json()["state"] == "cancelled"
    response = office.post(f"{V1}/promotion-runs/{pw.draft.pk}/cancel/")
    assert response.status_code == 409 and response.json()["code"] == "run_not_cancellable"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: {"to_year": str(p.w.s.year.pk)}, "to_year"),
        (lambda p: {"location": str(p.w.other_location.pk)}, "location"),
        (lambda p: {"from_year": "not-an-id"}, "from_year"),
        (lambda p: {"grades": [str(p.w.s.year.pk)]}, "grades"),
        (lambda p: {"grade_map": {str(p.w.s.grade_one.pk): str(p.w.s.year.pk)}}, "grade_map"),
        (lambda p: {"students": [str(p.w.other_child.pk)]}, None),  # same location: accepted
        (lambda p: {"min_attendance": "101"}, "min_attendance"),
        (lambda p: {"max_failed_results": -1}, "max_failed_results"),
        (lambda p: {"hold_detains": "maybe"}, "hold_detains"),
    ],
)
def test_create_bad_input_is_400_and_writes_nothing(pw, as_user, change, field):
    # given a run body with one bad field (the office sees only the main location)
    body = {"location": str(pw.w.location.pk), "from_year": str(pw.w.s.year.pk), "to_year": str(pw.w.next_year.pk)}
    body.update(change(pw))
    before = written()
    # when the office posts it
    response = as_user("office").post(f"{V1}/promotion-runs/", body, format="json")
    # then it is a 400 on that field, and nothing is written
    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400, response.content
    assert field in response.json() and all(isinstance(m, list) for m in response.json().values())
    assert written() == before


def test_a_student_of_another_location_is_400(pw, as_user, other_location):
    stranger = StudentFactory(location=other_location)
    body = {
        "location": str(pw.w.location.pk),
        "from_year": str(pw.w.s.year.pk),
        "to_year": str(pw.w.next_year.pk),
        "students": [str(stranger.pk)],
    }
    before = written()
    response = as_user("office").post(f"{V1}/promotion-runs/", body, format="json")
    assert response.status_code == 400 and "students" in response.json()
    assert written() == before


def test_override_of_a_student_not_in_the_run_is_400(pw, as_user):
    before = written()
    response = as_user("office").post(
        f"{V1}/promotion-runs/{pw.done.pk}/override/", {"student": str(pw.w.untaught_child.pk)}, format="json"
    )
    assert response.status_code == 400 and "outcome" in response.json()
    response = as_user("office").post(
        f"{V1}/promotion-runs/{pw.previewed.pk}/override/",
        {"student": str(pw.w.other_location.pk), "outcome": "left", "reason": "Moved away"},
        format="json",
    )
    assert response.status_code == 400 and "student" in response.json()
    response = as_user("office").post(
        f"{V1}/promotion-runs/{pw.previewed.pk}/override/",
        {"student": str(pw.w.untaught_child.pk), "outcome": "left"},
        format="json",
    )
    assert response.status_code == 400 and "reason" in response.json()
    assert written() == before


def test_finance_staff_have_no_access_to_runs(pw, client_for):
    client = client_for(finance_user(username="cashier"))
    before = written()
    assert client.get(f"{V1}/promotion-runs/").status_code == 403
    assert client.get(f"{V1}/promotion-runs/{pw.previewed.pk}/proposals/").status_code == 403
    assert client.post(f"{V1}/promotion-runs/{pw.approved.pk}/start/").status_code == 403
    assert client.get(f"{V1}/students/{pw.w.child.pk}/promotions/").status_code == 403
    assert written() == before


def test_the_other_office_sees_only_its_runs(pw, as_user):
    results = as_user("other_office").get(f"{V1}/promotion-runs/").json()["results"]
    assert [row["id"] for row in results] == [str(pw.other.pk)]
    assert as_user("office").get(f"{V1}/promotion-runs/{pw.other.pk}/").status_code == 404


def test_the_list_has_a_fixed_query_count(pw, as_user, django_assert_max_num_queries):
    office = as_user("office")
    office.get(f"{V1}/promotion-runs/")  # warm the caches (permissions, content types)
    with django_assert_max_num_queries(8) as small:
        assert office.get(f"{V1}/promotion-runs/").json()["count"] == 4
    for _ in range(6):
        _run(pw.w, actor=pw.w.users["office"])
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert office.get(f"{V1}/promotion-runs/").json()["count"] == 10


def test_dev_seed_makes_the_next_academic_year(db):
    from academy.seeds import academic_year_span, seed_academic_year

    # given the dev demo's year and terms seeded today
    seed_academic_year("dev", lambda message: None)
    current = AcademicYear.objects.get(is_current=True)
    # then the year after it exists, not current, dated right after it
    name, start, end = academic_year_span(current.end_date + datetime.timedelta(days=1))
    following = AcademicYear.objects.get(start_date__gt=current.end_date)
    assert (following.name, following.start_date, following.end_date, following.is_current) == (name, start, end, False)
    assert current.start_date <= timezone.localdate() <= current.end_date
    # and seeding again adds nothing
    seed_academic_year("dev", lambda message: None)
    assert AcademicYear.objects.count() == 2
