"""The academy's structure: users and roles, locations, years and terms, grade levels,
programs, courses and curricula, sections and their class sessions."""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from academy.authz import grants_for
from academy.common.models import HistoricalRecords, TimeStampedModel, UUIDModel
from academy.common.money import MoneyModelField
from academy.roles import PARENT, STAFF_ROLES


class User(UUIDModel, AbstractUser):
    """A person who logs in: staff (by role group) or a parent (the parent group and a
    guardian record). ``locations`` limits a staff user; none means every location."""

    locations = models.ManyToManyField("academy.Location", blank=True, related_name="staff")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def role_names(self) -> frozenset[str]:
        return grants_for(self).roles

    @property
    def is_academy_staff(self) -> bool:
        return self.is_active and (self.is_superuser or bool(self.role_names & STAFF_ROLES))

    @property
    def is_parent(self) -> bool:
        return self.is_active and PARENT in self.role_names and not self.is_academy_staff


class Location(TimeStampedModel):
    """A branch or campus of the academy."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    attendance_threshold = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Attendance percentage a student needs to be eligible (exams, promotion). "
        "Empty: the programme's, else the academy default (75).",
    )
    billing_day = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Day of the month (1-31; past a short month's end: its last day) on which the month's "
        "billing run starts by itself. Empty: billing runs are started by hand.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="location_code_not_blank"),
            models.CheckConstraint(
                condition=Q(billing_day__isnull=True) | Q(billing_day__gte=1, billing_day__lte=31),
                name="location_billing_day_of_month",
                violation_error_message="The billing day is a day of the month, 1 to 31.",
            ),
            models.CheckConstraint(
                condition=Q(attendance_threshold__isnull=True)
                | Q(attendance_threshold__gte=0, attendance_threshold__lte=100),
                name="location_attendance_threshold_percent",
                violation_error_message="The attendance threshold is a percentage from 0 to 100.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Facility(TimeStampedModel):
    """A place where classes meet: a pool, a room, a court."""

    class Kind(models.TextChoices):
        POOL = "pool", "Pool"
        ROOM = "room", "Room"
        COURT = "court", "Court"
        STUDIO = "studio", "Studio"
        OTHER = "other", "Other"

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="facilities")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ROOM)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["location__name", "name"]
        verbose_name_plural = "facilities"
        constraints = [
            models.UniqueConstraint(fields=["location", "code"], name="facility_code_unique_per_location"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.location.code})"


class AcademicYear(TimeStampedModel):
    """A school year such as "2025-26". Exactly one is current (switched by a service)."""

    name = models.CharField(max_length=20, unique=True)
    start_date = models.DateField()
    end_date = models.DateField()
    is_current = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lt=F("end_date")),
                name="academic_year_starts_before_it_ends",
                violation_error_message="The year must start before it ends.",
            ),
            models.UniqueConstraint(
                fields=["is_current"],
                condition=Q(is_current=True),
                name="one_current_academic_year",
                violation_error_message="Another academic year is already current.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Term(TimeStampedModel):
    """A part of an academic year; enrollment is possible only while it is open."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    academic_year = models.ForeignKey(AcademicYear, on_delete=models.PROTECT, related_name="terms")
    name = models.CharField(max_length=50)
    start_date = models.DateField()
    end_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    history = HistoricalRecords()

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.UniqueConstraint(fields=["academic_year", "name"], name="term_name_unique_per_year"),
            models.CheckConstraint(
                condition=Q(start_date__lte=F("end_date")),
                name="term_starts_before_it_ends",
                violation_error_message="The term must start before it ends.",
            ),
            models.CheckConstraint(condition=Q(status__in=["open", "closed"]), name="term_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.academic_year.name} {self.name}"

    def clean(self):
        year = self.academic_year if self.academic_year_id else None
        if (
            year
            and self.start_date
            and self.end_date
            and not (year.start_date <= self.start_date and self.end_date <= year.end_date)
        ):
            raise ValidationError(
                {"end_date": f"The term must lie inside {year.name} ({year.start_date} to {year.end_date})."}
            )


class GradeLevel(TimeStampedModel):
    """An ordered grade; promotion moves a student to ``next_grade``; none means the
    student graduates from this grade."""

    name = models.CharField(max_length=50, unique=True)
    order = models.PositiveSmallIntegerField(unique=True)
    next_grade = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="previous_grade"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["order"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(next_grade=F("id")),
                name="grade_level_next_is_another_grade",
                violation_error_message="A grade cannot be its own next grade.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_final(self) -> bool:
        return self.next_grade_id is None

    def clean(self):
        if self.next_grade_id and self.order is not None and self.next_grade.order <= self.order:
            raise ValidationError({"next_grade": "The next grade must come after this one."})


class Program(TimeStampedModel):
    """A family of courses: "Swimming", "Primary academics"."""

    class MakeupPolicy(models.TextChoices):
        NONE = "none", "No make-ups"
        EXCUSED = "excused", "Excused absences earn a make-up"
        ABSENT_OR_EXCUSED = "absent_or_excused", "Any absence earns a make-up"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    makeup_policy = models.CharField(
        max_length=20,
        choices=MakeupPolicy.choices,
        default=MakeupPolicy.ABSENT_OR_EXCUSED,
        help_text="Which missed sessions earn a make-up credit.",
    )
    makeup_credit_days = models.PositiveSmallIntegerField(
        default=60, help_text="Days after the missed session that a make-up credit can be booked."
    )
    makeup_fee = MoneyModelField(
        max_digits=12, decimal_places=2, default=0, help_text="Charged when a make-up is booked; 0 for none."
    )
    attendance_threshold = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Attendance percentage needed to be eligible; empty: the location's, else 75.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(makeup_policy__in=["none", "excused", "absent_or_excused"]),
                name="program_makeup_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(makeup_fee__gte=0),
                name="program_makeup_fee_non_negative",
                violation_error_message="The make-up fee cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(attendance_threshold__isnull=True)
                | Q(attendance_threshold__gte=0, attendance_threshold__lte=100),
                name="program_attendance_threshold_percent",
                violation_error_message="The attendance threshold is a percentage from 0 to 100.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def earns_makeup(self, status: str) -> bool:
        """Whether a mark of ``status`` (absent / excused) earns a make-up credit."""
        if self.makeup_policy == self.MakeupPolicy.EXCUSED:
            return status == "excused"
        if self.makeup_policy == self.MakeupPolicy.ABSENT_OR_EXCUSED:
            return status in ("absent", "excused")
        return False


class Course(TimeStampedModel):
    """Something taught: "SWIM-CLUB" Swimming Club, "MATH-5" Grade 5 Mathematics."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="courses")
    code = models.CharField(max_length=30, unique=True)
    title = models.CharField(max_length=200)
    credits = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    grade_level = models.ForeignKey(GradeLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="courses")
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credits__gte=0),
                name="course_credits_non_negative",
                violation_error_message="Credits cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Curriculum(TimeStampedModel):
    """What a course teaches, in levels and modules, and the skill areas assessed."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="curricula")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "curricula"
        constraints = [
            models.UniqueConstraint(fields=["course", "name"], name="curriculum_name_unique_per_course"),
        ]

    def __str__(self) -> str:
        return self.name


class CurriculumLevel(UUIDModel):
    curriculum = models.ForeignKey(Curriculum, on_delete=models.CASCADE, related_name="levels")
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["curriculum", "order"]
        constraints = [
            models.UniqueConstraint(fields=["curriculum", "order"], name="curriculum_level_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.curriculum.name}: {self.name}"


class CurriculumModule(UUIDModel):
    level = models.ForeignKey(CurriculumLevel, on_delete=models.CASCADE, related_name="modules")
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["level", "order"]
        constraints = [
            models.UniqueConstraint(fields=["level", "order"], name="curriculum_module_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.name}"


class SkillArea(UUIDModel):
    """A skill assessed on the 0-3 scale (docs/rules.md, Skills), e.g. "Breathing", "Kicking"."""

    curriculum = models.ForeignKey(Curriculum, on_delete=models.CASCADE, related_name="skill_areas")
    level = models.ForeignKey(
        CurriculumLevel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="skill_areas",
        help_text="Assessed at this level only; empty: at every level of the curriculum.",
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["curriculum", "name"]
        constraints = [
            models.UniqueConstraint(fields=["curriculum", "name"], name="skill_area_unique_per_curriculum"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.level_id and self.curriculum_id and self.level.curriculum_id != self.curriculum_id:
            raise ValidationError({"level": "The level belongs to another curriculum."})


class Section(TimeStampedModel):
    """An offering of a course in a term at a location, with its instructor, facility,
    capacity and weekly schedule."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sections")
    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="sections")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="sections")
    code = models.CharField(max_length=20, help_text="Distinguishes offerings of one course in a term, e.g. A.")
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="sections")
    instructor = models.ForeignKey(
        "academy.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="sections_taught"
    )
    capacity = models.PositiveIntegerField()
    schedule = models.CharField(max_length=200, blank=True, help_text='e.g. "Mon, Wed 16:00-17:00"')
    history = HistoricalRecords()

    class Meta:
        ordering = ["term__start_date", "course__code", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "term", "location", "code"], name="section_unique_per_course_term_location"
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=0),
                name="section_capacity_non_negative",
                violation_error_message="Capacity cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course.code}-{self.code} {self.term}"

    def clean(self):
        if self.facility_id and self.location_id and self.facility.location_id != self.location_id:
            raise ValidationError({"facility": "The facility belongs to another location."})


class ClassSession(TimeStampedModel):
    """One scheduled meeting of a section."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="sessions")
    date = models.DateField()
    start_time = models.TimeField()
    end_time = models.TimeField()
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions")
    is_cancelled = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date", "start_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["section", "date", "start_time"],
                name="class_session_unique_start_per_section",
                violation_error_message="This section already meets at that date and time.",
            ),
            models.CheckConstraint(
                condition=Q(start_time__lt=F("end_time")),
                name="class_session_starts_before_it_ends",
                violation_error_message="A session must start before it ends.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.section} {self.date} {self.start_time:%H:%M}"

    def clean(self):
        if self.date and self.section_id:
            term = self.section.term
            if not (term.start_date <= self.date <= term.end_date):
                raise ValidationError({"date": f"The date must lie inside the term ({term})."})


class AuditLog(models.Model):
    """One write request (POST, PUT, PATCH, DELETE) to any interface: who, when, what,
    and the request data with passwords, tokens and secrets removed. Never edited;
    pruned only by ``manage.py audit_prune`` after the retention period."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey("academy.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_username = models.CharField(max_length=150, blank=True)
    interface = models.CharField(max_length=10)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    view_name = models.CharField(max_length=200, blank=True)
    status_code = models.PositiveSmallIntegerField()
    summary = models.CharField(max_length=300)
    request_data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["actor", "created_at"], name="audit_actor_time")]

    def __str__(self) -> str:
        return self.summary


class Job(TimeStampedModel):
    """A long piece of work run on a Celery worker, with its progress (``academy.jobs``):
    report cards, documents, promotion and billing runs among them. One row per job:
    what to do (``kind`` and ``params``), how far it got
    (``total``, ``done``, ``failed_count`` and the ``errors`` of single items), when it
    last showed life (``heartbeat_at``) and the file it made (``result_path``).

    A job that stops showing life is interrupted and resumed once from where it stopped
    (``academy.jobs.jobs_resume_stale``); running the same job twice does nothing the
    second time (``academy.jobs.job_run`` claims it first)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        INTERRUPTED = "interrupted", "Interrupted"

    ACTIVE = (State.QUEUED, State.RUNNING, State.INTERRUPTED)
    FINISHED = (State.COMPLETED, State.FAILED, State.CANCELLED)
    TRANSITIONS = {
        "queued": {"running", "cancelled", "failed"},
        "running": {"completed", "failed", "cancelled", "interrupted"},
        "interrupted": {"running", "cancelled", "failed"},
        "completed": set(),
        "failed": set(),
        "cancelled": set(),
    }

    kind = models.CharField(max_length=40, help_text="What the job does (a kind registered in academy.jobs).")
    title = models.CharField(max_length=200, blank=True, help_text="What the job is about, as people read it.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="Items processed, failed ones included.")
    failed_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text='[{"item": ..., "message": ...}] per failed item.')
    message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "academy.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    result_path = models.CharField(max_length=300, blank=True, help_text="The file made, under JOB_FILES_ROOT.")
    result_name = models.CharField(max_length=200, blank=True, help_text="The file's name when downloaded.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "created_at"], name="job_kind_created"),
            models.Index(fields=["created_by", "created_at"], name="job_creator_created"),
            models.Index(fields=["location", "created_at"], name="job_location_created"),
            # the stale-job scan: running jobs by heartbeat, waiting ones by age
            models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["queued", "running", "completed", "failed", "cancelled", "interrupted"]),
                name="job_state_valid",
            ),
            models.CheckConstraint(condition=~Q(kind=""), name="job_kind_not_blank"),
            models.CheckConstraint(condition=Q(done__lte=F("total")) | Q(total=0), name="job_done_within_total"),
            models.CheckConstraint(condition=Q(failed_count__lte=F("done")), name="job_failed_within_done"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == self.State.COMPLETED:
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def has_file(self) -> bool:
        return self.state == self.State.COMPLETED and bool(self.result_path)

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]
