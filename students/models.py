"""Student records (docs/rules.md, Students)."""

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from academy.common.models import HistoricalRecords, TimeStampedModel, TrackedModel
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


# A student's medical details, and the permission that lets staff see and change them
# (who may see them: families.selectors.students_medical_visible_to).
MEDICAL_FIELDS = ("medical_conditions", "medications", "allergies")
MEDICAL_PERMISSION = "students.view_student_medical"


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
        # who may see them: families.selectors.students_medical_visible_to
        permissions = [("view_student_medical", "Can view students' medical details")]
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

    def clean(self):
        """A date of birth in the future is its own mistake: say so, rather than let the
        ``student_born_before_enrollment`` constraint (left as it is) report it as being
        after the enrollment date."""
        super().clean()
        born = self.date_of_birth
        if isinstance(born, datetime.date) and born > timezone.localdate():  # not a date: clean_fields says so
            raise ValidationError({"date_of_birth": "Date of birth cannot be in the future."})

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class LocationTransferQuerySet(models.QuerySet):
    def open(self):
        """Transfers not yet decided or not yet applied: requested or approved."""
        return self.filter(status__in=LocationTransfer.OPEN_STATUSES)


class LocationTransfer(TimeStampedModel):
    """A student's move from one location to another (docs/rules.md, Students):
    requested -> approved (by another person than the requester) -> applied, or rejected.

    The impact is assessed when the transfer is requested and again when it is applied:
    the student's active enrollments at the old location, their sessions on or after the
    effective date, the value of the unused sessions and the student's balance. The
    record lives here; ``enrollment.transfers`` assesses and applies it (it withdraws or
    moves the enrollments, settles the money through finance and updates the student's
    location with history)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        APPLIED = "applied", "Applied"

    class Type(models.TextChoices):
        STANDARD = "standard", "Standard"
        EMERGENCY = "emergency", "Emergency"
        TEMPORARY = "temporary", "Temporary"
        PERMANENT = "permanent", "Permanent"

    OPEN_STATUSES = (Status.REQUESTED, Status.APPROVED)
    TRANSITIONS = {
        Status.REQUESTED: {Status.APPROVED, Status.REJECTED},
        Status.APPROVED: {Status.APPLIED, Status.REJECTED},
        Status.REJECTED: set(),
        Status.APPLIED: set(),
    }

    transfer_number = models.CharField(max_length=20, unique=True, editable=False)
    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="location_transfers")
    from_location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="transfers_out")
    to_location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="transfers_in")
    transfer_type = models.CharField(max_length=12, choices=Type.choices, default=Type.STANDARD)
    reason = models.CharField(max_length=300)
    effective_date = models.DateField(help_text="The first day at the new location.")
    end_date = models.DateField(
        null=True, blank=True, help_text="The last day of a temporary transfer (required for temporary ones)."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    notes = models.TextField(blank=True)

    # impact assessment (at request, refreshed on apply)
    affected_enrollments = models.PositiveIntegerField(default=0)
    affected_sessions = models.PositiveIntegerField(
        default=0, help_text="Sessions of those enrollments on or after the effective date, not cancelled."
    )
    financial_impact = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        help_text="The value of the unused sessions of the affected enrollments (remaining x session rate).",
    )
    account_balance = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, help_text="The student's balance when assessed (+ owed)."
    )
    impact_details = models.JSONField(default=list, blank=True, help_text="One entry per affected enrollment.")
    financial_notes = models.TextField(blank=True, help_text="How the money was settled when applied.")
    assessed_at = models.DateTimeField(null=True, blank=True)

    requested_by = models.ForeignKey("academy.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved_by = models.ForeignKey("academy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_notes = models.TextField(blank=True)
    rejected_by = models.ForeignKey("academy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=300, blank=True)
    applied_by = models.ForeignKey("academy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    objects = LocationTransferQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-transfer_number"]
        permissions = [("approve_locationtransfer", "Can approve, reject and apply location transfers")]
        indexes = [
            models.Index(fields=["status", "effective_date"], name="transfer_status_effective"),
            models.Index(fields=["from_location", "status"], name="transfer_from_status"),
            models.Index(fields=["to_location", "status"], name="transfer_to_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=Q(status__in=["requested", "approved"]),
                name="one_open_transfer_per_student",
                violation_error_message="The student already has an open location transfer.",
            ),
            models.CheckConstraint(
                condition=~Q(from_location=F("to_location")),
                name="transfer_locations_differ",
                violation_error_message="The new location must differ from the current one.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "approved", "rejected", "applied"]), name="transfer_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(transfer_type__in=["standard", "emergency", "temporary", "permanent"]),
                name="transfer_type_valid",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="transfer_reason_required", violation_error_message="Say why."
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="transfer_approver_differs",
                violation_error_message="The approver must be another person than the requester.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "applied"])
                | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="transfer_approved_has_approver",
                violation_error_message="An approved transfer names its approver and the time of approval.",
            ),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True) | Q(approved_at__gte=F("requested_at")),
                name="transfer_approved_after_request",
                violation_error_message="A transfer cannot be approved before it was requested.",
            ),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(applied_at__isnull=False),
                name="transfer_applied_has_time",
                violation_error_message="An applied transfer records when it was applied.",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(rejected_at__isnull=False),
                name="transfer_rejected_has_time",
                violation_error_message="A rejected transfer records when it was rejected.",
            ),
            models.CheckConstraint(
                condition=~Q(transfer_type="temporary") | Q(end_date__isnull=False),
                name="transfer_temporary_has_end",
                violation_error_message="A temporary transfer needs an end date.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("effective_date")),
                name="transfer_end_after_effective",
                violation_error_message="The end date cannot be before the effective date.",
            ),
        ]

    def __str__(self) -> str:
        return self.transfer_number or f"Transfer of {self.student_id}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())
