"""Report-card jobs through the API: the permission matrix of every operation (office
staff of the location and of another, admin, the child's parent, another parent,
anonymous, the child's instructor), 202 then poll then download, bad input answered
400 with field messages and nothing started, state conflicts 409 with a code, and a
fixed query count for the list.

The world is tests/api's (``instructor_world``): the instructor teaches ``s.section``
(main location), where ``child`` is enrolled."""

import io
import re
import zipfile
from types import SimpleNamespace

import pytest
from django.utils import timezone

from academy.models import Job
from grading.report_cards import report_cards_start
from tests.api import conftest as api_world
from tests.api.conftest import MATRIX_ACTORS
from tests.each_actor import assert_for_each_actor

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


@pytest.fixture(autouse=True)
def job_files(settings, tmp_path):
    settings.JOB_FILES_ROOT = tmp_path / "jobs"


@pytest.fixture
def rw(instructor_world, django_capture_on_commit_callbacks):
    """The world plus ``done`` (a completed job of the section, started by the office
    user) and ``queued`` (one not run yet)."""
    w = instructor_world
    with django_capture_on_commit_callbacks(execute=True):
        done = report_cards_start(term=w.s.term, section=w.s.section, actor=w.users["office"])
    with django_capture_on_commit_callbacks(execute=False):
        queued = report_cards_start(term=w.s.term, section=w.s.section, actor=w.users["office"])
    done.refresh_from_db()
    assert done.state == Job.State.COMPLETED, done.message
    return SimpleNamespace(w=w, done=done, queued=queued)


def expect(office, other_office, admin, parent, other_parent, anonymous, instructor):
    return dict(
        zip(MATRIX_ACTORS, (office, other_office, admin, parent, other_parent, anonymous, instructor), strict=True)
    )


STAFF_READS = expect(200, 200, 200, 403, 403, 401, 200)
# a job of the main location started by the office user: an instructor sees only their own
JOB_READ = expect(200, 404, 200, 403, 403, 401, 404)
# the section is the main location's: out of scope for the other office (400 on section)
START = expect(202, 400, 202, 403, 403, 401, 202)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405, 405)

CASES = [
    ("jobs-list", "get", lambda r: f"{V1}/report-card-jobs/", None, STAFF_READS),
    (
        "jobs-post",
        "post",
        lambda r: f"{V1}/report-card-jobs/",
        lambda r: {"term": str(r.w.s.term.pk), "section": str(r.w.s.section.pk)},
        START,
    ),
    ("jobs-get", "get", lambda r: f"{V1}/report-card-jobs/{r.done.pk}/", None, JOB_READ),
    ("jobs-download", "get", lambda r: f"{V1}/report-card-jobs/{r.done.pk}/download/", None, JOB_READ),
    ("jobs-cancel", "post", lambda r: f"{V1}/report-card-jobs/{r.queued.pk}/cancel/", None, JOB_READ),
    ("jobs-patch", "patch", lambda r: f"{V1}/report-card-jobs/{r.done.pk}/", lambda r: {"title": "x"}, ALWAYS_405),
    ("jobs-delete", "delete", lambda r: f"{V1}/report-card-jobs/{r.done.pk}/", None, ALWAYS_405),
]


class _Any:
    """Stands in for the world: any attribute is a UUID (for the paths' templates)."""

    def __getattr__(self, name):
        return self

    @property
    def pk(self):
        return "00000000-0000-0000-0000-000000000000"


def report_card_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_Any()))) for _id, method, path, _body, _expected in CASES}


@pytest.mark.parametrize(("method", "path", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_permission_matrix(rw, as_user, method, path, body, expected, django_capture_on_commit_callbacks):
    def check(actor):
        client = as_user(actor)
        before = (Job.objects.count(), sorted(Job.objects.values_list("pk", "state")))
        kwargs = {"format": "json"} if body is not None else {}
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(client, method)(path(rw), body(rw) if body is not None else None, **kwargs)
        assert response.status_code == expected[actor], getattr(response, "content", b"")[:500]
        if response.status_code >= 400 and response.status_code != 405:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
        if method != "get" and response.status_code >= 400:
            assert (Job.objects.count(), sorted(Job.objects.values_list("pk", "state"))) == before

    assert_for_each_actor(MATRIX_ACTORS, check)


def test_start_poll_and_download(rw, as_user, django_capture_on_commit_callbacks):
    client = as_user("instructor")
    w = rw.w
    # when: the job is started (the test runs it inline once the request committed)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            f"{V1}/report-card-jobs/", {"term": str(w.s.term.pk), "section": str(w.s.section.pk)}, format="json"
        )
    # then: 202 with the job still queued, and where to poll it
    assert response.status_code == 202
    job = response.json()
    assert (job["state"], job["done"], job["total"], job["download_url"]) == ("queued", 0, 1, None)
    assert job["term"] == str(w.s.term.pk) and job["section"] == str(w.s.section.pk) and job["location"] is None
    assert client.get(f"{V1}/report-card-jobs/{job['id']}/download/").json()["code"] == "job_not_finished"
    for callback in callbacks:
        callback()
    polled = client.get(job["url"]).json()
    assert (polled["state"], polled["done"], polled["total"], polled["percent"]) == ("completed", 1, 1, 100)
    download = client.get(polled["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as bundle:
        names = bundle.namelist()
        assert len(names) == 1 and names[0].startswith(w.child.student_number)
        assert bundle.read(names[0]).startswith(b"%PDF")
    # the instructor's list holds their own job only
    listed = client.get(f"{V1}/report-card-jobs/").json()
    assert [row["id"] for row in listed["results"]] == [job["id"]]


def test_bad_input_is_a_400_with_field_messages_and_starts_nothing(rw, as_user):
    client = as_user("office")
    w = rw.w
    before = Job.objects.count()
    cases = [
        ({}, "term"),
        ({"term": "not-a-uuid", "section": str(w.s.section.pk)}, "term"),
        ({"term": str(w.s.term.pk)}, "non_field_errors"),
        ({"term": str(w.s.term.pk), "section": str(w.s.section.pk), "location": str(w.location.pk)}, "section"),
        ({"term": str(w.s.term.pk), "section": str(w.s.other_section.pk)}, "section"),  # another location's
        ({"term": str(w.s.term.pk), "location": str(w.other_location.pk)}, "location"),
    ]
    for body, field in cases:
        response = client.post(f"{V1}/report-card-jobs/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())
    assert Job.objects.count() == before


def test_nobody_to_print_is_a_409(rw, as_user):
    w = rw.w
    response = as_user("admin").post(
        f"{V1}/report-card-jobs/", {"term": str(w.s.term.pk), "section": str(w.s.other_section.pk)}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "no_students"


def test_cancelling_a_finished_job_is_a_409(rw, as_user):
    response = as_user("office").post(f"{V1}/report-card-jobs/{rw.done.pk}/cancel/")
    assert response.status_code == 409 and response.json()["code"] == "job_finished"
    cancelled = as_user("office").post(f"{V1}/report-card-jobs/{rw.queued.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"


def test_a_file_no_longer_kept_is_a_409(rw, as_user):
    from academy.jobs import job_result_file

    job_result_file(rw.done).unlink()
    response = as_user("office").get(f"{V1}/report-card-jobs/{rw.done.pk}/download/")
    assert response.status_code == 409 and response.json()["code"] == "file_gone"


def test_the_same_idempotency_key_starts_one_job(rw, as_user, django_capture_on_commit_callbacks):
    client = as_user("office")
    body = {"term": str(rw.w.s.term.pk), "section": str(rw.w.s.section.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"{V1}/report-card-jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="cards-1")
        again = client.post(f"{V1}/report-card-jobs/", body, format="json", HTTP_IDEMPOTENCY_KEY="cards-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Job.objects.count() == 3  # the fixture's two and this one


def test_the_list_reads_a_fixed_number_of_queries(rw, as_user, django_assert_max_num_queries):
    client = as_user("office")
    client.get(f"{V1}/report-card-jobs/")  # warm the token and grants caches
    with django_assert_max_num_queries(12) as few:
        assert client.get(f"{V1}/report-card-jobs/").json()["count"] == 2
    for _ in range(8):
        Job.objects.create(
            kind="report_cards",
            title="More",
            params={"term": str(rw.w.s.term.pk)},
            created_by=rw.w.users["office"],
            location=rw.w.location,
            created_at=timezone.now(),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"{V1}/report-card-jobs/").json()["count"] == 10
