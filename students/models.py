"""Student records (seed 000)."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from academy.common.models import TrackedModel
from academy.common.search import search_text_expression


class Salutation(models.TextChoices):
    MR = "Mr", "Mr"
    MS = "Ms", "Ms"
    MRS = "Mrs", "Mrs"
    MX = "Mx", "Mx"
    DR = "Dr", "Dr"
    MASTER = "Master", "Master"
    MISS = "Miss", "Miss"


class StudentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Student.Status.ACTIVE)


class LiveStudentManager(models.Manager.from_queryset(StudentQuerySet)):
    """Hides soft-deleted students; ``Student.all_objects`` still sees them."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


def _search_text():
    return search_text_expression("student_number", "first_name", "last_name", "email", "phone")


class Student(TrackedModel):
    """A learner at one location of the academy: profile, contact, address, grade,
    emergency contact and medical notes. Never deleted: soft delete hides the record."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        GRADUATED = "graduated", "Graduated"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Gender(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNDISCLOSED = "undisclosed", "Prefer not to say"

    student_number = models.CharField(max_length=20, unique=True, editable=False)
    salutation = models.CharField(max_length=10, choices=Salutation.choices, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=50, blank=True)
    email = models.EmailField(max_length=255, null=True, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    date_of_birth = models.DateField()
    gender = models.CharField(max_length=12, choices=Gender.choices, blank=True)

    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)

    location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="students")
    previous_location = models.ForeignKey(
        "academy.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    grade_level = models.ForeignKey(
        "academy.GradeLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="students"
    )
    homeroom = models.CharField("homeroom section", max_length=10, blank=True, help_text="e.g. A")
    academic_year = models.ForeignKey(
        "academy.AcademicYear", null=True, blank=True, on_delete=models.PROTECT, related_name="students"
    )

    referral_source = models.CharField(max_length=100, blank=True)
    enrollment_date = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)

    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=20, blank=True)
    emergency_contact_relationship = models.CharField(max_length=50, blank=True)

    medical_conditions = models.TextField(blank=True)
    medications = models.TextField(blank=True)
    allergies = models.TextField(blank=True)
    internal_notes = models.TextField(blank=True, help_text="Staff only; never shown to parents.")

    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    search_text = models.GeneratedField(expression=_search_text(), output_field=models.TextField(), db_persist=True)

    history = HistoricalRecords(excluded_fields=["search_text"])

    objects = LiveStudentManager()
    all_objects = StudentQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "student_number"]
        base_manager_name = "all_objects"
        indexes = [
            models.Index(fields=["location", "status"], name="student_location_status"),
            models.Index(fields=["last_name", "first_name"], name="student_name"),
            models.Index(fields=["enrollment_date"], name="student_enrollment_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(email__isnull=False),
                name="student_email_unique",
                violation_error_message="Another student already has this email address.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "inactive", "graduated", "withdrawn"]), name="student_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(date_of_birth__lte=F("enrollment_date")),
                name="student_born_before_enrollment",
                violation_error_message="The date of birth must not be after the enrollment date.",
            ),
            models.CheckConstraint(condition=~Q(first_name="") & ~Q(last_name=""), name="student_names_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.student_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
