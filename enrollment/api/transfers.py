"""API of location transfers (docs/api.md ``transfers/``: GET POST, actions ``approve``,
``reject``, ``apply``).

The list comes from ``enrollment.transfer_selectors.transfer_list`` (staff see the
transfers from or to their locations; parents none); writes validate an input serializer
and call one ``enrollment.transfers`` service, whose ``Conflict`` becomes a 409
``{detail, code}`` and whose ``ValidationError`` a 400. Office staff request; approving,
rejecting and applying need ``students.approve_locationtransfer`` (academy admins).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action

from academy.api import ApiViewSet
from enrollment import transfer_selectors, transfers
from enrollment.api import transfer_serializers as api
from enrollment.transfer_filters import LocationTransferFilterSet

APPROVE_PERMISSION = "students.approve_locationtransfer"


class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Location transfers: request -> approve (by another person) -> apply, or reject.

    POST requests a transfer and stores its impact (affected enrollments and sessions,
    the value of the unused sessions, the student's balance). 409 codes:
    ``transfer_open`` (the student has an open transfer), ``student_not_active``,
    ``same_approver``, ``invalid_status_change`` (e.g. applying twice),
    ``location_changed``, ``location_inactive``, and on apply whatever moving an
    enrollment refuses (``section_full``, ``term_closed``, ...)."""

    serializer_class = api.LocationTransferSerializer
    create_serializer_class = api.LocationTransferCreateSerializer
    filterset_class = LocationTransferFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return transfer_selectors.transfer_list(user=self.request.user)

    @extend_schema(responses={201: api.LocationTransferSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        transfer = transfers.transfer_request(
            student=data["student"],
            to_location=data["to_location"],
            transfer_type=data.get("transfer_type") or "standard",
            reason=data["reason"],
            effective_date=data["effective_date"],
            end_date=data.get("end_date"),
            notes=data.get("notes", ""),
            actor=request.user,
        )
        return self.respond(transfer, status=201)

    @extend_schema(request=api.TransferApproveSerializer, responses=api.LocationTransferSerializer)
    @action(detail=True, methods=["post"], required_permission=APPROVE_PERMISSION, filterset_class=None)
    def approve(self, request, pk=None):
        """Approve a requested transfer. 409 ``same_approver`` for the requester,
        ``invalid_status_change`` unless requested."""
        transfer = self.get_object()
        data = self.validated_input(api.TransferApproveSerializer, partial=False)
        transfers.transfer_approve(transfer=transfer, actor=request.user, notes=data.get("notes", ""))
        return self.respond(transfer)

    @extend_schema(request=api.TransferRejectSerializer, responses=api.LocationTransferSerializer)
    @action(detail=True, methods=["post"], required_permission=APPROVE_PERMISSION, filterset_class=None)
    def reject(self, request, pk=None):
        """Reject a requested or approved transfer (a reason is required). 409
        ``invalid_status_change`` once rejected or applied."""
        transfer = self.get_object()
        data = self.validated_input(api.TransferRejectSerializer, partial=False)
        transfers.transfer_reject(transfer=transfer, actor=request.user, reason=data["reason"])
        return self.respond(transfer)

    @extend_schema(request=api.TransferApplySerializer, responses=api.LocationTransferSerializer)
    @action(detail=True, methods=["post"], required_permission=APPROVE_PERMISSION, filterset_class=None)
    def apply(self, request, pk=None):
        """Apply an approved transfer: the student's location changes, the enrollments at
        the old location are withdrawn (or moved, per ``moves``) and their unused sessions
        credited through finance, all or nothing. 409 ``invalid_status_change`` unless
        approved (a second apply is refused)."""
        transfer = self.get_object()
        data = self.validated_input(api.TransferApplySerializer, partial=False)
        moves = {move["enrollment"].pk: move["section"] for move in data.get("moves", [])}
        transfers.transfer_apply(transfer=transfer, actor=request.user, moves=moves)
        return self.respond(transfer)
