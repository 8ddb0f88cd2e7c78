"""API serializers of students, guardians and their links.

Output: ``ModelSerializer``s with explicit fields, defaulting to the least: parents
never see ``internal_notes`` (the view says ``staff_view``), and the medical fields are
shown only where ``families.selectors.students_medical_visible_to`` allows them (one
query per page or record): to staff with the medical permission, which finance staff
lack, and to a parent of the children one of their links may authorise medical care for.

Input: plain serializers that check shape; ids must name records the caller may see.
"""

import uuid
from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from academy.api import (
    TEXT_MAX,
    InputSerializer,
    LocationSummarySerializer,
    ModelSerializer,
    NamedChoiceField,
    ScopedPrimaryKeyField,
)
from academy.selectors import academic_year_list, grade_level_list, location_list
from families.models import Guardian, StudentGuardian
from families.selectors import guardians_visible_to, student_ids_medical_visible, students_visible_to
from students.models import MEDICAL_FIELDS, Salutation, Student

STAFF_ONLY_FIELDS = ("internal_notes",)
MEDICAL_HELP = (
    "Staff who may see medical details (not finance staff) and guardians who may authorise medical care; "
    "omitted for anybody else."
)
MAX_EXTRA_GUARDIANS = 10

# --- output ----------------------------------------------------------------------------


class GuardianSerializer(ModelSerializer):
    has_portal_login = serializers.SerializerMethodField(help_text="Whether the guardian can log in to the portal.")

    class Meta:
        model = Guardian
        fields = [
            "id",
            "guardian_number",
            "salutation",
            "first_name",
            "last_name",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "country",
            "postal_code",
            "preferred_communication",
            "account_status",
            "has_portal_login",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_portal_login(self, guardian) -> bool:
        return guardian.portal_user_id is not None


class GuardianSummarySerializer(ModelSerializer):
    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = Guardian
        fields = ["id", "guardian_number", "name", "email", "phone"]
        read_only_fields = fields


def _medical_ids(serializer, students) -> set:
    """The ids of ``students`` whose medical details the caller may see (none without a
    request, e.g. when the schema is built)."""
    request = serializer.context.get("request")
    user = getattr(request, "user", None)
    return student_ids_medical_visible(user=user, students=students) if user is not None else set()


class StudentListSerializer(serializers.ListSerializer):
    """A page of students: whose medical details the caller may see is read once for the
    whole page, not per row."""

    def to_representation(self, data):
        students = list(data.all() if hasattr(data, "all") else data)
        self.child.medical_ids = _medical_ids(self, students)
        try:
            return super().to_representation(students)
        finally:
            del self.child.medical_ids


class StudentSerializer(ModelSerializer):
    location_code = serializers.CharField(source="location.code", read_only=True)
    grade_level_name = serializers.CharField(source="grade_level.name", read_only=True, allow_null=True, default=None)
    academic_year_name = serializers.CharField(
        source="academic_year.name", read_only=True, allow_null=True, default=None
    )
    status = NamedChoiceField(choices=Student.Status.choices, enum_name="StudentStatus", read_only=True)
    primary_guardian = serializers.SerializerMethodField()
    medical_conditions = serializers.CharField(read_only=True, help_text=MEDICAL_HELP)
    medications = serializers.CharField(read_only=True, help_text=MEDICAL_HELP)
    allergies = serializers.CharField(read_only=True, help_text=MEDICAL_HELP)
    internal_notes = serializers.CharField(read_only=True, help_text="Staff only; omitted for parents.")

    class Meta:
        model = Student
        fields = [
            "id",
            "student_number",
            "salutation",
            "first_name",
            "last_name",
            "preferred_name",
            "date_of_birth",
            "gender",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "country",
            "postal_code",
            "location",
            "location_code",
            "grade_level",
            "grade_level_name",
            "homeroom",
            "academic_year",
            "academic_year_name",
            "status",
            "enrollment_date",
            "referral_source",
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relationship",
            "primary_guardian",
            *MEDICAL_FIELDS,
            *STAFF_ONLY_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        sometimes_omitted = (*MEDICAL_FIELDS, *STAFF_ONLY_FIELDS)
        list_serializer_class = StudentListSerializer

    @extend_schema_field(GuardianSummarySerializer(allow_null=True))
    def get_primary_guardian(self, student):
        links = getattr(student, "primary_links", None)
        if links is None:  # not loaded by the selector: one query
            links = [
                link
                for link in student.guardian_links.select_related("guardian")
                if link.relationship_type == "primary"
            ]
        if not links:
            return None
        guardian = links[0].guardian  # same output as GuardianSummarySerializer, without building one per row
        return {
            "id": str(guardian.pk),
            "guardian_number": guardian.guardian_number,
            "name": guardian.full_name,
            "email": guardian.email,
            "phone": guardian.phone,
        }

    def to_representation(self, student):
        data = super().to_representation(student)
        if not self.context.get("staff_view", False):
            for name in STAFF_ONLY_FIELDS:
                data.pop(name, None)
        medical_ids = getattr(self, "medical_ids", None)  # a page's, from StudentListSerializer
        if student.pk not in (medical_ids if medical_ids is not None else _medical_ids(self, [student])):
            for name in MEDICAL_FIELDS:
                data.pop(name, None)
        return data


class StudentGuardianSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    student_name = serializers.CharField(source="student.full_name", read_only=True)
    guardian_number = serializers.CharField(source="guardian.guardian_number", read_only=True)
    guardian_name = serializers.CharField(source="guardian.full_name", read_only=True)

    class Meta:
        model = StudentGuardian
        fields = [
            "id",
            "student",
            "student_number",
            "student_name",
            "guardian",
            "guardian_number",
            "guardian_name",
            "relationship_type",
            "relation",
            "can_pick_up",
            "can_authorize_medical",
            "receives_communications",
            "is_financially_responsible",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    """The caller: who they are, their roles, the locations they may see as staff, and
    for a parent their guardian record."""

    id = serializers.UUIDField(read_only=True)
    username = serializers.CharField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)
    is_academy_staff = serializers.BooleanField(read_only=True)
    is_parent = serializers.BooleanField(read_only=True)
    locations = LocationSummarySerializer(many=True, read_only=True, help_text="Empty for parents.")
    guardian = GuardianSerializer(read_only=True, allow_null=True, help_text="The parent's guardian record.")


# --- input -----------------------------------------------------------------------------


def _visible_locations(user):
    return location_list(user=user)


def _visible_guardians(user):
    return guardians_visible_to(user)


def _visible_students(user):
    return students_visible_to(user)


class GuardianInputSerializer(InputSerializer):
    salutation = serializers.ChoiceField(choices=Salutation.choices, required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(max_length=255)
    phone = serializers.CharField(max_length=20)
    address_line1 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    preferred_communication = serializers.ChoiceField(choices=Guardian.Communication.choices, required=False)
    account_status = serializers.ChoiceField(choices=Guardian.AccountStatus.choices, required=False)


@dataclass(frozen=True)
class GuardianReference:
    """A guardian named in an admission: an existing record or the data of a new one."""

    guardian: Guardian | None = None
    data: dict | None = None


class GuardianReferenceField(serializers.Field):
    """Either the id of a guardian the caller may see, or an object with the fields of
    a new guardian (``GuardianInput``)."""

    default_error_messages = {
        "invalid": "Give the id of an existing guardian or an object with a new guardian's fields.",
        "does_not_exist": 'Invalid pk "{pk_value}" - object does not exist.',
    }

    def to_internal_value(self, data) -> GuardianReference:
        if isinstance(data, dict):
            serializer = GuardianInputSerializer(data=data, context=self.context)
            if not serializer.is_valid():
                raise serializers.ValidationError(serializer.errors)
            return GuardianReference(data=dict(serializer.validated_data))
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            pk = uuid.UUID(data)
        except ValueError:
            self.fail("invalid")
        request = self.context.get("request")
        guardian = _visible_guardians(getattr(request, "user", None)).filter(pk=pk).first()
        if guardian is None:
            self.fail("does_not_exist", pk_value=data)
        return GuardianReference(guardian=guardian)

    def to_representation(self, value):  # pragma: no cover - input only
        raise NotImplementedError


class GuardianReferenceSchema(OpenApiSerializerFieldExtension):
    target_class = GuardianReferenceField

    def map_serializer_field(self, auto_schema, direction):
        component = auto_schema.resolve_serializer(GuardianInputSerializer, direction)
        return {
            "oneOf": [{"type": "string", "format": "uuid", "description": "An existing guardian."}, component.ref],
            "description": GuardianReferenceField.__doc__.replace("\n    ", " "),
        }


class LinkFlagsSerializer(InputSerializer):
    relation = serializers.CharField(max_length=50, required=False, allow_blank=True, help_text="Mother, Father, ...")
    can_pick_up = serializers.BooleanField(required=False)
    receives_communications = serializers.BooleanField(required=False)
    is_financially_responsible = serializers.BooleanField(required=False)


class LinkInputFlagsSerializer(LinkFlagsSerializer):
    can_authorize_medical = serializers.BooleanField(required=False)


class AdmissionGuardianSerializer(LinkInputFlagsSerializer):
    """A further guardian of a new student: secondary guardian or emergency contact."""

    guardian = GuardianReferenceField()
    relationship_type = serializers.ChoiceField(choices=StudentGuardian.RelationshipType.choices)


class StudentFieldsSerializer(InputSerializer):
    salutation = serializers.ChoiceField(choices=Salutation.choices, required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    preferred_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=255, required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    date_of_birth = serializers.DateField()
    gender = serializers.ChoiceField(choices=Student.Gender.choices, required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    location = ScopedPrimaryKeyField(scope=_visible_locations, help_text="A location the caller may see.")
    grade_level = ScopedPrimaryKeyField(scope=lambda user: grade_level_list(), required=False, allow_null=True)
    homeroom = serializers.CharField(max_length=10, required=False, allow_blank=True)
    academic_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list(), required=False, allow_null=True)
    referral_source = serializers.CharField(max_length=100, required=False, allow_blank=True)
    enrollment_date = serializers.DateField(required=False, help_text="Defaults to today.")
    emergency_contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    emergency_contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    emergency_contact_relationship = serializers.CharField(max_length=50, required=False, allow_blank=True)
    medical_conditions = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    medications = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    allergies = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    internal_notes = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)


class StudentCreateSerializer(StudentFieldsSerializer):
    """Admit a student with a primary guardian (an existing one by id, or a new one)
    and, optionally, further guardians, in one transaction."""

    primary_guardian = GuardianReferenceField()
    primary_link = LinkFlagsSerializer(
        required=False, help_text="How the primary guardian relates to the student (they can always authorise medical)."
    )
    guardians = AdmissionGuardianSerializer(many=True, required=False, max_length=MAX_EXTRA_GUARDIANS)


class StudentUpdateSerializer(StudentFieldsSerializer):
    status = NamedChoiceField(
        choices=Student.Status.choices,
        enum_name="StudentStatus",
        required=False,
        help_text="Only the allowed transitions; otherwise 409.",
    )


class GuardianLinkCreateSerializer(LinkInputFlagsSerializer):
    student = ScopedPrimaryKeyField(scope=_visible_students)
    guardian = ScopedPrimaryKeyField(scope=_visible_guardians)
    relationship_type = serializers.ChoiceField(
        choices=StudentGuardian.RelationshipType.choices,
        help_text="secondary or emergency; a new primary guardian is set with students/{id}/primary-guardian/ (409).",
    )


class GuardianLinkUpdateSerializer(LinkInputFlagsSerializer):
    relationship_type = serializers.ChoiceField(
        choices=StudentGuardian.RelationshipType.choices,
        required=False,
        help_text="Between secondary and emergency; to or from primary is 409.",
    )


class PrimaryGuardianChangeSerializer(InputSerializer):
    guardian = ScopedPrimaryKeyField(
        scope=_visible_guardians, help_text="Becomes primary; the old primary becomes secondary."
    )
    relation = serializers.CharField(max_length=50, required=False, allow_blank=True)
