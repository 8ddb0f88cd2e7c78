"""The staff document pages: who may open which (200 in reach, 404 out of reach, 403
without the right, the login page for anonymous visitors and the parent portal for
parents), the queue's filters and its fixed query count, approve / reject / complete
with the services' refusals shown as messages, the PDF's progress and download, and a
student's documents with "Generate transcript"."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from academy.jobs import jobs_discard_files
from academy.models import Job
from grading import document_services, services
from grading.models import DocumentRequest, IssuedDocument
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import finance_user, parent_user, roles_ensure
from tests.factories.families import StudentFactory
from tests.factories.finance import FinancePolicyFactory, issue
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db

CEILING = 40


@pytest.fixture(autouse=True)
def roles(db):
    roles_ensure()  # a flush by a transactional test elsewhere empties the role groups


@pytest.fixture(autouse=True)
def job_files(settings, tmp_path):
    settings.JOB_FILES_ROOT = tmp_path / "jobs"
    return settings.JOB_FILES_ROOT


@pytest.fixture
def graded(section, students, assessments, cell, teacher):
    """Mathematics scored and published for the four students."""
    cells = [cell(a, s, 70 + i) for i, s in enumerate(students) for a in assessments]
    services.gradebook_save(section=section, cells=cells, actor=teacher)
    services.section_publish(section=section, actor=teacher)
    return students


@pytest.fixture
def world(graded, registrar):
    """A transcript requested for the first student (pending)."""
    request = document_services.document_request_create(
        student=graded[0], type="transcript", purpose="a new school", addressee="Hill School", actor=registrar
    )
    return SimpleNamespace(student=graded[0], request=request)


def urls(world) -> dict:
    return {
        "queue": reverse("staff:grading-documents"),
        "request": reverse("staff:grading-document-request", args=[world.request.pk]),
        "student": reverse("staff:grading-student-documents", args=[world.student.pk]),
    }


EXPECTED = {
    #               queue request student
    "admin": (200, 200, 200),
    "office": (200, 200, 200),
    "other_office": (200, 404, 404),  # their own (empty) queue; nothing of another location
    "finance": (403, 403, 403),
    "teacher": (403, 403, 403),  # an instructor who only teaches, even the student's own
}


@pytest.fixture
def actors(academy_admin, office, other_office, teacher):
    return {
        "admin": academy_admin,
        "office": office,
        "other_office": other_office,
        "finance": finance_user(username="cashier"),
        "teacher": teacher,
    }


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- who may open what ---------------------------------------------------------------------


def test_every_page_for_every_staff_role(client, world, actors):
    def check(actor):
        # a fresh login: the previous actor's session and cookies are gone first
        client.logout()
        client.force_login(actors[actor])
        statuses = {name: client.get(url).status_code for name, url in urls(world).items()}
        assert statuses == dict(zip(urls(world), EXPECTED[actor], strict=True))

    assert_for_each_actor(EXPECTED, check)


def test_anonymous_visitors_go_to_the_staff_login(client, world):
    for url in urls(world).values():
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))
    response = client.post(reverse("staff:grading-document-approve", args=[world.request.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))
    assert DocumentRequest.objects.get(pk=world.request.pk).status == "pending"


def test_parents_go_to_their_portal_even_for_their_own_child(client, world):
    guardian = world.student.guardian_links.get().guardian
    guardian.portal_user = parent_user(username="the-mother")
    guardian.save()
    for user in (guardian.portal_user, parent_user(username="a-stranger")):
        client.force_login(user)
        for url in urls(world).values():
            response = client.get(url)
            assert (response.status_code, response["Location"]) == (302, reverse("portal:dashboard"))


# (status of the POST, the request's status after it) per actor
APPROVE = {
    "admin": (302, "approved"),
    "office": (302, "approved"),
    "other_office": (404, "pending"),
    "finance": (403, "pending"),
    "teacher": (403, "pending"),
}


def test_who_may_approve(client, world, actors):
    def check(actor):
        status, after = APPROVE[actor]
        # a fresh login: the previous actor's session and cookies are gone first
        client.logout()
        client.force_login(actors[actor])
        response = client.post(reverse("staff:grading-document-approve", args=[world.request.pk]), {"notes": ""})
        assert response.status_code == status
        assert DocumentRequest.objects.get(pk=world.request.pk).status == after

    assert_for_each_actor(APPROVE, check)


@pytest.mark.parametrize(
    "name", ["staff:grading-document-approve", "staff:grading-document-reject", "staff:grading-document-complete"]
)
def test_the_actions_take_post_only(client, world, office, name):
    client.force_login(office)
    assert client.get(reverse(name, args=[world.request.pk])).status_code == 405


def test_the_actions_need_the_csrf_token(world, office):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(office)
    response = strict.post(reverse("staff:grading-document-approve", args=[world.request.pk]))
    assert response.status_code == 403
    assert DocumentRequest.objects.get(pk=world.request.pk).status == "pending"


def test_another_locations_student_and_generate_are_404(client, world, other_office):
    client.force_login(other_office)
    response = client.post(reverse("staff:grading-student-transcript", args=[world.student.pk]))
    assert response.status_code == 404
    assert not IssuedDocument.objects.exists()


def test_the_nav_and_the_student_page_link_to_the_documents(client, world, office, teacher):
    client.force_login(office)
    page = client.get(reverse("staff:student-detail", args=[world.student.pk])).content.decode()
    assert reverse("staff:grading-student-documents", args=[world.student.pk]) in page
    assert reverse("staff:grading-documents") in page  # the nav
    client.force_login(teacher)
    dashboard = client.get(reverse("staff:dashboard")).content.decode()
    assert reverse("staff:grading-documents") not in dashboard


# --- the queue -----------------------------------------------------------------------------


def queue(client, **params):
    return client.get(reverse("staff:grading-documents"), params)


def rows(response) -> int:
    return response.content.decode().count('data-testid="document-row"')


def test_the_queue_shows_open_requests_oldest_first_and_filters(client, world, office, registrar, other_location):
    # given a bonafide two weeks old, a rejected noc and a request at another location
    old = document_services.document_request_create(student=world.student, type="bonafide", actor=registrar)
    DocumentRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=14))
    closed = document_services.document_request_create(
        student=world.student, type="noc", purpose="a trip", actor=registrar
    )
    document_services.document_request_reject(request=closed, actor=registrar, reason="Ask the teacher")
    far = StudentFactory(location=other_location)
    document_services.document_request_create(student=far, type="bonafide", actor=registrar)
    client.force_login(office)

    # the default: open requests of the office's location, the oldest first
    response = queue(client)
    page = response.content.decode()
    assert rows(response) == 2
    assert page.index(str(old.pk)) < page.index(str(world.request.pk))
    assert far.student_number not in page
    assert rows(queue(client, status="all")) == 3
    assert rows(queue(client, status="rejected")) == 1
    assert rows(queue(client, type="transcript")) == 1
    assert rows(queue(client, older_than=7)) == 1
    assert rows(queue(client, older_than=30)) == 0
    # the registrar (every location) sees the other location's, and can filter it away
    client.force_login(registrar)
    assert rows(queue(client)) == 3
    assert rows(queue(client, location=other_location.pk)) == 1


@pytest.mark.parametrize("params", [{"older_than": "-1"}, {"type": "diploma"}, {"status": "lost"}])
def test_bad_filters_say_so(client, world, office, params):
    client.force_login(office)
    response = queue(client, **params)
    assert response.status_code == 400
    assert 'data-testid="filter-errors"' in response.content.decode() and rows(response) == 0


def test_a_location_the_office_may_not_see_is_a_filter_error(client, world, office, other_location):
    client.force_login(office)
    assert queue(client, location=other_location.pk).status_code == 400


def test_the_queue_reads_in_a_fixed_number_of_queries(
    client, world, office, registrar, location, django_assert_max_num_queries
):
    client.force_login(office)
    url = reverse("staff:grading-documents")
    client.get(url)  # warm up: the user's grants and the content types are cached
    with django_assert_max_num_queries(CEILING) as small:
        client.get(url)
    for _ in range(12):
        student = StudentFactory(location=location)
        document_services.document_request_create(student=student, type="bonafide", actor=registrar)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert rows(response) == 13


# --- approve, reject, complete -----------------------------------------------------------


def act(client, name, request, data=None):
    return client.post(reverse(f"staff:grading-document-{name}", args=[request.pk]), data or {})


def test_approve_then_complete_issues_the_document_and_shows_its_pdf(
    client, world, office, django_capture_on_commit_callbacks
):
    client.force_login(office)
    response = act(client, "approve", world.request, {"notes": "Checked the file"})
    assert response.status_code == 302 and "approved" in flashed(response)[0]
    request = DocumentRequest.objects.get(pk=world.request.pk)
    assert (request.status, request.notes, request.processed_by) == ("approved", "Checked the file", office)

    with django_capture_on_commit_callbacks(execute=True):
        response = act(client, "complete", world.request)
    assert "issued; its PDF is being made" in flashed(response)[-1]
    document = IssuedDocument.objects.get(request=world.request)
    job = Job.objects.get(params__document=str(document.pk))
    assert job.state == "completed"

    page = client.get(reverse("staff:grading-document-request", args=[world.request.pk])).content.decode()
    assert 'data-testid="job-progress"' in page and 'data-status="completed"' in page
    download = reverse("staff:job-download", args=[job.pk])
    assert download in page
    assert 'data-testid="request-actions"' not in page  # completed: nothing more to decide
    pdf = client.get(download)
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")


@pytest.mark.parametrize(
    "moves, refused",
    [
        ([], "complete"),  # pending: not approved yet
        (["approve"], "approve"),
        (["reject"], "approve"),
        (["reject"], "reject"),
    ],
)
def test_out_of_order_actions_show_a_message_and_change_nothing(client, world, office, moves, refused):
    client.force_login(office)
    for move in moves:
        act(client, move, world.request, {"reason": "Not needed"})
    before = DocumentRequest.objects.get(pk=world.request.pk)
    response = act(client, refused, world.request, {"reason": "Again"})
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:grading-document-request", args=[world.request.pk])
    assert any("Nothing was changed" in text and "cannot become" in text for text in flashed(response))
    after = DocumentRequest.objects.get(pk=world.request.pk)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)
    assert not IssuedDocument.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_without_a_reason_is_a_form_error(client, world, office, reason):
    client.force_login(office)
    response = act(client, "reject", world.request, {"reason": reason})
    assert response.status_code == 400
    assert "Say why the request is rejected" in response.content.decode()
    request = DocumentRequest.objects.get(pk=world.request.pk)
    assert (request.status, request.rejection_reason) == ("pending", "")


def test_a_rejection_with_a_reason(client, world, office):
    client.force_login(office)
    act(client, "reject", world.request, {"reason": "Results are not final yet"})
    request = DocumentRequest.objects.get(pk=world.request.pk)
    assert (request.status, request.rejection_reason) == ("rejected", "Results are not final yet")
    page = client.get(reverse("staff:grading-document-request", args=[world.request.pk])).content.decode()
    assert "Results are not final yet" in page


def test_an_approval_note_too_long_is_a_form_error(client, world, office):
    client.force_login(office)
    response = act(client, "approve", world.request, {"notes": "x" * 2001})
    assert response.status_code == 400
    assert DocumentRequest.objects.get(pk=world.request.pk).status == "pending"


@pytest.fixture
def transcript_hold(location, world):
    FinancePolicyFactory(location=location, block_transcripts=True, hold_threshold=Decimal("50.00"))
    issue(world.student, "120.00", actor=finance_user(username="cashier"))


def test_a_finance_hold_is_shown_and_refuses_the_approval_with_a_message(client, world, office, transcript_hold):
    client.force_login(office)
    page = client.get(reverse("staff:grading-document-request", args=[world.request.pk])).content.decode()
    assert 'data-testid="transcript-hold"' in page and "120.00" in page
    response = act(client, "approve", world.request)
    assert response.status_code == 302
    assert any("outstanding balance of 120.00" in text for text in flashed(response))
    assert DocumentRequest.objects.get(pk=world.request.pk).status == "pending"
    followed = client.get(response["Location"]).content.decode()
    assert "outstanding balance of 120.00" in followed


# --- a student's documents ----------------------------------------------------------------


def test_generate_a_transcript_then_its_progress_and_download(
    client, world, office, django_capture_on_commit_callbacks
):
    client.force_login(office)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff:grading-student-transcript", args=[world.student.pk]))
    document = IssuedDocument.objects.get(student=world.student, request=None)
    job = Job.objects.get(params__document=str(document.pk))
    assert response["Location"] == reverse("staff:job-detail", args=[job.pk])
    job_page = client.get(response["Location"]).content.decode()
    assert 'data-status="completed"' in job_page and reverse("staff:job-download", args=[job.pk]) in job_page

    page = client.get(reverse("staff:grading-student-documents", args=[world.student.pk])).content.decode()
    assert page.count('data-testid="request-row"') == 1  # the pending request
    assert page.count('data-testid="issued-row"') == 1
    assert reverse("staff:job-download", args=[job.pk]) in page


def test_generate_for_a_student_without_results_says_why(client, world, office, location):
    pupil = StudentFactory(location=location)
    client.force_login(office)
    response = client.post(reverse("staff:grading-student-transcript", args=[pupil.pk]))
    assert response["Location"] == reverse("staff:grading-student-documents", args=[pupil.pk])
    assert any("no published results" in text for text in flashed(response))
    assert not IssuedDocument.objects.exists()


def test_generate_under_a_hold_is_refused_with_a_message(client, world, office, transcript_hold):
    client.force_login(office)
    response = client.post(reverse("staff:grading-student-transcript", args=[world.student.pk]))
    assert any("outstanding balance" in text for text in flashed(response))
    assert not IssuedDocument.objects.exists()


def test_a_removed_file_is_made_again_from_the_students_page(client, world, office, django_capture_on_commit_callbacks):
    client.force_login(office)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("staff:grading-student-transcript", args=[world.student.pk]))
    document = IssuedDocument.objects.get()
    jobs_discard_files(now=timezone.now() + timedelta(days=30))
    page = client.get(reverse("staff:grading-student-documents", args=[world.student.pk])).content.decode()
    assert 'data-testid="document-regenerate"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff:grading-document-regenerate", args=[document.pk]))
    newest = Job.objects.filter(params__document=str(document.pk)).order_by("-created_at").first()
    assert response["Location"] == reverse("staff:job-detail", args=[newest.pk])
    assert newest.has_file and Job.objects.filter(params__document=str(document.pk)).count() == 2
    # asked again while the file is there: no third job
    client.post(reverse("staff:grading-document-regenerate", args=[document.pk]))
    assert Job.objects.filter(params__document=str(document.pk)).count() == 2
