"""Document requests and transcripts in the API (docs/api.md, Documents).

- ``document-requests/``: a family's or the office's requests for a transcript or a
  certificate, pending -> approved -> completed, or rejected with a reason. Staff see the
  requests of the students they may see and a parent those of their own children (never
  the office's ``notes``); both may ask for one (POST). Approving, rejecting and
  completing need ``grading.change_documentrequest`` (office staff, admins). Completing
  issues the document and answers ``202`` with the job that makes its PDF;
  ``{id}/download/`` answers the PDF once made (``202`` with the job while it is made, or
  with a new one when the file was removed).
- ``students/{id}/transcript/`` (``StudentTranscriptMixin``, composed with the students
  viewset by ``academy.config.api``): POST issues a transcript now (``202`` with the job);
  GET answers the PDF of the newest transcript the office issued that still verifies,
  else makes one (``202``): poll the same URL until the PDF comes.

Instructors and finance staff hold no document permission (403), as for the other
grading resources they may not use. The rules are ``grading.document_services``'; their
409s (``invalid_transition``, ``request_open``, ``finance_hold`` with ``outstanding`` and
``threshold``, ``no_results``) pass through."""

from datetime import timedelta

import django_filters
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.urls import reverse as path_reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins
from rest_framework import serializers as drf
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from academy.api import (
    IDEMPOTENCY_HEADER,
    TEXT_MAX,
    ApiViewSet,
    ConflictSerializer,
    InputSerializer,
    ModelSerializer,
    NamedChoiceField,
    ScopedPrimaryKeyField,
)
from academy.common.idempotency import idempotent
from academy.common.permissions import RolePermission
from academy.filters import StableOrderingFilter
from academy.jobs import job_data
from academy.models import Job, Location
from academy.selectors import location_list
from families.selectors import students_visible_to
from grading import document_selectors, document_services, documents
from grading.api.report_cards import FileNegotiation
from grading.models import DocumentRequest, DocumentType, IssuedDocument

PDF = "application/pdf"
CHANGE_PERMISSION = "grading.change_documentrequest"
# what a family never reads of a request: the office's notes and who handled it
STAFF_ONLY_FIELDS = ("notes", "processed_by", "processed_by_name")


def _is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_academy_staff)


# --- filters -------------------------------------------------------------------------------


def _visible_students(request):
    return students_visible_to(getattr(request, "user", None))


def _visible_locations(request):
    """Staff: the locations they may see; a parent: their children's."""
    user = getattr(request, "user", None)
    if _is_staff(user):
        return location_list(user=user)
    return Location.objects.filter(pk__in=students_visible_to(user).values("location_id"))


class DocumentRequestFilterSet(django_filters.FilterSet):
    type = django_filters.MultipleChoiceFilter(choices=DocumentType.choices, distinct=False)
    status = django_filters.MultipleChoiceFilter(choices=DocumentRequest.Status.choices, distinct=False)
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    location = django_filters.ModelChoiceFilter(field_name="student__location", queryset=_visible_locations)
    ordering = StableOrderingFilter(fields=("created_at", "approved_at", "completed_at", "status", "type"))

    class Meta:
        model = DocumentRequest
        fields = ["type", "status", "student", "location"]


# --- serializers ---------------------------------------------------------------------------


def _latest_document(document_request: DocumentRequest) -> IssuedDocument | None:
    issued = getattr(document_request, "issued", None)  # DocumentRequestViewSet's prefetch
    if issued is None:
        issued = list(document_request.documents.order_by("-issued_at")[:1])
    return issued[0] if issued else None


class DocumentRequestSerializer(ModelSerializer):
    """A request as staff read it; a family's answer leaves out ``STAFF_ONLY_FIELDS``."""

    student_number = drf.CharField(source="student.student_number", read_only=True)
    student_name = drf.CharField(source="student.full_name", read_only=True)
    location = drf.UUIDField(source="student.location_id", read_only=True, help_text="The student's location.")
    type = NamedChoiceField(choices=DocumentType.choices, enum_name="DocumentType", read_only=True)
    status = NamedChoiceField(choices=DocumentRequest.Status.choices, enum_name="DocumentRequestStatus", read_only=True)
    requested_by_name = drf.SerializerMethodField()
    processed_by_name = drf.SerializerMethodField(help_text="Who approved, completed or rejected it last (staff only).")
    requested_at = drf.DateTimeField(source="created_at", read_only=True)
    document = drf.SerializerMethodField(help_text="The document issued for it, once completed.")
    download_url = drf.SerializerMethodField(help_text="The PDF of the issued document, once completed.")

    class Meta:
        model = DocumentRequest
        fields = [
            "id",
            "student",
            "student_number",
            "student_name",
            "location",
            "type",
            "purpose",
            "addressee",
            "status",
            "notes",
            "rejection_reason",
            "requested_by",
            "requested_by_name",
            "requested_at",
            "processed_by",
            "processed_by_name",
            "approved_at",
            "completed_at",
            "rejected_at",
            "document",
            "download_url",
        ]
        read_only_fields = fields
        sometimes_omitted = STAFF_ONLY_FIELDS

    def get_requested_by_name(self, document_request) -> str | None:
        user = document_request.requested_by
        return (user.get_full_name() or user.get_username()) if user is not None else None

    def get_processed_by_name(self, document_request) -> str | None:
        user = document_request.processed_by
        return (user.get_full_name() or user.get_username()) if user is not None else None

    @extend_schema_field(drf.UUIDField(allow_null=True))
    def get_document(self, document_request):
        document = _latest_document(document_request)
        return document.pk if document is not None else None

    @extend_schema_field(drf.URLField(allow_null=True))
    def get_download_url(self, document_request):
        if _latest_document(document_request) is None:
            return None
        return reverse("document-request-download", args=[document_request.pk], request=self.context.get("request"))

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("staff_view"):
            for name in STAFF_ONLY_FIELDS:
                data.pop(name, None)
        return data


class DocumentRequestCreateSerializer(InputSerializer):
    student = ScopedPrimaryKeyField(
        scope=lambda user: students_visible_to(user), help_text="A student you may see (a parent: their own child)."
    )
    type = drf.ChoiceField(choices=DocumentType.choices)
    purpose = drf.CharField(
        max_length=document_services.PURPOSE_MAX,
        required=False,
        allow_blank=True,
        help_text="What the document is for (required for `other`).",
    )
    addressee = drf.CharField(max_length=document_services.ADDRESSEE_MAX, required=False, allow_blank=True)
    notes = drf.CharField(
        max_length=TEXT_MAX,
        required=False,
        allow_blank=True,
        help_text="The office's notes (staff only; ignored from a family).",
    )


class DocumentApproveSerializer(InputSerializer):
    notes = drf.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, help_text="Replaces the office's notes when given."
    )


class DocumentRejectSerializer(InputSerializer):
    reason = drf.CharField(max_length=TEXT_MAX, help_text="Why it is not issued; the family reads it.")


class DocumentJobErrorSerializer(drf.Serializer):
    item = drf.CharField(read_only=True)
    message = drf.CharField(read_only=True)


class DocumentJobSerializer(drf.Serializer):
    """The job that makes a document's PDF (as the staff job page's JSON shows it), the
    document it makes, and ``url``: poll it until it answers the PDF."""

    id = drf.UUIDField(read_only=True)
    kind = drf.CharField(read_only=True)
    title = drf.CharField(read_only=True)
    state = NamedChoiceField(choices=Job.State.choices, enum_name="JobState", read_only=True)
    status = NamedChoiceField(
        choices=Job.State.choices, enum_name="JobState", read_only=True, help_text="The same as `state`."
    )
    total = drf.IntegerField(read_only=True)
    done = drf.IntegerField(read_only=True)
    failed = drf.IntegerField(read_only=True)
    percent = drf.IntegerField(read_only=True)
    errors = DocumentJobErrorSerializer(many=True, read_only=True)
    message = drf.CharField(read_only=True)
    attempts = drf.IntegerField(read_only=True)
    created_at = drf.DateTimeField(read_only=True, allow_null=True)
    started_at = drf.DateTimeField(read_only=True, allow_null=True)
    finished_at = drf.DateTimeField(read_only=True, allow_null=True)
    download_url = drf.CharField(
        read_only=True, allow_null=True, help_text="The staff job page's download, once the job completed; staff only."
    )
    url = drf.URLField(read_only=True, help_text="Poll this: 202 while the PDF is made, then the PDF.")
    job_url = drf.URLField(
        read_only=True, allow_null=True, help_text="The job's staff page (`?format=json` for its JSON); staff only."
    )
    document = drf.UUIDField(read_only=True, help_text="The issued document.")
    request = drf.UUIDField(read_only=True, allow_null=True, help_text="The request it was issued for, if any.")


def job_answer(request, job: Job, *, document: IssuedDocument, poll_url: str) -> Response:
    """``202`` with the job, the document and where to poll (also the ``Location``)."""
    body = job_data(job)
    staff = _is_staff(request.user)
    body.update(
        status=job.state,
        url=poll_url,
        job_url=request.build_absolute_uri(path_reverse("staff:job-detail", args=[job.pk])) if staff else None,
        document=str(document.pk),
        request=str(document.request_id) if document.request_id else None,
    )
    if not staff:  # the job's staff pages are not the family's: they poll ``url``
        body["download_url"] = None
    return Response(body, status=202, headers={"Location": poll_url})


def document_answer(request, document: IssuedDocument, *, poll_url: str):
    """The PDF of ``document`` when its file is there; else ``202`` with the job making it
    (the one under way, or a new one when the file was removed or the job failed)."""
    path, _job = document_services.document_file(document)
    if path is not None:
        return FileResponse(
            path.open("rb"), as_attachment=True, filename=documents.document_filename(document), content_type=PDF
        )
    job = next((job for job in documents.document_jobs(document)[:5] if job.is_active), None)
    if job is None:
        job = document_services.document_generate(document=document, actor=request.user)
    return job_answer(request, job, document=document, poll_url=poll_url)


FILE_OR_JOB = {
    (200, PDF): OpenApiResponse(OpenApiTypes.BINARY, "The PDF."),
    202: OpenApiResponse(DocumentJobSerializer, "The PDF is being made: poll `url`."),
}


# --- document requests ---------------------------------------------------------------------


class DocumentRequestPermission(RolePermission):
    """``RolePermission``, and a parent may also ask for a document (POST the list)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user and user.is_authenticated and user.is_parent and request.method == "POST":
            return getattr(view, "action", None) == "create"
        return super().has_permission(request, view)


class DocumentRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Requests for a transcript or a certificate: pending -> approved -> completed, or
    rejected with a reason. POST asks for one (one open request per student and type:
    409 ``request_open``; a transcript may be asked for under a finance hold, not approved
    or issued: 409 ``finance_hold`` with ``outstanding``). A family reads its children's
    requests without the office's notes."""

    serializer_class = DocumentRequestSerializer
    create_serializer_class = DocumentRequestCreateSerializer
    filterset_class = DocumentRequestFilterSet
    permission_classes = [DocumentRequestPermission]
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        issued = IssuedDocument.objects.only("id", "request_id", "issued_at").order_by("-issued_at")
        return (
            document_selectors.document_request_list(user=self.request.user)
            .prefetch_related(Prefetch("documents", queryset=issued, to_attr="issued"))
            .order_by("-created_at", "pk")
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = getattr(self.request, "user", None) if getattr(self, "request", None) else None
        context["staff_view"] = _is_staff(user)
        return context

    def _download_url(self, document_request) -> str:
        return reverse("document-request-download", args=[document_request.pk], request=self.request)

    @extend_schema(responses={201: DocumentRequestSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        document_request = document_services.document_request_create(
            student=data["student"],
            type=data["type"],
            actor=request.user,
            purpose=data.get("purpose", ""),
            addressee=data.get("addressee", ""),
            notes=data.get("notes", ""),
        )
        return self.respond(document_request, status=201)

    @extend_schema(request=DocumentApproveSerializer, responses=DocumentRequestSerializer)
    @action(detail=True, methods=["post"], required_permission=CHANGE_PERMISSION, filterset_class=None)
    def approve(self, request, pk=None):
        """Approve a pending request (a transcript: not under a finance hold)."""
        document_request = self.get_object()
        data = self.validated_input(DocumentApproveSerializer, partial=False)
        document_services.document_request_approve(
            request=document_request, actor=request.user, notes=data.get("notes")
        )
        return self.respond(document_request)

    @extend_schema(request=DocumentRejectSerializer, responses=DocumentRequestSerializer)
    @action(detail=True, methods=["post"], required_permission=CHANGE_PERMISSION, filterset_class=None)
    def reject(self, request, pk=None):
        """Reject a pending or approved request, with the reason the family reads."""
        document_request = self.get_object()
        data = self.validated_input(DocumentRejectSerializer, partial=False)
        document_services.document_request_reject(request=document_request, actor=request.user, reason=data["reason"])
        return self.respond(document_request)

    @extend_schema(
        request=None,
        responses={202: DocumentJobSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], required_permission=CHANGE_PERMISSION, filterset_class=None)
    @idempotent
    def complete(self, request, pk=None):
        """Issue the approved request's document (what it states is fixed now) and start
        the job that makes its PDF: 202 with the job; poll ``url`` for the PDF."""
        document_request = self.get_object()
        document_request, document, job = document_services.document_request_complete(
            request=document_request, actor=request.user
        )
        return job_answer(request, job, document=document, poll_url=self._download_url(document_request))

    @extend_schema(responses=FILE_OR_JOB, filters=False)
    @action(
        detail=True,
        methods=["get"],
        content_negotiation_class=FileNegotiation,
        filterset_class=None,
        pagination_class=None,
    )
    def download(self, request, pk=None):
        """The PDF of the document issued for the request (404 before it was issued);
        202 with the job while it is made, or with a new job when its file was removed."""
        document_request = self.get_object()
        document = _latest_document(document_request)
        if document is None:
            raise Http404("No document was issued for this request yet.")
        return document_answer(request, document, poll_url=self._download_url(document_request))


# --- a student's transcript ----------------------------------------------------------------


# families cannot import grading, and no app imports another's API views:
# academy.config.api composes this mixin with the students viewset of families.api.
class StudentTranscriptMixin:
    """A student's transcript at ``{id}/transcript/``, for the office (an instructor,
    finance staff or a parent: 403): POST issues one now; GET answers the PDF of the newest
    one the office issued that still verifies, making one when there is none."""

    def _transcript_url(self, student) -> str:
        return reverse("student-transcript", args=[student.pk], request=self.request)

    @extend_schema(
        responses={
            **FILE_OR_JOB,
            409: OpenApiResponse(ConflictSerializer, "`finance_hold` (with `outstanding`), `no_results`."),
        },
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        permission_model=DocumentRequest,
        required_permission=CHANGE_PERMISSION,
        parent_readable=False,
        content_negotiation_class=FileNegotiation,
        filterset_class=None,
        pagination_class=None,
    )
    def transcript(self, request, pk=None):
        """The newest transcript the office issued that still verifies (its PDF, or 202
        while it is made), else a new one (202); 409 under a finance hold."""
        student = self.get_object()
        document_services.check_transcript_hold(student)
        since = timezone.now() - timedelta(hours=documents.token_hours())
        document = (
            IssuedDocument.objects.filter(
                student=student, type=DocumentType.TRANSCRIPT, request__isnull=True, issued_at__gt=since
            )
            .select_related("location", "student")
            .order_by("-issued_at")
            .first()
        )
        if document is not None:
            return document_answer(request, document, poll_url=self._transcript_url(student))
        document, job = document_services.transcript_issue(student=student, actor=request.user)
        return job_answer(request, job, document=document, poll_url=self._transcript_url(student))

    @extend_schema(
        request=None,
        responses={
            202: DocumentJobSerializer,
            409: OpenApiResponse(ConflictSerializer, "`finance_hold` (with `outstanding`), `no_results`."),
        },
        parameters=[IDEMPOTENCY_HEADER],
        filters=False,
    )
    @transcript.mapping.post
    @idempotent
    def transcript_issue(self, request, pk=None):
        """Issue a transcript now: 202 with the job that makes its PDF."""
        student = self.get_object()
        document, job = document_services.transcript_issue(student=student, actor=request.user)
        return job_answer(request, job, document=document, poll_url=self._transcript_url(student))
