"""API views of the enrollment app (docs/api.md ``enrollments/`` and the waitlist).

Querysets come from ``enrollment.selectors`` with the caller (a parent sees their
children's enrollments and places in line, read-only; location-limited staff their
locations'); writes validate an input serializer and call one ``enrollment.services``
function, whose ``Conflict`` becomes a 409 ``{detail, code}``.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from academy.api import ApiViewSet
from enrollment import selectors, services
from enrollment.api import serializers as api
from enrollment.filters import EnrollmentFilterSet, WaitlistEntryFilterSet
from enrollment.models import WaitlistEntry


class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Students in sections. POST enrolls (and bills the enrollment fee): 201 with the
    enrollment, or 202 ``{"status": "waitlisted", ...}`` when the section is full and
    ``waitlist`` is true. 400 on ``start_date`` when it lies outside the section's term.
    409 codes: ``section_full``, ``term_closed`` (the term is closed or has ended),
    ``already_enrolled``, ``already_waitlisted``, ``finance_hold``,
    ``student_not_active``. PATCH changes notes and the place in the curriculum; status
    changes are the actions ``pause``, ``resume``, ``withdraw`` and ``transfer``."""

    serializer_class = api.EnrollmentSerializer
    create_serializer_class = api.EnrollmentCreateSerializer
    update_serializer_class = api.EnrollmentUpdateSerializer
    filterset_class = EnrollmentFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.enrollment_list(user=self.request.user)

    @extend_schema(
        responses={
            201: api.EnrollmentSerializer,
            202: OpenApiResponse(api.WaitlistedSerializer, description="The section is full: waitlisted."),
        }
    )
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        result = services.enroll(student=data.pop("student"), section=data.pop("section"), actor=request.user, **data)
        if isinstance(result, WaitlistEntry):
            entry = selectors.waitlist_list(user=request.user).get(pk=result.pk)
            body = {"status": "waitlisted", "waitlist_entry": api.WaitlistEntrySerializer(entry).data}
            return Response(body, status=202)
        return self.respond(result, status=201)

    def partial_update(self, request, *args, **kwargs):
        enrollment = self.get_object()
        data = self.validated_input()
        services.enrollment_update(enrollment=enrollment, actor=request.user, data=data)
        return self.respond(enrollment)

    @extend_schema(request=api.EnrollmentReasonSerializer, responses=api.EnrollmentSerializer)
    @action(detail=True, methods=["post"], required_permission="enrollment.change_enrollment", filterset_class=None)
    def pause(self, request, pk=None):
        """Pause: the student keeps the seat and the unused sessions. 409
        ``invalid_status_change`` unless enrolled."""
        enrollment = self.get_object()
        data = self.validated_input(api.EnrollmentReasonSerializer, partial=False)
        services.enrollment_pause(enrollment=enrollment, actor=request.user, reason=data.get("reason", ""))
        return self.respond(enrollment)

    @extend_schema(request=None, responses=api.EnrollmentSerializer)
    @action(detail=True, methods=["post"], required_permission="enrollment.change_enrollment", filterset_class=None)
    def resume(self, request, pk=None):
        """Resume a paused enrollment. 409 ``invalid_status_change`` unless paused."""
        enrollment = self.get_object()
        services.enrollment_resume(enrollment=enrollment, actor=request.user)
        return self.respond(enrollment)

    @extend_schema(request=api.EnrollmentWithdrawSerializer, responses=api.EnrollmentSerializer)
    @action(detail=True, methods=["post"], required_permission="enrollment.change_enrollment", filterset_class=None)
    def withdraw(self, request, pk=None):
        """Withdraw: the seat frees and is offered to the first in line. The invoice
        already issued stays; nothing more is billed for this enrollment."""
        enrollment = self.get_object()
        data = self.validated_input(api.EnrollmentWithdrawSerializer, partial=False)
        services.enrollment_withdraw(
            enrollment=enrollment, actor=request.user, reason=data.get("reason", ""), end_date=data.get("end_date")
        )
        return self.respond(enrollment)

    @extend_schema(request=api.EnrollmentTransferSerializer, responses={201: api.EnrollmentSerializer})
    @action(detail=True, methods=["post"], required_permission="enrollment.add_enrollment", filterset_class=None)
    def transfer(self, request, pk=None):
        """Move the student to another section with the unused sessions (all or
        nothing). 201 with the new enrollment; 409 ``section_full``, ``term_closed``,
        ``already_enrolled``, ``invalid_status_change``."""
        enrollment = self.get_object()
        data = self.validated_input(api.EnrollmentTransferSerializer, partial=False)
        moved = services.enrollment_transfer(
            enrollment=enrollment, to_section=data["section"], actor=request.user, reason=data.get("reason", "")
        )
        return self.respond(moved, status=201)


class WaitlistViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """The lines for full sections, first in line first. Staff ``accept`` an offered seat
    for the family (201 with the enrollment; 409 ``offer_expired``, ``no_offer``,
    ``term_closed``) or ``remove`` an entry (its offered seat goes to the next in line)
    or ``move`` it to another place in the line."""

    serializer_class = api.WaitlistEntrySerializer
    filterset_class = WaitlistEntryFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.waitlist_list(user=self.request.user).order_by("section_id", "position")

    @extend_schema(request=None, responses={201: api.EnrollmentSerializer})
    @action(detail=True, methods=["post"], required_permission="enrollment.add_enrollment", filterset_class=None)
    def accept(self, request, pk=None):
        """Accept the offered seat: the student is enrolled and billed."""
        entry = self.get_object()
        enrollment = services.waitlist_accept(entry=entry, actor=request.user)
        enrollment = selectors.enrollment_list(user=request.user).get(pk=enrollment.pk)
        return Response(api.EnrollmentSerializer(enrollment).data, status=201)

    @extend_schema(request=api.EnrollmentReasonSerializer, responses=api.WaitlistEntrySerializer)
    @action(detail=True, methods=["post"], required_permission="enrollment.change_waitlistentry", filterset_class=None)
    def remove(self, request, pk=None):
        """Take the entry out of the line."""
        entry = self.get_object()
        data = self.validated_input(api.EnrollmentReasonSerializer, partial=False)
        services.waitlist_remove(entry=entry, actor=request.user, reason=data.get("reason", ""))
        return self.respond(entry)

    @extend_schema(request=api.WaitlistMoveSerializer, responses=api.WaitlistEntrySerializer)
    @action(detail=True, methods=["post"], required_permission="enrollment.change_waitlistentry", filterset_class=None)
    def move(self, request, pk=None):
        """Move the entry to another place in its section's line (the line is renumbered
        1..n). 409 ``offer_closed`` when the entry has left the line."""
        entry = self.get_object()
        data = self.validated_input(api.WaitlistMoveSerializer, partial=False)
        services.waitlist_move(entry=entry, position=data["position"], actor=request.user)
        return self.respond(entry)


# academy cannot import enrollment, and no app imports another's API views: academy.config.api
# composes this mixin with academy's SectionViewSet.
class SectionSeatsMixin:
    """Sections with the seats taken: ``enrolled_count`` (enrolled or paused) and
    ``seats_left`` (capacity less those and the seats held for open waitlist offers)."""

    def get_queryset(self):
        return selectors.sections_with_seats(super().get_queryset())
