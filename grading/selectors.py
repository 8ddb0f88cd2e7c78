"""Reads of the grading app: the grade scale of a section, the weighted percentage, the
gradebook of a section, results and change requests, and skill progress.

The percentage (docs/rules.md, Grading): each assessment counts by its weight; an excused
score drops out and its weight is spread over the rest; a missing score (or none) drops
out of a draft and counts as 0 once results are published. Rounded half up to 0.01.

Every list is scoped through ``academy.selectors.section_list`` (a location-limited user
sees their locations' sections, an instructor only the sections they teach) and
``families.selectors.students_visible_to``; nowhere else.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.db.models import CharField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast

from academy.models import CurriculumLevel, Section, SkillArea, User
from academy.selectors import section_list, teaches_only
from attendance.selectors import enrollment_summaries, summary_of, threshold_for
from enrollment.models import Enrollment
from families.selectors import students_visible_to
from finance.selectors import Hold, hold_for
from grading.models import Assessment, GradeBand, GradeScale, Result, ResultChange, Score, SkillRating

CENT = Decimal("0.01")
FULL_WEIGHT = Decimal("100")
# the enrollments a gradebook and a published section cover: everyone who took the class
GRADED_STATUSES = (Enrollment.Status.ENROLLED, Enrollment.Status.PAUSED, Enrollment.Status.COMPLETED)


# --- scales and the percentage -------------------------------------------------------------


def _scales_with_bands() -> QuerySet[GradeScale]:
    return GradeScale.objects.prefetch_related(
        Prefetch("bands", queryset=GradeBand.objects.order_by("-min_percentage"))
    )


def grade_scale_list() -> QuerySet[GradeScale]:
    """Every grade scale with its bands (highest first)."""
    return _scales_with_bands().select_related("program", "location")


def scale_for(section: Section) -> GradeScale | None:
    """The most specific scale: the programme's at the section's location, the programme's,
    the location's, else the default. Two queries (the scales, their bands)."""
    return scales_for([section])[section.pk]


def weights_total(section: Section) -> Decimal:
    return Assessment.objects.filter(section=section).aggregate(total=Sum("weight"))["total"] or Decimal("0")


def weighted_percentage(assessments, scores: dict, *, final: bool) -> Decimal | None:
    """The weighted percentage of one student. ``scores`` maps an assessment id to its
    ``Score`` (absent: no score). ``final``: missing scores count as 0 (publishing);
    otherwise they drop out (a draft). ``None`` when nothing counts yet."""
    return percentage_of(assessments, {pk: (s.status, s.score) for pk, s in scores.items()}, final=final)


def percentage_of(assessments, marks: dict, *, final: bool) -> Decimal | None:
    """``weighted_percentage`` of ``marks``: assessment id -> (status, score) as plain
    values (what publishing a term reads)."""
    earned = Decimal("0")
    counted = Decimal("0")
    for assessment in assessments:
        status, points = marks.get(assessment.pk, MISSING)
        if status == Score.Status.EXCUSED:
            continue
        if status == Score.Status.MISSING:
            if not final:
                continue
            counted += assessment.weight
            continue
        earned += Decimal(points) / Decimal(assessment.max_score) * assessment.weight
        counted += assessment.weight
    if not counted:
        return None
    return (earned * 100 / counted).quantize(CENT, rounding=ROUND_HALF_UP)


MISSING = (Score.Status.MISSING, None)


@dataclass(frozen=True)
class Grade:
    percentage: Decimal | None
    letter: str = ""
    points: Decimal | None = None
    passed: bool | None = None


def grade_for(percentage: Decimal | None, scale: GradeScale | None, bands: list | None = None) -> Grade:
    """The grade of ``percentage`` on ``scale`` (``bands``: the scale's, highest first, when
    the caller grades many)."""
    band = scale.band_for(percentage, bands=bands or list(scale.bands.all())) if scale is not None else None
    if band is None:
        return Grade(percentage=percentage)
    return Grade(percentage=percentage, letter=band.letter, points=band.grade_points, passed=band.passed)


def band_by_letter(scale: GradeScale | None, letter: str) -> GradeBand | None:
    if scale is None:
        return None
    return next((band for band in scale.bands.all() if band.letter == letter), None)


# --- eligibility --------------------------------------------------------------------------


def ineligible_students(section: Section) -> dict:
    """Students of ``section`` below its attendance eligibility threshold (docs/rules.md,
    Attendance): student id -> their percentage. No marks yet: eligible. One query."""
    threshold = threshold_for(section)
    below = {}
    for enrollment in enrollment_summaries(Enrollment.objects.filter(section=section, status__in=GRADED_STATUSES)):
        pct = summary_of(enrollment).percentage
        if pct is not None and pct < threshold:
            below[enrollment.student_id] = pct
    return below


# --- scoped lists -------------------------------------------------------------------------


def assessment_list(*, user: User) -> QuerySet[Assessment]:
    return Assessment.objects.filter(section__in=section_list(user=user)).select_related(
        "section__course", "section__term", "section__location"
    )


def _is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_academy_staff)


def _of_visible_students(queryset: QuerySet, *, user: User, field: str = "student") -> QuerySet:
    """``queryset`` limited to students ``user`` may see, except for an instructor: the
    sections they teach (already filtered) decide, so the grades of a finished class stay
    theirs to read and to request changes for after its enrollments complete."""
    if teaches_only(user):
        return queryset.filter(**{f"{field}__deleted_at__isnull": True})
    return queryset.filter(**{f"{field}__in": students_visible_to(user)})


def score_list(*, user: User) -> QuerySet[Score]:
    scores = Score.objects.filter(assessment__section__in=section_list(user=user))
    return _of_visible_students(scores, user=user).select_related("assessment", "student")


def result_list(*, user: User) -> QuerySet[Result]:
    """Staff: the results of the sections they may see. A parent: their children's
    published and frozen results only (drafts are the instructor's work in progress)."""
    results = _of_visible_students(Result.objects.all(), user=user)
    if _is_staff(user):
        results = results.filter(section__in=section_list(user=user))
    else:
        results = results.filter(state__in=[Result.State.PUBLISHED, Result.State.FROZEN])
    return results.select_related(
        "student", "section__course", "section__term__academic_year", "section__location", "scale"
    )


def result_change_list(*, user: User) -> QuerySet[ResultChange]:
    changes = ResultChange.objects.filter(result__section__in=section_list(user=user))
    return _of_visible_students(changes, user=user, field="result__student").select_related(
        "result__student", "result__section__course", "result__section__term", "requested_by", "approved_by"
    )


def skill_rating_list(*, user: User) -> QuerySet[SkillRating]:
    """Staff: the ratings in the sections they may see. A parent: their children's."""
    ratings = _of_visible_students(SkillRating.objects.all(), user=user)
    if _is_staff(user):
        ratings = ratings.filter(enrollment__section__in=section_list(user=user))
    return ratings.select_related("skill_area", "level", "module", "enrollment__section__course", "instructor")


# --- the gradebook ------------------------------------------------------------------------


@dataclass
class GradebookRow:
    enrollment: Enrollment
    scores: dict  # assessment id -> Score
    result: Result | None
    draft: Grade
    eligible: bool = True
    attendance: Decimal | None = None

    @property
    def student(self):
        return self.enrollment.student


@dataclass
class Gradebook:
    section: Section
    scale: GradeScale | None
    assessments: list
    rows: list = field(default_factory=list)
    weights_total: Decimal = Decimal("0")
    threshold: Decimal = Decimal("0")

    @property
    def weights_complete(self) -> bool:
        return self.weights_total == FULL_WEIGHT

    @property
    def states(self) -> dict:
        counts: dict = defaultdict(int)
        for row in self.rows:
            counts[row.result.state if row.result else "none"] += 1
        return dict(counts)


def gradebook(section: Section) -> Gradebook:
    """A section's students (enrolled, paused or completed) by its assessments, with their
    scores, results, the draft grade the scores give now, and exam eligibility. A fixed
    number of queries whatever the size."""
    scale = scale_for(section)
    assessments = list(Assessment.objects.filter(section=section).order_by("date", "title"))
    enrollments = list(
        enrollment_summaries(
            Enrollment.objects.filter(section=section, status__in=GRADED_STATUSES).select_related("student")
        ).order_by("student__last_name", "student__first_name", "student__id")
    )
    scores: dict = defaultdict(dict)
    for score in Score.objects.filter(assessment__section=section):
        scores[score.student_id][score.assessment_id] = score
    results = {r.student_id: r for r in Result.objects.filter(section=section).select_related("last_change")}
    threshold = threshold_for(section)
    book = Gradebook(
        section=section,
        scale=scale,
        assessments=assessments,
        weights_total=sum((a.weight for a in assessments), Decimal("0")),
        threshold=threshold,
    )
    for enrollment in enrollments:
        student_scores = scores.get(enrollment.student_id, {})
        pct = summary_of(enrollment).percentage
        book.rows.append(
            GradebookRow(
                enrollment=enrollment,
                scores=student_scores,
                result=results.get(enrollment.student_id),
                draft=grade_for(weighted_percentage(assessments, student_scores, final=False), scale),
                eligible=pct is None or pct >= threshold,
                attendance=pct,
            )
        )
    return book


class AssessmentValue(NamedTuple):
    """An assessment as the percentage reads it."""

    pk: str
    weight: Decimal
    max_score: Decimal


class ResultValue(NamedTuple):
    id: str
    state: str
    percentage: Decimal | None
    letter_grade: str
    grade_points: Decimal | None
    passed: bool | None
    scale_id: object


@dataclass
class SectionMarks:
    """What publishing reads of a section: its scale and assessments, the graded students,
    their scores and results, as plain values."""

    scale: GradeScale | None
    assessments: list
    student_ids: list
    scores: dict  # student id -> {assessment id: (status, score)}
    results: dict  # student id -> ResultValue

    @property
    def weights_total(self) -> Decimal:
        return sum((a.weight for a in self.assessments), Decimal("0"))


def scales_for(sections) -> dict:
    """section id -> its scale (as ``scale_for`` chooses), for many sections by two
    queries (the scales and their bands; an academy has a handful)."""
    scales = list(_scales_with_bands())

    def rank(scale: GradeScale, section: Section) -> int | None:
        program_id = section.course.program_id
        if scale.program_id == program_id and scale.location_id == section.location_id:
            return 0
        if scale.program_id == program_id and scale.location_id is None:
            return 1
        if scale.program_id is None and scale.location_id == section.location_id:
            return 2
        if scale.is_default:
            return 3
        return None

    chosen = {}
    for section in sections:
        ranked = [(r, scale) for scale in scales if (r := rank(scale, section)) is not None]
        chosen[section.pk] = min(ranked, key=lambda pair: pair[0])[1] if ranked else None
    return chosen


def _text(field: str) -> Cast:
    # ids as text: a term's 300,000 scores load several times faster than as UUIDs
    return Cast(field, output_field=CharField())


def _rows(queryset) -> list[tuple]:
    compiler = queryset.query.get_compiler(using=queryset.db)
    return list(compiler.results_iter(tuple_expected=True, chunk_size=10_000))


def sections_marks(sections) -> dict:
    """section id -> ``SectionMarks``: the gradebooks' numbers as plain values (ids as
    text), for publishing. Six queries whatever the number of sections (a term has
    hundreds of thousands of scores; bench/grading.py)."""
    ids = [s.pk for s in sections]
    assessments: dict = defaultdict(list)
    section_of, assessment_ids = {}, []
    for section_id, uuid, *values in _rows(
        Assessment.objects.filter(section_id__in=ids)
        .order_by("date", "title")
        .values_list("section_id", "id", _text("id"), "weight", "max_score")
    ):
        assessment = AssessmentValue(*values)
        assessments[section_id].append(assessment)
        section_of[assessment.pk] = section_id
        assessment_ids.append(uuid)
    students: dict = defaultdict(dict)
    for section_id, student_id in _rows(
        Enrollment.objects.filter(section_id__in=ids, status__in=GRADED_STATUSES)
        .order_by("section_id", "student_id")
        .values_list("section_id", _text("student_id"))
    ):
        students[section_id][student_id] = None
    scores: dict = {section_id: defaultdict(dict) for section_id in ids}
    book_of = {assessment_id: scores[section_id] for assessment_id, section_id in section_of.items()}
    for assessment_id, student_id, *mark in _rows(
        Score.objects.filter(assessment_id__in=assessment_ids)
        .order_by()
        .values_list(_text("assessment_id"), _text("student_id"), "status", "score")
    ):
        book_of[assessment_id][student_id][assessment_id] = mark
    results: dict = defaultdict(dict)
    for section_id, student_id, *values in _rows(
        Result.objects.filter(section_id__in=ids)
        .order_by()
        .values_list(
            "section_id",
            _text("student_id"),
            _text("id"),
            "state",
            "percentage",
            "letter_grade",
            "grade_points",
            "passed",
            "scale_id",
        )
    ):
        results[section_id][student_id] = ResultValue(*values)
    scales = scales_for(sections)
    return {
        section.pk: SectionMarks(
            scale=scales[section.pk],
            assessments=assessments[section.pk],
            student_ids=list(students[section.pk]),
            scores=scores[section.pk],
            results=results[section.pk],
        )
        for section in sections
    }


def section_marks(section: Section) -> SectionMarks:
    """``sections_marks`` of one section."""
    return sections_marks([section])[section.pk]


# --- a student's results ------------------------------------------------------------------


def student_results(*, student, user: User | None = None, published_only: bool = False) -> QuerySet[Result]:
    """A student's results, newest term first; staff see the sections they may see."""
    results = Result.objects.filter(student=student).select_related(
        "section__course", "section__term__academic_year", "section__location", "scale", "last_change"
    )
    if user is not None and user.is_authenticated and user.is_academy_staff:
        results = results.filter(section__in=section_list(user=user))
    if published_only:
        results = results.filter(state__in=[Result.State.PUBLISHED, Result.State.FROZEN])
    return results.order_by("-section__term__start_date", "section__course__code")


def results_hold(student) -> Hold | None:
    """The finance hold that withholds ``student``'s results from the family, or ``None``."""
    return hold_for(student=student, action="results")


def term_gpa(results) -> Decimal | None:
    """Credit-weighted grade points of ``results`` (published or frozen, graded)."""
    points = Decimal("0")
    credits = Decimal("0")
    for result in results:
        if result.grade_points is None or (result.scale is not None and not result.scale.counts_in_gpa):
            continue
        weight = result.section.course.credits or Decimal("1")
        points += result.grade_points * weight
        credits += weight
    return (points / credits).quantize(CENT, rounding=ROUND_HALF_UP) if credits else None


# --- skill progress -----------------------------------------------------------------------


def skill_areas_for_level(level: CurriculumLevel | None) -> list[SkillArea]:
    """The skill areas assessed at ``level``: its curriculum's areas for every level and
    those of this level."""
    if level is None:
        return []
    return list(
        SkillArea.objects.filter(curriculum_id=level.curriculum_id)
        .filter(Q(level__isnull=True) | Q(level=level))
        .order_by("name")
    )


def latest_ratings(enrollments) -> dict:
    """(enrollment id, skill area id) -> the latest ``SkillRating``. One query."""
    ids = [e.pk for e in enrollments]
    newest = SkillRating.objects.filter(
        enrollment_id=OuterRef("enrollment_id"), skill_area_id=OuterRef("skill_area_id")
    ).order_by("-assessment_date", "-created_at", "-id")
    rows = SkillRating.objects.filter(enrollment_id__in=ids).filter(pk=Subquery(newest.values("pk")[:1]))
    return {(r.enrollment_id, r.skill_area_id): r for r in rows}


def is_ready(areas, ratings: dict, enrollment) -> bool:
    """Every skill area of the level rated at its target, at this level."""
    if not areas:
        return False
    for area in areas:
        rating = ratings.get((enrollment.pk, area.pk))
        if (
            rating is None
            or rating.level_id != enrollment.current_level_id
            or rating.current_rating < rating.target_rating
        ):
            return False
    return True


@dataclass
class SkillRow:
    enrollment: Enrollment
    areas: list
    ratings: dict  # skill area id -> latest SkillRating
    ready: bool


def skill_board(section: Section) -> list[SkillRow]:
    """A section's active students by the skill areas of their level, with the latest
    rating of each and whether they are ready for the next level. Fixed queries."""
    enrollments = list(
        Enrollment.objects.active()
        .filter(section=section)
        .select_related("student", "current_level", "current_module")
        .order_by("student__last_name", "student__first_name")
    )
    level_ids = {e.current_level_id for e in enrollments if e.current_level_id}
    curriculum_areas: dict = defaultdict(list)
    levels = {level.pk: level for level in CurriculumLevel.objects.filter(pk__in=level_ids)}
    for area in SkillArea.objects.filter(curriculum_id__in={lv.curriculum_id for lv in levels.values()}).order_by(
        "name"
    ):
        curriculum_areas[area.curriculum_id].append(area)
    latest = latest_ratings(enrollments)
    rows = []
    for enrollment in enrollments:
        level = levels.get(enrollment.current_level_id)
        areas = [a for a in curriculum_areas[level.curriculum_id] if a.level_id in (None, level.pk)] if level else []
        ratings = {a.pk: latest[(enrollment.pk, a.pk)] for a in areas if (enrollment.pk, a.pk) in latest}
        rows.append(
            SkillRow(enrollment=enrollment, areas=areas, ratings=ratings, ready=is_ready(areas, latest, enrollment))
        )
    return rows


def student_progress(*, student, since: date | None = None, enrollments=None) -> QuerySet[SkillRating]:
    """The progress query (docs/rules.md, Skills): a student's ratings since ``since``, newest first, with
    the enrollment's current level and module (index ``skill_rating_student_date``)."""
    ratings = SkillRating.objects.filter(student=student)
    if since is not None:
        ratings = ratings.filter(assessment_date__gte=since)
    if enrollments is not None:
        ratings = ratings.filter(enrollment__in=enrollments)
    return ratings.select_related(
        "skill_area",
        "level",
        "module",
        "enrollment__current_level",
        "enrollment__current_module",
        "enrollment__section__course",
        "instructor",
    ).order_by("-assessment_date", "skill_area__name")


def progress_series(ratings) -> dict:
    """Chart data: skill area name -> [(date, rating)] oldest first (the last rating of a day)."""
    series: dict = defaultdict(dict)
    for rating in sorted(ratings, key=lambda r: (r.assessment_date, r.created_at)):
        series[rating.skill_area.name][rating.assessment_date] = rating.current_rating
    return {name: sorted(points.items()) for name, points in series.items()}


def skill_board_of_enrollments(enrollments: list[Enrollment]) -> list[SkillRow]:
    """``skill_board`` for enrollments of any sections, in the order given (their
    ``current_level`` selected): the skill areas of each one's level, the latest rating of
    each and whether they are ready for the next level. Two queries whatever the number
    of enrollments (none without one)."""
    curricula = {e.current_level.curriculum_id for e in enrollments if e.current_level_id}
    areas_of: dict = defaultdict(list)
    if curricula:
        for area in SkillArea.objects.filter(curriculum_id__in=curricula).order_by("name"):
            areas_of[area.curriculum_id].append(area)
    latest = latest_ratings(enrollments) if enrollments else {}
    rows = []
    for enrollment in enrollments:
        level = enrollment.current_level
        areas = [a for a in areas_of[level.curriculum_id] if a.level_id in (None, level.pk)] if level else []
        ratings = {a.pk: latest[(enrollment.pk, a.pk)] for a in areas if (enrollment.pk, a.pk) in latest}
        rows.append(
            SkillRow(enrollment=enrollment, areas=areas, ratings=ratings, ready=is_ready(areas, latest, enrollment))
        )
    return rows
