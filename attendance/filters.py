"""FilterSets of the attendance lists, shared by the staff pages and the API. A
``student``, ``section`` or ``class_session`` parameter must name one the caller may
see (a selector); anything else is a 400 on that parameter."""

from datetime import date, timedelta

import django_filters
from django.utils import timezone

from academy.filters import StableOrderingFilter, visible_locations, visible_sections
from academy.selectors import class_session_list, program_list
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
    status = django_filters.MultipleChoiceFilter(choices=AttendanceRecord.Status.choices, distinct=False)
    date_from = django_filters.DateFilter(field_name="session_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="session_date", lookup_expr="lte")
    is_makeup = django_filters.BooleanFilter()
    ordering = StableOrderingFilter(fields=("session_date", "created_at"))

    class Meta:
        model = AttendanceRecord
        fields = ["student", "section", "class_session", "status", "is_makeup"]


class MakeupCreditFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    status = django_filters.MultipleChoiceFilter(choices=MakeupCredit.Status.choices, distinct=False)
    ordering = StableOrderingFilter(fields=("expires_on", "created_at"))

    class Meta:
        model = MakeupCredit
        fields = ["student", "status"]


def _programs(request):
    return program_list()


class AttendanceReportFilterSet(django_filters.FilterSet):
    """The attendance report's filters: a date range (by default the last twelve months
    and this one) and optionally one location, programme or section the caller may see.
    A bad value is an error on that filter, never a silently wider report."""

    date_from = django_filters.DateFilter(field_name="session_date", lookup_expr="gte", label="From")
    date_to = django_filters.DateFilter(field_name="session_date", lookup_expr="lte", label="To")
    location = django_filters.ModelChoiceFilter(
        field_name="class_session__section__location", queryset=visible_locations, label="Location"
    )
    program = django_filters.ModelChoiceFilter(
        field_name="class_session__section__course__program", queryset=_programs, label="Programme"
    )
    section = django_filters.ModelChoiceFilter(
        field_name="class_session__section", queryset=visible_sections, label="Section"
    )

    class Meta:
        model = AttendanceRecord
        fields = ["date_from", "date_to", "location", "program", "section"]

    @staticmethod
    def default_range(today: date | None = None) -> dict[str, date]:
        today = today or timezone.localdate()
        return {"date_from": today.replace(day=1) - timedelta(days=365), "date_to": today}

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        for name, value in self.default_range().items():
            if not data.get(name):
                data[name] = value.isoformat()
        super().__init__(data, *args, **kwargs)
