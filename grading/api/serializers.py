"""Serializers of the grading API: ``ModelSerializer`` for output, input serializers
(shape only, ids scoped to the caller) for writes. The rules (weights at most 100, a
score within the maximum, a student enrolled in the section, who may approve) are the
services'."""

from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from academy.api import TEXT_MAX, InputSerializer, ModelSerializer, NamedChoiceField, ScopedPrimaryKeyField
from academy.selectors import section_list, term_list
from families.selectors import students_visible_to
from grading import selectors, services
from grading.models import Assessment, GradeBand, GradeScale, Result, ResultChange, Score, SkillRating

SHORT_TEXT = 300  # comments, reasons and notes the models hold in 300 characters
MAX_CELLS = 5000  # cells of one gradebook request (250 students by 20 assessments)
MAX_RATINGS = 2000
MAX_LIST_ITEMS = 20  # milestones, objectives, goals of one rating


def _visible_sections(user):
    return section_list(user=user)


def _visible_students(user):
    return students_visible_to(user)


def _visible_assessments(user):
    return selectors.assessment_list(user=user)


def _visible_results(user):
    return selectors.result_list(user=user)


def _section_code(section) -> str:
    return f"{section.course.code}-{section.code}"


def _choice(enum_name: str, choices, **kwargs) -> NamedChoiceField:
    return NamedChoiceField(choices=choices, enum_name=enum_name, **kwargs)


# --- grade scales ------------------------------------------------------------------------


class GradeBandSerializer(ModelSerializer):
    class Meta:
        model = GradeBand
        fields = ["id", "letter", "min_percentage", "grade_points", "passed"]
        read_only_fields = fields


class GradeScaleSerializer(ModelSerializer):
    bands = GradeBandSerializer(many=True, read_only=True, help_text="Highest band first.")

    class Meta:
        model = GradeScale
        fields = ["id", "name", "is_default", "program", "location", "bands", "created_at", "updated_at"]
        read_only_fields = fields


# --- assessments -------------------------------------------------------------------------


class AssessmentSerializer(ModelSerializer):
    section_code = serializers.SerializerMethodField()
    term = serializers.UUIDField(source="section.term_id", read_only=True)
    type = _choice("AssessmentType", Assessment.Type.choices, read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "section",
            "section_code",
            "term",
            "type",
            "title",
            "date",
            "weight",
            "max_score",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_section_code(self, assessment) -> str:
        return _section_code(assessment.section)


class AssessmentUpdateSerializer(InputSerializer):
    type = _choice("AssessmentType", Assessment.Type.choices)
    title = serializers.CharField(max_length=200)
    date = serializers.DateField(required=False, allow_null=True)
    weight = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        error_messages={"min_value": services.WEIGHT_MESSAGE, "max_value": services.WEIGHT_MESSAGE},
        help_text="Percent of the final grade; a section's weights total at most 100 (publishing needs exactly 100).",
    )
    max_score = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": services.MAX_SCORE_MESSAGE},
        required=False,
    )


class AssessmentCreateSerializer(AssessmentUpdateSerializer):
    section = ScopedPrimaryKeyField(scope=_visible_sections)


# --- scores ------------------------------------------------------------------------------

SCORE_HELP = "From 0 to the assessment's maximum, at most two decimal places; null when excused or missing."


class ScoreSerializer(ModelSerializer):
    section = serializers.UUIDField(source="assessment.section_id", read_only=True)
    assessment_title = serializers.CharField(source="assessment.title", read_only=True)
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    student_name = serializers.CharField(source="student.full_name", read_only=True)
    status = _choice("ScoreStatus", Score.Status.choices, read_only=True)

    class Meta:
        model = Score
        fields = [
            "id",
            "section",
            "assessment",
            "assessment_title",
            "student",
            "student_number",
            "student_name",
            "status",
            "score",
            "max_score",
            "comment",
            "eligibility_override_reason",
            "created_at",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = fields


class ScoreValuesSerializer(InputSerializer):
    status = _choice(
        "ScoreStatus",
        Score.Status.choices,
        required=False,
        help_text="scored (the default), excused (its weight is spread over the rest) or missing (0 once published).",
    )
    score = serializers.DecimalField(
        max_digits=7, decimal_places=2, required=False, allow_null=True, help_text=SCORE_HELP
    )
    comment = serializers.CharField(max_length=SHORT_TEXT, required=False, allow_blank=True)
    override_reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        help_text="A final exam score for a student below the attendance threshold: why it counts "
        "(needs grading.override_eligibility).",
    )


class ScoreCreateSerializer(ScoreValuesSerializer):
    assessment = ScopedPrimaryKeyField(scope=_visible_assessments)
    student = ScopedPrimaryKeyField(scope=_visible_students)


class GradebookCellSerializer(ScoreValuesSerializer):
    assessment = serializers.UUIDField(help_text="An assessment of the section.")
    student = serializers.UUIDField(help_text="A student enrolled in the section.")


class GradebookInputSerializer(InputSerializer):
    section = ScopedPrimaryKeyField(scope=_visible_sections)
    scores = GradebookCellSerializer(many=True, allow_empty=False, max_length=MAX_CELLS)


# --- results -----------------------------------------------------------------------------

GRADE_FIELDS = ("percentage", "letter_grade", "grade_points", "passed", "comments")


class ResultSerializer(ModelSerializer):
    """A student's result in a section. A parent whose child's results are withheld by a
    finance hold gets ``withheld: true`` with the reason, and no grade."""

    student_number = serializers.CharField(source="student.student_number", read_only=True)
    student_name = serializers.CharField(source="student.full_name", read_only=True)
    section_code = serializers.SerializerMethodField()
    course_title = serializers.CharField(source="section.course.title", read_only=True)
    term = serializers.UUIDField(source="section.term_id", read_only=True)
    term_name = serializers.CharField(source="section.term.name", read_only=True)
    academic_year_name = serializers.CharField(source="section.term.academic_year.name", read_only=True)
    state = _choice("ResultState", Result.State.choices, read_only=True)
    percentage = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True, allow_null=True)
    letter_grade = serializers.CharField(read_only=True, allow_null=True)
    grade_points = serializers.DecimalField(max_digits=4, decimal_places=2, read_only=True, allow_null=True)
    passed = serializers.BooleanField(read_only=True, allow_null=True)
    comments = serializers.CharField(read_only=True, allow_null=True, help_text="The instructor's comment.")
    withheld = serializers.SerializerMethodField(
        help_text="The family's view under a finance results hold: the grade fields are null."
    )
    withheld_reason = serializers.SerializerMethodField()

    class Meta:
        model = Result
        fields = [
            "id",
            "student",
            "student_number",
            "student_name",
            "section",
            "section_code",
            "course_title",
            "term",
            "term_name",
            "academic_year_name",
            "scale",
            *GRADE_FIELDS,
            "state",
            "published_at",
            "published_by",
            "frozen_at",
            "frozen_by",
            "last_change",
            "withheld",
            "withheld_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _hold(self, result):
        hold_of = self.context.get("results_hold")
        return hold_of(result.student) if hold_of is not None else None

    def get_section_code(self, result) -> str:
        return _section_code(result.section)

    def get_withheld(self, result) -> bool:
        return self._hold(result) is not None

    def get_withheld_reason(self, result) -> str | None:
        hold = self._hold(result)
        return hold.message if hold is not None else None

    def to_representation(self, result):
        data = super().to_representation(result)
        if data["withheld"]:
            for name in GRADE_FIELDS:
                data[name] = None
            data["scale"] = None
            data["last_change"] = None
        return data


class GradebookSavedSerializer(serializers.Serializer):
    saved = serializers.IntegerField(help_text="Cells written (created or changed); unchanged cells are not counted.")
    scores = ScoreSerializer(many=True, help_text="The scores written.")
    results = ResultSerializer(many=True, help_text="The section's results after the save (drafts follow the scores).")


class ResultUpdateSerializer(InputSerializer):
    """Only the comment of a draft changes directly; any other field sent is a 400 on it
    (rather than ignored), in the service's words."""

    comments = serializers.CharField(max_length=TEXT_MAX, allow_blank=True, help_text="The instructor's comment.")

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, services.UNCHANGEABLE_MESSAGE))
        return attrs


class PublishInputSerializer(InputSerializer):
    section = ScopedPrimaryKeyField(scope=_visible_sections, required=False, help_text="Publish one section.")
    term = ScopedPrimaryKeyField(
        scope=lambda user: term_list(),
        required=False,
        help_text="Publish every section of the term the caller may see that has assessments (all or nothing).",
    )

    def validate(self, attrs):
        if ("section" in attrs) == ("term" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give a section or a term (one of them)."]})
        return attrs


class FreezeInputSerializer(PublishInputSerializer):
    section = ScopedPrimaryKeyField(scope=_visible_sections, required=False, help_text="Freeze one section.")
    term = ScopedPrimaryKeyField(
        scope=lambda user: term_list(),
        required=False,
        help_text="Freeze the published results of every section of the term the caller may see.",
    )


class SectionPublishedSerializer(serializers.Serializer):
    section = serializers.UUIDField()
    section_code = serializers.CharField()
    published = serializers.IntegerField(help_text="Results published now.")
    already = serializers.IntegerField(help_text="Results that were already published or frozen.")


class PublishOutcomeSerializer(serializers.Serializer):
    published = serializers.IntegerField()
    already = serializers.IntegerField()
    sections = SectionPublishedSerializer(many=True)


class FreezeOutcomeSerializer(serializers.Serializer):
    frozen = serializers.IntegerField(help_text="Published results frozen now (drafts stay drafts).")


# --- change requests ---------------------------------------------------------------------


class ResultChangeSerializer(ModelSerializer):
    student = serializers.UUIDField(source="result.student_id", read_only=True)
    student_name = serializers.CharField(source="result.student.full_name", read_only=True)
    section = serializers.UUIDField(source="result.section_id", read_only=True)
    section_code = serializers.SerializerMethodField()
    status = _choice("ResultChangeStatus", ResultChange.Status.choices, read_only=True)
    requested_by_name = serializers.CharField(source="requested_by.get_username", read_only=True)
    approved_by_name = serializers.SerializerMethodField(help_text="Who approved or rejected it.")

    class Meta:
        model = ResultChange
        fields = [
            "id",
            "result",
            "student",
            "student_name",
            "section",
            "section_code",
            "old_grade",
            "new_grade",
            "reason",
            "status",
            "requested_by",
            "requested_by_name",
            "requested_at",
            "approved_by",
            "approved_by_name",
            "resolved_at",
            "resolution_note",
        ]
        read_only_fields = fields

    def get_section_code(self, change) -> str:
        return _section_code(change.result.section)

    def get_approved_by_name(self, change) -> str | None:
        return change.approved_by.get_username() if change.approved_by_id else None


class ResultChangeCreateSerializer(InputSerializer):
    result = ScopedPrimaryKeyField(scope=_visible_results, help_text="A published result.")
    new_grade = serializers.CharField(max_length=10, help_text="A letter of the result's scale.")
    reason = serializers.CharField(max_length=TEXT_MAX)


class ApproveSerializer(InputSerializer):
    note = serializers.CharField(max_length=SHORT_TEXT, required=False, allow_blank=True)


class RejectSerializer(InputSerializer):
    note = serializers.CharField(max_length=SHORT_TEXT, help_text="Why the request is rejected.")


# --- skill ratings -----------------------------------------------------------------------


def _text_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=SHORT_TEXT),
        max_length=MAX_LIST_ITEMS,
        required=False,
        help_text=help_text,
    )


class SkillRatingSerializer(ModelSerializer):
    section = serializers.UUIDField(source="enrollment.section_id", read_only=True)
    section_code = serializers.SerializerMethodField()
    skill_area_name = serializers.CharField(source="skill_area.name", read_only=True)
    level_name = serializers.CharField(source="level.name", read_only=True)
    module_name = serializers.CharField(source="module.name", read_only=True, allow_null=True, default=None)
    achievement_milestones = serializers.ListField(child=serializers.CharField(), read_only=True)
    learning_objectives = serializers.ListField(child=serializers.CharField(), read_only=True)
    next_goals = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = SkillRating
        fields = [
            "id",
            "student",
            "enrollment",
            "section",
            "section_code",
            "skill_area",
            "skill_area_name",
            "level",
            "level_name",
            "module",
            "module_name",
            "previous_rating",
            "current_rating",
            "target_rating",
            "correction_reason",
            "assessment_date",
            "instructor",
            "instructor_notes",
            "student_notes",
            "parent_notes",
            "achievement_milestones",
            "learning_objectives",
            "next_goals",
            "created_at",
        ]
        read_only_fields = fields

    def get_section_code(self, rating) -> str:
        return _section_code(rating.enrollment.section)

    def to_representation(self, rating):
        data = super().to_representation(rating)
        request = self.context.get("request")
        if request is None or not request.user.is_academy_staff:
            data["instructor_notes"] = ""  # the staff's own notes; families read parent_notes
        return data


class RatingItemSerializer(InputSerializer):
    enrollment = serializers.UUIDField(help_text="An active enrollment of the section.")
    skill_area = serializers.UUIDField(help_text="A skill area of the enrollment's level.")
    rating = serializers.IntegerField(min_value=0, max_value=3)
    target = serializers.IntegerField(
        min_value=0, max_value=3, required=False, allow_null=True, help_text="Default: the last target, else 3."
    )
    correction_reason = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, help_text="Required below the previous rating."
    )
    instructor_notes = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    student_notes = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    parent_notes = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    achievement_milestones = _text_list("Milestones reached (at most 20).")
    learning_objectives = _text_list("What the student works on (at most 20).")
    next_goals = _text_list("The next goals (at most 20).")


class SkillRatingsInputSerializer(InputSerializer):
    section = ScopedPrimaryKeyField(scope=_visible_sections)
    assessment_date = serializers.DateField(required=False, help_text="Default: today; never in the future.")
    ratings = RatingItemSerializer(many=True, allow_empty=False, max_length=MAX_RATINGS)

    def validate_assessment_date(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("An assessment date cannot be in the future.")
        return value


class ProgressPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    rating = serializers.IntegerField()


class ProgressSeriesSerializer(serializers.Serializer):
    skill_area = serializers.CharField(help_text="The skill area's name.")
    points = ProgressPointSerializer(many=True, help_text="Oldest first; the last rating of each day.")


class StudentProgressSerializer(serializers.Serializer):
    student = serializers.UUIDField()
    since = serializers.DateField(allow_null=True)
    ratings = SkillRatingSerializer(many=True, help_text="Newest first.")
    series = ProgressSeriesSerializer(many=True, help_text="Chart data per skill area.")
