"""Report cards: one student's term as a PDF (WeasyPrint, ``templates/grading/report_card.html``),
and whole sections, grade levels or locations as a long job (``academy.jobs``, kind
``report_cards``) that makes one ZIP of the PDFs.

A report card shows the student's **published and frozen** results of the term (course,
grade, points, percentage, credits, the instructor's comment; a draft never appears),
the term GPA (``grading.selectors.term_gpa``), the attendance percentage of the term
(``attendance.selectors``: overall and per class), the latest rating of each skill area
of their classes (``grading.selectors.latest_ratings``), the location's name as the
letterhead and the issue date.

``report_card_pdf(student=..., term=...)`` is the whole card (the parent portal checks
its own scope and the finance hold first). With ``user=`` a staff user gets the card as
far as they may see it: an instructor who only teaches sees the classes they teach.
"""

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from weasyprint import HTML

from academy.common.exceptions import Conflict
from academy.jobs import JobResult, Progress, job_folder, job_start
from academy.models import GradeLevel, Job, Location, Section, SkillArea, Term, User
from academy.selectors import section_list
from attendance.models import AttendanceRecord
from attendance.selectors import Summary, enrollment_summaries, status_counts, summary_of
from enrollment.models import Enrollment
from families.selectors import students_visible_to
from grading.models import Result, SkillRating
from grading.selectors import GRADED_STATUSES, latest_ratings, skill_areas_for_level, student_results, term_gpa
from students.models import Student

REPORT_CARDS = "report_cards"  # the job kind (registered in grading.jobs)
TEMPLATE = "grading/report_card.html"


def _is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_academy_staff)


# --- one report card ----------------------------------------------------------------------


@dataclass
class ReportCardLine:
    """One published result of the term, with the student's attendance in that class."""

    result: Result
    attendance: Decimal | None = None

    @property
    def course(self):
        return self.result.section.course

    @property
    def credits(self) -> Decimal:
        return self.course.credits


@dataclass
class SkillLine:
    area: SkillArea
    rating: SkillRating | None

    @property
    def at_target(self) -> bool:
        return self.rating is not None and self.rating.current_rating >= self.rating.target_rating


@dataclass
class SkillBlock:
    """The skill areas of one class (its enrollment's level) with their latest ratings."""

    enrollment: Enrollment
    lines: list = field(default_factory=list)


@dataclass
class ReportCard:
    student: Student
    term: Term
    location: Location
    issue_date: object
    lines: list  # ReportCardLine, by course code
    gpa: Decimal | None
    attendance: Summary
    skills: list  # SkillBlock

    @property
    def credits_attempted(self) -> Decimal:
        return sum((line.credits for line in self.lines), Decimal("0"))

    @property
    def credits_earned(self) -> Decimal:
        return sum((line.credits for line in self.lines if line.result.passed), Decimal("0"))


def report_card_data(*, student: Student, term: Term, user: User | None = None) -> ReportCard:
    """What a report card shows (a fixed number of queries, plus one per class with a
    curriculum level). ``user``: a staff user sees only the sections they may see."""
    staff = _is_staff(user)
    results = list(
        student_results(student=student, user=user if staff else None, published_only=True)
        .filter(section__term=term)
        .select_related("section__instructor")
        .order_by("section__course__code", "section__code")
    )
    enrollments = Enrollment.objects.filter(student=student, section__term=term, status__in=GRADED_STATUSES)
    records = AttendanceRecord.objects.filter(student=student, class_session__section__term=term)
    if staff:
        visible = section_list(user=user)
        enrollments = enrollments.filter(section__in=visible)
        records = records.filter(class_session__section__in=visible)
    enrollments = list(
        enrollment_summaries(enrollments.select_related("section__course", "current_level", "current_module")).order_by(
            "section__course__code", "section__code"
        )
    )
    by_section = {enrollment.section_id: summary_of(enrollment).percentage for enrollment in enrollments}
    overall = Summary.of(records.order_by().aggregate(**status_counts()))
    return ReportCard(
        student=student,
        term=term,
        location=student.location,
        issue_date=timezone.localdate(),
        lines=[ReportCardLine(result=result, attendance=by_section.get(result.section_id)) for result in results],
        gpa=term_gpa(results),
        attendance=overall,
        skills=_skills(enrollments),
    )


def _skills(enrollments: list[Enrollment]) -> list[SkillBlock]:
    """Per class: the skill areas of the enrollment's level (and any other area it was
    rated in), each with its latest rating."""
    latest = latest_ratings(enrollments)
    rated_ids = {area_id for (_enrollment_id, area_id) in latest}
    level_areas = {e.pk: skill_areas_for_level(e.current_level) for e in enrollments if e.current_level_id}
    known = {area.pk: area for areas in level_areas.values() for area in areas}
    missing = rated_ids - set(known)
    if missing:
        known.update({area.pk: area for area in SkillArea.objects.filter(pk__in=missing)})
    blocks = []
    for enrollment in enrollments:
        area_ids = {area.pk for area in level_areas.get(enrollment.pk, [])}
        area_ids |= {area_id for (enrollment_id, area_id) in latest if enrollment_id == enrollment.pk}
        if not area_ids:
            continue
        areas = sorted((known[pk] for pk in area_ids), key=lambda area: area.name)
        blocks.append(
            SkillBlock(
                enrollment=enrollment,
                lines=[SkillLine(area=area, rating=latest.get((enrollment.pk, area.pk))) for area in areas],
            )
        )
    return blocks


def report_card_html(*, student: Student, term: Term, user: User | None = None) -> str:
    """The HTML the PDF is made from (what tests can read)."""
    card = report_card_data(student=student, term=term, user=user)
    return render_to_string(
        TEMPLATE,
        {"card": card, "academy_name": settings.ACADEMY_NAME, "generated_at": timezone.now()},
    )


def report_card_pdf(*, student: Student, term: Term, user: User | None = None) -> bytes:
    """One student's report card for ``term`` as a PDF: published and frozen results
    only. Without ``user`` the whole card (the caller decided the student is theirs to see)."""
    html = report_card_html(student=student, term=term, user=user)
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def report_card_filename(student: Student, term: Term) -> str:
    name = slugify(f"{student.last_name} {student.first_name}") or "student"
    return f"{student.student_number}-{name}-{slugify(term.name) or 'term'}.pdf"


# --- whom a batch covers ------------------------------------------------------------------


def report_card_students(
    *,
    term: Term,
    user: User | None,
    section: Section | None = None,
    grade_level: GradeLevel | None = None,
    location: Location | None = None,
) -> QuerySet[Student]:
    """The students who get a report card for ``term``: enrolled (or paused, or
    completed) in a section of the term, narrowed to ``section``, to students of
    ``grade_level``, or to sections at ``location``. With a staff ``user``: only the
    sections and students they may see (an instructor: the sections they teach). By
    name. ``user=None``: everybody (a job started by the system)."""
    sections = Section.objects.filter(term=term) if user is None else section_list(user=user).filter(term=term)
    if section is not None:
        sections = sections.filter(pk=section.pk)
    if location is not None:
        sections = sections.filter(location=location)
    enrolled = Enrollment.objects.filter(section__in=sections, status__in=GRADED_STATUSES).values("student_id")
    students = Student.objects.filter(pk__in=enrolled)
    if user is not None:
        students = students.filter(pk__in=students_visible_to(user).values("pk"))
    if grade_level is not None:
        students = students.filter(grade_level=grade_level)
    return students.select_related("location", "grade_level").order_by("last_name", "first_name", "student_number")


def report_card_student_get(*, user: User, student_pk, term: Term) -> Student | None:
    """The student, if ``user`` may print their report card for ``term`` (the scope of
    ``report_card_students``); ``None`` otherwise (a 404)."""
    return report_card_students(term=term, user=user).filter(pk=student_pk).first()


# --- the batch as a job -------------------------------------------------------------------


def _scope_title(term: Term, section, grade_level, location) -> str:
    parts = [f"Report cards {term}"]
    if section is not None:
        parts.append(f"{section.course.code}-{section.code}")
    if grade_level is not None:
        parts.append(grade_level.name)
    if location is not None:
        parts.append(location.name)
    return " · ".join(parts)


def report_cards_start(
    *,
    term: Term,
    actor,
    section: Section | None = None,
    grade_level: GradeLevel | None = None,
    location: Location | None = None,
) -> Job:
    """Start the report cards of a section, or of a grade level and/or a location, for
    ``term`` as a job (one ZIP of PDFs). 400 when the choice is incomplete or mixed;
    409 ``no_students`` when it covers nobody the actor may see."""
    if section is None and grade_level is None and location is None:
        raise ValidationError({NON_FIELD_ERRORS: ["Choose a section, a grade level or a location."]})
    if section is not None and (grade_level is not None or location is not None):
        raise ValidationError({"section": ["Choose a section, or a grade level and a location, not both."]})
    if section is not None and section.term_id != term.pk:
        raise ValidationError({"section": ["The section belongs to another term."]})
    user = actor if _is_staff(actor) else None
    count = report_card_students(
        term=term, user=user, section=section, grade_level=grade_level, location=location
    ).count()
    if not count:
        raise Conflict("Nobody in this choice has a class in the term.", code="no_students")
    params = {
        "term": str(term.pk),
        "section": str(section.pk) if section else None,
        "grade_level": str(grade_level.pk) if grade_level else None,
        "location": str(location.pk) if location else None,
        "scoped": user is not None,  # the creator's scope applies when the job runs
    }
    return job_start(
        kind=REPORT_CARDS,
        params=params,
        actor=actor,
        location=section.location if section is not None else location,
        title=_scope_title(term, section, grade_level, location),
        total=count,
    )


def write_atomically(target: Path, content: bytes) -> None:
    """Write to a temporary file beside ``target``, then rename: a reader (or a second
    run) never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def zip_atomically(archive: Path, paths: list[Path]) -> None:
    """One ZIP of ``paths`` (by their names) at ``archive``, written beside it and then
    renamed, as ``write_atomically`` writes a file."""
    handle, temporary = tempfile.mkstemp(dir=archive.parent, prefix=".part-")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
            for path in paths:
                bundle.write(path, arcname=path.name)
        os.replace(temporary, archive)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def report_cards_job(job: Job, progress: Progress) -> JobResult:
    """The job's handler: one PDF per student into the job's folder, progress after each,
    an error recorded per student without stopping the others; then one ZIP. Run again
    (after an interruption) it skips the PDFs already made."""
    params = job.params
    term = Term.objects.select_related("academic_year").get(pk=params["term"])
    section = Section.objects.select_related("course").get(pk=params["section"]) if params.get("section") else None
    grade_level = GradeLevel.objects.get(pk=params["grade_level"]) if params.get("grade_level") else None
    location = Location.objects.get(pk=params["location"]) if params.get("location") else None
    user = None
    if params.get("scoped"):
        user = User.objects.filter(pk=job.created_by_id, is_active=True).first()
        if user is None:
            raise RuntimeError("The user who started these report cards can no longer sign in.")
    students = list(
        report_card_students(term=term, user=user, section=section, grade_level=grade_level, location=location)
    )
    folder = job_folder(job) / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list = []
    made: list[Path] = []
    progress(0, total=len(students), failed=0, errors=[])
    for done, student in enumerate(students, start=1):
        target = folder / report_card_filename(student, term)
        if not target.exists():
            try:
                write_atomically(target, report_card_pdf(student=student, term=term, user=user))
            except Exception as error:  # one student's card must not stop the others
                errors.append({"item": f"{student.student_number} {student.full_name}", "message": str(error)[:300]})
        if target.exists():
            made.append(target)
        progress(done, failed=len(errors), errors=errors)
    if students and not made:
        raise RuntimeError("No report card could be made: see the errors.")
    archive = job_folder(job) / f"{slugify(job.title) or 'report-cards'}.zip"
    zip_atomically(archive, made)
    shutil.rmtree(folder, ignore_errors=True)
    message = f"{len(made)} report card{'s' if len(made) != 1 else ''} made"
    if errors:
        message += f"; {len(errors)} failed"
    return JobResult(path=archive, name=archive.name, message=message + ".")
