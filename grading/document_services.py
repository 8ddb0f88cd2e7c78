"""Document requests and issued documents (docs/rules.md, Documents): the rules, inside
transactions, with the request row locked so two clerks never move it twice.

- A request goes pending -> approved -> completed, or to rejected (with a reason) from
  pending or approved; any other move is refused with 409 ``invalid_transition``.
- Only one open (pending or approved) request per student and type (409
  ``request_open``): asking twice does not make two documents.
- A transcript is neither approved nor issued while the student's finance hold on
  transcripts applies (409 ``finance_hold``, with the outstanding amount); the request
  itself can be made, and the family sees why it waits.
- Completing a request issues its document (``grading.documents``: the content is fixed
  now) and starts the job that makes its PDF; the office can also issue a transcript for
  a student directly.
- Each change of a request tells the student's guardians once (a task after commit,
  deduplicated by request and status).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.services import validated_save
from academy.jobs import job_result_file, job_start
from academy.models import Job
from finance.selectors import hold_for
from grading import documents
from grading.models import DocumentRequest, DocumentType, IssuedDocument
from students.models import Student

TRANSITIONS = {
    DocumentRequest.Status.PENDING: {DocumentRequest.Status.APPROVED, DocumentRequest.Status.REJECTED},
    DocumentRequest.Status.APPROVED: {DocumentRequest.Status.COMPLETED, DocumentRequest.Status.REJECTED},
}
PURPOSE_MAX = 300
ADDRESSEE_MAX = 200


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None


def check_transcript_hold(student: Student) -> None:
    """409 ``finance_hold`` (with the amount) while the student's balance blocks transcripts."""
    hold = hold_for(student=student, action="transcripts")
    if hold is not None:
        raise Conflict(
            f"A transcript is not issued while the account has an outstanding balance of {hold.outstanding} "
            f"(the limit is {hold.threshold}).",
            "finance_hold",
            outstanding=str(hold.outstanding),
            threshold=str(hold.threshold),
        )


def _clean_text(value, field: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit} characters."})
    return value


@transaction.atomic
def document_request_create(
    *, student: Student, type: str, actor, purpose: str = "", addressee: str = "", notes: str = ""
) -> DocumentRequest:
    """A request for a document of ``student`` (the caller decided the actor may ask for
    this student: a guardian who may act for the child, or the office)."""
    if type not in DocumentType.values:
        raise ValidationError({"type": f"Choose one of: {', '.join(DocumentType.values)}."})
    purpose = _clean_text(purpose, "purpose", PURPOSE_MAX)
    addressee = _clean_text(addressee, "addressee", ADDRESSEE_MAX)
    if type == DocumentType.OTHER and not purpose:
        raise ValidationError({"purpose": "Say which document is needed and what for."})
    # the student's row serializes two requests for the same child (two guardians at once)
    Student.objects.select_for_update(no_key=True).filter(pk=student.pk).first()
    if DocumentRequest.objects.filter(student=student, type=type, status__in=DocumentRequest.OPEN).exists():
        raise Conflict(
            f"A {DocumentType(type).label.lower()} for {student.full_name} is already requested and not yet done.",
            "request_open",
        )
    request = DocumentRequest(
        student=student,
        type=type,
        purpose=purpose,
        addressee=addressee,
        notes=(notes or "").strip() if _is_staff(actor) else "",
        requested_by=_user(actor),
    )
    request = validated_save(request, actor=actor, reason="Requested")
    _notify_after_commit(request)
    return request


def _is_staff(actor) -> bool:
    return bool(actor is not None and actor.is_authenticated and getattr(actor, "is_academy_staff", False))


def _locked(request: DocumentRequest, to: str) -> DocumentRequest:
    request = DocumentRequest.objects.select_for_update().select_related("student").get(pk=request.pk)
    if to not in TRANSITIONS.get(request.status, set()):
        raise Conflict(
            f"A {request.get_status_display().lower()} request cannot become {to}.",
            "invalid_transition",
        )
    return request


@transaction.atomic
def document_request_approve(*, request: DocumentRequest, actor, notes: str | None = None) -> DocumentRequest:
    request = _locked(request, DocumentRequest.Status.APPROVED)
    if request.type == DocumentType.TRANSCRIPT:
        check_transcript_hold(request.student)
    now = timezone.now()
    request.status = DocumentRequest.Status.APPROVED
    request.approved_at, request.processed_by = now, _user(actor)
    if notes is not None:
        request.notes = notes.strip()
    request = validated_save(request, actor=actor, reason="Approved")
    _notify_after_commit(request)
    return request


@transaction.atomic
def document_request_reject(*, request: DocumentRequest, actor, reason: str) -> DocumentRequest:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the request is rejected; the family reads it."})
    request = _locked(request, DocumentRequest.Status.REJECTED)
    request.status = DocumentRequest.Status.REJECTED
    request.rejected_at, request.processed_by, request.rejection_reason = timezone.now(), _user(actor), reason
    request = validated_save(request, actor=actor, reason="Rejected")
    _notify_after_commit(request)
    return request


@transaction.atomic
def document_request_complete(*, request: DocumentRequest, actor) -> tuple[DocumentRequest, IssuedDocument, Job]:
    """Issue the request's document (its content fixed now), start the job that makes its
    PDF, and mark the request completed: all or nothing."""
    request = _locked(request, DocumentRequest.Status.COMPLETED)
    document = issue_document(
        student=request.student,
        type=request.type,
        actor=actor,
        purpose=request.purpose,
        addressee=request.addressee,
        request=request,
    )
    request.status = DocumentRequest.Status.COMPLETED
    request.completed_at, request.processed_by = document.issued_at, _user(actor)
    request = validated_save(request, actor=actor, reason="Completed")
    job = document_generate(document=document, actor=actor)
    _notify_after_commit(request)
    return request, document, job


def issue_document(
    *, student: Student, type: str, actor, purpose: str = "", addressee: str = "", request=None, issued_at=None
) -> IssuedDocument:
    """Enter a document of ``student`` into the register: what it states now, its digest.
    A transcript: 409 ``finance_hold`` or ``no_results`` when it cannot be issued."""
    if type == DocumentType.TRANSCRIPT:
        check_transcript_hold(student)
    issued_at = (issued_at or timezone.now()).replace(microsecond=0)
    content = documents.document_content(student, type=type, purpose=purpose, addressee=addressee)
    content["issued_on"] = timezone.localdate(issued_at).isoformat()
    content["location"] = documents.location_facts(student.location)
    document = IssuedDocument(
        type=type,
        student=student,
        location=student.location,
        request=request,
        issued_at=issued_at,
        issued_by=_user(actor),
        content=content,
        digest=documents.content_digest(content),
    )
    document.save(force_insert=True)
    return document


@transaction.atomic
def transcript_issue(*, student: Student, actor) -> tuple[IssuedDocument, Job]:
    """The office issues a transcript of ``student`` directly (no request): 409
    ``finance_hold`` or ``no_results`` when it cannot. Answers the document and its job."""
    student = Student.objects.select_related("location", "grade_level").get(pk=student.pk)
    document = issue_document(student=student, type=DocumentType.TRANSCRIPT, actor=actor)
    return document, document_generate(document=document, actor=actor)


def document_generate(*, document: IssuedDocument, actor) -> Job:
    """Start the job that makes ``document``'s PDF (again, if its file was removed: the
    same content, token and digest)."""
    return job_start(
        kind=documents.DOCUMENT,
        params={"document": str(document.pk)},
        actor=actor,
        location=document.location,
        title=f"{document.get_type_display()}: {document.content.get('student', {}).get('name', '')}",
        total=1,
    )


def document_file(document: IssuedDocument):
    """The newest PDF made of ``document`` that is still there, with its job; ``(None,
    None)`` when there is none (removed, or still being made)."""
    for job in documents.document_jobs(document)[:5]:
        path = job_result_file(job)
        if path is not None:
            return path, job
    return None, None


def _notify_after_commit(request: DocumentRequest) -> None:
    from academy.common.background import task_queue
    from grading.tasks import notify_document_request

    pk, status = str(request.pk), request.status
    transaction.on_commit(lambda: task_queue(notify_document_request, pk, status))


def transcripts_start(*, actor, location=None, grade_level=None, students=None) -> Job:
    """Issue the transcripts of a location, a grade level or a list of students as one
    job (one ZIP; every document in the register, issued at the job's start). 409
    ``no_students`` when nobody in the choice has a published result."""
    ids = [str(s.pk) for s in students] if students is not None else None
    count = documents.transcript_students(location=location, grade_level=grade_level, student_ids=ids).count()
    if not count:
        raise Conflict("Nobody in this choice has a published result.", "no_students")
    parts = ["Transcripts"] + [x.name for x in (grade_level, location) if x is not None]
    return job_start(
        kind=documents.TRANSCRIPTS,
        params={
            "issued_at": timezone.now().replace(microsecond=0).isoformat(),
            "location": str(location.pk) if location is not None else None,
            "grade_level": str(grade_level.pk) if grade_level is not None else None,
            "students": ids,
        },
        actor=actor,
        location=location,
        title=" · ".join(parts),
        total=count,
    )
