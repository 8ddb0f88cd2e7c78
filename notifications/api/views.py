"""API views of notifications: the caller's own inbox (docs/api.md ``notifications/``).

Every queryset is ``notifications.selectors.notification_list_for_user`` with the
caller, so another user's notification is a 404; marking read goes through
``notifications.services``. What staff see of a family's notifications lives in
``families.api.notifications`` (notifications knows no guardians).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from academy.api import ApiViewSet
from academy.common.permissions import AuthenticatedOnly
from notifications import selectors, services
from notifications.api import serializers as api
from notifications.filters import NotificationFilterSet


@extend_schema(tags=["notifications"])
class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """The caller's own notifications, newest first. Filter with ``status``, ``type``
    and ``unread``; ``read`` marks one read, ``read-all`` every unread one."""

    serializer_class = api.NotificationSerializer
    filterset_class = NotificationFilterSet
    permission_classes = [AuthenticatedOnly]  # anyone signed in; the selector limits it to their own

    def get_queryset(self):
        return selectors.notification_list_for_user(user=self.request.user)

    @extend_schema(request=None, responses=api.NotificationSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def read(self, request, pk=None):
        """Mark one of the caller's notifications read (marking it again changes nothing)."""
        notification = services.notification_mark_read(notification=self.get_object(), user=request.user)
        return self.respond(notification)

    @extend_schema(request=None, responses=api.ReadAllSerializer)
    @action(detail=False, methods=["post"], url_path="read-all", filterset_class=None)
    def read_all(self, request):
        """Mark every unread notification of the caller read."""
        return Response({"updated": services.notification_mark_all_read(user=request.user)})

    @extend_schema(responses=api.UnreadCountSerializer, filters=False)
    @action(detail=False, methods=["get"], url_path="unread-count", filterset_class=None)
    def unread_count(self, request):
        """How many of the caller's notifications are unread (for a badge)."""
        return Response({"unread": selectors.notification_unread_count(user=request.user)})
