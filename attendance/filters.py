"""FilterSets of the attendance lists, shared by the staff pages and the API. A
``student``, ``section`` or ``class_session`` parameter must name one the caller may
see (a selector); anything else is a 400 on that parameter."""

import django_filters

from academy.filters import StableOrderingFilter, visible_sections
from academy.selectors import class_session_list
from attendance.models import AttendanceRecord, MakeupCredit
from families.selectors import students_visible_to


def _visible_students(request):
    return students_visible_to(getattr(request, "user", None))


def _visible_sessions(request):
    return class_session_list(user=getattr(request, "user", None))


class AttendanceRecordFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    section = django_filters.ModelChoiceFilter(field_name="class_session__section", queryset=visible_sections)
    class_session = django_filters.ModelChoiceFilter(queryset=_visible_sessions)
    status = django_filters.MultipleChoiceFilter(choices=AttendanceRecord.Status.choices)
    date_from = django_filters.DateFilter(field_name="session_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="session_date", lookup_expr="lte")
    is_makeup = django_filters.BooleanFilter()
    ordering = StableOrderingFilter(fields=("session_date", "created_at"))

    class Meta:
        model = AttendanceRecord
        fields = ["student", "section", "class_session", "status", "is_makeup"]


class MakeupCreditFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    status = django_filters.MultipleChoiceFilter(choices=MakeupCredit.Status.choices)
    ordering = StableOrderingFilter(fields=("expires_on", "created_at"))

    class Meta:
        model = MakeupCredit
        fields = ["student", "status"]
