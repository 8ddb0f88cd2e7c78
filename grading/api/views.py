"""API views of the grading app (docs/api.md, Grading): grade scales, assessments,
scores (one, or a section's whole gradebook at once), results with ``publish`` and
``freeze``, change requests with ``approve`` and ``reject``, skill ratings, and a
student's skill progress (``StudentProgressMixin``, composed with the students viewset
by ``academy.config.api``).

Querysets come from ``grading.selectors`` with the caller: staff see the sections
``academy.selectors.section_list`` gives them (an instructor only those they teach;
anything else is a 404); a parent reads their own children's published and frozen
results (withheld under a finance results hold) and skill ratings. Writes validate an
input serializer and call one ``grading.services`` function; its ``ValidationError`` is
a 400 on the field, its ``Conflict`` a 409 ``{detail, code}``.
"""

from functools import cache

from django.utils.dateparse import parse_date
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from academy.api import ApiViewSet, ValidationErrorSerializer
from academy.selectors import section_list
from enrollment.models import Enrollment
from grading import selectors, services
from grading.api import filters
from grading.api import serializers as api
from grading.models import Score, SkillRating


def _is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_academy_staff)


def _cell_errors(error: services.GradebookError, field: str | None) -> dict[str, list[str]]:
    """``GradebookError.cells`` as flat field errors: ``{"scores[3].score": [...]}``
    (docs/api.md, Errors), or ``{"score": [...]}`` for a single cell (``field=None``)."""
    flat: dict[str, list[str]] = {}
    for index, fields in sorted(error.cells.items()):
        for name, messages in fields.items():
            key = f"{field}[{index}].{name}" if field else name
            flat.setdefault(key, []).extend(str(m) for m in messages)
    return flat


# --- grade scales ------------------------------------------------------------------------


class GradeScaleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Grade scales: bands from a percentage to a letter, grade points and pass/fail
    (highest band first). A section's scale is the most specific one: its programme at
    its location, its programme, its location, else the default. Read-only (edited in
    the admin)."""

    serializer_class = api.GradeScaleSerializer
    http_method_names = ["get", "head", "options"]

    def get_queryset(self):
        return selectors.grade_scale_list().order_by("name", "pk")


# --- assessments -------------------------------------------------------------------------


class AssessmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """The graded work of a section: type, title, date, weight, maximum score. A
    section's weights total at most 100 (a 400 on ``weight`` beyond; publishing needs
    exactly 100). Once the section's results are published or frozen its assessments no
    longer change: 409 ``result_published`` / ``result_frozen``. DELETE removes the
    assessment with its scores."""

    serializer_class = api.AssessmentSerializer
    create_serializer_class = api.AssessmentCreateSerializer
    update_serializer_class = api.AssessmentUpdateSerializer
    filterset_class = filters.AssessmentFilterSet

    def get_queryset(self):
        return selectors.assessment_list(user=self.request.user).order_by("section_id", "date", "title", "pk")

    @extend_schema(responses={201: api.AssessmentSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        assessment = services.assessment_create(section=data.pop("section"), actor=request.user, **data)
        return self.respond(assessment, status=201)

    def partial_update(self, request, *args, **kwargs):
        assessment = self.get_object()
        data = self.validated_input()
        assessment = services.assessment_update(assessment=assessment, actor=request.user, data=data)
        return self.respond(assessment)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.assessment_delete(assessment=self.get_object(), actor=request.user)
        return Response(status=204)


# --- scores ------------------------------------------------------------------------------


def _cell_values(data: dict, score: Score | None = None) -> dict:
    """The cell a request asks for; on PATCH what it leaves out stays as it is."""
    if "status" in data:
        status = data["status"]
    elif "score" in data or score is None:
        status = Score.Status.SCORED
    else:
        status = score.status
    kept = score.score if score is not None and status == Score.Status.SCORED else None
    value = data.get("score", kept)
    return {
        "status": status,
        "score": value if status == Score.Status.SCORED else None,
        "comment": data.get("comment", score.comment if score is not None else ""),
        "override_reason": data.get("override_reason", ""),
    }


class ScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Scores: one per student and assessment; scored (0 to the maximum), excused (its
    weight spread over the rest) or missing (0 once results are published). POST saves
    one cell (201 new, 200 replacing the student's score), PATCH changes one; ``bulk``
    saves a section's whole gradebook in one request, all or nothing: a bad cell is a
    400 on ``scores[i].field`` and nothing is written. Only for students enrolled in the
    section (400 on ``student``). 409 ``result_published`` / ``result_frozen`` once the
    student's result is published or frozen, ``not_eligible`` for a final exam score of
    a student below the attendance threshold unless a user allowed to override gives
    ``override_reason``."""

    serializer_class = api.ScoreSerializer
    create_serializer_class = api.ScoreCreateSerializer
    update_serializer_class = api.ScoreValuesSerializer
    filterset_class = filters.ScoreFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.score_list(user=self.request.user).order_by("assessment_id", "student__last_name", "pk")

    def _save(self, *, assessment, student, values: dict) -> Score:
        try:
            return services.score_save(assessment=assessment, student=student, actor=self.request.user, **values)
        except services.GradebookError as error:
            raise ValidationError(_cell_errors(error, None)) from None

    @extend_schema(responses={201: api.ScoreSerializer, 200: api.ScoreSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        assessment, student = data.pop("assessment"), data.pop("student")
        existed = Score.objects.filter(assessment=assessment, student=student).exists()
        score = self._save(assessment=assessment, student=student, values=_cell_values(data))
        return self.respond(score, status=200 if existed else 201)

    def partial_update(self, request, *args, **kwargs):
        score = self.get_object()
        data = self.validated_input()
        score = self._save(assessment=score.assessment, student=score.student, values=_cell_values(data, score))
        return self.respond(score)

    @extend_schema(request=api.GradebookInputSerializer, responses=api.GradebookSavedSerializer)
    @action(
        detail=False,
        methods=["post"],
        required_permission="grading.add_score",
        filterset_class=None,
        pagination_class=None,
    )
    def bulk(self, request):
        """Save many cells of one section's gradebook (up to its whole gradebook) in one
        request, all or nothing, at a fixed number of queries. Answers the scores
        written and the section's results (the drafts follow the scores)."""
        data = self.validated_input(api.GradebookInputSerializer, partial=False)
        section = data["section"]
        cells = [
            services.Cell(assessment_id=row["assessment"], student_id=row["student"], **_cell_values(row))
            for row in data["scores"]
        ]
        try:
            saved = services.gradebook_save(section=section, cells=cells, actor=request.user)
        except services.GradebookError as error:
            raise ValidationError(_cell_errors(error, "scores")) from None
        scores = self.get_queryset().filter(pk__in=[score.pk for score in saved])
        results = selectors.result_list(user=request.user).filter(section=section).order_by("student__last_name", "pk")
        body = {
            "saved": len(saved),
            "scores": api.ScoreSerializer(scores, many=True).data,
            "results": api.ResultSerializer(results, many=True, context=self.get_serializer_context()).data,
        }
        return Response(body)


# --- results -----------------------------------------------------------------------------


class ResultViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Results per student and section: weighted percentage, letter grade, points,
    pass/fail; ``draft`` (follows the scores) -> ``published`` -> ``frozen``. PATCH
    changes a draft's comment only (409 ``result_published``: request a change;
    ``result_frozen``: never). ``publish`` a section or a term (409
    ``weights_incomplete``, ``no_students``); ``freeze`` a section or a term once the
    term is closed (409 ``term_open``, ``change_pending``). A parent sees their
    children's published and frozen results; under a finance results hold
    ``withheld: true`` with the reason, and no grade."""

    serializer_class = api.ResultSerializer
    update_serializer_class = api.ResultUpdateSerializer
    filterset_class = filters.ResultFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.result_list(user=self.request.user).order_by(
            "section__term__start_date", "section_id", "student__last_name", "pk"
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = getattr(self.request, "user", None) if getattr(self, "request", None) else None
        if user is not None and user.is_authenticated and not user.is_academy_staff:
            # the family's view: a finance hold withholds the grades (staff still see them)
            context["results_hold"] = cache(selectors.results_hold)
        return context

    def partial_update(self, request, *args, **kwargs):
        result = self.get_object()
        data = self.validated_input()
        result = services.result_update(result=result, actor=request.user, data=data)
        return self.respond(result)

    def _scope(self, data: dict):
        """The sections a publish or freeze covers: the one named, or those of the term
        the caller may see."""
        if "section" in data:
            return data["section"], None
        return None, section_list(user=self.request.user).filter(term=data["term"])

    @extend_schema(request=api.PublishInputSerializer, responses=api.PublishOutcomeSerializer)
    @action(
        detail=False,
        methods=["post"],
        required_permission="grading.publish_result",
        filterset_class=None,
        pagination_class=None,
    )
    def publish(self, request):
        """Publish a section's results, or those of every section of a term (that has
        assessments), all or nothing: every graded student gets a published result from
        the scores (missing ones count 0) and their guardians are told. Results already
        published or frozen stay as they are."""
        data = self.validated_input(api.PublishInputSerializer, partial=False)
        section, sections = self._scope(data)
        if section is not None:
            outcomes = [services.section_publish(section=section, actor=request.user)]
        else:
            outcomes = services.term_publish(term=data["term"], actor=request.user, sections=sections)
        body = {
            "published": sum(o.published for o in outcomes),
            "already": sum(o.already for o in outcomes),
            "sections": [
                {
                    "section": o.section.pk,
                    "section_code": f"{o.section.course.code}-{o.section.code}",
                    "published": o.published,
                    "already": o.already,
                }
                for o in outcomes
            ],
        }
        return Response(api.PublishOutcomeSerializer(body).data)

    @extend_schema(request=api.FreezeInputSerializer, responses=api.FreezeOutcomeSerializer)
    @action(
        detail=False,
        methods=["post"],
        required_permission="grading.freeze_result",
        filterset_class=None,
        pagination_class=None,
    )
    def freeze(self, request):
        """Freeze the published results of a section or of a term's sections: final,
        never changed again. The term must be closed and no change request pending."""
        data = self.validated_input(api.FreezeInputSerializer, partial=False)
        section, sections = self._scope(data)
        if section is not None:
            frozen = services.section_freeze(section=section, actor=request.user)
        else:
            frozen = services.term_freeze(term=data["term"], actor=request.user, sections=list(sections))
        return Response(api.FreezeOutcomeSerializer({"frozen": frozen}).data)


# --- change requests ---------------------------------------------------------------------


class ResultChangeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Requests to change a published result's grade. POST requests one (409
    ``result_draft``: change the scores; ``result_frozen``; ``change_pending``; a grade
    not on the result's scale is a 400 on ``new_grade``). ``approve`` applies the new
    grade in the same transaction; ``reject`` (with a ``note``) leaves the result. The
    approver is never the requester (409 ``same_approver``); a request decided already
    is 409 ``change_resolved``."""

    serializer_class = api.ResultChangeSerializer
    create_serializer_class = api.ResultChangeCreateSerializer
    filterset_class = filters.ResultChangeFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.result_change_list(user=self.request.user).order_by("-requested_at", "pk")

    @extend_schema(responses={201: api.ResultChangeSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        change = services.result_change_request(
            result=data["result"], new_grade=data["new_grade"], reason=data["reason"], actor=request.user
        )
        return self.respond(change, status=201)

    @extend_schema(request=api.ApproveSerializer, responses=api.ResultChangeSerializer)
    @action(detail=True, methods=["post"], required_permission="grading.approve_resultchange", filterset_class=None)
    def approve(self, request, pk=None):
        """Approve and apply: the result takes the new grade, its points and pass."""
        change = self.get_object()
        data = self.validated_input(api.ApproveSerializer, partial=False)
        services.result_change_approve(change=change, actor=request.user, note=data.get("note", ""))
        return self.respond(change)

    @extend_schema(request=api.RejectSerializer, responses=api.ResultChangeSerializer)
    @action(detail=True, methods=["post"], required_permission="grading.approve_resultchange", filterset_class=None)
    def reject(self, request, pk=None):
        """Reject: the result stays as it is."""
        change = self.get_object()
        data = self.validated_input(api.RejectSerializer, partial=False)
        services.result_change_reject(change=change, actor=request.user, note=data["note"])
        return self.respond(change)


# --- skill ratings -----------------------------------------------------------------------


class SkillRatingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Skill ratings 0-3, one row per assessment of a skill area, kept for ever (a new
    assessment is a new rating, never an edit). POST rates a section's students in one
    request, all or nothing: a bad rating is a 400 on ``ratings[i].field`` and nothing
    is written (a rating above the target, or below the previous one without a
    ``correction_reason``, is refused). A parent reads their children's ratings."""

    serializer_class = api.SkillRatingSerializer
    create_serializer_class = api.SkillRatingsInputSerializer
    filterset_class = filters.SkillRatingFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.skill_rating_list(user=self.request.user).order_by(
            "-assessment_date", "-created_at", "skill_area__name", "pk"
        )

    @extend_schema(responses={201: api.SkillRatingSerializer(many=True)})
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        ratings = [services.RatingInput(**_rating_input(item)) for item in data["ratings"]]
        try:
            saved = services.skill_ratings_save(
                section=data["section"],
                ratings=ratings,
                actor=request.user,
                assessment_date=data.get("assessment_date"),
            )
        except services.GradebookError as error:
            raise ValidationError(_cell_errors(error, "ratings")) from None
        fresh = self.get_queryset().filter(pk__in=[rating.pk for rating in saved])
        return Response(api.SkillRatingSerializer(fresh, many=True).data, status=201)


def _rating_input(item: dict) -> dict:
    values = dict(item)
    return {
        "enrollment_id": values.pop("enrollment"),
        "skill_area_id": values.pop("skill_area"),
        **values,
    }


# --- a student's skill progress ----------------------------------------------------------


# families cannot import grading, and no app imports another's API views:
# academy.config.api composes this mixin with the students viewset of families.api.
class StudentProgressMixin:
    """Students the caller may see, and their skill progress at ``{id}/progress/``:
    every rating since ``?since=`` (newest first) and, per skill area, the series of
    ratings over time for a chart."""

    @extend_schema(
        parameters=[OpenApiParameter("since", type=str, description="First day counted (YYYY-MM-DD).")],
        responses={
            200: api.StudentProgressSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, "A malformed date."),
        },
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        permission_model=SkillRating,
        filterset_class=None,
        pagination_class=None,
    )
    def progress(self, request, pk=None):
        """The student's skill ratings since a date, with chart series per skill area."""
        student = self.get_object()
        since = None
        if request.query_params.get("since"):
            since = _date_or_none(request.query_params["since"])
            if since is None:
                raise ValidationError({"since": ["Enter a date as YYYY-MM-DD."]})
        enrollments = None
        if _is_staff(request.user):  # staff: the sections they may see; a parent: everything of their child
            enrollments = Enrollment.objects.filter(student=student, section__in=section_list(user=request.user))
        ratings = list(selectors.student_progress(student=student, since=since, enrollments=enrollments))
        series = [
            {"skill_area": name, "points": [{"date": day, "rating": rating} for day, rating in points]}
            for name, points in sorted(selectors.progress_series(ratings).items())
        ]
        body = {"student": student.pk, "since": since, "ratings": ratings, "series": series}
        return Response(api.StudentProgressSerializer(body).data)


def _date_or_none(value: str):
    try:
        return parse_date(value)
    except ValueError:
        return None
