"""Report-card jobs in the API (docs/api.md, Report card jobs): POST starts the report
cards of a section, or of a grade level and/or a location, for a term, as a job and
answers 202 with the job and the ``url`` to poll; GET the job shows ``state``, ``done``
of ``total``, ``failed`` and the ``errors`` per student; ``download/`` answers the ZIP
once the job completed (409 ``job_not_finished`` before); ``cancel/`` stops it.

Who: ``grading.view_result`` (office staff, instructors, admins; finance and parents
403). A job is seen by whoever started it and by staff of its location allowed to read
results (``academy.jobs.job_list``; an instructor only the jobs they started); a
section, location or term the caller may not see is a 400 on that field."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins
from rest_framework import serializers as drf
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.reverse import reverse

from academy.api import (
    IDEMPOTENCY_HEADER,
    ApiViewSet,
    InputSerializer,
    ModelSerializer,
    NamedChoiceField,
    ScopedPrimaryKeyField,
)
from academy.common.exceptions import Conflict
from academy.common.idempotency import idempotent
from academy.jobs import job_cancel, job_list, job_result_file
from academy.models import Job
from academy.selectors import grade_level_list, location_list, section_list, term_list
from grading.models import Result
from grading.report_cards import REPORT_CARDS, report_cards_start

ZIP = "application/zip"


class JobErrorSerializer(drf.Serializer):
    item = drf.CharField(read_only=True, help_text="The student (number and name).")
    message = drf.CharField(read_only=True)


class ReportCardJobSerializer(ModelSerializer):
    url = drf.SerializerMethodField(help_text="Poll this URL for progress.")
    state = NamedChoiceField(choices=Job.State.choices, enum_name="JobState", read_only=True)
    term = drf.SerializerMethodField()
    section = drf.SerializerMethodField()
    grade_level = drf.SerializerMethodField()
    location = drf.SerializerMethodField()
    failed = drf.IntegerField(source="failed_count", read_only=True, help_text="Students whose card failed.")
    percent = drf.IntegerField(read_only=True)
    errors = JobErrorSerializer(many=True, read_only=True)
    download_url = drf.SerializerMethodField(help_text="The ZIP, once the job completed; null before.")

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "state",
            "title",
            "term",
            "section",
            "grade_level",
            "location",
            "total",
            "done",
            "failed",
            "percent",
            "errors",
            "message",
            "attempts",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_url(self, job) -> str:
        return reverse("report-card-job-detail", args=[job.pk], request=self.context.get("request"))

    @extend_schema_field(OpenApiTypes.UUID)
    def get_term(self, job):
        return job.params.get("term")

    @extend_schema_field(drf.UUIDField(allow_null=True))
    def get_section(self, job):
        return job.params.get("section")

    @extend_schema_field(drf.UUIDField(allow_null=True))
    def get_grade_level(self, job):
        return job.params.get("grade_level")

    @extend_schema_field(drf.UUIDField(allow_null=True))
    def get_location(self, job):
        return job.params.get("location")

    @extend_schema_field(drf.URLField(allow_null=True))
    def get_download_url(self, job):
        if not job.has_file:
            return None
        return reverse("report-card-job-download", args=[job.pk], request=self.context.get("request"))


class ReportCardJobCreateSerializer(InputSerializer):
    """A term and a ``section``; or a ``grade_level`` (at a ``location``, or at every
    location the caller may see); or a ``location``."""

    term = ScopedPrimaryKeyField(scope=lambda user: term_list())
    section = ScopedPrimaryKeyField(
        scope=lambda user: section_list(user=user), required=False, allow_null=True, help_text="A section you may see."
    )
    grade_level = ScopedPrimaryKeyField(scope=lambda user: grade_level_list(), required=False, allow_null=True)
    location = ScopedPrimaryKeyField(
        scope=lambda user: location_list(user=user),
        required=False,
        allow_null=True,
        help_text="A location you may see.",
    )


class FileNegotiation(DefaultContentNegotiation):
    """The download answers a file whatever ``Accept`` says; its errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReportCardJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Report cards of many students as a job: POST answers 202 with the job to poll;
    ``download/`` the ZIP (one PDF per student) once completed; ``cancel/`` stops it."""

    serializer_class = ReportCardJobSerializer
    create_serializer_class = ReportCardJobCreateSerializer
    permission_model = Result
    required_permission = "grading.view_result"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return job_list(user=self.request.user, kind=REPORT_CARDS)

    @extend_schema(responses={202: ReportCardJobSerializer}, parameters=[IDEMPOTENCY_HEADER])
    @idempotent
    def create(self, request, *args, **kwargs):
        """Start the report cards (409 ``no_students`` when the choice covers nobody you may see)."""
        job = report_cards_start(actor=request.user, **self.validated_input())
        return self.respond(job, status=202)

    @extend_schema(responses={(200, ZIP): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], content_negotiation_class=FileNegotiation)
    def download(self, request, pk=None):
        """The ZIP of the report cards. 409 ``job_not_finished`` until the job completed."""
        job = self.get_object()
        if job.state != Job.State.COMPLETED:
            raise Conflict(f"The job is {job.get_state_display().lower()}: no file yet.", code="job_not_finished")
        path = job_result_file(job)
        if path is None:
            raise Conflict("The job's file is no longer kept: start the report cards again.", code="file_gone")
        return FileResponse(path.open("rb"), as_attachment=True, filename=job.result_name, content_type=ZIP)

    @extend_schema(request=None, responses=ReportCardJobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the job. 409 ``job_finished`` when it completed, failed or was cancelled."""
        job = job_cancel(job=self.get_object(), actor=request.user)
        return self.respond(job)
