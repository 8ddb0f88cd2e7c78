"""FilterSets of the grading API lists. A ``section``, ``student``, ``assessment``,
``enrollment`` or ``result`` parameter must name one the caller may see (a selector);
anything else is a 400 on that parameter, never a silently wider list."""

import django_filters

from academy.filters import StableOrderingFilter
from academy.models import Section
from academy.selectors import section_list, term_list
from enrollment.models import Enrollment
from families.selectors import students_visible_to
from grading import selectors
from grading.models import Assessment, Result, ResultChange, Score, SkillRating


def _user(request):
    return getattr(request, "user", None)


def _is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_academy_staff)


def _visible_students(request):
    return students_visible_to(_user(request))


def _visible_sections(request):
    """Staff: the sections they may see; a parent: their children's sections."""
    user = _user(request)
    if _is_staff(user):
        return section_list(user=user)
    return Section.objects.filter(
        pk__in=Enrollment.objects.filter(student__in=students_visible_to(user)).values("section_id")
    )


def _visible_enrollments(request):
    user = _user(request)
    enrollments = Enrollment.objects.filter(student__in=students_visible_to(user))
    if _is_staff(user):
        enrollments = enrollments.filter(section__in=section_list(user=user))
    return enrollments


def _terms(request):
    return term_list()


def _visible_assessments(request):
    return selectors.assessment_list(user=_user(request))


def _visible_results(request):
    return selectors.result_list(user=_user(request))


class AssessmentFilterSet(django_filters.FilterSet):
    section = django_filters.ModelChoiceFilter(queryset=_visible_sections)
    term = django_filters.ModelChoiceFilter(field_name="section__term", queryset=_terms)
    type = django_filters.MultipleChoiceFilter(choices=Assessment.Type.choices, distinct=False)
    ordering = StableOrderingFilter(fields=("date", "title", "weight", "created_at"))

    class Meta:
        model = Assessment
        fields = ["section", "term", "type"]


class ScoreFilterSet(django_filters.FilterSet):
    section = django_filters.ModelChoiceFilter(field_name="assessment__section", queryset=_visible_sections)
    assessment = django_filters.ModelChoiceFilter(queryset=_visible_assessments)
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    status = django_filters.MultipleChoiceFilter(choices=Score.Status.choices, distinct=False)
    ordering = StableOrderingFilter(fields=("created_at", "updated_at", "score"))

    class Meta:
        model = Score
        fields = ["section", "assessment", "student", "status"]


class ResultFilterSet(django_filters.FilterSet):
    section = django_filters.ModelChoiceFilter(queryset=_visible_sections)
    term = django_filters.ModelChoiceFilter(field_name="section__term", queryset=_terms)
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    state = django_filters.MultipleChoiceFilter(choices=Result.State.choices, distinct=False)
    ordering = StableOrderingFilter(fields=("percentage", "letter_grade", "published_at", "created_at"))

    class Meta:
        model = Result
        fields = ["section", "term", "student", "state"]


class ResultChangeFilterSet(django_filters.FilterSet):
    result = django_filters.ModelChoiceFilter(queryset=_visible_results)
    section = django_filters.ModelChoiceFilter(field_name="result__section", queryset=_visible_sections)
    student = django_filters.ModelChoiceFilter(field_name="result__student", queryset=_visible_students)
    status = django_filters.MultipleChoiceFilter(choices=ResultChange.Status.choices, distinct=False)
    ordering = StableOrderingFilter(fields=("requested_at", "resolved_at"))

    class Meta:
        model = ResultChange
        fields = ["result", "section", "student", "status"]


class SkillRatingFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    enrollment = django_filters.ModelChoiceFilter(queryset=_visible_enrollments)
    section = django_filters.ModelChoiceFilter(field_name="enrollment__section", queryset=_visible_sections)
    skill_area = django_filters.UUIDFilter(field_name="skill_area_id")
    since = django_filters.DateFilter(
        field_name="assessment_date", lookup_expr="gte", help_text="Ratings assessed on or after this day."
    )
    until = django_filters.DateFilter(
        field_name="assessment_date", lookup_expr="lte", help_text="Ratings assessed on or before this day."
    )
    ordering = StableOrderingFilter(fields=("assessment_date", "created_at", "current_rating"))

    class Meta:
        model = SkillRating
        fields = ["student", "enrollment", "section", "skill_area", "since", "until"]
