"""The parent portal's documents: each child's requests with their status, the
rejection reason and the finance hold (never the office's notes), asking for a document
for one's own child (bad input writes nothing), and the download of a completed request,
made again with its progress when the file is gone. The permission matrix: the child's
guardian, another family, staff, anonymous."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from academy.jobs import jobs_discard_files
from academy.models import Job
from enrollment.services import enroll
from grading import document_services, services
from grading.models import DocumentRequest
from tests.factories.academy import finance_user, roles_ensure
from tests.factories.finance import FinancePolicyFactory, issue
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db

SECRET_NOTE = "Office only: checked with the bursar"


@pytest.fixture(autouse=True)
def roles(db):
    roles_ensure()


@pytest.fixture(autouse=True)
def job_files(settings, tmp_path):
    settings.JOB_FILES_ROOT = tmp_path / "jobs"
    return settings.JOB_FILES_ROOT


@pytest.fixture
def parent(family):
    return family[0].portal_user


@pytest.fixture
def child(family, section, assessments, cell, teacher, registrar):
    """The family's first child, with Mathematics published."""
    pupil = family[1][0]
    enroll(student=pupil, section=section, actor=registrar)
    services.gradebook_save(section=section, cells=[cell(a, pupil, 88) for a in assessments], actor=teacher)
    services.section_publish(section=section, actor=teacher)
    return pupil


@pytest.fixture
def completed(child, registrar, django_capture_on_commit_callbacks):
    """A transcript asked, approved with the office's notes, and completed (its PDF made)."""
    request = document_services.document_request_create(
        student=child, type="transcript", purpose="a new school", actor=registrar
    )
    document_services.document_request_approve(request=request, actor=registrar, notes=SECRET_NOTE)
    with django_capture_on_commit_callbacks(execute=True):
        request, _document, _job = document_services.document_request_complete(request=request, actor=registrar)
    return request


@pytest.fixture
def strangers_request(other_family, registrar):
    return document_services.document_request_create(
        student=other_family[1][0], type="bonafide", purpose="a bank account", actor=registrar
    )


def list_url():
    return reverse("portal:documents")


def new_url():
    return reverse("portal:document-new")


def download_url(request):
    return reverse("portal:document-download", args=[request.pk])


def progress_url(request):
    return reverse("portal:document-progress", args=[request.pk])


# --- who may open what ---------------------------------------------------------------------


def test_anonymous_visitors_go_to_the_portal_login(client, completed):
    for url in (list_url(), new_url(), download_url(completed), progress_url(completed)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def test_staff_go_to_the_staff_portal(client, completed, office, academy_admin):
    for user in (office, academy_admin):
        client.force_login(user)
        for url in (list_url(), new_url(), download_url(completed)):
            response = client.get(url)
            assert (response.status_code, response["Location"]) == (302, reverse("staff:dashboard"))


def test_the_guardian_sees_and_downloads_their_childs_document(client, parent, child, completed):
    client.force_login(parent)
    page = client.get(list_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="document-request"') == 1
    assert download_url(completed) in html
    response = client.get(download_url(completed))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_another_family_sees_nothing_of_it_and_gets_404(client, completed, other_family, strangers_request):
    client.force_login(other_family[0].portal_user)
    html = client.get(list_url()).content.decode()
    assert str(completed.pk) not in html and completed.student.full_name not in html
    assert html.count('data-testid="document-request"') == 1 and "a bank account" in html  # their own
    assert client.get(download_url(completed)).status_code == 404
    assert client.get(progress_url(completed)).status_code == 404


def test_a_request_not_yet_completed_has_no_download(client, parent, child, registrar):
    request = document_services.document_request_create(student=child, type="bonafide", actor=registrar)
    client.force_login(parent)
    assert download_url(request) not in client.get(list_url()).content.decode()
    assert client.get(download_url(request)).status_code == 404


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_status_and_rejection_reason_but_never_the_notes(
    client, parent, family, child, completed, registrar
):
    rejected = document_services.document_request_create(
        student=family[1][1], type="noc", purpose="a school trip", actor=registrar, notes=SECRET_NOTE
    )
    document_services.document_request_reject(request=rejected, actor=registrar, reason="Ask the class teacher")
    client.force_login(parent)
    html = client.get(list_url()).content.decode()
    assert html.count('data-testid="child-documents"') == 2
    assert 'data-status="completed"' in html and 'data-status="rejected"' in html
    assert "Ask the class teacher" in html
    assert SECRET_NOTE not in html


def test_a_waiting_transcript_says_why_when_a_finance_hold_applies(client, parent, child, location):
    FinancePolicyFactory(location=location, block_transcripts=True, hold_threshold=Decimal("50.00"))
    issue(child, "120.00", actor=finance_user(username="cashier"))
    client.force_login(parent)
    response = client.post(new_url(), {"child": child.pk, "type": "transcript", "purpose": "a visa"})
    assert response.status_code == 302  # the request can be made; it waits
    html = client.get(list_url()).content.decode()
    assert 'data-testid="document-hold"' in html
    assert "outstanding balance of 120.00" in html


def test_the_child_page_links_to_the_documents(client, parent, child):
    client.force_login(parent)
    html = client.get(reverse("portal:child", args=[child.pk])).content.decode()
    assert list_url() in html


# --- asking for a document -----------------------------------------------------------------


def test_the_guardian_requests_a_document_for_their_child(client, parent, child):
    client.force_login(parent)
    form = client.get(new_url(), {"child": child.pk})
    assert form.status_code == 200 and child.full_name in form.content.decode()
    response = client.post(
        new_url(), {"child": child.pk, "type": "bonafide", "purpose": "a bank account", "addressee": "City Bank"}
    )
    assert response["Location"] == list_url()
    request = DocumentRequest.objects.get()
    assert (request.student, request.type, request.purpose, request.addressee, request.status) == (
        child,
        "bonafide",
        "a bank account",
        "City Bank",
        "pending",
    )
    assert request.requested_by == parent and request.notes == ""


@pytest.mark.parametrize(
    "data, field",
    [
        ({"type": "bonafide"}, "child"),
        ({"type": ""}, "type"),
        ({"type": "diploma"}, "type"),
        ({"type": "other", "purpose": "  "}, "purpose"),
        ({"type": "bonafide", "purpose": "x" * 301}, "purpose"),
        ({"type": "bonafide", "addressee": "x" * 201}, "addressee"),
    ],
)
def test_bad_input_gives_form_errors_and_writes_nothing(client, parent, child, data, field):
    client.force_login(parent)
    payload = {"child": child.pk, **data}
    if field == "child":
        payload.pop("child")
    response = client.post(new_url(), payload)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not DocumentRequest.objects.exists()


def test_another_familys_child_is_not_a_choice(client, parent, other_family):
    client.force_login(parent)
    stranger = other_family[1][0]
    assert stranger.full_name not in client.get(new_url()).content.decode()
    response = client.post(new_url(), {"child": stranger.pk, "type": "bonafide"})
    assert response.status_code == 400 and "child" in response.context["form"].errors
    assert not DocumentRequest.objects.exists()


def test_asking_twice_is_refused_with_a_message(client, parent, child):
    client.force_login(parent)
    client.post(new_url(), {"child": child.pk, "type": "bonafide"})
    response = client.post(new_url(), {"child": child.pk, "type": "bonafide"})
    assert response.status_code == 409
    assert "already requested" in response.content.decode()
    assert DocumentRequest.objects.count() == 1


# --- the download when the file is gone ------------------------------------------------------


def test_a_removed_file_is_made_again_with_its_progress_then_downloaded(
    client, parent, completed, django_capture_on_commit_callbacks
):
    jobs_discard_files(now=timezone.now() + timedelta(days=30))
    client.force_login(parent)
    # the job is queued after commit; held back here, the page shows it being made
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.get(download_url(completed))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="document-progress"' in html and 'data-ready="false"' in html
    assert f'hx-get="{progress_url(completed)}"' in html
    assert Job.objects.filter(state="queued").count() == 1
    # a second look while it waits starts nothing more
    client.get(download_url(completed))
    assert Job.objects.filter(state="queued").count() == 1
    for callback in queued:
        callback()
    partial = client.get(progress_url(completed), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-ready="true"' in partial and "hx-get" not in partial
    assert SECRET_NOTE not in partial
    response = client.get(download_url(completed))
    assert b"".join(response.streaming_content).startswith(b"%PDF")
