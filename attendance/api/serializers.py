"""Serializers of the attendance API: ``ModelSerializer`` for output, input serializers
(shape only, ids scoped to the caller) for writes."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from academy.api import InputSerializer, ModelSerializer, NamedChoiceField, ScopedPrimaryKeyField
from academy.selectors import class_session_list
from attendance.models import AttendanceRecord, MakeupCredit
from families.selectors import students_visible_to

MINUTES_MAX = 24 * 60


def _visible_students(user):
    return students_visible_to(user)


def _visible_sessions(user):
    return class_session_list(user=user)


def _section_code(section) -> str:
    return f"{section.course.code}-{section.code}"


class AttendanceRecordSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    student_name = serializers.CharField(source="student.full_name", read_only=True)
    section = serializers.UUIDField(source="class_session.section_id", read_only=True)
    section_code = serializers.SerializerMethodField()
    status = NamedChoiceField(choices=AttendanceRecord.Status.choices, enum_name="AttendanceStatus", read_only=True)
    consumed_from = NamedChoiceField(
        choices=AttendanceRecord.Source.choices,
        enum_name="AttendanceSource",
        read_only=True,
        help_text="What paid for the session: the enrollment, a session package, nothing yet (uncovered), "
        "or none (not attended).",
    )

    class Meta:
        model = AttendanceRecord
        fields = [
            "id",
            "student",
            "student_number",
            "student_name",
            "class_session",
            "section",
            "section_code",
            "enrollment",
            "session_date",
            "status",
            "check_in_at",
            "check_out_at",
            "session_duration_minutes",
            "actual_duration_minutes",
            "minutes_late",
            "minutes_early_departure",
            "instructor_notes",
            "parent_notes",
            "behavioral_notes",
            "is_makeup",
            "original_session",
            "consumed_from",
            "package",
            "recorded_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_section_code(self, record) -> str:
        return _section_code(record.class_session.section)


class MarkDetailsSerializer(InputSerializer):
    check_in_at = serializers.DateTimeField(required=False, allow_null=True)
    check_out_at = serializers.DateTimeField(required=False, allow_null=True)
    actual_duration_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MINUTES_MAX
    )
    minutes_late = serializers.IntegerField(required=False, min_value=0, max_value=MINUTES_MAX)
    minutes_early_departure = serializers.IntegerField(required=False, min_value=0, max_value=MINUTES_MAX)
    instructor_notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    parent_notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    behavioral_notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class AttendanceCreateSerializer(MarkDetailsSerializer):
    class_session = ScopedPrimaryKeyField(scope=_visible_sessions)
    student = ScopedPrimaryKeyField(scope=_visible_students)
    status = NamedChoiceField(choices=AttendanceRecord.Status.choices, enum_name="AttendanceStatus")


class AttendanceUpdateSerializer(MarkDetailsSerializer):
    status = NamedChoiceField(choices=AttendanceRecord.Status.choices, enum_name="AttendanceStatus", required=False)


class RosterMarkSerializer(MarkDetailsSerializer):
    student = ScopedPrimaryKeyField(scope=_visible_students)
    status = NamedChoiceField(choices=AttendanceRecord.Status.choices, enum_name="AttendanceStatus")


class RosterInputSerializer(InputSerializer):
    marks = RosterMarkSerializer(many=True, allow_empty=False, max_length=1000)


class RosterRowSerializer(serializers.Serializer):
    """One expected student of a class session and their mark, if any."""

    student = serializers.UUIDField(source="student.pk")
    student_number = serializers.CharField(source="student.student_number")
    student_name = serializers.CharField(source="student.full_name")
    enrollment = serializers.UUIDField(source="enrollment.pk", allow_null=True)
    is_makeup = serializers.SerializerMethodField()
    record = AttendanceRecordSerializer(allow_null=True)

    def get_is_makeup(self, row) -> bool:
        return row.makeup is not None or bool(row.record and row.record.is_makeup)


@extend_schema_serializer(component_name="AttendanceDelete")  # finance has a ReasonRequest
class ReasonSerializer(InputSerializer):
    reason = serializers.CharField(max_length=300, help_text="Why the mark is deleted.")


class MakeupCreditSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    status = NamedChoiceField(choices=MakeupCredit.Status.choices, enum_name="MakeupCreditStatus", read_only=True)
    missed_date = serializers.DateField(source="missed_session.date", read_only=True)
    section_code = serializers.SerializerMethodField()
    booked_date = serializers.SerializerMethodField()
    fee_invoice_number = serializers.SerializerMethodField()

    class Meta:
        model = MakeupCredit
        fields = [
            "id",
            "student",
            "student_number",
            "enrollment",
            "section_code",
            "missed_session",
            "missed_date",
            "status",
            "expires_on",
            "booked_session",
            "booked_date",
            "booked_at",
            "makeup_record",
            "fee_invoice",
            "fee_invoice_number",
            "closed_reason",
            "created_at",
        ]
        read_only_fields = fields

    def get_section_code(self, credit) -> str:
        return _section_code(credit.enrollment.section)

    def get_booked_date(self, credit) -> str | None:
        return credit.booked_session.date.isoformat() if credit.booked_session_id else None

    def get_fee_invoice_number(self, credit) -> str | None:
        return credit.fee_invoice.invoice_number if credit.fee_invoice_id else None


class MakeupBookSerializer(InputSerializer):
    class_session = ScopedPrimaryKeyField(scope=_visible_sessions, help_text="The session to attend instead.")


class MakeupCancelSerializer(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class SummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    attended = serializers.IntegerField(help_text="Present, late or partial.")
    present = serializers.IntegerField()
    late = serializers.IntegerField()
    partial = serializers.IntegerField()
    absent = serializers.IntegerField()
    excused = serializers.IntegerField()
    percentage = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text="Attended out of the marks that count (all but excused); null before any mark.",
    )


class MonthSummarySerializer(SummarySerializer):
    month = serializers.DateField(help_text="The first day of the month.")


class EnrollmentAttendanceSerializer(serializers.Serializer):
    enrollment = serializers.UUIDField(source="pk")
    section = serializers.UUIDField(source="section_id")
    section_code = serializers.SerializerMethodField()
    status = serializers.CharField()
    sessions_allocated = serializers.IntegerField()
    sessions_completed = serializers.IntegerField()
    sessions_remaining = serializers.IntegerField()
    summary = SummarySerializer()
    threshold = serializers.DecimalField(max_digits=5, decimal_places=2)
    eligible = serializers.BooleanField(help_text="At or above the threshold (or no mark yet).")

    def get_section_code(self, enrollment) -> str:
        return _section_code(enrollment.section)


class StudentAttendanceSerializer(serializers.Serializer):
    student = serializers.UUIDField()
    overall = SummarySerializer()
    months = MonthSummarySerializer(many=True)
    enrollments = EnrollmentAttendanceSerializer(many=True)
