"""Guardians and their relationships to students (docs/rules.md, Families)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from academy.common.models import HistoricalRecords, TimeStampedModel, TrackedModel
from academy.common.search import search_text_expression
from students.models import Salutation


def _search_text():
    return search_text_expression("guardian_number", "first_name", "last_name", "email", "phone")


class Guardian(TrackedModel):
    """A parent or guardian: contact details, how they like to be reached, and an
    optional login to the parent portal."""

    class AccountStatus(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        SUSPENDED = "suspended", "Suspended"

    class Communication(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        SMS = "sms", "SMS"

    guardian_number = models.CharField(max_length=20, unique=True, editable=False)
    salutation = models.CharField(max_length=10, choices=Salutation.choices, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(max_length=255)
    phone = models.CharField(max_length=20)

    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)

    account_status = models.CharField(max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    preferred_communication = models.CharField(
        max_length=20, choices=Communication.choices, default=Communication.EMAIL
    )
    portal_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="guardian"
    )
    search_text = models.GeneratedField(expression=_search_text(), output_field=models.TextField(), db_persist=True)

    history = HistoricalRecords(excluded_fields=["search_text"])

    class Meta:
        ordering = ["last_name", "first_name", "guardian_number"]
        indexes = [models.Index(fields=["last_name", "first_name"], name="guardian_name")]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="guardian_email_unique",
                violation_error_message="Another guardian already has this email address.",
            ),
            models.CheckConstraint(
                condition=Q(account_status__in=["active", "inactive", "suspended"]), name="guardian_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(preferred_communication__in=["email", "phone", "sms"]),
                name="guardian_communication_valid",
            ),
            models.CheckConstraint(
                condition=~Q(first_name="") & ~Q(last_name="") & ~Q(email="") & ~Q(phone=""),
                name="guardian_required_fields_not_blank",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.guardian_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class StudentGuardian(TimeStampedModel):
    """How a guardian relates to a student, and what they may do for them.

    Every active student has exactly one primary guardian (partial unique index, plus
    a deferred trigger on PostgreSQL for "at least one"), and a primary guardian can
    always authorise medical care.
    """

    class RelationshipType(models.TextChoices):
        PRIMARY = "primary", "Primary"
        SECONDARY = "secondary", "Secondary"
        EMERGENCY = "emergency", "Emergency contact"

    student = models.ForeignKey("students.Student", on_delete=models.CASCADE, related_name="guardian_links")
    guardian = models.ForeignKey(Guardian, on_delete=models.CASCADE, related_name="student_links")
    relationship_type = models.CharField(max_length=20, choices=RelationshipType.choices)
    relation = models.CharField(max_length=50, blank=True, help_text="Mother, Father, Grandparent, ...")
    can_pick_up = models.BooleanField(default=True)
    can_authorize_medical = models.BooleanField(default=False)
    receives_communications = models.BooleanField(default=True)
    is_financially_responsible = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["relationship_type", "created_at"]
        indexes = [models.Index(fields=["guardian", "student"], name="student_guardian_by_guardian")]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "guardian"],
                name="student_guardian_unique",
                violation_error_message="This guardian is already linked to the student.",
            ),
            models.UniqueConstraint(
                fields=["student"],
                condition=Q(relationship_type="primary"),
                name="one_primary_guardian_per_student",
                violation_error_message="The student already has a primary guardian.",
            ),
            models.CheckConstraint(
                condition=~Q(relationship_type="primary", can_authorize_medical=False),
                name="primary_guardian_can_authorize_medical",
                violation_error_message="A primary guardian must be able to authorise medical care.",
            ),
            models.CheckConstraint(
                condition=Q(relationship_type__in=["primary", "secondary", "emergency"]),
                name="student_guardian_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.guardian} - {self.student} ({self.relationship_type})"
