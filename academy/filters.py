"""FilterSets of the academy's structure, shared by the staff lists and the API, and the
ordering filter every list uses.

References to other records are validated against the caller's scope (a selector), so
an unknown id or one outside the scope is a 400 on that parameter.
"""

import django_filters
from django.db.models import Q
from django_filters.constants import EMPTY_VALUES

from academy.models import AcademicYear, ClassSession, Course, Facility, GradeLevel, Location, Program, Section, Term
from academy.selectors import (
    academic_year_list,
    course_list,
    location_list,
    program_list,
    section_list,
    term_list,
)


def _user(request):
    return getattr(request, "user", None)


def visible_locations(request):
    return location_list(user=_user(request))


def visible_sections(request):
    return section_list(user=_user(request))


class StableOrderingFilter(django_filters.OrderingFilter):
    """``?ordering=a,-b`` from a fixed list of fields, with the primary key as the last
    tie-breaker so pages never overlap or skip rows."""

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        return qs.order_by(*[self.get_ordering_value(param) for param in value], "pk")


class SearchMixin:
    """``?search=`` over ``search_fields`` (every word must match one of them)."""

    search_fields: tuple[str, ...] = ()

    def filter_search(self, queryset, name, value: str):
        for word in value.split()[:8]:
            condition = Q()
            for field in self.search_fields:
                condition |= Q(**{f"{field}__icontains": word})
            queryset = queryset.filter(condition)
        return queryset


class LocationFilterSet(SearchMixin, django_filters.FilterSet):
    search_fields = ("code", "name")
    search = django_filters.CharFilter(method="filter_search", max_length=100, help_text="Words in code or name.")
    ordering = StableOrderingFilter(fields=("code", "name", "created_at"))

    class Meta:
        model = Location
        fields = ["is_active", "code"]


class FacilityFilterSet(django_filters.FilterSet):
    location = django_filters.ModelChoiceFilter(queryset=visible_locations)
    ordering = StableOrderingFilter(fields=("code", "name"))

    class Meta:
        model = Facility
        fields = ["location", "kind", "is_active"]


class AcademicYearFilterSet(django_filters.FilterSet):
    ordering = StableOrderingFilter(fields=("name", "start_date"))

    class Meta:
        model = AcademicYear
        fields = ["is_current", "name"]


class TermFilterSet(django_filters.FilterSet):
    academic_year = django_filters.ModelChoiceFilter(queryset=lambda request: academic_year_list())
    ordering = StableOrderingFilter(fields=("start_date", "name"))

    class Meta:
        model = Term
        fields = ["academic_year", "status"]


class GradeLevelFilterSet(django_filters.FilterSet):
    ordering = StableOrderingFilter(fields=("order", "name"))

    class Meta:
        model = GradeLevel
        fields = ["name"]


class ProgramFilterSet(SearchMixin, django_filters.FilterSet):
    search_fields = ("code", "name")
    search = django_filters.CharFilter(method="filter_search", max_length=100, help_text="Words in code or name.")
    ordering = StableOrderingFilter(fields=("code", "name"))

    class Meta:
        model = Program
        fields = ["is_active", "code"]


class CourseFilterSet(SearchMixin, django_filters.FilterSet):
    search_fields = ("code", "title")
    search = django_filters.CharFilter(method="filter_search", max_length=100, help_text="Words in code or title.")
    program = django_filters.ModelChoiceFilter(queryset=lambda request: program_list())
    ordering = StableOrderingFilter(fields=("code", "title", "credits"))

    class Meta:
        model = Course
        fields = ["program", "grade_level", "is_active", "code"]


class SectionFilterSet(django_filters.FilterSet):
    course = django_filters.ModelChoiceFilter(queryset=lambda request: course_list())
    term = django_filters.ModelChoiceFilter(queryset=lambda request: term_list())
    location = django_filters.ModelChoiceFilter(queryset=visible_locations)
    academic_year = django_filters.ModelChoiceFilter(
        field_name="term__academic_year", queryset=lambda request: academic_year_list()
    )
    ordering = StableOrderingFilter(
        fields=("code", ("course__code", "course"), ("term__start_date", "term"), "capacity")
    )

    class Meta:
        model = Section
        fields = ["course", "term", "location", "instructor", "code"]


class ClassSessionFilterSet(django_filters.FilterSet):
    section = django_filters.ModelChoiceFilter(queryset=visible_sections)
    location = django_filters.ModelChoiceFilter(field_name="section__location", queryset=visible_locations)
    date = django_filters.DateFromToRangeFilter(help_text="`date_after` and/or `date_before` (inclusive).")
    ordering = StableOrderingFilter(fields=("date", "start_time"))

    class Meta:
        model = ClassSession
        fields = ["section", "location", "date", "is_cancelled"]
