"""Documents (grading.documents, grading.document_services): what a transcript and a
certificate state, the request's order of statuses, the finance hold, the verification
token (48 hours), the public page and the command, and the PDF made again identical in
content."""

import io
import json
import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.jobs import job_result_file, jobs_discard_files
from academy.models import Job
from enrollment.services import enroll
from grading import document_services, documents, services
from grading.models import DocumentRequest, DocumentVisit, IssuedDocument, Result
from tests.factories.academy import CourseFactory, SectionFactory, finance_user, instructor_user
from tests.factories.finance import FinancePolicyFactory, issue
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded(section, students, assessments, cell, teacher, registrar, term, location):
    """Mathematics published for the four students; for the first also History in draft."""
    quiz, midterm, final = assessments
    cells = []
    for i, student in enumerate(students):
        cells += [cell(quiz, student, 80 + i), cell(midterm, student, 70 + i), cell(final, student, 90 - i)]
    services.gradebook_save(section=section, cells=cells, actor=teacher)
    services.section_publish(section=section, actor=teacher)
    pupil = students[0]
    history = SectionFactory(
        course=CourseFactory(code="HIST-5", title="History 5", credits=2),
        term=term,
        location=location,
        code="H",
        instructor=teacher,
        capacity=10,
    )
    enroll(student=pupil, section=history, actor=registrar)
    essay = services.assessment_create(section=history, actor=registrar, type="final", title="Essay", weight=100)
    services.gradebook_save(section=history, cells=[cell(essay, pupil, 55)], actor=registrar)
    return pupil


def pdf_text(content: bytes) -> str:
    if shutil.which("pdftotext"):
        done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True)
        return done.stdout.decode()
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# --- the transcript ---------------------------------------------------------------------------


def test_a_transcript_lists_published_results_only_never_a_draft(graded, registrar, section):
    document, job = document_services.transcript_issue(student=graded, actor=registrar)
    content = document.content
    codes = [line["code"] for term in content["terms"] for line in term["results"]]
    assert codes == ["MATH-5"]  # History 5 is a draft: absent
    assert Result.objects.filter(student=graded, section__course__code="HIST-5", state="draft").exists()
    published = Result.objects.get(student=graded, section=section)
    line = content["terms"][0]["results"][0]
    assert (line["grade"], line["points"], line["credits"]) == (
        published.letter_grade,
        f"{published.grade_points:.2f}",
        "3.00",
    )
    assert content["terms"][0]["gpa"] == content["cumulative_gpa"] == f"{published.grade_points:.2f}"
    assert document.digest == documents.content_digest(content)
    assert job.kind == documents.DOCUMENT and job.params == {"document": str(document.pk)}


def test_a_student_with_no_published_result_gets_a_clear_refusal(students, registrar):
    with pytest.raises(Conflict) as refused:
        document_services.transcript_issue(student=students[1], actor=registrar)
    assert refused.value.code == "no_results"
    assert not IssuedDocument.objects.exists() and not Job.objects.exists()


def test_the_transcript_pdf_prints_the_results_and_the_verification_link(graded, registrar):
    document, _job = document_services.transcript_issue(student=graded, actor=registrar)
    text = pdf_text(documents.document_pdf(document))
    assert "MATH-5" in text and "HIST-5" not in text
    assert graded.student_number in text
    link = documents.verify_url(document)
    assert link.replace(" ", "") in text.replace(" ", "").replace("\n", "") or documents.document_token(document)[
        :20
    ] in text.replace("\n", "")


def test_made_again_the_document_states_the_same(graded, registrar):
    document, _job = document_services.transcript_issue(student=graded, actor=registrar)
    first, second = documents.document_html(document), documents.document_html(document)
    assert first == second
    assert pdf_text(documents.document_pdf(document)) == pdf_text(documents.document_pdf(document))


# --- certificates -----------------------------------------------------------------------------


def test_a_bonafide_certificate_states_the_student_programme_and_purpose(students, registrar, family):
    student = students[0]
    request = document_services.document_request_create(
        student=student, type="bonafide", purpose="a visa application", addressee="The Embassy", actor=registrar
    )
    request = document_services.document_request_approve(request=request, actor=registrar)
    request, document, _job = document_services.document_request_complete(request=request, actor=registrar)
    assert request.status == "completed" and request.completed_at == document.issued_at
    text = document.content["text"]
    assert student.full_name in text and student.student_number in text
    assert "a visa application" in text
    assert document.content["addressee"] == "The Embassy"
    assert document.request == request


def test_a_location_template_replaces_the_default_text(students, registrar, settings, tmp_path):
    folder = tmp_path / "grading" / "documents"
    folder.mkdir(parents=True)
    (folder / "noc_main.html").write_text("MAIN CAMPUS NOC for {{ student.name }}.")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    content = documents.certificate_content(students[0], type="noc", purpose="to join a club")
    assert content["text"] == f"MAIN CAMPUS NOC for {students[0].full_name}."


# --- the request's order of statuses ---------------------------------------------------------


@pytest.fixture
def request_(students, registrar):
    return document_services.document_request_create(student=students[0], type="bonafide", actor=registrar)


@pytest.mark.parametrize(
    "moves, refused",
    [
        (["complete"], "complete"),  # pending -> completed skips the approval
        (["approve", "approve"], "approve"),
        (["reject", "approve"], "approve"),
        (["approve", "complete", "reject"], "reject"),
        (["reject", "reject"], "reject"),
    ],
)
def test_out_of_order_moves_are_refused_and_change_nothing(request_, registrar, moves, refused):
    act = {
        "approve": lambda r: document_services.document_request_approve(request=r, actor=registrar),
        "reject": lambda r: document_services.document_request_reject(request=r, actor=registrar, reason="No."),
        "complete": lambda r: document_services.document_request_complete(request=r, actor=registrar)[0],
    }
    request = request_
    for move in moves[:-1]:
        request = act[move](request)
    before = DocumentRequest.objects.get(pk=request.pk)
    with pytest.raises(Conflict) as error:
        act[refused](request)
    assert error.value.code == "invalid_transition"
    after = DocumentRequest.objects.get(pk=request.pk)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)


def test_a_rejection_needs_a_reason(request_, registrar):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        document_services.document_request_reject(request=request_, actor=registrar, reason="  ")
    assert "reason" in error.value.message_dict
    assert DocumentRequest.objects.get(pk=request_.pk).status == "pending"


def test_one_open_request_per_student_and_type(request_, students, registrar):
    with pytest.raises(Conflict) as error:
        document_services.document_request_create(student=students[0], type="bonafide", actor=registrar)
    assert error.value.code == "request_open"
    document_services.document_request_reject(request=request_, actor=registrar, reason="Duplicate")
    document_services.document_request_create(student=students[0], type="bonafide", actor=registrar)


def test_the_database_refuses_a_rejection_without_reason(request_):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        DocumentRequest.objects.filter(pk=request_.pk).update(status="rejected", rejected_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        DocumentRequest.objects.filter(pk=request_.pk).update(status="lost")


def test_each_change_tells_the_guardians_once(family, registrar, django_capture_on_commit_callbacks):
    from notifications.models import Notification

    _guardian, children = family
    child = children[0]
    with django_capture_on_commit_callbacks(execute=True):
        request = document_services.document_request_create(
            student=child, type="noc", purpose="a trip", actor=registrar
        )
    with django_capture_on_commit_callbacks(execute=True):
        request = document_services.document_request_reject(request=request, actor=registrar, reason="Ask the teacher")
    kinds = list(Notification.objects.filter(kind="document_request").values_list("title", flat=True))
    assert len(kinds) == 2
    assert any(title.startswith("Request received") for title in kinds)
    assert any(title.startswith("Not issued") for title in kinds)
    from grading.tasks import notify_document_request

    assert notify_document_request(str(request.pk), "rejected") == 0  # told already


# --- the finance hold -------------------------------------------------------------------------


@pytest.fixture
def transcript_hold(location, graded):
    FinancePolicyFactory(location=location, block_transcripts=True, hold_threshold=Decimal("50.00"))
    issue(graded, "120.00", actor=finance_user(username="cashier"))


def test_a_transcript_request_can_be_made_under_a_hold_but_not_approved(graded, registrar, transcript_hold):
    request = document_services.document_request_create(student=graded, type="transcript", actor=registrar)
    with pytest.raises(Conflict) as error:
        document_services.document_request_approve(request=request, actor=registrar)
    assert error.value.code == "finance_hold"
    assert error.value.extra["outstanding"] == "120.00"
    assert "120.00" in error.value.detail
    assert DocumentRequest.objects.get(pk=request.pk).status == "pending"
    with pytest.raises(Conflict) as direct:
        document_services.transcript_issue(student=graded, actor=registrar)
    assert direct.value.code == "finance_hold"
    assert not IssuedDocument.objects.exists()


def test_a_certificate_is_not_held(graded, registrar, transcript_hold):
    request = document_services.document_request_create(student=graded, type="bonafide", actor=registrar)
    document_services.document_request_approve(request=request, actor=registrar)


# --- the token --------------------------------------------------------------------------------


@pytest.fixture
def issued(graded, registrar):
    document, _job = document_services.transcript_issue(student=graded, actor=registrar)
    return document


def test_a_token_is_valid_for_48_hours(issued):
    token = documents.document_token(issued)
    at = issued.issued_at
    assert documents.document_verify(token, now=at).outcome == "genuine"
    assert documents.document_verify(token, now=at + timedelta(hours=47, minutes=59)).outcome == "genuine"
    assert documents.document_verify(token, now=at + timedelta(hours=48)).outcome == "expired"


def test_a_token_with_one_character_changed_is_invalid(issued):
    token = documents.document_token(issued)
    for position in (0, len(token) // 2, len(token) - 1):
        swapped = "A" if token[position] != "A" else "B"
        assert documents.document_verify(token[:position] + swapped + token[position + 1 :]).outcome == "invalid"
    assert documents.document_verify("not-a-token").outcome == "invalid"


def test_the_token_names_the_document_not_the_student(issued, graded):
    token = documents.document_token(issued)
    assert graded.student_number not in token and graded.last_name not in token
    assert str(graded.pk) not in token and graded.pk.hex not in token
    assert documents.document_token(issued) == token  # the same document, the same QR code


def test_a_removed_file_still_verifies_while_valid(issued, registrar, settings, django_capture_on_commit_callbacks):
    job = Job.objects.get(kind=documents.DOCUMENT)
    from academy.jobs import job_run

    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == "completed" and job_result_file(job) is not None
    settings.DOCUMENT_FILE_HOURS = 1
    discarded = jobs_discard_files(now=timezone.now() + timedelta(hours=2))
    assert job.pk in discarded
    job.refresh_from_db()
    assert job_result_file(job) is None
    assert documents.document_verify(documents.document_token(issued)).outcome == "genuine"
    assert document_services.document_file(issued) == (None, None)


# --- the public page and the command ----------------------------------------------------------


def test_the_page_says_genuine_with_no_login_and_shows_only_the_document(client, issued, graded, students):
    url = reverse("verify", args=[documents.document_token(issued)])
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-status="genuine"' in page
    assert graded.full_name in page and issued.digest in page and "MATH-5" in page
    assert students[1].full_name not in page  # no other student
    assert str(graded.pk) not in page and str(issued.pk) not in page  # no id to enumerate
    assert "/staff/" not in page and "/portal/" not in page
    assert DocumentVisit.objects.get().outcome == "genuine"


def test_the_page_answers_json(client, issued):
    url = reverse("verify", args=[documents.document_token(issued)])
    data = client.get(url, HTTP_ACCEPT="application/json").json()
    assert data["status"] == "genuine" and data["digest"] == issued.digest
    assert data["content"]["student"]["number"] == issued.content["student"]["number"]
    bad = client.get(reverse("verify", args=["x" + documents.document_token(issued)]), HTTP_ACCEPT="application/json")
    assert bad.status_code == 404 and bad.json()["status"] == "invalid"


def test_an_expired_token_says_how_to_ask_again(client, issued):
    IssuedDocument.objects.filter(pk=issued.pk).update(issued_at=issued.issued_at - timedelta(hours=48))
    issued.refresh_from_db()
    response = client.get(reverse("verify", args=[documents.document_token(issued)]))
    page = response.content.decode()
    assert 'data-status="expired"' in page and "request a new copy" in page
    assert issued.content["student"]["name"] not in page


def test_the_page_is_rate_limited_per_client(client, issued, settings):
    from django.core.cache import cache

    cache.clear()
    settings.VERIFY_RATE = 3
    url = reverse("verify", args=[documents.document_token(issued)])
    codes = [client.get(url).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = client.get(url, REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 200
    assert DocumentVisit.objects.filter(outcome="limited").count() == 1
    cache.clear()


def test_the_page_reads_a_fixed_number_of_queries(client, issued, django_assert_max_num_queries):
    url = reverse("verify", args=[documents.document_token(issued)])
    with django_assert_max_num_queries(3):
        client.get(url)


def test_the_command_gives_the_same_answer(issued):
    out = io.StringIO()
    call_command("verify_document", documents.verify_url(issued), "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "genuine"
    with pytest.raises(CommandError) as error:
        call_command("verify_document", "tampered", stdout=io.StringIO())
    assert error.value.returncode == 2


def test_instructors_and_parents_are_not_needed_to_verify(client, issued):
    client.force_login(instructor_user(username="someone"))
    assert client.get(reverse("verify", args=[documents.document_token(issued)])).status_code == 200


# --- transcripts in bulk ----------------------------------------------------------------------


def test_a_batch_issues_a_transcript_per_student_with_results_and_one_zip(
    graded, students, registrar, location, transcript_hold, django_capture_on_commit_callbacks
):
    """Four students have published Mathematics; the first is under a transcript hold:
    three transcripts, one error naming the first, one ZIP; run again it issues nothing new."""
    import zipfile as zf

    from academy.jobs import job_run

    job = document_services.transcripts_start(actor=registrar, location=location)
    assert job.total == 4
    job_run(job.pk)
    job.refresh_from_db()
    assert (job.state, job.done, job.failed_count) == ("completed", 4, 1)
    assert graded.student_number in job.errors[0]["item"] and "120.00" in job.errors[0]["message"]
    documents_made = IssuedDocument.objects.filter(type="transcript")
    assert documents_made.count() == 3
    assert len({d.issued_at for d in documents_made}) == 1
    with zf.ZipFile(job_result_file(job)) as bundle:
        names = bundle.namelist()
    assert len(names) == 3 and all(name.endswith(".pdf") for name in names)
    assert not any(graded.student_number in name for name in names)
    # a second run of the same job (an interruption) reuses the register
    Job.objects.filter(pk=job.pk).update(state="interrupted")
    job_run(job.pk)
    assert IssuedDocument.objects.filter(type="transcript").count() == 3


def test_a_batch_of_nobody_is_refused(students, registrar, location):
    with pytest.raises(Conflict) as error:
        document_services.transcripts_start(actor=registrar, location=location)
    assert error.value.code == "no_students"
    assert not Job.objects.exists()
