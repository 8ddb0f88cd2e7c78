"""FilterSets of the enrollment lists, shared by the staff lists and the API. A
``student`` or ``section`` parameter must name one the caller may see (a selector);
anything else is a 400 on that parameter."""

import django_filters

from academy.filters import StableOrderingFilter, visible_sections
from academy.selectors import term_list
from enrollment.models import Enrollment, WaitlistEntry
from families.selectors import students_visible_to


def _visible_students(request):
    return students_visible_to(getattr(request, "user", None))


class EnrollmentFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    section = django_filters.ModelChoiceFilter(queryset=visible_sections)
    term = django_filters.ModelChoiceFilter(queryset=lambda request: term_list())
    status = django_filters.MultipleChoiceFilter(choices=Enrollment.Status.choices, distinct=False)
    ordering = StableOrderingFilter(fields=("enrollment_date", "start_date", "created_at"))

    class Meta:
        model = Enrollment
        fields = ["student", "section", "term", "status"]


class WaitlistEntryFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    section = django_filters.ModelChoiceFilter(queryset=visible_sections)
    status = django_filters.MultipleChoiceFilter(choices=WaitlistEntry.Status.choices, distinct=False)
    ordering = StableOrderingFilter(fields=("position", "created_at"))

    class Meta:
        model = WaitlistEntry
        fields = ["student", "section", "status"]
