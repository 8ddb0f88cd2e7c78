"""FilterSets of guardians and guardian links, shared by the staff lists and the API.

A ``student`` or ``guardian`` parameter must name a record the caller may see
(``families.selectors``); anything else is a 400 on that parameter.
"""

import django_filters

from academy.filters import StableOrderingFilter
from families.models import Guardian, StudentGuardian
from families.selectors import guardian_search, guardians_visible_to, students_visible_to


def _user(request):
    return getattr(request, "user", None)


class GuardianFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, help_text="Words in number, names, email or phone."
    )
    ordering = StableOrderingFilter(fields=("guardian_number", "last_name", "first_name", "created_at"))

    class Meta:
        model = Guardian
        fields = ["account_status", "preferred_communication"]

    def filter_search(self, queryset, name, value: str):
        return guardian_search(queryset, value)


class StudentGuardianFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=lambda request: students_visible_to(_user(request)))
    guardian = django_filters.ModelChoiceFilter(queryset=lambda request: guardians_visible_to(_user(request)))
    ordering = StableOrderingFilter(fields=("relationship_type", "created_at"))

    class Meta:
        model = StudentGuardian
        fields = [
            "student",
            "guardian",
            "relationship_type",
            "can_pick_up",
            "can_authorize_medical",
            "receives_communications",
            "is_financially_responsible",
        ]
