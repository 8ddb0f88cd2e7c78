"""The FilterSet of the location transfer list, shared by the staff page and the API. A
``student`` must be one the caller may see; locations are any location (a transfer
names two, and the caller may see it through either)."""

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from academy.filters import StableOrderingFilter
from academy.models import Location
from families.selectors import students_visible_to
from students.models import LocationTransfer


def _visible_students(request):
    return students_visible_to(getattr(request, "user", None))


def _locations(request):
    return Location.objects.all()


@extend_schema_field(OpenApiTypes.UUID)
class FromOrToLocationFilter(django_filters.ModelChoiceFilter):
    """A location id: the transfers from or to it."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        return qs.filter(Q(from_location=value) | Q(to_location=value))


class LocationTransferFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=LocationTransfer.Status.choices, distinct=False)
    transfer_type = django_filters.MultipleChoiceFilter(choices=LocationTransfer.Type.choices, distinct=False)
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    from_location = django_filters.ModelChoiceFilter(queryset=_locations)
    to_location = django_filters.ModelChoiceFilter(queryset=_locations)
    location = FromOrToLocationFilter(queryset=_locations, help_text="Transfers from or to this location.")
    effective_date = django_filters.DateFromToRangeFilter(
        help_text="`effective_date_after` and/or `effective_date_before` (inclusive)."
    )
    ordering = StableOrderingFilter(fields=("requested_at", "effective_date", "transfer_number", "status"))

    class Meta:
        model = LocationTransfer
        fields = ["status", "transfer_type", "student", "from_location", "to_location", "location", "effective_date"]
