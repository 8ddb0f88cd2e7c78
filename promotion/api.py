"""Year-end promotion in the API (docs/api.md, Promotion).

- ``promotion-runs/``: the runs of the locations the caller works at (another location's
  run: 404). POST makes a draft; ``preview/`` writes every student's proposed outcome as a
  job (202); ``override/`` changes one student's outcome with a reason; ``approve/`` needs
  ``promotion.approve_promotionrun`` (the academy admin; office staff 403) and someone
  other than the creator (409 ``same_approver``); ``start/`` runs an approved run as a job
  (202, ``Idempotency-Key``); ``cancel/`` stops it. ``{id}/proposals/`` lists the preview
  (``?outcome=``, ``?grade=``), ``{id}/records/`` what the run did.
- ``students/{id}/promotions/`` (``StudentPromotionsMixin``, composed with the students
  viewset by ``academy.config.api``): the student's promotion records, for staff who see
  the student and for the child's own parents (another family's child: 404).

Office staff hold the run permissions; instructors, finance staff and parents none (403).
The rules are ``promotion.services``'; their 409s (``run_not_editable``,
``run_not_previewed``, ``same_approver``, ``run_not_approved``, ``run_not_cancellable``)
pass through."""

import django_filters
from django.db.models import Q
from django.urls import reverse as path_reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework import serializers as drf
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from academy.api import (
    IDEMPOTENCY_HEADER,
    SMALL_INT_MAX,
    ApiViewSet,
    ConflictSerializer,
    InputSerializer,
    ModelSerializer,
    NamedChoiceField,
    ScopedPrimaryKeyField,
    ValidationErrorSerializer,
    flatten_errors,
)
from academy.common.idempotency import idempotent
from academy.jobs import job_data
from academy.models import Job
from academy.selectors import academic_year_list, location_list
from families.selectors import students_money_visible_to
from promotion import selectors, services
from promotion.models import Outcome, PromotionProposal, PromotionRecord, PromotionRun

OVERRIDE_OUTCOMES = [(value, label) for value, label in Outcome.choices if value != Outcome.SKIPPED]

# --- filters -------------------------------------------------------------------------------


class PromotionRunFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=PromotionRun.State.choices, distinct=False)

    class Meta:
        model = PromotionRun
        fields = ["state"]


class PromotionProposalFilterSet(django_filters.FilterSet):
    """``outcome`` is the final one (the office's override where there is one)."""

    outcome = django_filters.MultipleChoiceFilter(choices=Outcome.choices, method="filter_outcome")
    grade = django_filters.UUIDFilter(field_name="from_grade_id", help_text="The grade promoted from.")

    class Meta:
        model = PromotionProposal
        fields = ["outcome", "grade"]

    def filter_outcome(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Q(override_outcome__in=value) | Q(override_outcome="", outcome__in=value))


# --- serializers ---------------------------------------------------------------------------


class GradeSummarySerializer(drf.Serializer):
    grade = drf.CharField(read_only=True)
    counts = drf.DictField(child=drf.IntegerField(), read_only=True, help_text="Students per final outcome.")
    carried = drf.DecimalField(max_digits=12, decimal_places=2, read_only=True, help_text="Balance carried forward.")


class PromotionRunSerializer(ModelSerializer):
    state = NamedChoiceField(choices=PromotionRun.State.choices, enum_name="PromotionRunState", read_only=True)
    grades = drf.ListField(source="grade_ids", child=drf.UUIDField(), read_only=True)
    students = drf.ListField(source="student_ids", child=drf.UUIDField(), read_only=True)
    grade_map = drf.DictField(child=drf.UUIDField(allow_null=True), read_only=True)
    failed = drf.IntegerField(source="failed_count", read_only=True, help_text="Students whose promotion failed.")

    class Meta:
        model = PromotionRun
        fields = [
            "id",
            "location",
            "from_year",
            "to_year",
            "grade_map",
            "grades",
            "students",
            "min_attendance",
            "max_failed_results",
            "hold_detains",
            "carry_forward",
            "state",
            "previewed_at",
            "approved_by",
            "approved_at",
            "total",
            "done",
            "failed",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PromotionRunDetailSerializer(PromotionRunSerializer):
    summary = drf.SerializerMethodField(help_text="Per grade promoted from, once previewed; empty before.")

    class Meta(PromotionRunSerializer.Meta):
        fields = [*PromotionRunSerializer.Meta.fields, "summary"]
        read_only_fields = fields

    def get_summary(self, run) -> GradeSummarySerializer(many=True):
        if run.previewed_at is None:
            return []
        rows = selectors.summary(selectors.proposal_list(run))
        return GradeSummarySerializer(
            [{"grade": row.grade, "counts": dict(row.counts), "carried": row.carried} for row in rows], many=True
        ).data


class PromotionProposalSerializer(ModelSerializer):
    student_number = drf.CharField(source="student.student_number", read_only=True)
    student_name = drf.CharField(source="student.full_name", read_only=True)
    outcome = NamedChoiceField(choices=Outcome.choices, enum_name="PromotionOutcome", read_only=True)
    override_outcome = drf.CharField(read_only=True, help_text="The office's outcome; empty: none.")
    final_outcome = NamedChoiceField(choices=Outcome.choices, enum_name="PromotionOutcome", read_only=True)
    carried = drf.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, help_text="What the run carries: the balance of who stays on."
    )

    class Meta:
        model = PromotionProposal
        fields = [
            "id",
            "student",
            "student_number",
            "student_name",
            "from_grade",
            "to_grade",
            "outcome",
            "reason",
            "attendance_percentage",
            "results_failed",
            "result_average",
            "carry_amount",
            "carried",
            "invoices",
            "override_outcome",
            "override_reason",
            "overridden_by",
            "final_outcome",
        ]
        read_only_fields = fields


class PromotionRecordSerializer(ModelSerializer):
    """With ``money_hidden`` in the context (a parent linked to the child who does not
    pay for them), ``carried_amount`` is null: the child's promotion, not their money."""

    outcome = NamedChoiceField(choices=Outcome.choices, enum_name="PromotionOutcome", read_only=True)
    carried_amount = drf.DecimalField(
        max_digits=12,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="The balance carried to the new year; null for a guardian who does not pay for the student.",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if self.context.get("money_hidden"):
            data["carried_amount"] = None
        return data

    class Meta:
        model = PromotionRecord
        fields = [
            "id",
            "student",
            "run",
            "from_year",
            "to_year",
            "from_grade",
            "to_grade",
            "outcome",
            "attendance_percentage",
            "result_average",
            "carried_amount",
            "carry_status",
            "notes",
            "corrects",
            "created_at",
        ]
        read_only_fields = fields


class PromotionRunCreateSerializer(InputSerializer):
    location = ScopedPrimaryKeyField(scope=lambda user: location_list(user=user), help_text="A location you may see.")
    from_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list())
    to_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list(), help_text="Starts after `from_year`.")
    grade_map = drf.DictField(
        child=drf.UUIDField(allow_null=True),
        required=False,
        help_text="{from grade id: to grade id, or null to graduate}; empty: each grade's next grade.",
    )
    grades = drf.ListField(child=drf.UUIDField(), required=False, help_text="Only these grades; empty: every grade.")
    students = drf.ListField(
        child=drf.UUIDField(), required=False, help_text="Only these students of the location; empty: everyone."
    )
    min_attendance = drf.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        allow_null=True,
        help_text="Percent; empty: the location's threshold.",
    )
    max_failed_results = drf.IntegerField(min_value=0, max_value=SMALL_INT_MAX, required=False, allow_null=True)
    hold_detains = drf.BooleanField(required=False, default=False)
    carry_forward = drf.BooleanField(required=False, default=True)


class PromotionOverrideSerializer(InputSerializer):
    student = drf.UUIDField(help_text="A student of the run's preview.")
    outcome = drf.ChoiceField(
        choices=OVERRIDE_OUTCOMES, allow_blank=True, help_text="Empty takes the office's override back."
    )
    reason = drf.CharField(max_length=300, required=False, allow_blank=True, help_text="Required with an outcome.")


class PromotionJobSerializer(drf.Serializer):
    """The job a run's preview or execution runs as; poll ``url``."""

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
    message = drf.CharField(read_only=True)
    url = drf.URLField(read_only=True, help_text="Poll this for the job's progress (JSON).")
    run = drf.UUIDField(read_only=True)
    run_url = drf.URLField(read_only=True, help_text="The run: its state once the job finished.")


def _job_answer(request, job: Job, run: PromotionRun) -> Response:
    body = job_data(job)
    body.pop("download_url", None)
    poll = request.build_absolute_uri(path_reverse("staff:job-detail", args=[job.pk])) + "?format=json"
    body.update(
        status=job.state,
        url=poll,
        run=str(run.pk),
        run_url=request.build_absolute_uri(path_reverse("promotion-run-detail", args=[run.pk])),
    )
    return Response(body, status=202, headers={"Location": poll})


CONFLICT = OpenApiResponse(ConflictSerializer, "The run's state forbids it.")


def _filtered(filterset_class, request, queryset):
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError(flatten_errors(filterset.errors))
    return filterset.qs


# --- the runs ------------------------------------------------------------------------------


class PromotionRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Year-end promotion runs: draft -> previewed -> approved -> running -> completed /
    failed / cancelled."""

    serializer_class = PromotionRunSerializer
    create_serializer_class = PromotionRunCreateSerializer
    filterset_class = PromotionRunFilterSet
    permission_model = PromotionRun
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.run_list(user=self.request.user).order_by("-created_at", "pk")

    def get_serializer_class(self):
        return PromotionRunSerializer if self.action == "list" else PromotionRunDetailSerializer

    @extend_schema(responses={201: PromotionRunDetailSerializer})
    def create(self, request, *args, **kwargs):
        """A draft run (400: a year promoted into that does not start later, an unknown
        grade, a student not of the location)."""
        data = self.validated_input()
        run = services.run_create(
            location=data["location"],
            from_year=data["from_year"],
            to_year=data["to_year"],
            actor=request.user,
            grade_map={str(k): (str(v) if v else None) for k, v in (data.get("grade_map") or {}).items()},
            grades=data.get("grades") or [],
            students=data.get("students") or [],
            min_attendance=data.get("min_attendance"),
            max_failed_results=data.get("max_failed_results"),
            hold_detains=data.get("hold_detains", False),
            carry_forward=data.get("carry_forward", True),
        )
        return self.respond(run, status=201)

    @extend_schema(request=None, responses={202: PromotionJobSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], filterset_class=None)
    def preview(self, request, pk=None):
        """Write every student's proposed outcome (a job: 202). 409 ``run_not_editable``
        once approved."""
        run = self.get_object()
        job = services.run_preview_start(run=run, actor=request.user)
        return _job_answer(request, job, run)

    @extend_schema(
        request=PromotionOverrideSerializer,
        responses={200: PromotionProposalSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def override(self, request, pk=None):
        """Change one student's outcome before approval, with a reason (an empty outcome
        takes the override back). 409 ``run_not_editable`` once approved."""
        run = self.get_object()
        data = self.validated_input(PromotionOverrideSerializer, partial=False)
        proposal = selectors.proposal_list(run).filter(student_id=data["student"]).first()
        if proposal is None:
            raise ValidationError({"student": ["The student is not in this run's preview."]})
        proposal = services.proposal_override(
            proposal=proposal, outcome=data["outcome"], reason=data.get("reason", ""), actor=request.user
        )
        proposal = selectors.proposal_list(run).get(pk=proposal.pk)
        return Response(PromotionProposalSerializer(proposal, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: PromotionRunDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], filterset_class=None, required_permission=services.APPROVE_PERMISSION)
    def approve(self, request, pk=None):
        """Approve a previewed run: someone other than its creator (409 ``same_approver``)."""
        run = services.run_approve(run=self.get_object(), actor=request.user)
        return self.respond(run)

    @extend_schema(
        request=None, responses={202: PromotionJobSerializer, 409: CONFLICT}, parameters=[IDEMPOTENCY_HEADER]
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def start(self, request, pk=None):
        """Run an approved run (or again one that failed): a job (202). 409
        ``run_not_approved`` otherwise, so two starts start it once."""
        run = self.get_object()
        job = services.run_start(run=run, actor=request.user)
        return _job_answer(request, job, run)

    @extend_schema(request=None, responses={200: PromotionRunDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        """Cancel a run before it completes (a running one stops after its current chunk)."""
        run = services.run_cancel(run=self.get_object(), actor=request.user)
        return self.respond(run)

    @extend_schema(
        parameters=[
            OpenApiParameter("outcome", str, many=True, enum=[value for value, _ in Outcome.choices]),
            OpenApiParameter("grade", str, description="The grade promoted from (id)."),
        ],
        responses={200: PromotionProposalSerializer(many=True), 400: ValidationErrorSerializer},
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None, permission_model=PromotionProposal)
    def proposals(self, request, pk=None):
        """The run's preview, one line per student."""
        run = self.get_object()
        queryset = _filtered(
            PromotionProposalFilterSet,
            request,
            selectors.proposal_list(run).order_by(
                "from_grade__order", "student__last_name", "student__first_name", "pk"
            ),
        )
        page = self.paginate_queryset(queryset)
        data = PromotionProposalSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(responses=PromotionRecordSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, permission_model=PromotionRecord)
    def records(self, request, pk=None):
        """What the run did, one record per student."""
        run = self.get_object()
        queryset = selectors.run_record_list(run)
        page = self.paginate_queryset(queryset)
        data = PromotionRecordSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


# --- a student's promotions ----------------------------------------------------------------


# families cannot import promotion, and no app imports another's API views:
# academy.config.api composes this mixin with the students viewset of families.api.
class StudentPromotionsMixin:
    """A student's promotion records at ``{id}/promotions/`` (staff who see the student,
    and the child's own parents)."""

    @extend_schema(responses=PromotionRecordSerializer(many=True), filters=False)
    @action(
        detail=True,
        methods=["get"],
        permission_model=PromotionRecord,
        parent_readable=True,
        filterset_class=None,
        pagination_class=None,
    )
    def promotions(self, request, pk=None):
        """The student's promotion records, newest first."""
        student = self.get_object()
        records = selectors.student_record_list(student)
        context = self.get_serializer_context()
        context["money_hidden"] = not students_money_visible_to(request.user).filter(pk=student.pk).exists()
        return Response(PromotionRecordSerializer(records, many=True, context=context).data)
