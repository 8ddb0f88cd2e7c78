"""Serializers of the enrollment API: ``ModelSerializer`` for output, input serializers
(shape only, ids scoped to the caller) for writes."""

from rest_framework import serializers

from academy.api import InputSerializer, ModelSerializer, NamedChoiceField, ScopedPrimaryKeyField
from academy.api.fields import MoneyField
from academy.models import CurriculumLevel, CurriculumModule
from academy.selectors import section_list
from enrollment.models import Enrollment, WaitlistEntry
from families.selectors import students_visible_to

POSITIVE_INT_MAX = 2_147_483_647


def _visible_students(user):
    return students_visible_to(user)


def _visible_sections(user):
    return section_list(user=user)


class EnrollmentSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    student_name = serializers.CharField(source="student.full_name", read_only=True)
    section_code = serializers.SerializerMethodField()
    status = NamedChoiceField(choices=Enrollment.Status.choices, enum_name="EnrollmentStatus", read_only=True)
    invoice_number = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "student",
            "student_number",
            "student_name",
            "section",
            "section_code",
            "term",
            "status",
            "status_reason",
            "enrollment_date",
            "start_date",
            "end_date",
            "current_level",
            "current_module",
            "sessions_allocated",
            "sessions_completed",
            "sessions_remaining",
            "enrollment_fee",
            "session_rate",
            "invoice",
            "invoice_number",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_section_code(self, enrollment) -> str:
        return f"{enrollment.section.course.code}-{enrollment.section.code}"

    def get_invoice_number(self, enrollment) -> str | None:
        return enrollment.invoice.invoice_number if enrollment.invoice_id else None


class WaitlistEntrySerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    section_code = serializers.SerializerMethodField()
    status = NamedChoiceField(choices=WaitlistEntry.Status.choices, enum_name="WaitlistStatus", read_only=True)
    place_in_line = serializers.SerializerMethodField(
        help_text="1 for the first entry still in line; null once the entry left the line."
    )

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "section",
            "section_code",
            "student",
            "student_number",
            "position",
            "place_in_line",
            "status",
            "offered_at",
            "offer_expires_at",
            "enrollment",
            "closed_reason",
            "created_at",
        ]
        read_only_fields = fields

    def get_section_code(self, entry) -> str:
        return f"{entry.section.course.code}-{entry.section.code}"

    def get_place_in_line(self, entry) -> int | None:
        return getattr(entry, "place_in_line", None) if entry.is_live else None


class WaitlistedSerializer(serializers.Serializer):
    """202: the section is full and the student joined its waitlist."""

    status = serializers.CharField(read_only=True, help_text='Always "waitlisted".')
    waitlist_entry = WaitlistEntrySerializer(read_only=True)


class EnrollmentCreateSerializer(InputSerializer):
    student = ScopedPrimaryKeyField(scope=_visible_students)
    section = ScopedPrimaryKeyField(scope=_visible_sections)
    waitlist = serializers.BooleanField(
        required=False, default=False, help_text="Join the waitlist when the section is full (202) instead of 409."
    )
    start_date = serializers.DateField(required=False)
    sessions_allocated = serializers.IntegerField(
        required=False, min_value=0, max_value=10_000, help_text="Default: the section's sessions from the start."
    )
    enrollment_fee = MoneyField(
        min_value=0,
        required=False,
        help_text="Default: the location's ENROLLMENT fee structure for the course (0 if none).",
    )
    session_rate = MoneyField(
        min_value=0,
        required=False,
        help_text="Price per session; with a rate the session package is billed on the same invoice.",
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class EnrollmentUpdateSerializer(InputSerializer):
    current_level = serializers.PrimaryKeyRelatedField(
        queryset=CurriculumLevel.objects.all(), required=False, allow_null=True, pk_field=serializers.UUIDField()
    )
    current_module = serializers.PrimaryKeyRelatedField(
        queryset=CurriculumModule.objects.all(), required=False, allow_null=True, pk_field=serializers.UUIDField()
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class EnrollmentReasonSerializer(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class EnrollmentWithdrawSerializer(EnrollmentReasonSerializer):
    end_date = serializers.DateField(required=False, help_text="Default: today (or the start date, if later).")


class EnrollmentTransferSerializer(EnrollmentReasonSerializer):
    section = ScopedPrimaryKeyField(scope=_visible_sections, help_text="The section to move the student to.")


class WaitlistMoveSerializer(InputSerializer):
    position = serializers.IntegerField(
        min_value=1,
        max_value=POSITIVE_INT_MAX,
        help_text="The new place in the section's line: 1 is first; a place past the end moves the entry to the end.",
    )
