"""The notification inbox's FilterSet, shared by the API (and any inbox page)."""

import django_filters

from academy.filters import StableOrderingFilter
from notifications.models import Notification


class NotificationFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Notification.Status.choices)
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text="`true`: only unread; `false`: only read."
    )
    type = django_filters.ChoiceFilter(choices=Notification.Type.choices)
    ordering = StableOrderingFilter(fields=("created_at", "priority", "read_at"))

    class Meta:
        model = Notification
        fields = ["status", "unread", "type"]
