"""Staff portal pages of document requests and issued documents: the office's queue
(filtered by type, status, location and age), one request with approve / reject /
complete, a student's requests and documents with "Generate transcript", and the PDF's
progress and download (the long job's own page and partial, ``academy.job_views``).

Who: ``grading.view_documentrequest`` to read, ``grading.change_documentrequest`` to
act (office staff and admins; an instructor or finance staff: 403, as on the other
grading pages they may not open). Scope: the students the user may see
(``grading.document_selectors``: office staff, their locations'); anything else is a
404. Every write is one ``grading.document_services`` call; its refusals (409) come back
as a message on the page, its bad input as a form error."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from academy.forms import add_service_errors
from academy.views import query_without, staff_layout_context, staff_permission_required
from families.selectors import students_visible_to
from finance.selectors import hold_for
from grading import document_selectors, document_services
from grading.models import DocumentRequest, DocumentType
from grading.staff_document_forms import ApproveForm, DocumentQueueFilterForm, RejectForm
from grading.staff_views import one_or_404, page_of

VIEW = "grading.view_documentrequest"
CHANGE = "grading.change_documentrequest"


# --- the queue ------------------------------------------------------------------------------


@staff_permission_required(VIEW)
def document_queue(request):
    """Requests of the students the user may see: open ones first, oldest first."""
    form = DocumentQueueFilterForm(request.GET, user=request.user)
    valid = form.is_valid()
    if valid:
        requests = document_selectors.document_request_queue(user=request.user, **form.queue_arguments())
    else:
        requests = document_selectors.document_request_list(user=request.user).none()
    context = {
        **staff_layout_context(request),
        "form": form,
        "page": page_of(request, requests),
        "query": query_without(request, "page"),
    }
    return render(request, "grading/staff/documents.html", context, status=200 if valid else 400)


# --- one request ----------------------------------------------------------------------------


def _request_or_404(request, pk) -> DocumentRequest:
    return one_or_404(document_selectors.document_request_list(user=request.user), pk)


def _request_page(request, document_request, *, approve_form=None, reject_form=None, status=200):
    documents = list(document_request.documents.select_related("issued_by").order_by("-issued_at"))
    jobs = document_selectors.document_latest_jobs(documents)
    for document in documents:
        document.latest_job = jobs.get(str(document.pk))
    hold = None
    if document_request.type == DocumentType.TRANSCRIPT and document_request.status in DocumentRequest.OPEN:
        hold = hold_for(student=document_request.student, action="transcripts")
    context = {
        **staff_layout_context(request),
        "document_request": document_request,
        "student": document_request.student,
        "documents": documents,
        "job": documents[0].latest_job if documents else None,
        "hold": hold,
        "approve_form": approve_form or ApproveForm(initial={"notes": document_request.notes}),
        "reject_form": reject_form or RejectForm(),
        "can_change": request.user.has_perm(CHANGE),
    }
    return render(request, "grading/staff/documents_request.html", context, status=status)


@staff_permission_required(VIEW)
def document_request_detail(request, pk):
    return _request_page(request, _request_or_404(request, pk))


def _refused(request, document_request, conflict: Conflict):
    messages.error(request, f"Nothing was changed. {conflict.detail}")
    return redirect("staff:grading-document-request", pk=document_request.pk)


def _decide(request, pk, form_class, form_name: str, decide, done: str):
    """Approve or reject from the request's page: the form's errors and the service's
    bad input on the form (400), its refusal (409) as a message, else ``done``."""
    document_request = _request_or_404(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            decide(document_request, form.cleaned_data)
        except Conflict as conflict:
            return _refused(request, document_request, conflict)
        except ValidationError as invalid:
            add_service_errors(form, invalid)
        else:
            messages.success(request, f"{_label(document_request)} {done}")
            return redirect("staff:grading-document-request", pk=document_request.pk)
    return _request_page(request, document_request, **{form_name: form}, status=400)


@require_POST
@staff_permission_required(CHANGE)
def document_request_approve_view(request, pk):
    return _decide(
        request,
        pk,
        ApproveForm,
        "approve_form",
        lambda document_request, data: document_services.document_request_approve(
            request=document_request, actor=request.user, notes=data["notes"]
        ),
        "approved.",
    )


@require_POST
@staff_permission_required(CHANGE)
def document_request_reject_view(request, pk):
    return _decide(
        request,
        pk,
        RejectForm,
        "reject_form",
        lambda document_request, data: document_services.document_request_reject(
            request=document_request, actor=request.user, reason=data["reason"]
        ),
        "rejected; the family is told why.",
    )


@require_POST
@staff_permission_required(CHANGE)
def document_request_complete_view(request, pk):
    """Issue the document: its content is fixed now and its PDF is made in the background
    (the request's page shows the progress, then the download)."""
    document_request = _request_or_404(request, pk)
    try:
        document_services.document_request_complete(request=document_request, actor=request.user)
    except Conflict as conflict:
        return _refused(request, document_request, conflict)
    except ValidationError as invalid:
        messages.error(request, f"Nothing was changed. {' '.join(invalid.messages)}")
        return redirect("staff:grading-document-request", pk=document_request.pk)
    messages.success(request, f"{_label(document_request)} issued; its PDF is being made.")
    return redirect("staff:grading-document-request", pk=document_request.pk)


def _label(document_request) -> str:
    return f"{document_request.get_type_display()} for {document_request.student.full_name}"


# --- a student's documents ------------------------------------------------------------------


@staff_permission_required(VIEW)
def student_documents(request, pk):
    """A student's requests and the documents issued to them, each with its PDF's state."""
    student = one_or_404(students_visible_to(request.user).select_related("location"), pk)
    requests = list(document_selectors.document_request_list(user=request.user).filter(student=student))
    documents = list(document_selectors.issued_document_list(user=request.user).filter(student=student))
    jobs = document_selectors.document_latest_jobs(documents)
    for document in documents:
        document.latest_job = jobs.get(str(document.pk))
    context = {
        **staff_layout_context(request),
        "student": student,
        "requests": requests,
        "documents": documents,
        "hold": hold_for(student=student, action="transcripts"),
        "can_change": request.user.has_perm(CHANGE),
    }
    return render(request, "grading/staff/documents_student.html", context)


@require_POST
@staff_permission_required(CHANGE)
def student_transcript_issue(request, pk):
    """Issue a transcript now (no request) and go on to its job: progress, then download."""
    student = one_or_404(students_visible_to(request.user), pk)
    try:
        _document, job = document_services.transcript_issue(student=student, actor=request.user)
    except Conflict as conflict:
        messages.error(request, f"No transcript was issued. {conflict.detail}")
        return redirect("staff:grading-student-documents", pk=student.pk)
    messages.success(request, f"Transcript of {student.full_name} issued; its PDF is being made.")
    return redirect("staff:job-detail", pk=job.pk)


@require_POST
@staff_permission_required(VIEW)
def document_regenerate(request, pk):
    """Make an issued document's PDF again (its file was removed): the same content,
    token and digest. On to the job's page."""
    document = one_or_404(document_selectors.issued_document_list(user=request.user), pk)
    _path, job = document_services.document_file(document)
    if job is None:
        latest = document_selectors.document_latest_jobs([document]).get(str(document.pk))
        job = latest if latest is not None and latest.is_active else None
    if job is None:
        job = document_services.document_generate(document=document, actor=request.user)
    return redirect("staff:job-detail", pk=job.pk)
