"""Serializers of the location transfer API (``transfers/``): a ``ModelSerializer`` for
output, input serializers (shape only, ids scoped to the caller) for the writes."""

from rest_framework import serializers

from academy.api import InputSerializer, ModelSerializer, NamedChoiceField, ScopedPrimaryKeyField
from academy.selectors import section_list
from enrollment.models import Enrollment
from enrollment.transfer_selectors import transfer_destinations
from families.selectors import students_visible_to
from students.models import LocationTransfer


def _visible_students(user):
    return students_visible_to(user)


def _visible_sections(user):
    return section_list(user=user)


def _destinations(user):
    return transfer_destinations()


def _enrollments(user):
    return Enrollment.objects.filter(student__in=students_visible_to(user))


class TransferAdjustmentSerializer(serializers.Serializer):
    """The finance adjustment that credits the unused sessions of a withdrawn enrollment."""

    id = serializers.UUIDField(read_only=True)
    invoice_number = serializers.CharField(read_only=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    status = serializers.CharField(
        read_only=True, help_text="`approved`, or `requested` when another person must approve."
    )


class TransferImpactItemSerializer(serializers.Serializer):
    """One affected enrollment as assessed (and, once applied, what was done with it)."""

    enrollment = serializers.UUIDField(read_only=True)
    section = serializers.UUIDField(read_only=True)
    section_code = serializers.CharField(read_only=True)
    course = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="The enrollment's status when assessed.")
    sessions_remaining = serializers.IntegerField(read_only=True)
    sessions_ahead = serializers.IntegerField(read_only=True, help_text="Sessions on or after the effective date.")
    session_rate = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    unused_value = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    invoice_number = serializers.CharField(read_only=True, allow_null=True)
    action = serializers.CharField(read_only=True, required=False, help_text="`withdrawn` or `moved` once applied.")
    moved_to = serializers.CharField(read_only=True, required=False)
    new_enrollment = serializers.UUIDField(read_only=True, required=False)
    adjustment = TransferAdjustmentSerializer(read_only=True, required=False)
    to_refund = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, required=False, help_text="Already paid: refund or credit."
    )

    class Meta:
        sometimes_omitted = ("action", "moved_to", "new_enrollment", "adjustment", "to_refund")


class LocationTransferSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    student_name = serializers.CharField(source="student.full_name", read_only=True)
    from_location_code = serializers.CharField(source="from_location.code", read_only=True)
    to_location_code = serializers.CharField(source="to_location.code", read_only=True)
    status = NamedChoiceField(
        choices=LocationTransfer.Status.choices, enum_name="LocationTransferStatus", read_only=True
    )
    transfer_type = NamedChoiceField(
        choices=LocationTransfer.Type.choices, enum_name="LocationTransferType", read_only=True
    )
    impact_details = TransferImpactItemSerializer(many=True, read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    rejected_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    applied_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LocationTransfer
        fields = [
            "id",
            "transfer_number",
            "student",
            "student_number",
            "student_name",
            "from_location",
            "from_location_code",
            "to_location",
            "to_location_code",
            "transfer_type",
            "reason",
            "effective_date",
            "end_date",
            "status",
            "notes",
            "affected_enrollments",
            "affected_sessions",
            "financial_impact",
            "account_balance",
            "impact_details",
            "financial_notes",
            "assessed_at",
            "requested_by",
            "requested_at",
            "approved_by",
            "approved_at",
            "approval_notes",
            "rejected_by",
            "rejected_at",
            "rejection_reason",
            "applied_by",
            "applied_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LocationTransferCreateSerializer(InputSerializer):
    student = ScopedPrimaryKeyField(scope=_visible_students)
    to_location = ScopedPrimaryKeyField(scope=_destinations, help_text="An active location other than the student's.")
    transfer_type = NamedChoiceField(
        choices=LocationTransfer.Type.choices, enum_name="LocationTransferType", required=False, default="standard"
    )
    reason = serializers.CharField(max_length=300)
    effective_date = serializers.DateField(help_text="The first day at the new location.")
    end_date = serializers.DateField(required=False, allow_null=True, help_text="Required for a temporary transfer.")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class TransferApproveSerializer(InputSerializer):
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class TransferRejectSerializer(InputSerializer):
    reason = serializers.CharField(max_length=300)


class TransferMoveSerializer(InputSerializer):
    enrollment = ScopedPrimaryKeyField(scope=_enrollments, help_text="An active enrollment at the old location.")
    section = ScopedPrimaryKeyField(scope=_visible_sections, help_text="A section at the new location.")


class TransferApplySerializer(InputSerializer):
    moves = TransferMoveSerializer(
        many=True,
        required=False,
        help_text="Enrollments to move into a section of the new location (with their unused sessions) "
        "instead of withdrawing them.",
    )

    def validate_moves(self, moves):
        seen = set()
        for move in moves:
            if move["enrollment"].pk in seen:
                raise serializers.ValidationError("An enrollment can be moved only once.")
            seen.add(move["enrollment"].pk)
        return moves
