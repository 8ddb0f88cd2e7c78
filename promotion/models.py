"""Year-end promotion (docs/rules.md, Promotion): a run moves a location's students from
one academic year and grade to the next.

- ``PromotionRun``: what to promote (location, from and to year, the grade mapping, the
  grades or students it is limited to), the eligibility rules, carry-forward on or off,
  and where it stands: draft -> previewed -> approved -> running -> completed / failed /
  cancelled. The approver is never the creator (a database check).
- ``PromotionProposal``: the preview, one row per student: the proposed outcome and why,
  what would be carried, and the office's override with its reason.
- ``PromotionRecord``: what happened to a student (seed ``class_upgrades``): one per
  student and year promoted from (a database unique), corrected by a new record that
  names the one it corrects, never edited.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from academy.common.models import HistoricalRecords, TimeStampedModel, TrackedModel
from finance.models import money_field


class Outcome(models.TextChoices):
    PROMOTED = "promoted", "Promoted"
    DETAINED = "detained", "Detained"
    GRADUATED = "graduated", "Graduated"
    LEFT = "left", "Left"
    SKIPPED = "skipped", "Skipped"


RECORDED_OUTCOMES = ["promoted", "detained", "graduated", "left"]
CONTINUING = ("promoted", "detained")  # who stays on: their balance follows them into the new year


class PromotionRun(TrackedModel):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PREVIEWED = "previewed", "Previewed"
        APPROVED = "approved", "Approved"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="promotion_runs")
    from_year = models.ForeignKey("academy.AcademicYear", on_delete=models.PROTECT, related_name="+")
    to_year = models.ForeignKey("academy.AcademicYear", on_delete=models.PROTECT, related_name="+")
    grade_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"<from grade id>": "<to grade id>" or null to graduate}; empty: each grade\'s next grade.',
    )
    grade_ids = models.JSONField(default=list, blank=True, help_text="Only these grades (ids); empty: every grade.")
    student_ids = models.JSONField(default=list, blank=True, help_text="Only these students (ids); empty: everyone.")
    min_attendance = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Empty: the location's eligibility threshold."
    )
    max_failed_results = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Published results failed at most this many (0: all passing); empty: ignored."
    )
    hold_detains = models.BooleanField(default=False, help_text="A finance hold on enrollment detains the student.")
    carry_forward = models.BooleanField(default=True, help_text="Carry open balances into the new year.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    previewed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("approve_promotionrun", "Can approve and start promotion runs")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    state__in=["draft", "previewed", "approved", "running", "completed", "failed", "cancelled"]
                ),
                name="promotion_run_state_valid",
            ),
            models.CheckConstraint(
                condition=~Q(from_year=F("to_year")),
                name="promotion_run_years_differ",
                violation_error_message="The run moves students into another year.",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(created_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="promotion_run_approver_is_not_creator",
                violation_error_message="Someone other than the creator approves a run.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["draft", "previewed", "cancelled"]) | Q(approved_by__isnull=False),
                name="promotion_run_approved_before_it_runs",
            ),
            models.CheckConstraint(
                condition=Q(min_attendance__isnull=True) | Q(min_attendance__gte=0, min_attendance__lte=100),
                name="promotion_run_attendance_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"Promotion {self.from_year_id} -> {self.to_year_id} at {self.location_id} ({self.state})"


class PromotionProposal(models.Model):
    """One student's line of a run's preview (and what the office changed of it)."""

    run = models.ForeignKey(PromotionRun, on_delete=models.CASCADE, related_name="proposals")
    student = models.ForeignKey("students.Student", on_delete=models.CASCADE, related_name="+")
    from_grade = models.ForeignKey(
        "academy.GradeLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_grade = models.ForeignKey(
        "academy.GradeLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    attendance_percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    results_failed = models.PositiveSmallIntegerField(default=0)
    result_average = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    carry_amount = money_field(default=0, help_text="What the student owes on open invoices (carried if they stay on).")
    invoices = models.JSONField(default=list, blank=True, help_text='[{"number": ..., "balance": "..."}] open.')
    override_outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["run", "from_grade__order", "student__last_name", "student__first_name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "student"], name="promotion_proposal_once_per_run"),
            models.CheckConstraint(
                condition=Q(outcome__in=["promoted", "detained", "graduated", "left", "skipped"]),
                name="promotion_proposal_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(override_outcome="") | ~Q(override_reason=""),
                name="promotion_proposal_override_has_reason",
                violation_error_message="An override needs a reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id}: {self.final_outcome}"

    @property
    def final_outcome(self) -> str:
        return self.override_outcome or self.outcome

    @property
    def carried(self):
        """What the run carries for this student: their open balance if they stay on
        (promoted or detained), else nothing (``carry_amount`` is what they owe)."""
        return self.carry_amount if self.final_outcome in CONTINUING else 0


class PromotionRecord(TimeStampedModel):
    """What a promotion did to one student (seed ``class_upgrades``). Never edited: a
    wrong one is corrected by a new record naming it (``corrects``) with a reason."""

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="promotions")
    run = models.ForeignKey(PromotionRun, null=True, blank=True, on_delete=models.PROTECT, related_name="records")
    from_year = models.ForeignKey("academy.AcademicYear", on_delete=models.PROTECT, related_name="+")
    to_year = models.ForeignKey("academy.AcademicYear", on_delete=models.PROTECT, related_name="+")
    from_grade = models.ForeignKey(
        "academy.GradeLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_grade = models.ForeignKey(
        "academy.GradeLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    attendance_percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    result_average = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    carried_amount = money_field(default=0)
    carry_status = models.CharField(max_length=16, default="none", help_text="carried_forward or none")
    notes = models.TextField(blank=True)
    corrects = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="correction")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "from_year"],
                condition=Q(corrects__isnull=True),
                name="promotion_once_per_student_and_year",
                violation_error_message="The student was already promoted from this year.",
            ),
            models.CheckConstraint(condition=Q(outcome__in=RECORDED_OUTCOMES), name="promotion_record_outcome_valid"),
            models.CheckConstraint(
                condition=Q(carry_status__in=["carried_forward", "none"]), name="promotion_record_carry_status_valid"
            ),
            models.CheckConstraint(condition=Q(carried_amount__gte=0), name="promotion_record_carried_not_negative"),
            models.CheckConstraint(
                condition=Q(corrects__isnull=True) | ~Q(notes=""),
                name="promotion_correction_has_reason",
                violation_error_message="A correction says why.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.from_year_id}: {self.outcome}"
