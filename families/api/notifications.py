"""Staff view of what was sent to a family: ``guardians/{id}/notifications/``.

``notifications`` is below ``families`` and knows no guardians, so this view lives here:
the guardian is looked up through ``families.selectors.guardians_visible_to`` (out of
scope is 404), then its notifications are found by the recipient key ``notify()`` was
given (``families.selectors.guardian_recipient_key``). Its rows are notifications'
``SentNotificationSerializer``, which ``academy.config.api`` sets (no app imports
another's API modules).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import MethodNotAllowed

from academy.api import AcademyAutoSchema, FilterBackend
from families.models import Guardian
from families.selectors import guardian_recipient_key, guardians_visible_to
from notifications.filters import NotificationFilterSet
from notifications.selectors import notification_list_for_keys


@extend_schema(tags=["guardians"])
class GuardianNotificationList(generics.ListAPIView):
    """Every notification sent to the guardian, newest first, with its deliveries
    (channel, address, status, error). For staff who may view guardians."""

    schema = AcademyAutoSchema()
    serializer_class = None  # notifications' SentNotificationSerializer, set by academy.config.api
    filter_backends = [FilterBackend]
    filterset_class = NotificationFilterSet
    permission_model = Guardian  # RolePermission: families.view_guardian; parents may not

    def check_permissions(self, request):
        if request.method.lower() not in ("get", "head", "options"):
            raise MethodNotAllowed(request.method)  # 405 for everybody, before roles (docs/api.md)
        super().check_permissions(request)

    def get_guardian(self) -> Guardian:
        if not hasattr(self, "_guardian"):
            self._guardian = get_object_or_404(guardians_visible_to(self.request.user), pk=self.kwargs["pk"])
        return self._guardian

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no guardian
            return notification_list_for_keys(keys=[])
        return notification_list_for_keys(keys=[guardian_recipient_key(self.get_guardian())])
