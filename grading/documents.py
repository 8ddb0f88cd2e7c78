"""Documents the office issues (docs/rules.md, Documents): transcripts, bonafide and
no-objection certificates, and the public check of their QR code.

An issued document is a row of ``grading.models.IssuedDocument``: what the document
states (``content``, built here at issue and never changed) and its SHA-256 ``digest``.
The PDF is made from that row on demand (WeasyPrint, as a long job of kind
``document``) and its file is removed after ``DOCUMENT_FILE_HOURS``; made again it states
the same, with the same token and digest.

Every document carries a signed token (``django.core.signing``) naming the document and
its issue time, and nothing of the student. ``/verify/<token>/`` (no login) and
``manage.py verify_document`` answer from the register: genuine (with what the document
states and its digest), expired (``DOCUMENT_TOKEN_HOURS`` after issue, 48 by default) or
invalid (tampered, unknown, or naming another issue time).

- A transcript lists published and frozen results only (a draft never), by academic year
  and term, with course code, title, credits, grade, grade points, the term and the
  cumulative GPA (``grading.selectors.term_gpa``) and the attendance summary. With no
  published result it is refused (409 ``no_results``).
- A certificate's text comes from a template per location,
  ``grading/documents/<type>_<location code>.html`` when there is one, else
  ``grading/documents/<type>.html``, rendered at issue into ``content["text"]``.
"""

import base64
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import segno
from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from weasyprint import HTML

from academy.common.exceptions import Conflict
from academy.jobs import JobResult, Progress, job_folder
from academy.models import GradeLevel, Job, Location
from attendance.models import AttendanceRecord
from attendance.selectors import Summary, status_counts
from enrollment.models import Enrollment
from grading.models import DocumentType, IssuedDocument, Result
from grading.report_cards import write_atomically, zip_atomically
from grading.selectors import GRADED_STATUSES, term_gpa
from students.models import Student

DOCUMENT = "document"  # the job kind (registered in grading.jobs)
SALT = "grading.documents.verify"
TEMPLATE = "grading/document.html"


def token_hours() -> int:
    return int(getattr(settings, "DOCUMENT_TOKEN_HOURS", 48))


def file_hours() -> int:
    return int(getattr(settings, "DOCUMENT_FILE_HOURS", 48))


# --- what a document states ---------------------------------------------------------------


def _number(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _student_facts(student: Student) -> dict:
    return {
        "name": student.full_name,
        "number": student.student_number,
        "date_of_birth": student.date_of_birth.isoformat(),
        "grade": student.grade_level.name if student.grade_level_id else "",
    }


def location_facts(location) -> dict:
    return {"name": location.name, "address": location.address, "phone": location.phone, "email": location.email}


def transcript_content(student: Student) -> dict:
    """What a transcript of ``student`` states now: published and frozen results by year
    and term, the GPAs, the attendance summary. 409 ``no_results`` with none. A fixed
    number of queries."""
    results = list(
        Result.objects.filter(student=student, state__in=[Result.State.PUBLISHED, Result.State.FROZEN])
        .select_related("section__course", "section__term__academic_year", "scale")
        .order_by("section__term__start_date", "section__course__code", "section__code")
    )
    if not results:
        raise Conflict(
            f"{student.full_name} has no published results yet: there is nothing to transcribe.", "no_results"
        )
    terms: dict = {}
    for result in results:
        term = result.section.term
        terms.setdefault(term.pk, {"term": term, "results": []})["results"].append(result)
    records = AttendanceRecord.objects.filter(student=student).order_by()
    attendance = Summary.of(records.aggregate(**status_counts()))
    return {
        "type": DocumentType.TRANSCRIPT,
        "student": _student_facts(student),
        "terms": [
            {
                "year": group["term"].academic_year.name,
                "term": group["term"].name,
                "start": group["term"].start_date.isoformat(),
                "end": group["term"].end_date.isoformat(),
                "results": [
                    {
                        "code": r.section.course.code,
                        "title": r.section.course.title,
                        "credits": _number(r.section.course.credits),
                        "grade": r.letter_grade,
                        "points": _number(r.grade_points),
                        "percentage": _number(r.percentage),
                        "passed": r.passed,
                    }
                    for r in group["results"]
                ],
                "gpa": _number(term_gpa(group["results"])),
            }
            for group in terms.values()
        ],
        "cumulative_gpa": _number(term_gpa(results)),
        "credits_earned": _number(
            sum((r.section.course.credits or Decimal("0") for r in results if r.passed), Decimal("0"))
        ),
        "attendance": {
            "sessions": attendance.total,
            "attended": attendance.attended,
            "percentage": _number(attendance.percentage),
        },
    }


def certificate_content(student: Student, *, type: str, purpose: str = "", addressee: str = "") -> dict:
    """What a bonafide or no-objection certificate states: the student's name, number,
    programme, grade and dates of study, and the text of the location's template."""
    enrollments = list(
        Enrollment.objects.filter(student=student, status__in=GRADED_STATUSES)
        .select_related("section__course__program")
        .order_by("enrollment_date")
    )
    programmes = sorted({e.section.course.program.name for e in enrollments if e.section.course.program_id})
    facts = {
        "type": type,
        "student": _student_facts(student),
        "programmes": programmes,
        "studying_since": student.enrollment_date.isoformat(),
        "status": student.get_status_display(),
        "purpose": purpose,
        "addressee": addressee,
    }
    names = [f"grading/documents/{type}_{slugify(student.location.code)}.html", f"grading/documents/{type}.html"]
    text = select_template(names).render(
        {
            **facts,
            "academy_name": settings.ACADEMY_NAME,
            "location": student.location,
            "studying_since": student.enrollment_date,
            "issued_on": timezone.localdate(),
        }
    )
    facts["text"] = " ".join(text.split())
    return facts


def document_content(student: Student, *, type: str, purpose: str = "", addressee: str = "") -> dict:
    if type == DocumentType.TRANSCRIPT:
        content = transcript_content(student)
        content.update(purpose=purpose, addressee=addressee)
        return content
    return certificate_content(student, type=type, purpose=purpose, addressee=addressee)


def content_digest(content: dict) -> str:
    """SHA-256 of the content as canonical JSON: the same statement, the same digest."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- the token and its check --------------------------------------------------------------


def _stamp(moment: datetime) -> int:
    return int(moment.timestamp())


def document_token(document: IssuedDocument) -> str:
    """The signed token of ``document``: its id and issue time, nothing of the student.
    Always the same for the same document (a PDF made again carries the same QR code)."""
    # a plain Signer (``signing.dumps`` would add the signing time): the issue time inside
    # is what expires
    return signing.Signer(salt=SALT).sign_object({"d": document.pk.hex, "t": _stamp(document.issued_at)}, compress=True)


def verify_url(document: IssuedDocument) -> str:
    base = getattr(settings, "PORTAL_BASE_URL", "") or "http://127.0.0.1:8000"
    return base.rstrip("/") + reverse("verify", args=[document_token(document)])


def expires_at(document: IssuedDocument) -> datetime:
    return document.issued_at + timedelta(hours=token_hours())


@dataclass(frozen=True)
class Verification:
    outcome: str  # genuine, expired, invalid (DocumentVisit.Outcome)
    document: IssuedDocument | None = None
    expires_at: datetime | None = None

    @property
    def genuine(self) -> bool:
        return self.outcome == "genuine"


def document_verify(token: str, *, now: datetime | None = None) -> Verification:
    """What ``token`` says: genuine, expired or invalid. One query."""
    try:
        data = signing.Signer(salt=SALT).unsign_object(token)
        pk, stamp = data["d"], int(data["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return Verification("invalid")
    document = IssuedDocument.objects.filter(pk=pk).first()  # the page reads only what it states
    if document is None or _stamp(document.issued_at) != stamp:
        return Verification("invalid")
    until = expires_at(document)
    if (now or timezone.now()) >= until:
        return Verification("expired", document, until)
    return Verification("genuine", document, until)


# --- the PDF ------------------------------------------------------------------------------


def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as an SVG data URI, drawn by WeasyPrint as a vector."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def document_html(document: IssuedDocument) -> str:
    url = verify_url(document)
    return render_to_string(
        TEMPLATE,
        {
            "document": document,
            "content": document.content,
            "location": document.content.get("location") or location_facts(document.location),
            "academy_name": settings.ACADEMY_NAME,
            "verify_url": url,
            "qr": qr_data_uri(url),
            "expires_at": expires_at(document),
        },
    )


def document_pdf(document: IssuedDocument) -> bytes:
    """The PDF of ``document``, from the register: made again, it states the same."""
    html = HTML(string=document_html(document), base_url=str(settings.BASE_DIR))
    return html.write_pdf(pdf_identifier=document.pk.hex.encode(), uncompressed_pdf=False)


def document_filename(document: IssuedDocument) -> str:
    student = document.content.get("student", {})
    name = slugify(student.get("name", "")) or "student"
    return f"{student.get('number', '')}-{name}-{document.type}-{document.issued_at:%Y%m%d}.pdf".lstrip("-")


def document_job(job: Job, progress: Progress) -> JobResult:
    """The job's handler: the PDF of one issued document into the job's folder. Run
    again it makes the same file."""
    document = IssuedDocument.objects.select_related("location", "student").get(pk=job.params["document"])
    progress(0, total=1)
    target = Path(job_folder(job)) / document_filename(document)
    if not target.exists():
        write_atomically(target, document_pdf(document))
    progress(1)
    return JobResult(path=target, name=target.name, message=f"{document.get_type_display()} ready to download.")


def document_jobs(document: IssuedDocument):
    """The jobs that made ``document``'s PDF, newest first."""
    return Job.objects.filter(kind=DOCUMENT, params__document=str(document.pk)).order_by("-created_at")


# --- transcripts in bulk ------------------------------------------------------------------

TRANSCRIPTS = "transcripts"  # the job kind of a batch (registered in grading.jobs)


def transcript_students(*, location=None, grade_level=None, student_ids=None):
    """The students a batch of transcripts covers: those with a published or frozen
    result, narrowed to a location, a grade level or a list. By name."""
    graded = Result.objects.filter(state__in=[Result.State.PUBLISHED, Result.State.FROZEN]).values("student_id")
    students = Student.objects.filter(pk__in=graded)
    if location is not None:
        students = students.filter(location=location)
    if grade_level is not None:
        students = students.filter(grade_level=grade_level)
    if student_ids is not None:
        students = students.filter(pk__in=student_ids)
    return students.select_related("location", "grade_level").order_by("last_name", "first_name", "student_number")


def transcripts_job(job: Job, progress: Progress) -> JobResult:
    """The batch's handler: for each student a transcript issued at the job's issue time
    (``params["issued_at"]``) into the register and its PDF into the job's folder, then one
    ZIP. A student under a finance hold is an error of that student, not of the batch. Run
    again (after an interruption) it reuses the documents and PDFs already made."""
    from grading.document_services import issue_document  # it builds on this module

    params = job.params
    issued_at = datetime.fromisoformat(params["issued_at"])
    location = Location.objects.get(pk=params["location"]) if params.get("location") else None
    grade_level = GradeLevel.objects.get(pk=params["grade_level"]) if params.get("grade_level") else None
    students = list(transcript_students(location=location, grade_level=grade_level, student_ids=params.get("students")))
    issued = {
        document.student_id: document
        for document in IssuedDocument.objects.filter(
            type=DocumentType.TRANSCRIPT, issued_at=issued_at, student__in=students
        ).select_related("location")
    }
    folder = Path(job_folder(job)) / "transcripts"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list = []
    made: list[Path] = []
    progress(0, total=len(students), failed=0, errors=[])
    for done, student in enumerate(students, start=1):
        try:
            document = issued.get(student.pk) or issue_document(
                student=student, type=DocumentType.TRANSCRIPT, actor=job.created_by, issued_at=issued_at
            )
            target = folder / document_filename(document)
            if not target.exists():
                write_atomically(target, document_pdf(document))
            made.append(target)
        except Conflict as refused:  # a hold, or no result any more: this student only
            errors.append({"item": f"{student.student_number} {student.full_name}", "message": refused.detail[:300]})
        progress(done, failed=len(errors), errors=errors)
    if students and not made:
        raise RuntimeError("No transcript could be made: see the errors.")
    archive = Path(job_folder(job)) / f"{slugify(job.title) or 'transcripts'}.zip"
    zip_atomically(archive, made)
    shutil.rmtree(folder, ignore_errors=True)
    return JobResult(
        path=archive,
        name=archive.name,
        message=f"{len(made)} transcript(s) made" + (f", {len(errors)} refused." if errors else "."),
    )
