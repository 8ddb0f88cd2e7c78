"""The student list's FilterSet, shared by the staff list and the API."""

import django_filters

from academy.filters import StableOrderingFilter, visible_locations
from academy.selectors import academic_year_list, grade_level_list
from students.models import Student
from students.selectors import student_search


class StudentFilterSet(django_filters.FilterSet):
    location = django_filters.ModelChoiceFilter(queryset=visible_locations)
    status = django_filters.ChoiceFilter(choices=Student.Status.choices, empty_label="All")
    grade_level = django_filters.ModelChoiceFilter(queryset=lambda request: grade_level_list())
    academic_year = django_filters.ModelChoiceFilter(queryset=lambda request: academic_year_list())
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, help_text="Words in number, names, email or phone."
    )
    ordering = StableOrderingFilter(
        fields=("student_number", "last_name", "first_name", "enrollment_date", "created_at")
    )

    class Meta:
        model = Student
        fields = ["location", "status", "grade_level", "academic_year"]

    def filter_search(self, queryset, name, value: str):
        return student_search(queryset, value)
