"""A parent on a phone asks for a transcript of a child with published results; the office
approves and completes it; the parent downloads the PDF, and the verification link printed
in it opens the public page, which says the document is genuine."""

import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.db import transaction

from enrollment.services import enroll
from grading import documents, services
from grading.models import DocumentRequest, IssuedDocument
from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import (
    PASSWORD,
    CourseFactory,
    ProgramFactory,
    SectionFactory,
    instructor_user,
    parent_user,
    running_term,
    staff_user,
)
from tests.factories.families import GuardianFactory, StudentFactory

PHONE = {"width": 375, "height": 740}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,  # flushing published results after the test needs PostgreSQL (TRUNCATE, not DELETE)
    pytest.mark.django_db(transaction=True),
]


def pdf_text(path) -> str:
    """The PDF's text by ``pdftotext`` (poppler-utils; CI installs it), else by pypdf."""
    if shutil.which("pdftotext"):
        done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
        return done.stdout.decode()
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_transcript_requested_on_a_phone_issued_downloaded_and_verified(
    browser, live_server, location, settings, tmp_path
):
    settings.PORTAL_BASE_URL = live_server.url  # the link printed in the PDF
    settings.JOB_FILES_ROOT = tmp_path / "jobs"
    # given a child with a published result, their parent, and the office of their location
    with transaction.atomic():
        staff_user(username="office", first_name="Olive", last_name="Office", locations=[location])
        teacher = instructor_user(username="teacher")
        term = running_term(name="Autumn")
        course = CourseFactory(code="MATH-5", title="Mathematics 5", program=ProgramFactory(code="ACAD"), credits=3)
        section = SectionFactory(course=course, term=term, location=location, code="A", instructor=teacher)
        guardian = GuardianFactory(portal_user=parent_user(username="parent"), last_name="Okafor")
        ada = StudentFactory(location=location, first_name="Ada", last_name="Okafor", primary_guardian=guardian)
    with transaction.atomic():
        enroll(student=ada, section=section, actor=teacher, enrollment_date=term.start_date)
        exam = services.assessment_create(
            section=section, actor=teacher, type="final", title="Final", weight=Decimal(100)
        )
        services.gradebook_save(
            section=section,
            cells=[services.Cell(assessment_id=exam.pk, student_id=ada.pk, status="scored", score=91)],
            actor=teacher,
        )
        services.section_publish(section=section, actor=teacher)

    phone = browser.new_context(viewport=PHONE, is_mobile=True, accept_downloads=True, locale="en-US")
    desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        parent = phone.new_page()
        parent.set_default_timeout(15_000)
        # when the parent asks for a transcript from the child's page, on a phone
        sign_in(parent, live_server.url, "/portal/login/", "parent", PASSWORD)
        parent.wait_for_url(f"{live_server.url}/portal/")
        parent.goto(f"{live_server.url}/portal/children/{ada.pk}/")
        parent.get_by_test_id("documents-link").get_by_role("link").click()
        parent.get_by_test_id("request-document").click()
        parent.get_by_label("Child").select_option(label="Ada Okafor")
        parent.get_by_label("Document").select_option("transcript")
        parent.get_by_label("Purpose").fill("Admission to a new school")
        assert fits_the_screen(parent)
        parent.get_by_role("button", name="Send the request").click()
        parent.get_by_text("Transcript for Ada Okafor requested").wait_for()
        assert parent.get_by_test_id("document-status").inner_text() == "Pending"
        assert fits_the_screen(parent)
        screenshot(parent, "portal-documents-requested-phone")
        request = DocumentRequest.objects.get()
        assert (request.student_id, request.type, request.status) == (ada.pk, "transcript", "pending")

        # then the office approves it and completes it
        office = desk.new_page()
        office.set_default_timeout(15_000)
        sign_in(office, live_server.url, "/staff/login/", "office", PASSWORD)
        office.get_by_role("navigation", name="Main").get_by_role("link", name="Documents").click()
        rows = office.get_by_test_id("document-row")
        assert rows.count() == 1 and "Okafor, Ada" in rows.first.inner_text()
        rows.first.get_by_test_id("open-request").click()
        office.get_by_test_id("approve").click()
        office.get_by_text("Transcript for Ada Okafor approved.").wait_for()
        assert office.get_by_test_id("request-status").inner_text() == "Approved"
        office.get_by_test_id("complete").click()
        office.get_by_text("issued; its PDF is being made").wait_for()
        office.locator('[data-testid="job-progress"][data-status="completed"]').wait_for()
        assert office.get_by_test_id("job-download").is_visible()
        screenshot(office, "staff-document-request-completed")
        document = IssuedDocument.objects.get(request=request)

        # and the parent downloads the PDF
        parent.reload()
        assert parent.get_by_test_id("document-status").inner_text() == "Completed"
        with parent.expect_download() as downloading:
            parent.get_by_test_id("document-download").click()
        pdf = tmp_path / "transcript.pdf"
        downloading.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
        text = pdf_text(pdf)
        assert "Ada Okafor" in text and "MATH-5" in text

        # the verification link printed in it (wrapped over lines: joined again) opens "Genuine"
        links = re.findall(r"https?://[\w.:-]+/verify/[^/\s]+/", re.sub(r"\s+", "", text))
        assert documents.verify_url(document) in links
        link = next(found for found in links if found == documents.verify_url(document))
        parent.goto(link)
        result = parent.get_by_test_id("verify-result")
        assert result.get_attribute("data-status") == "genuine"
        assert parent.get_by_role("heading", level=1).inner_text() == "Genuine"
        assert "Ada Okafor" in result.inner_text() and document.digest in result.inner_text()
        assert fits_the_screen(parent)
        screenshot(parent, "verify-genuine-phone")
    finally:
        phone.close()
        desk.close()
