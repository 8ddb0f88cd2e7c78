"""Grading (docs/rules.md, Grading): skill progress, grade scales, assessments and scores,
results and the requests that change a published result.

- ``SkillRating``: one assessment of one skill area for one enrollment, 0-3, kept for ever
  (a new rating is a new row), so progress since any date can be shown and charted.
- ``GradeScale`` + ``GradeBand``: a percentage to a letter, grade points and pass/fail.
- ``Assessment``: per section, typed and weighted; a section's weights total at most 100
  (``grading.services`` locks the section), publishing needs exactly 100.
- ``Score``: one per student and assessment; scored (0..max), excused or missing.
- ``Result``: one per student and section; draft -> published -> frozen. A draft follows
  the scores. A published result changes only through an approved ``ResultChange``; a
  frozen one never changes. The database enforces both (``grading.migrations._result_guard``).
- ``ResultChange``: a request for a new grade on a published result; the approver is
  never the requester (a database check).
- ``DocumentRequest``: a transcript or certificate asked for, pending -> approved ->
  completed or rejected; ``IssuedDocument``: the register of what was issued (the PDF is
  made from it on demand); ``DocumentVisit``: the verification page's log.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from academy.common.models import HistoricalRecords, TimeStampedModel, TrackedModel

RATING_MIN, RATING_MAX = 0, 3


def _rating_check(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": RATING_MIN, f"{field}__lte": RATING_MAX})


class SkillRating(TrackedModel):
    """One assessment of a skill area (docs/rules.md, Skills). Never edited: the next
    assessment is a new row whose ``previous_rating`` is the last one's ``current_rating``.
    A rating below the previous one is a correction and says why."""

    student = models.ForeignKey("students.Student", on_delete=models.CASCADE, related_name="skill_ratings")
    enrollment = models.ForeignKey("enrollment.Enrollment", on_delete=models.CASCADE, related_name="skill_ratings")
    skill_area = models.ForeignKey("academy.SkillArea", on_delete=models.PROTECT, related_name="ratings")
    level = models.ForeignKey("academy.CurriculumLevel", on_delete=models.PROTECT, related_name="+")
    module = models.ForeignKey(
        "academy.CurriculumModule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    previous_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    current_rating = models.PositiveSmallIntegerField()
    target_rating = models.PositiveSmallIntegerField(default=RATING_MAX)
    correction_reason = models.CharField(
        max_length=300, blank=True, help_text="Required when the rating goes below the previous one."
    )
    assessment_date = models.DateField()
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    instructor_notes = models.TextField(blank=True)
    student_notes = models.TextField(blank=True)
    parent_notes = models.TextField(blank=True)
    achievement_milestones = models.JSONField(default=list, blank=True)
    learning_objectives = models.JSONField(default=list, blank=True)
    next_goals = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-assessment_date", "-created_at"]
        indexes = [
            # the progress query: a student's ratings since a date (grading.selectors.student_progress)
            models.Index(fields=["student", "assessment_date"], name="skill_rating_student_date"),
            models.Index(fields=["student", "skill_area"], name="skill_rating_student_skill"),
            # the latest rating of each skill area of an enrollment
            models.Index(fields=["enrollment", "skill_area", "-created_at"], name="skill_rating_latest"),
            models.Index(fields=["assessment_date"], name="skill_rating_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=_rating_check("previous_rating"), name="skill_rating_previous_0_3"),
            models.CheckConstraint(
                condition=Q(current_rating__gte=RATING_MIN, current_rating__lte=RATING_MAX),
                name="skill_rating_current_0_3",
                violation_error_message="A rating is from 0 to 3.",
            ),
            models.CheckConstraint(
                condition=Q(target_rating__gte=RATING_MIN, target_rating__lte=RATING_MAX),
                name="skill_rating_target_0_3",
                violation_error_message="A target is from 0 to 3.",
            ),
            models.CheckConstraint(
                condition=Q(current_rating__lte=F("target_rating")),
                name="skill_rating_current_at_most_target",
                violation_error_message="The rating cannot be above the target.",
            ),
            models.CheckConstraint(
                condition=Q(previous_rating__isnull=True)
                | Q(current_rating__gte=F("previous_rating"))
                | ~Q(correction_reason=""),
                name="skill_rating_no_drop_without_reason",
                violation_error_message="A rating below the previous one is a correction: give the reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill_area_id}: {self.current_rating}/{self.target_rating} on {self.assessment_date}"


class GradeScale(TimeStampedModel):
    """Bands from a percentage to a letter. The scale of a section is the most specific
    one: its programme at its location, its programme, its location, else the default."""

    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)
    program = models.ForeignKey(
        "academy.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="grade_scales"
    )
    location = models.ForeignKey(
        "academy.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="grade_scales"
    )
    counts_in_gpa = models.BooleanField(
        default=True, help_text="Off for pass/fail: its results carry no grade points and stay out of the GPA."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="one_default_grade_scale",
                violation_error_message="Another grade scale is already the default.",
            ),
            models.UniqueConstraint(fields=["program", "location"], name="grade_scale_unique_per_program_location"),
            models.UniqueConstraint(
                fields=["program"],
                condition=Q(program__isnull=False, location__isnull=True),
                name="grade_scale_unique_per_program",
            ),
            models.UniqueConstraint(
                fields=["location"],
                condition=Q(program__isnull=True, location__isnull=False),
                name="grade_scale_unique_per_location",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def band_for(self, percentage: Decimal | None, bands=None) -> "GradeBand | None":
        if percentage is None:
            return None
        for band in bands if bands is not None else self.bands.all():  # highest first
            if percentage >= band.min_percentage:
                return band
        return None


class GradeBand(models.Model):
    scale = models.ForeignKey(GradeScale, on_delete=models.CASCADE, related_name="bands")
    letter = models.CharField(max_length=10)
    min_percentage = models.DecimalField(max_digits=5, decimal_places=2)
    grade_points = models.DecimalField(max_digits=4, decimal_places=2, default=0)
    passed = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["scale", "-min_percentage"]
        constraints = [
            models.UniqueConstraint(fields=["scale", "letter"], name="grade_band_letter_unique"),
            models.UniqueConstraint(fields=["scale", "min_percentage"], name="grade_band_floor_unique"),
            models.CheckConstraint(
                condition=Q(min_percentage__gte=0, min_percentage__lte=100),
                name="grade_band_floor_percent",
                violation_error_message="A band starts at a percentage from 0 to 100.",
            ),
            models.CheckConstraint(condition=Q(grade_points__gte=0), name="grade_band_points_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.letter} (from {self.min_percentage}%)"


class Assessment(TrackedModel):
    class Type(models.TextChoices):
        QUIZ = "quiz", "Quiz"
        ASSIGNMENT = "assignment", "Assignment"
        PROJECT = "project", "Project"
        MIDTERM = "midterm", "Midterm"
        FINAL = "final", "Final exam"

    section = models.ForeignKey("academy.Section", on_delete=models.PROTECT, related_name="assessments")
    type = models.CharField(max_length=12, choices=Type.choices)
    title = models.CharField(max_length=200)
    date = models.DateField(null=True, blank=True)
    weight = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent of the final grade.")
    max_score = models.DecimalField(max_digits=7, decimal_places=2, default=100)
    history = HistoricalRecords()

    class Meta:
        ordering = ["section", "date", "title"]
        constraints = [
            models.UniqueConstraint(fields=["section", "title"], name="assessment_title_unique_per_section"),
            models.CheckConstraint(
                condition=Q(weight__gt=0, weight__lte=100),
                name="assessment_weight_percent",
                violation_error_message="A weight is more than 0 and at most 100.",
            ),
            models.CheckConstraint(
                condition=Q(max_score__gt=0),
                name="assessment_max_score_positive",
                violation_error_message="The maximum score must be more than 0.",
            ),
            models.CheckConstraint(
                condition=Q(type__in=["quiz", "assignment", "project", "midterm", "final"]),
                name="assessment_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.weight}%)"


class Score(TrackedModel):
    """A student's mark on an assessment. ``max_score`` is the assessment's, copied so the
    database itself refuses a score above it."""

    class Status(models.TextChoices):
        SCORED = "scored", "Scored"
        EXCUSED = "excused", "Excused"
        MISSING = "missing", "Missing"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="scores")
    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="scores")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCORED)
    score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(max_digits=7, decimal_places=2)
    comment = models.CharField(max_length=300, blank=True)
    eligibility_override_reason = models.CharField(
        max_length=300, blank=True, help_text="Why a final exam counts for a student below the attendance threshold."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["assessment", "student"]
        permissions = [
            ("override_eligibility", "Can score a final exam for a student below the attendance threshold"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "student"],
                name="score_one_per_student_and_assessment",
                violation_error_message="This student already has a score for this assessment.",
            ),
            models.CheckConstraint(
                condition=Q(status="scored", score__isnull=False, score__gte=0, score__lte=F("max_score"))
                | (Q(status__in=["excused", "missing"]) & Q(score__isnull=True)),
                name="score_between_0_and_max",
                violation_error_message="A score is from 0 to the maximum; excused and missing have none.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.assessment_id}: {self.score if self.status == 'scored' else self.status}"


class Result(TimeStampedModel):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        FROZEN = "frozen", "Frozen"

    # no index of its own: the unique (student, section) and the (student, state) index lead
    # with it (one index fewer for a term's publish to write)
    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="results", db_index=False)
    section = models.ForeignKey("academy.Section", on_delete=models.PROTECT, related_name="results")
    scale = models.ForeignKey(GradeScale, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    letter_grade = models.CharField(max_length=10, blank=True)
    grade_points = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    comments = models.TextField(blank=True, help_text="The instructor's comment, printed on the report card.")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    frozen_at = models.DateTimeField(null=True, blank=True)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # the approved change request that last changed the grade (the database guard checks it)
    last_change = models.ForeignKey(
        "grading.ResultChange", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # a result's history is read by result (``id``) and date; the other keys' indexes would
    # only slow down the 50,000 history rows a term's publish writes (bench/grading.py)
    history = HistoricalRecords(no_db_index=["student", "section", "scale", "published_by", "frozen_by", "last_change"])

    class Meta:
        ordering = ["section", "student"]
        permissions = [("publish_result", "Can publish results"), ("freeze_result", "Can freeze results")]
        indexes = [models.Index(fields=["student", "state"], name="result_student_state")]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "section"],
                name="result_one_per_student_and_section",
                violation_error_message="This student already has a result for this section.",
            ),
            models.CheckConstraint(condition=Q(state__in=["draft", "published", "frozen"]), name="result_state_valid"),
            models.CheckConstraint(
                condition=Q(percentage__isnull=True) | Q(percentage__gte=0, percentage__lte=100),
                name="result_percentage_0_100",
            ),
            models.CheckConstraint(
                condition=Q(state="draft") | Q(published_at__isnull=False),
                name="result_published_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(state="frozen") | Q(frozen_at__isnull=False),
                name="result_frozen_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.section_id}: {self.letter_grade or '-'} ({self.state})"


class ResultChange(TimeStampedModel):
    """A request to change a published result's grade (docs/rules.md, Grading)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    result = models.ForeignKey(Result, on_delete=models.PROTECT, related_name="changes")
    old_grade = models.CharField(max_length=10, blank=True)
    new_grade = models.CharField(max_length=10)
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who approved or rejected it.",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at"]
        permissions = [("approve_resultchange", "Can approve or reject result change requests")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected"]), name="result_change_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="result_change_approver_is_not_requester",
                violation_error_message="The approver must be someone other than the requester.",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", approved_by__isnull=True, resolved_at__isnull=True)
                | (~Q(status="pending") & Q(approved_by__isnull=False, resolved_at__isnull=False)),
                name="result_change_resolution_complete",
            ),
            models.UniqueConstraint(
                fields=["result"],
                condition=Q(status="pending"),
                name="result_change_one_pending_per_result",
                violation_error_message="This result already has a pending change request.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.old_grade} -> {self.new_grade} ({self.status})"


# --- documents: requests, the register of issued documents, verification visits ----------


class DocumentType(models.TextChoices):
    TRANSCRIPT = "transcript", "Transcript"
    BONAFIDE = "bonafide", "Bonafide certificate"
    NOC = "noc", "No-objection certificate"
    OTHER = "other", "Other document"


class DocumentRequest(TimeStampedModel):
    """A family's or the office's request for a document (docs/rules.md, Documents):
    pending -> approved -> completed, or rejected with a reason (from pending or approved).
    ``grading.document_services`` keeps the order; the database keeps the statuses and
    what each one needs."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"

    OPEN = (Status.PENDING, Status.APPROVED)  # not yet done: one per student and type

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="document_requests")
    type = models.CharField(max_length=20, choices=DocumentType.choices)
    purpose = models.CharField(max_length=300, blank=True, help_text="What the document is for, e.g. a visa.")
    addressee = models.CharField(max_length=200, blank=True, help_text="To whom it is addressed, if anyone.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    notes = models.TextField(blank=True, help_text="The office's notes; the family does not see them.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who approved, completed or rejected it last.",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="document_request_queue"),
            models.Index(fields=["student", "-created_at"], name="document_request_student"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "completed", "rejected"]),
                name="document_request_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(type__in=["transcript", "bonafide", "noc", "other"]), name="document_request_type_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | (~Q(rejection_reason="") & Q(rejected_at__isnull=False)),
                name="document_request_rejected_has_reason",
                violation_error_message="A rejected request needs a reason.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "completed"]) | Q(approved_at__isnull=False),
                name="document_request_approved_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="document_request_completed_has_date",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(processed_by__isnull=False),
                name="document_request_processed_has_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} for {self.student_id} ({self.status})"


class IssuedDocument(TimeStampedModel):
    """The register of documents the academy issued: what each one states (``content``,
    frozen at issue) and its digest. The PDF is made from it on demand and not kept
    (``DOCUMENT_FILE_HOURS``); made again it says the same. The verification page reads
    this row, so a removed file still verifies while its token is valid."""

    type = models.CharField(max_length=20, choices=DocumentType.choices)
    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="issued_documents")
    location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(
        DocumentRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content = models.JSONField(help_text="What the document states, as issued.")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the content, printed on the document.")

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["student", "-issued_at"], name="issued_document_student")]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=["transcript", "bonafide", "noc", "other"]), name="issued_document_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.issued_at:%Y-%m-%d} ({self.student_id})"


class DocumentVisit(models.Model):
    """One visit of the public verification page (or ``verify_document``): when, the
    answer, the document it named if genuine or expired, and a hash of the client (never
    the address itself)."""

    class Outcome(models.TextChoices):
        GENUINE = "genuine", "Genuine"
        EXPIRED = "expired", "Expired"
        INVALID = "invalid", "Invalid"
        LIMITED = "limited", "Rate limited"

    visited_at = models.DateTimeField(auto_now_add=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    document = models.ForeignKey(IssuedDocument, null=True, blank=True, on_delete=models.CASCADE, related_name="visits")
    client = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the client's address and the secret.")
    via = models.CharField(max_length=10, default="web")

    class Meta:
        ordering = ["-visited_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["genuine", "expired", "invalid", "limited"]), name="document_visit_outcome"
            )
        ]

    def __str__(self) -> str:
        return f"{self.visited_at:%Y-%m-%d %H:%M} {self.outcome}"
