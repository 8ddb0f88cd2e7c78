"""API serializers of the academy's structure: output ``ModelSerializer``s with explicit
fields, and plain input serializers that check shape only (the services validate the
rest and the model constraints)."""

from rest_framework import serializers

from academy.api import (
    POSITIVE_INT_MAX,
    SMALL_INT_MAX,
    TEXT_MAX,
    InputSerializer,
    ModelSerializer,
    NamedChoiceField,
    ScopedPrimaryKeyField,
)
from academy.models import (
    AcademicYear,
    ClassSession,
    Course,
    Curriculum,
    CurriculumLevel,
    CurriculumModule,
    Facility,
    GradeLevel,
    Location,
    Program,
    Section,
    SkillArea,
    Term,
    User,
)
from academy.roles import STAFF_ROLES
from academy.selectors import (
    academic_year_list,
    course_list,
    facility_list,
    grade_level_list,
    location_list,
    program_list,
    section_list,
    term_list,
)


def _visible_locations(user):
    return location_list(user=user)


def _visible_facilities(user):
    return facility_list(user=user)


def _visible_sections(user):
    return section_list(user=user)


def _staff_users(user):
    """Who may teach a section: active staff users."""
    return User.objects.filter(is_active=True, groups__name__in=STAFF_ROLES).distinct()


# --- output ----------------------------------------------------------------------------


class LocationSerializer(ModelSerializer):
    class Meta:
        model = Location
        fields = [
            "id",
            "code",
            "name",
            "address",
            "phone",
            "email",
            "is_active",
            "billing_day",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FacilitySerializer(ModelSerializer):
    class Meta:
        model = Facility
        fields = ["id", "location", "code", "name", "kind", "capacity", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class AcademicYearSerializer(ModelSerializer):
    class Meta:
        model = AcademicYear
        fields = ["id", "name", "start_date", "end_date", "is_current", "created_at", "updated_at"]
        read_only_fields = fields


class TermSerializer(ModelSerializer):
    status = NamedChoiceField(choices=Term.Status.choices, enum_name="TermStatus", read_only=True)
    academic_year_name = serializers.CharField(source="academic_year.name", read_only=True)

    class Meta:
        model = Term
        fields = [
            "id",
            "academic_year",
            "academic_year_name",
            "name",
            "start_date",
            "end_date",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GradeLevelSerializer(ModelSerializer):
    is_final = serializers.BooleanField(read_only=True, help_text="True when students graduate from this grade.")

    class Meta:
        model = GradeLevel
        fields = ["id", "name", "order", "next_grade", "is_final", "created_at", "updated_at"]
        read_only_fields = fields


class ProgramSerializer(ModelSerializer):
    class Meta:
        model = Program
        fields = ["id", "code", "name", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class CourseSerializer(ModelSerializer):
    class Meta:
        model = Course
        fields = [
            "id",
            "program",
            "code",
            "title",
            "credits",
            "grade_level",
            "description",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SectionSerializer(ModelSerializer):
    course_code = serializers.CharField(source="course.code", read_only=True)
    enrolled_count = serializers.SerializerMethodField(help_text="Students enrolled now.")
    seats_left = serializers.SerializerMethodField(
        help_text="capacity - enrolled_count - seats held for waitlist offers (never below 0)."
    )

    class Meta:
        model = Section
        fields = [
            "id",
            "course",
            "course_code",
            "term",
            "location",
            "code",
            "facility",
            "instructor",
            "capacity",
            "enrolled_count",
            "seats_left",
            "schedule",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_enrolled_count(self, section) -> int:
        return getattr(section, "enrolled_count", 0) or 0

    def get_seats_left(self, section) -> int:
        held = self.get_enrolled_count(section) + (getattr(section, "offered_count", 0) or 0)
        return max(section.capacity - held, 0)


class ClassSessionSerializer(ModelSerializer):
    class Meta:
        model = ClassSession
        fields = [
            "id",
            "section",
            "date",
            "start_time",
            "end_time",
            "facility",
            "is_cancelled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- input -----------------------------------------------------------------------------


class LocationInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
    billing_day = serializers.IntegerField(
        min_value=1,
        max_value=31,
        required=False,
        allow_null=True,
        help_text="Day of the month the month's billing run starts by itself; null: by hand.",
    )


class FacilityInputSerializer(InputSerializer):
    location = ScopedPrimaryKeyField(scope=_visible_locations)
    code = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Facility.Kind.choices, required=False)
    capacity = serializers.IntegerField(min_value=0, max_value=POSITIVE_INT_MAX, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


class AcademicYearInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=20, help_text='e.g. "2025-26"')
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    is_current = serializers.BooleanField(
        required=False, help_text="Making a year current makes every other year not current."
    )


class TermInputSerializer(InputSerializer):
    academic_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list())
    name = serializers.CharField(max_length=50)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    status = NamedChoiceField(choices=Term.Status.choices, enum_name="TermStatus", required=False)


class GradeLevelInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=50)
    order = serializers.IntegerField(min_value=0, max_value=SMALL_INT_MAX)
    next_grade = ScopedPrimaryKeyField(scope=lambda user: grade_level_list(), required=False, allow_null=True)


class ProgramInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class CourseInputSerializer(InputSerializer):
    program = ScopedPrimaryKeyField(scope=lambda user: program_list())
    code = serializers.CharField(max_length=30)
    title = serializers.CharField(max_length=200)
    credits = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, required=False)
    grade_level = ScopedPrimaryKeyField(scope=lambda user: grade_level_list(), required=False, allow_null=True)
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class SectionInputSerializer(InputSerializer):
    course = ScopedPrimaryKeyField(scope=lambda user: course_list())
    term = ScopedPrimaryKeyField(scope=lambda user: term_list())
    location = ScopedPrimaryKeyField(scope=_visible_locations)
    code = serializers.CharField(max_length=20, help_text="Distinguishes offerings of one course in a term, e.g. A.")
    facility = ScopedPrimaryKeyField(scope=_visible_facilities, required=False, allow_null=True)
    instructor = ScopedPrimaryKeyField(scope=_staff_users, required=False, allow_null=True)
    capacity = serializers.IntegerField(min_value=0, max_value=POSITIVE_INT_MAX)
    schedule = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ClassSessionInputSerializer(InputSerializer):
    section = ScopedPrimaryKeyField(scope=_visible_sections)
    date = serializers.DateField()
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()
    facility = ScopedPrimaryKeyField(scope=_visible_facilities, required=False, allow_null=True)
    is_cancelled = serializers.BooleanField(required=False)


class TokenRequestSerializer(InputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text="Send as `Authorization: Token <token>`.")
    expires = serializers.DateTimeField(read_only=True, help_text="After this the token answers 401.")


class CurriculumModuleSerializer(ModelSerializer):
    class Meta:
        model = CurriculumModule
        fields = ["id", "name", "order"]
        read_only_fields = fields


class CurriculumLevelSerializer(ModelSerializer):
    modules = CurriculumModuleSerializer(many=True, read_only=True)

    class Meta:
        model = CurriculumLevel
        fields = ["id", "name", "order", "modules"]
        read_only_fields = fields


class SkillAreaSerializer(ModelSerializer):
    class Meta:
        model = SkillArea
        fields = ["id", "name", "description", "level"]
        read_only_fields = fields


class CurriculumSerializer(ModelSerializer):
    """A curriculum with its levels (each with its modules) and the skill areas assessed
    (``level`` empty: at every level). Read only: curricula are edited in the admin."""

    levels = CurriculumLevelSerializer(many=True, read_only=True)
    skill_areas = SkillAreaSerializer(many=True, read_only=True)

    class Meta:
        model = Curriculum
        fields = ["id", "course", "name", "description", "levels", "skill_areas", "created_at", "updated_at"]
        read_only_fields = fields
