"""The parent portal's documents: each child's requests (with the rejection reason, and
why a transcript waits when a finance hold applies), asking for a document for one of
their own children, and the download of a completed request's PDF.

The PDF is made from the register on demand (``grading.documents``) and removed after a
while: when it is not there (removed, or not made yet) the download starts the job that
makes it again (unless one is already running) and shows its progress, a small partial
that polls itself (htmx) until the file is ready.

Whose child: ``families.selectors.students_visible_to`` (another family's child, or a
request of one, is a 404). The office's ``notes`` are never loaded nor shown."""

from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render

from academy.common.exceptions import Conflict
from academy.forms import add_service_errors
from families.portal_shell import parent_required, portal_render
from families.selectors import students_visible_to
from finance.selectors import hold_for
from grading import document_selectors, document_services
from grading.models import DocumentRequest, DocumentType, IssuedDocument
from grading.staff_document_forms import PortalDocumentRequestForm
from students.models import Student


@dataclass
class ChildDocuments:
    child: Student
    requests: list = field(default_factory=list)
    hold: object = None  # the finance hold on transcripts, when an open transcript request waits on it


def _children(request):
    return students_visible_to(request.user).order_by("first_name", "last_name", "pk")


@parent_required
def documents(request):
    """Each child's requests, newest first."""
    children = {child.pk: ChildDocuments(child=child) for child in _children(request)}
    for document_request in document_selectors.portal_document_requests(user=request.user):
        children[document_request.student_id].requests.append(document_request)
    for entry in children.values():
        waiting = any(r.type == DocumentType.TRANSCRIPT and r.status in DocumentRequest.OPEN for r in entry.requests)
        if waiting:
            entry.hold = hold_for(student=entry.child, action="transcripts")
    return portal_render(
        request, "grading/portal/documents.html", {"children": list(children.values()), "nav": "children"}
    )


@parent_required
def document_request_new(request):
    """Ask for a document for one of the parent's own children."""
    children = _children(request)
    initial = {}
    wanted = request.GET.get("child", "")
    if wanted and children.filter(pk=wanted).exists():
        initial["child"] = wanted
    form = PortalDocumentRequestForm(request.POST or None, children=children, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = document_services.document_request_create(
                    student=data["child"],
                    type=data["type"],
                    purpose=data["purpose"],
                    addressee=data["addressee"],
                    actor=request.user,
                )
            except Conflict as conflict:
                form.add_error(None, conflict.detail)
                status = 409
            except ValidationError as invalid:
                add_service_errors(form, invalid)
            else:
                messages.success(
                    request,
                    f"{created.get_type_display()} for {data['child'].full_name} requested: "
                    "the office prepares it and you are told when it is ready.",
                )
                return redirect("portal:documents")
    response = portal_render(request, "grading/portal/documents_new.html", {"form": form, "nav": "children"})
    response.status_code = status
    return response


def _completed_document(request, pk) -> tuple[DocumentRequest, IssuedDocument]:
    """A completed request of one of the parent's children and its document (else 404)."""
    document_request = (
        document_selectors.portal_document_requests(user=request.user)
        .filter(pk=pk, status=DocumentRequest.Status.COMPLETED)
        .first()
    )
    document = document_request.documents.order_by("-issued_at").first() if document_request else None
    if document is None:
        raise Http404("No such document.")
    return document_request, document


def _latest_job(document):
    return document_selectors.document_latest_jobs([document]).get(str(document.pk))


@parent_required
def document_download(request, pk):
    """The PDF, or, when its file is not there, the job that makes it again and its progress."""
    document_request, document = _completed_document(request, pk)
    path, job = document_services.document_file(document)
    if path is not None:
        return FileResponse(path.open("rb"), as_attachment=True, filename=job.result_name or path.name)
    job = _latest_job(document)
    if job is None or not job.is_active:
        job = document_services.document_generate(document=document, actor=request.user)
    context = {"document_request": document_request, "job": job, "ready": False, "nav": "children"}
    return portal_render(request, "grading/portal/documents_preparing.html", context)


@parent_required
def document_progress(request, pk):
    """The progress partial the preparing page polls: the job's state, then the link."""
    document_request, document = _completed_document(request, pk)
    path, _job = document_services.document_file(document)
    context = {"document_request": document_request, "job": _latest_job(document), "ready": path is not None}
    return render(request, "grading/portal/documents_progress.html", context)
