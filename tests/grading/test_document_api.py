"""Document requests and transcripts through the API: the permission matrix of every
operation (office staff of the location and of another, admin, the child's parent,
another family's parent, anonymous, the child's instructor), a family's request taken
to its PDF, bad input answered 400 with field messages and nothing written, the 409s of
the services (``invalid_transition``, ``request_open``, ``finance_hold`` with the amount,
``no_results``), the family's view without the office's notes, the download made again
when its file was removed, and a fixed query count for the list.

The world is tests/api's (``instructor_world``): ``child`` (the parent's) and
``other_child`` (another family's) are at the main location; the instructor teaches
``s.section``, where ``child`` has a published result."""

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from academy.jobs import job_result_file
from academy.models import Job
from grading import document_services, documents, services
from grading.models import DocumentRequest, IssuedDocument
from tests.api import conftest as api_world
from tests.api.conftest import MATRIX_ACTORS
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import finance_user
from tests.factories.finance import FinancePolicyFactory, issue

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
def dw(instructor_world, django_capture_on_commit_callbacks):
    """The world plus a published result of ``child`` in ``s.section`` and requests of
    ``child``: ``pending`` (a bonafide the parent asked for), ``approved`` (a no-objection
    certificate with the office's notes), ``completed`` (a transcript, its PDF job queued
    and not run); and ``other`` (a bonafide of another family's child, pending)."""
    w = instructor_world
    office, parent = w.users["office"], w.users["parent"]
    final = services.assessment_create(
        section=w.s.section, actor=office, type="final", title="Final", weight=Decimal(100), max_score=Decimal(100)
    )
    services.gradebook_save(section=w.s.section, cells=[services.Cell(final.pk, w.child.pk, score=84)], actor=office)
    services.section_publish(section=w.s.section, actor=office)
    with django_capture_on_commit_callbacks(execute=False):
        pending = document_services.document_request_create(
            student=w.child, type="bonafide", purpose="A visa application", addressee="The Embassy", actor=parent
        )
        approved = document_services.document_request_create(
            student=w.child, type="noc", purpose="A swimming gala abroad", actor=office, notes="Call the coach first"
        )
        approved = document_services.document_request_approve(request=approved, actor=office)
        completed = document_services.document_request_create(student=w.child, type="transcript", actor=parent)
        completed = document_services.document_request_approve(request=completed, actor=office)
        completed, document, job = document_services.document_request_complete(request=completed, actor=office)
        other = document_services.document_request_create(student=w.other_child, type="bonafide", actor=office)
    return SimpleNamespace(
        w=w, pending=pending, approved=approved, completed=completed, document=document, job=job, other=other
    )


def expect(office, other_office, admin, parent, other_parent, anonymous, instructor):
    return dict(
        zip(MATRIX_ACTORS, (office, other_office, admin, parent, other_parent, anonymous, instructor), strict=True)
    )


# instructors and finance staff hold no document permission: 403, as for the other
# grading resources they may not use; out of scope (another location, another family) 404
LIST = expect(200, 200, 200, 200, 200, 401, 403)
CHILD_READ = expect(200, 404, 200, 200, 404, 401, 403)
# the other office does not see the child: a 400 on ``student``, as every scoped id in a body
ASK = expect(201, 400, 201, 201, 400, 401, 403)
DECIDE = expect(200, 404, 200, 403, 403, 401, 403)
COMPLETE = expect(202, 404, 202, 403, 403, 401, 403)
# the completed request's PDF is still being made: 202 with its job
DOWNLOAD = expect(202, 404, 202, 202, 404, 401, 403)
TRANSCRIPT = expect(202, 404, 202, 403, 403, 401, 403)
ALWAYS_405 = expect(405, 405, 405, 405, 405, 405, 405)

CASES = [
    ("requests-list", "get", lambda d: f"{V1}/document-requests/", None, LIST),
    (
        "requests-post",
        "post",
        lambda d: f"{V1}/document-requests/",
        lambda d: {"student": str(d.w.child.pk), "type": "other", "purpose": "A club membership letter"},
        ASK,
    ),
    ("requests-get", "get", lambda d: f"{V1}/document-requests/{d.pending.pk}/", None, CHILD_READ),
    ("requests-approve", "post", lambda d: f"{V1}/document-requests/{d.pending.pk}/approve/", lambda d: {}, DECIDE),
    (
        "requests-reject",
        "post",
        lambda d: f"{V1}/document-requests/{d.pending.pk}/reject/",
        lambda d: {"reason": "Already issued last week"},
        DECIDE,
    ),
    ("requests-complete", "post", lambda d: f"{V1}/document-requests/{d.approved.pk}/complete/", None, COMPLETE),
    ("requests-download", "get", lambda d: f"{V1}/document-requests/{d.completed.pk}/download/", None, DOWNLOAD),
    ("requests-patch", "patch", lambda d: f"{V1}/document-requests/{d.pending.pk}/", lambda d: {}, ALWAYS_405),
    ("requests-delete", "delete", lambda d: f"{V1}/document-requests/{d.pending.pk}/", None, ALWAYS_405),
    ("transcript-get", "get", lambda d: f"{V1}/students/{d.w.child.pk}/transcript/", None, TRANSCRIPT),
    ("transcript-post", "post", lambda d: f"{V1}/students/{d.w.child.pk}/transcript/", None, TRANSCRIPT),
]


class _Any:
    """Stands in for the world: any attribute is a UUID (for the paths' templates)."""

    def __getattr__(self, name):
        return self

    @property
    def pk(self):
        return "00000000-0000-0000-0000-000000000000"


def document_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_Any()))) for _id, method, path, _body, _expected in CASES}


def written() -> tuple:
    """Everything a document write may touch ("nothing written")."""
    return (
        sorted(DocumentRequest.objects.values_list("pk", "status", "notes", "rejection_reason")),
        DocumentRequest.history.count(),
        sorted(IssuedDocument.objects.values_list("pk", flat=True)),
        sorted(Job.objects.values_list("pk", "state")),
    )


@pytest.mark.parametrize(("method", "path", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_permission_matrix(dw, as_user, method, path, body, expected, django_capture_on_commit_callbacks):
    def check(actor):
        client = as_user(actor)
        before = written()
        kwargs = {"format": "json"} if body is not None else {}
        # the jobs a call starts stay queued (their PDFs are made in the tests below)
        with django_capture_on_commit_callbacks(execute=False):
            response = getattr(client, method)(path(dw), body(dw) if body is not None else None, **kwargs)
        assert response.status_code == expected[actor], getattr(response, "content", b"")[:500]
        if response.status_code >= 400:
            error = response.json()
            if response.status_code == 400:
                assert error and all(isinstance(messages, list) for messages in error.values())
            else:
                assert "detail" in error
        if response.status_code >= 400:
            assert written() == before

    assert_for_each_actor(MATRIX_ACTORS, check)


# --- a family's request, from asking to the PDF ----------------------------------------------


def test_a_family_asks_the_office_completes_and_both_download_the_pdf(dw, as_user, django_capture_on_commit_callbacks):
    parent, office = as_user("parent"), as_user("office")
    child = dw.w.child
    # given the parent asks for a bonafide certificate for another purpose
    response = parent.post(
        f"{V1}/document-requests/",
        {"student": str(child.pk), "type": "other", "purpose": "A letter for the swimming club", "notes": "x"},
        format="json",
    )
    assert response.status_code == 201, response.content
    asked = response.json()
    assert (asked["status"], asked["type"], asked["requested_by_name"]) == ("pending", "other", "parent")
    assert "notes" not in asked and "processed_by" not in asked  # the family's view
    assert DocumentRequest.objects.get(pk=asked["id"]).notes == ""  # a family writes no office notes
    # when the office approves it with a note and completes it
    approved = office.post(
        f"{V1}/document-requests/{asked['id']}/approve/", {"notes": "Stamp it twice"}, format="json"
    ).json()
    assert (approved["status"], approved["notes"], approved["processed_by_name"]) == (
        "approved",
        "Stamp it twice",
        "office",
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        completed = office.post(f"{V1}/document-requests/{asked['id']}/complete/")
    # then: 202 with the job (queued), the issued document and where to poll
    assert completed.status_code == 202, completed.content
    job = completed.json()
    download = f"http://testserver{V1}/document-requests/{asked['id']}/download/"
    assert (job["state"], job["status"], job["kind"], job["total"], job["done"]) == (
        "queued",
        "queued",
        "document",
        1,
        0,
    )
    assert job["url"] == completed["Location"] == download
    assert job["job_url"] == f"http://testserver{reverse('staff:job-detail', args=[job['id']])}"
    document = IssuedDocument.objects.get(pk=job["document"])
    assert job["request"] == asked["id"] and document.request_id == DocumentRequest.objects.get(pk=asked["id"]).pk
    assert parent.get(job["url"]).status_code == 202  # not made yet: poll again
    for callback in callbacks:
        callback()
    # and the family reads the request without the notes, and downloads the PDF
    read = parent.get(f"{V1}/document-requests/{asked['id']}/").json()
    assert read["status"] == "completed" and "notes" not in read
    assert read["document"] == str(document.pk) and read["download_url"] == download
    pdf = parent.get(read["download_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith("attachment") and child.student_number in pdf["Content-Disposition"]
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    # and its QR code's link answers genuine, with the digest
    check = as_user("anonymous").get(
        reverse("verify", args=[documents.document_token(document)]), HTTP_ACCEPT="application/json"
    )
    assert check.status_code == 200 and check.json()["status"] == "genuine"
    assert check.json()["digest"] == document.digest


def test_the_office_reads_its_notes_and_a_family_never_does(dw, as_user):
    office = as_user("office").get(f"{V1}/document-requests/{dw.approved.pk}/").json()
    assert office["notes"] == "Call the coach first" and office["processed_by_name"] == "office"
    family = as_user("parent").get(f"{V1}/document-requests/{dw.approved.pk}/").json()
    assert not {"notes", "processed_by", "processed_by_name"} & set(family)
    listed = as_user("parent").get(f"{V1}/document-requests/").json()["results"]
    assert listed and all("notes" not in row for row in listed)
    assert "Call the coach first" not in as_user("parent").get(f"{V1}/document-requests/").content.decode()


def test_a_rejected_request_tells_the_family_why(dw, as_user):
    response = as_user("office").post(
        f"{V1}/document-requests/{dw.pending.pk}/reject/", {"reason": "Issued last week"}, format="json"
    )
    assert response.status_code == 200
    read = as_user("parent").get(f"{V1}/document-requests/{dw.pending.pk}/").json()
    assert (read["status"], read["rejection_reason"], read["document"], read["download_url"]) == (
        "rejected",
        "Issued last week",
        None,
        None,
    )


# --- bad input: 400 on the field, nothing written ----------------------------------------------


def test_bad_input_is_a_400_with_field_messages_and_writes_nothing(dw, as_user):
    office, parent = as_user("office"), as_user("parent")
    child = str(dw.w.child.pk)
    before = written()
    cases = [
        (office, f"{V1}/document-requests/", {"student": child, "type": "diploma"}, "type"),
        (office, f"{V1}/document-requests/", {"type": "bonafide"}, "student"),
        (office, f"{V1}/document-requests/", {"student": "not-a-uuid", "type": "bonafide"}, "student"),
        (office, f"{V1}/document-requests/", {"student": child, "type": "noc", "purpose": "x" * 301}, "purpose"),
        (office, f"{V1}/document-requests/", {"student": child, "type": "other"}, "purpose"),  # say what for
        (parent, f"{V1}/document-requests/", {"student": str(dw.w.other_child.pk), "type": "noc"}, "student"),
        (office, f"{V1}/document-requests/{dw.pending.pk}/reject/", {}, "reason"),
        (office, f"{V1}/document-requests/{dw.pending.pk}/reject/", {"reason": "   "}, "reason"),
    ]
    for client, path, body, field in cases:
        response = client.post(path, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json() and all(isinstance(m, list) for m in response.json().values()), body
    assert written() == before


def test_a_filter_naming_what_the_caller_may_not_see_is_a_400(dw, as_user):
    response = as_user("parent").get(f"{V1}/document-requests/", {"student": str(dw.w.other_child.pk)})
    assert response.status_code == 400 and "student" in response.json()
    response = as_user("office").get(f"{V1}/document-requests/", {"location": str(dw.w.other_location.pk)})
    assert response.status_code == 400 and "location" in response.json()
    response = as_user("office").get(f"{V1}/document-requests/", {"type": "diploma"})
    assert response.status_code == 400 and "type" in response.json()


# --- state conflicts: 409 with a code ---------------------------------------------------------


def test_out_of_order_transitions_are_409_invalid_transition(dw, as_user):
    office = as_user("office")
    before = written()
    for path, body in [
        (f"{V1}/document-requests/{dw.pending.pk}/complete/", None),  # not approved yet
        (f"{V1}/document-requests/{dw.approved.pk}/approve/", {}),  # approved already
        (f"{V1}/document-requests/{dw.completed.pk}/approve/", {}),
        (f"{V1}/document-requests/{dw.completed.pk}/complete/", None),
        (f"{V1}/document-requests/{dw.completed.pk}/reject/", {"reason": "Too late"}),
    ]:
        response = office.post(path, body, format="json")
        assert response.status_code == 409, (path, response.content)
        assert response.json()["code"] == "invalid_transition" and response.json()["detail"]
    assert written() == before


def test_a_second_open_request_of_the_same_kind_is_409_request_open(dw, as_user):
    response = as_user("parent").post(
        f"{V1}/document-requests/", {"student": str(dw.w.child.pk), "type": "bonafide"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "request_open"
    assert DocumentRequest.objects.filter(student=dw.w.child, type="bonafide").count() == 1


@pytest.fixture
def transcript_hold(dw):
    FinancePolicyFactory(location=dw.w.location, block_transcripts=True, hold_threshold=Decimal("50.00"))
    issue(dw.w.child, "120.00", actor=finance_user(username="cashier"))


def test_under_a_finance_hold_a_transcript_is_asked_for_but_not_approved_or_issued(dw, as_user, transcript_hold):
    office = as_user("office")
    # the family may ask (and the request waits)
    response = as_user("parent").post(
        f"{V1}/document-requests/", {"student": str(dw.w.child.pk), "type": "transcript"}, format="json"
    )
    assert response.status_code == 201 and response.json()["status"] == "pending"
    before = written()
    # approving it, or issuing one directly (POST or GET), is 409 finance_hold with the amount
    for call in (
        lambda: office.post(f"{V1}/document-requests/{response.json()['id']}/approve/", {}, format="json"),
        lambda: office.post(f"{V1}/students/{dw.w.child.pk}/transcript/"),
        lambda: office.get(f"{V1}/students/{dw.w.child.pk}/transcript/"),
    ):
        refused = call()
        assert refused.status_code == 409, refused.content
        body = refused.json()
        assert (body["code"], body["outstanding"], body["threshold"]) == ("finance_hold", "120.00", "50.00")
        assert "120.00" in body["detail"]
    assert written() == before
    # a certificate is not held
    assert office.post(f"{V1}/document-requests/{dw.pending.pk}/approve/", {}, format="json").status_code == 200


def test_a_transcript_of_a_student_without_published_results_is_409_no_results(dw, as_user):
    office = as_user("office")
    other = dw.w.other_child
    before = written()
    response = office.post(f"{V1}/students/{other.pk}/transcript/")
    assert response.status_code == 409 and response.json()["code"] == "no_results"
    assert office.get(f"{V1}/students/{other.pk}/transcript/").json()["code"] == "no_results"
    assert written() == before
    # a request for one can be approved, but completing it is refused and it stays approved
    asked = office.post(f"{V1}/document-requests/", {"student": str(other.pk), "type": "transcript"}).json()
    office.post(f"{V1}/document-requests/{asked['id']}/approve/", {}, format="json")
    refused = office.post(f"{V1}/document-requests/{asked['id']}/complete/")
    assert refused.status_code == 409 and refused.json()["code"] == "no_results"
    assert DocumentRequest.objects.get(pk=asked["id"]).status == "approved"
    assert not IssuedDocument.objects.filter(student=other).exists()


# --- the download -----------------------------------------------------------------------------


def test_no_download_before_the_document_is_issued(dw, as_user):
    for pk in (dw.pending.pk, dw.approved.pk):
        response = as_user("parent").get(f"{V1}/document-requests/{pk}/download/")
        assert response.status_code == 404 and "detail" in response.json()


def test_a_removed_file_is_made_again_by_a_new_job(dw, as_user, django_capture_on_commit_callbacks):
    parent = as_user("parent")
    url = f"{V1}/document-requests/{dw.completed.pk}/download/"
    # while its job is queued: 202 with that job, no second one
    waiting = parent.get(url)
    assert waiting.status_code == 202 and waiting.json()["id"] == str(dw.job.pk)
    assert Job.objects.filter(kind="document").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        from academy.jobs import job_run

        job_run(dw.job.pk)
    first = parent.get(url)
    assert first.status_code == 200
    pdf = b"".join(first.streaming_content)
    # given the file was removed
    dw.job.refresh_from_db()
    job_result_file(dw.job).unlink()
    # when the family asks for it again: 202 with a new job for the same document
    with django_capture_on_commit_callbacks(execute=True):
        again = parent.get(url)
    assert again.status_code == 202, again.content
    body = again.json()
    assert body["id"] != str(dw.job.pk) and body["document"] == str(dw.document.pk)
    assert body["job_url"] is None and body["download_url"] is None  # the staff pages are not the family's
    assert Job.objects.get(pk=body["id"]).created_by == dw.w.users["parent"]
    # then the same document is downloaded again, made anew
    made = parent.get(url)
    assert made.status_code == 200 and b"".join(made.streaming_content)[:4] == pdf[:4] == b"%PDF"
    assert IssuedDocument.objects.filter(request=dw.completed).count() == 1


# --- a student's transcript -------------------------------------------------------------------


def test_the_office_issues_a_transcript_and_polls_it_to_the_pdf(dw, as_user, django_capture_on_commit_callbacks):
    office = as_user("office")
    url = f"{V1}/students/{dw.w.child.pk}/transcript/"
    with django_capture_on_commit_callbacks(execute=True):
        issued = office.post(url)
    assert issued.status_code == 202, issued.content
    body = issued.json()
    assert issued["Location"] == body["url"] == f"http://testserver{url}"
    document = IssuedDocument.objects.get(pk=body["document"])
    assert (document.type, document.request_id, document.issued_by) == ("transcript", None, dw.w.users["office"])
    assert body["request"] is None and body["state"] == "queued"
    # GET: the PDF of that transcript (no new one)
    pdf = office.get(body["url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert IssuedDocument.objects.filter(student=dw.w.child, request__isnull=True).count() == 1
    # POST again: a new transcript
    with django_capture_on_commit_callbacks(execute=False):
        second = office.post(url)
    assert second.status_code == 202 and second.json()["document"] != body["document"]


def test_get_makes_a_transcript_when_there_is_none(dw, as_user, django_capture_on_commit_callbacks):
    office = as_user("admin")
    url = f"{V1}/students/{dw.w.child.pk}/transcript/"
    with django_capture_on_commit_callbacks(execute=False):
        first = office.get(url)
        again = office.get(url)  # still being made: the same job, no second transcript
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and first.json()["document"] == again.json()["document"]
    assert IssuedDocument.objects.filter(student=dw.w.child, request__isnull=True).count() == 1


def test_the_same_idempotency_key_issues_one_transcript(dw, as_user, django_capture_on_commit_callbacks):
    office = as_user("office")
    url = f"{V1}/students/{dw.w.child.pk}/transcript/"
    with django_capture_on_commit_callbacks(execute=False):
        first = office.post(url, HTTP_IDEMPOTENCY_KEY="transcript-1")
        again = office.post(url, HTTP_IDEMPOTENCY_KEY="transcript-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again.json()["document"] == first.json()["document"]
    assert IssuedDocument.objects.filter(student=dw.w.child, request__isnull=True).count() == 1


# --- the lists: scope, filters, queries -------------------------------------------------------


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_each_caller_lists_the_requests_of_the_students_they_may_see(dw, as_user):
    child_requests = {str(r.pk) for r in (dw.pending, dw.approved, dw.completed)}
    assert _ids(as_user("parent").get(f"{V1}/document-requests/")) == child_requests
    assert _ids(as_user("other_parent").get(f"{V1}/document-requests/")) == {str(dw.other.pk)}
    assert _ids(as_user("office").get(f"{V1}/document-requests/")) == child_requests | {str(dw.other.pk)}
    assert _ids(as_user("other_office").get(f"{V1}/document-requests/")) == set()
    assert _ids(as_user("admin").get(f"{V1}/document-requests/")) == child_requests | {str(dw.other.pk)}


def test_the_list_filters_by_type_status_student_and_location(dw, as_user):
    office = as_user("office")
    path = f"{V1}/document-requests/"
    assert _ids(office.get(path, {"type": "transcript"})) == {str(dw.completed.pk)}
    assert _ids(office.get(path, {"status": "pending"})) == {str(dw.pending.pk), str(dw.other.pk)}
    assert _ids(office.get(path + "?status=approved&status=completed")) == {str(dw.approved.pk), str(dw.completed.pk)}
    assert _ids(office.get(path, {"student": str(dw.w.other_child.pk)})) == {str(dw.other.pk)}
    assert len(_ids(office.get(path, {"location": str(dw.w.location.pk)}))) == 4
    assert _ids(as_user("admin").get(path, {"location": str(dw.w.other_location.pk)})) == set()
    ordered = office.get(path, {"ordering": "created_at"}).json()["results"]
    assert ordered[0]["id"] == str(dw.pending.pk)


def test_the_list_reads_a_fixed_number_of_queries(dw, as_user, django_assert_max_num_queries):
    client = as_user("office")
    client.get(f"{V1}/document-requests/")  # warm the token and grants caches
    with django_assert_max_num_queries(12) as few:
        assert client.get(f"{V1}/document-requests/").json()["count"] == 4
    office = dw.w.users["office"]
    for student in [*dw.w.children, dw.w.other_child]:
        for kind in ("transcript", "other"):
            if not DocumentRequest.objects.filter(student=student, type=kind, status__in=["pending", "approved"]):
                request = document_services.document_request_create(
                    student=student, type=kind, purpose="More", actor=office, notes="n"
                )
                document_services.document_request_reject(request=request, actor=office, reason="Done")
    total = DocumentRequest.objects.count()
    assert total >= 9
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"{V1}/document-requests/").json()["count"] == total
    # a parent's list too: the same count with one pending request of their children's and with many
    parent = as_user("parent")
    parent.get(f"{V1}/document-requests/")
    with django_assert_max_num_queries(12) as family:
        assert parent.get(f"{V1}/document-requests/", {"status": "pending"}).json()["count"] == 1
    first, second = dw.w.children
    for student, kind in [
        (first, "transcript"),
        (first, "other"),
        *((second, k) for k in ("transcript", "noc", "other")),
    ]:
        document_services.document_request_create(student=student, type=kind, purpose="More", actor=office)
    with django_assert_max_num_queries(len(family.captured_queries)):
        assert parent.get(f"{V1}/document-requests/", {"status": "pending"}).json()["count"] == 6
