"""Writes of the grading app (docs/rules.md, Grading).

- Assessments: a section's weights never total more than 100; the section row is locked
  for every change, so two requests at once cannot both squeeze under the limit.
- Scores: a whole gradebook (or one cell) is saved all or nothing; a score is only for a
  student the section grades, from 0 to the maximum, excused or missing. A final exam
  score for a student below the attendance threshold is refused (409 ``not_eligible``)
  unless a user holding ``grading.override_eligibility`` gives a reason.
- Results: drafts follow the scores (recomputed in the same transaction). Publishing a
  section needs the weights to total exactly 100; every graded student then has a
  published result (missing scores count 0) and their guardians are told after commit.
  A published result changes only through an approved ``ResultChange``; freezing
  (per section or per term, once the term is closed) makes it final. The database
  refuses anything else (``grading.migrations._result_guard``).
- Skill ratings: a section's ratings saved all or nothing; each is a new row.

Locks, always in this order: the section, then its results, then a change request.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import CharField, DateTimeField, Value
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from academy.common.exceptions import Conflict
from academy.common.services import assign_fields, record_history, validated_save
from academy.models import CurriculumLevel, CurriculumModule, Section, SkillArea, Term
from enrollment.models import Enrollment
from enrollment.services import enrollment_update
from grading import selectors
from grading.models import Assessment, Result, ResultChange, Score, SkillRating
from students.models import Student

OVERRIDE_PERMISSION = "grading.override_eligibility"
ASSESSMENT_FIELDS = {"type", "title", "date", "weight", "max_score"}
# the same words as the database's check constraints, but on the field (staff form and API)
WEIGHT_MESSAGE = "A weight is more than 0 and at most 100."
MAX_SCORE_MESSAGE = "The maximum score must be more than 0."


# --- locks and guards ---------------------------------------------------------------------


def _section_lock(section: Section) -> Section:
    return (
        Section.objects.select_for_update(of=("self",))
        .select_related("course__program", "location", "term")
        .get(pk=section.pk)
    )


def _results_of(section: Section, *, lock: bool = False) -> dict:
    results = Result.objects.filter(section=section)
    if lock:
        results = results.select_for_update()
    return {r.student_id: r for r in results}


def _refuse_if_published(section: Section) -> None:
    states = set(
        Result.objects.filter(section=section).exclude(state=Result.State.DRAFT).values_list("state", flat=True)
    )
    if Result.State.FROZEN in states:
        raise Conflict("The section's results are frozen: its assessments no longer change.", "result_frozen")
    if Result.State.PUBLISHED in states:
        raise Conflict(
            "The section's results are published: its assessments no longer change "
            "(a grade changes through a change request).",
            "result_published",
        )


def _check_weights(section: Section, *, weight: Decimal, excluding=None) -> None:
    others = Assessment.objects.filter(section=section)
    if excluding is not None:
        others = others.exclude(pk=excluding.pk)
    used = sum(others.values_list("weight", flat=True), Decimal("0"))
    if weight is not None and used + Decimal(weight) > selectors.FULL_WEIGHT:
        raise ValidationError(
            {"weight": f"The section's weights would total {used + Decimal(weight)}; at most 100 (already {used})."}
        )


# --- assessments --------------------------------------------------------------------------


def _check_assessment_numbers(assessment: Assessment) -> None:
    """A weight more than 0 and at most 100, a maximum score more than 0, refused on the
    field (before ``full_clean``, whose check constraints would answer without a field).
    A value that is not a number is left to ``full_clean``."""
    errors = {}
    for name, fits, message in (
        ("weight", lambda value: 0 < value <= selectors.FULL_WEIGHT, WEIGHT_MESSAGE),
        ("max_score", lambda value: value > 0, MAX_SCORE_MESSAGE),
    ):
        try:
            value = Assessment._meta.get_field(name).to_python(getattr(assessment, name))
        except ValidationError:
            continue
        if value is not None and not fits(value):
            errors[name] = message
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def assessment_create(*, section: Section, actor, **data) -> Assessment:
    section = _section_lock(section)
    _refuse_if_published(section)
    assessment = Assessment(section=section)
    assign_fields(assessment, data, allowed=ASSESSMENT_FIELDS)
    _check_assessment_numbers(assessment)
    assessment.full_clean()
    _check_weights(section, weight=assessment.weight)
    return validated_save(assessment, actor=actor, reason="Created", validate=False)


@transaction.atomic
def assessment_update(*, assessment: Assessment, actor, data: dict) -> Assessment:
    section = _section_lock(assessment.section)
    _refuse_if_published(section)
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    assign_fields(assessment, data, allowed=ASSESSMENT_FIELDS)
    _check_assessment_numbers(assessment)
    assessment.full_clean()
    _check_weights(section, weight=assessment.weight, excluding=assessment)
    if "max_score" in data:
        above = Score.objects.filter(assessment=assessment, score__gt=assessment.max_score).count()
        if above:
            raise ValidationError(
                {"max_score": f"{above} score(s) are above {assessment.max_score}: change them first."}
            )
    validated_save(assessment, actor=actor, reason="Updated", validate=False)
    if "max_score" in data:
        Score.objects.filter(assessment=assessment).update(max_score=assessment.max_score)
    _recompute_drafts(section)
    return assessment


@transaction.atomic
def assessment_delete(*, assessment: Assessment, actor) -> None:
    section = _section_lock(assessment.section)
    _refuse_if_published(section)
    record_history(assessment, actor=actor, reason="Deleted")
    assessment.delete()  # its scores go with it
    _recompute_drafts(section)


# --- scores -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One cell of a gradebook: a student's score on an assessment. ``score`` is a number
    for ``status="scored"``, ``None`` otherwise."""

    assessment_id: object
    student_id: object
    status: str = Score.Status.SCORED
    score: object = None
    comment: str = ""
    override_reason: str = ""


class GradebookError(ValidationError):
    """Bad cells: ``cells`` maps the index of each bad cell to ``{field: [messages]}``."""

    def __init__(self, cells: dict):
        self.cells = cells
        super().__init__(
            {"scores": [f"Cell {i + 1}: {' '.join(m for ms in e.values() for m in ms)}" for i, e in cells.items()]}
        )


def _parse_score(value) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("Enter a number.") from None
    if not number.is_finite():
        raise ValueError("Enter a number.")
    return number


@transaction.atomic
def gradebook_save(*, section: Section, cells: list[Cell], actor) -> list[Score]:
    """Save many cells of ``section``'s gradebook, all or nothing: every cell is checked
    first (``GradebookError`` names the bad ones, a state conflict is a ``Conflict``), then
    scores are written in bulk and the drafts recomputed. A fixed number of queries."""
    section = _section_lock(section)
    assessments = {a.pk: a for a in Assessment.objects.filter(section=section)}
    graded = set(
        Enrollment.objects.filter(section=section, status__in=selectors.GRADED_STATUSES).values_list(
            "student_id", flat=True
        )
    )
    results = _results_of(section, lock=True)
    existing = {
        (s.assessment_id, s.student_id): s
        for s in Score.objects.filter(assessment__section=section).select_for_update()
    }
    needs_eligibility = any(
        assessments.get(_uuid(c.assessment_id)) is not None
        and assessments[_uuid(c.assessment_id)].type == Assessment.Type.FINAL
        for c in cells
    )
    ineligible = selectors.ineligible_students(section) if needs_eligibility else {}
    may_override = bool(actor is not None and actor.has_perm(OVERRIDE_PERMISSION))

    errors: dict = {}
    conflict: Conflict | None = None
    to_create, to_update, seen = [], [], set()
    for index, cell in enumerate(cells):
        bad: dict = {}
        assessment = assessments.get(_uuid(cell.assessment_id))
        student_id = _uuid(cell.student_id)
        if assessment is None:
            bad["assessment"] = ["No such assessment in this section."]
        if student_id is None or student_id not in graded:
            bad["student"] = ["This student is not enrolled in the section."]
        if cell.status not in Score.Status.values:
            bad["status"] = [f"Choose one of {', '.join(Score.Status.values)}."]
        number = None
        if cell.status == Score.Status.SCORED:
            if cell.score in (None, ""):
                bad["score"] = ["Enter a score, or mark it excused or missing."]
            else:
                try:
                    number = _parse_score(cell.score)
                except ValueError as error:
                    bad["score"] = [str(error)]
                else:
                    if assessment is not None and not (0 <= number <= assessment.max_score):
                        bad["score"] = [f"A score is from 0 to {assessment.max_score}."]
                    elif number != number.quantize(Decimal("0.01")):
                        bad["score"] = ["At most two decimal places."]
        if len(cell.comment or "") > 300 or len(cell.override_reason or "") > 300:
            bad["comment"] = ["At most 300 characters."]
        key = (assessment.pk if assessment else None, student_id)
        if not bad and key in seen:
            bad["student"] = ["This cell appears twice in the request."]
        seen.add(key)
        if bad:
            errors[index] = bad
            continue
        result = results.get(student_id)
        if result is not None and result.state != Result.State.DRAFT and conflict is None:
            code = "result_frozen" if result.state == Result.State.FROZEN else "result_published"
            conflict = Conflict(
                f"The result is {result.state}: its scores no longer change"
                + (" (request a change of grade)." if code == "result_published" else "."),
                code,
            )
        if (
            assessment.type == Assessment.Type.FINAL
            and cell.status == Score.Status.SCORED
            and student_id in ineligible
            and conflict is None
        ):
            previous = existing.get(key)
            reason = (cell.override_reason or "").strip() or (previous.eligibility_override_reason if previous else "")
            if not (may_override and reason):
                conflict = Conflict(
                    f"The student's attendance is {ineligible[student_id]}%, below the threshold: not eligible for "
                    "the final exam" + ("; give a reason to override." if may_override else "."),
                    "not_eligible",
                )
        score = existing.get(key)
        values = {
            "status": cell.status,
            "score": number if cell.status == Score.Status.SCORED else None,
            "max_score": assessment.max_score,
            "comment": (cell.comment or "").strip(),
        }
        if (cell.override_reason or "").strip():
            values["eligibility_override_reason"] = cell.override_reason.strip()
        if score is None:
            score = Score(assessment=assessment, student_id=student_id, created_by=actor, updated_by=actor, **values)
            to_create.append(score)
        elif any(getattr(score, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(score, name, value)
            score.updated_by = actor
            score.updated_at = timezone.now()
            to_update.append(score)
    if errors:
        raise GradebookError(errors)
    if conflict is not None:
        raise conflict
    user = actor if actor is not None and actor.is_authenticated else None
    if to_create:
        bulk_create_with_history(to_create, Score, default_user=user, default_change_reason="Scored")
    if to_update:
        bulk_update_with_history(
            to_update,
            Score,
            ["status", "score", "max_score", "comment", "eligibility_override_reason", "updated_by", "updated_at"],
            default_user=user,
            default_change_reason="Score changed",
        )
    _recompute_drafts(section, student_ids={s.student_id for s in to_create + to_update})
    return to_create + to_update


def _uuid(value):
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def score_save(*, assessment: Assessment, student: Student, actor, **cell) -> Score:
    """One cell (the API's ``POST scores/`` and the admin)."""
    saved = gradebook_save(
        section=assessment.section,
        cells=[Cell(assessment_id=assessment.pk, student_id=student.pk, **cell)],
        actor=actor,
    )
    return saved[0] if saved else Score.objects.get(assessment=assessment, student=student)


# --- results ------------------------------------------------------------------------------


def _recompute_drafts(section: Section, *, student_ids=None) -> None:
    """Drafts follow the scores: create or update the draft result of every graded
    student of ``section`` (or of ``student_ids``). Published and frozen ones stay."""
    book = selectors.gradebook(section)
    scale = book.scale
    to_create, to_update = [], []
    for row in book.rows:
        if student_ids is not None and row.student.pk not in student_ids:
            continue
        grade = row.draft
        result = row.result
        if result is None:
            to_create.append(
                Result(
                    student=row.student,
                    section=section,
                    scale=scale,
                    percentage=grade.percentage,
                    letter_grade=grade.letter,
                    grade_points=grade.points,
                    passed=grade.passed,
                )
            )
        elif result.state == Result.State.DRAFT and (
            result.percentage,
            result.letter_grade,
            result.grade_points,
            result.passed,
            result.scale_id,
        ) != (grade.percentage, grade.letter, grade.points, grade.passed, scale.pk if scale else None):
            result.scale = scale
            result.percentage, result.letter_grade = grade.percentage, grade.letter
            result.grade_points, result.passed = grade.points, grade.passed
            result.updated_at = timezone.now()
            to_update.append(result)
    if to_create:
        bulk_create_with_history(to_create, Result, default_change_reason="Draft")
    if to_update:
        bulk_update_with_history(
            to_update,
            Result,
            ["scale", "percentage", "letter_grade", "grade_points", "passed", "updated_at"],
            default_change_reason="Draft follows the scores",
        )


@transaction.atomic
def results_recompute(*, section: Section) -> None:
    _recompute_drafts(_section_lock(section))


@dataclass
class PublishOutcome:
    section: Section
    published: int
    already: int


def _publish_locked(sections: list[Section], *, actor, now) -> list[PublishOutcome]:
    """Publish ``sections`` (locked by the caller): all or nothing. The gradebooks are read
    as plain values and written by a fixed number of statements whatever the number of
    sections (a term publishes hundreds of thousands of scores: bench/grading.py)."""
    marks = selectors.sections_marks(sections)
    for section in sections:
        book = marks[section.pk]
        if book.weights_total != selectors.FULL_WEIGHT:
            raise Conflict(
                f"{section}: the assessments' weights total {book.weights_total}; publishing needs exactly 100.",
                "weights_incomplete",
            )
        if not book.student_ids:
            raise Conflict(f"{section}: nobody to publish results for.", "no_students")
    to_create, drafts, regraded, withdrawn, outcomes = [], [], [], [], []
    for section in sections:
        book = marks[section.pk]
        scale_id = book.scale.pk if book.scale is not None else None
        bands = list(book.scale.bands.all()) if book.scale is not None else None
        # a student who left the class before publication (withdrawn) gets no result:
        # their draft goes (their scores stay, with history)
        graded = set(book.student_ids)
        withdrawn += [
            r.id for student_id, r in book.results.items() if r.state == Result.State.DRAFT and student_id not in graded
        ]
        count = already = 0
        for student_id in book.student_ids:
            scores = book.scores.get(student_id, {})
            percentage = selectors.percentage_of(book.assessments, scores, final=True)
            grade = selectors.grade_for(percentage, book.scale, bands)
            values = (grade.percentage, grade.letter, grade.points, grade.passed, scale_id)
            result = book.results.get(student_id)
            if result is None:
                to_create.append(
                    Result(
                        student_id=student_id,
                        section=section,
                        scale=book.scale,
                        state=Result.State.PUBLISHED,
                        published_at=now,
                        published_by=actor,
                        updated_at=now,
                        percentage=grade.percentage,
                        letter_grade=grade.letter,
                        grade_points=grade.points,
                        passed=grade.passed,
                    )
                )
            elif result.state != Result.State.DRAFT:
                already += 1
                continue
            else:
                drafts.append(result.id)
                if result[2:] != values:
                    regraded.append((result.id, *values))
            count += 1
        outcomes.append(PublishOutcome(section=section, published=count, already=already))
    user = actor if actor is not None and actor.is_authenticated else None
    if withdrawn:
        Result.objects.filter(pk__in=withdrawn).delete()
    if drafts:
        # the drafts whose grade moves (a missing score now counts 0), still as drafts; then
        # every draft published by one statement, and its history row written as
        # bulk_update_with_history would, by one INSERT ... SELECT
        _regrade(regraded)
        section_ids = [s.pk for s in sections]
        Result.objects.filter(section_id__in=section_ids, state=Result.State.DRAFT).update(
            state=Result.State.PUBLISHED, published_at=now, published_by=actor, updated_at=now
        )
        _history_insert(
            Result.objects.filter(section_id__in=section_ids, state=Result.State.PUBLISHED, published_at=now),
            date=now,
            reason="Published",
            user=user,
        )
    if to_create:  # after the history above, which reads every result published now
        bulk_create_with_history(to_create, Result, default_user=user, default_change_reason="Published")
    published = drafts + [r.pk for r in to_create]
    if published:
        transaction.on_commit(lambda: _queue_published_notices(published))
    return outcomes


REGRADE_FIELDS = ("percentage", "letter_grade", "grade_points", "passed", "scale_id")


def _regrade(rows: list[tuple]) -> None:
    """Set (id, percentage, letter, points, passed, scale id) on draft results: on
    PostgreSQL by one ``UPDATE ... FROM unnest(...)`` (five arrays, however many rows),
    elsewhere by ``bulk_update``."""
    if not rows:
        return
    connection = connections[router.db_for_write(Result)]
    if connection.vendor != "postgresql":
        Result.objects.bulk_update(
            [Result(pk=row[0], **dict(zip(REGRADE_FIELDS, row[1:], strict=True))) for row in rows],
            list(REGRADE_FIELDS),
            batch_size=500,
        )
        return
    quote = connection.ops.quote_name
    columns = [Result._meta.get_field(name).column for name in REGRADE_FIELDS]
    arrays = list(zip(*rows, strict=True))
    types = ("uuid", "numeric", "text", "numeric", "boolean", "uuid")
    assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in columns)
    unnest = ", ".join(f"%s::{kind}[]" for kind in types)
    names = ", ".join(["id", *(quote(column) for column in columns)])
    # names and types from our own model, values as parameters
    table = quote(Result._meta.db_table)
    sql = f"UPDATE {table} AS r SET {assignments} FROM unnest({unnest}) AS v({names}) WHERE r.id = v.id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(values) for values in arrays])


def _history_insert(results, *, date, reason: str, user) -> int:
    """History rows (type "~", as ``bulk_update_with_history`` writes them) of ``results``
    as they are now, by one ``INSERT ... SELECT``: the rows never pass through Python."""
    history = Result.history.model
    names = [field.attname for field in Result._meta.concrete_fields]
    user_field = history._meta.get_field("history_user").target_field
    select = (
        results.order_by()
        .annotate(
            history_date_value=Value(date, output_field=DateTimeField()),
            history_reason_value=Value(reason, output_field=CharField()),
            history_type_value=Value("~", output_field=CharField()),
            history_user_value=Value(user.pk if user is not None else None, output_field=user_field),
        )
        .values_list(*names, "history_date_value", "history_reason_value", "history_type_value", "history_user_value")
    )
    sql, params = select.query.sql_with_params()
    columns = [history._meta.get_field(name).column for name in names] + [
        history._meta.get_field(name).column
        for name in ("history_date", "history_change_reason", "history_type", "history_user")
    ]
    connection = connections[router.db_for_write(history)]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({', '.join(quote(c) for c in columns)}) {sql}", params
        )
        return cursor.rowcount


def _queue_published_notices(result_ids) -> None:
    from academy.common.background import task_queue
    from grading.tasks import notify_results_published

    task_queue(notify_results_published, [str(pk) for pk in result_ids])


@transaction.atomic
def section_publish(*, section: Section, actor) -> PublishOutcome:
    """Publish the results of ``section``: every graded student gets a published result
    computed from the scores (missing ones count 0). Results already published or frozen
    stay as they are; guardians of the newly published are told after commit."""
    section = _section_lock(section)
    _results_of(section, lock=True)
    return _publish_locked([section], actor=actor, now=timezone.now())[0]


@transaction.atomic
def term_publish(*, term: Term, actor, sections=None) -> list[PublishOutcome]:
    """Publish every section of ``term`` (or ``sections`` of it) that has assessments; all or
    nothing: one section that cannot be published stops the whole term."""
    chosen = sections if sections is not None else Section.objects.filter(term=term)
    # every section locked by one statement, in the usual order (by id); which of them have
    # assessments by one more (a term has hundreds of sections: bench/grading.py)
    locked = list(
        Section.objects.select_for_update(of=("self",))
        .select_related("course__program", "location", "term")
        .filter(term=term, pk__in=chosen.values("pk"))
        .order_by("pk")
    )
    assessed = set(Assessment.objects.filter(section__in=[s.pk for s in locked]).values_list("section_id", flat=True))
    now = timezone.now()
    return _publish_locked([section for section in locked if section.pk in assessed], actor=actor, now=now)


def _check_term_closed(term: Term) -> None:
    if term.status != Term.Status.CLOSED:
        raise Conflict(f"{term} is still open: results are frozen once the term is closed.", "term_open")


def _freeze(results, *, actor, now) -> int:
    rows = [r for r in results if r.state == Result.State.PUBLISHED]
    for result in rows:
        result.state = Result.State.FROZEN
        result.frozen_at, result.frozen_by, result.updated_at = now, actor, now
    if rows:
        bulk_update_with_history(
            rows,
            Result,
            ["state", "frozen_at", "frozen_by", "updated_at"],
            default_user=actor if actor is not None and actor.is_authenticated else None,
            default_change_reason="Frozen",
        )
    return len(rows)


@transaction.atomic
def section_freeze(*, section: Section, actor) -> int:
    """Freeze the published results of ``section`` (its term must be closed, and no change
    request pending: a frozen result never changes). Drafts stay drafts."""
    section = _section_lock(section)
    _check_term_closed(section.term)
    results = _results_of(section, lock=True).values()
    _refuse_pending_changes(ResultChange.objects.filter(result__section=section))
    return _freeze(results, actor=actor, now=timezone.now())


@transaction.atomic
def term_freeze(*, term: Term, actor, sections=None) -> int:
    """Freeze the published results of every section of ``term`` (or of ``sections`` of
    it: a location-limited caller freezes only their sections)."""
    term = Term.objects.select_for_update(no_key=True).get(pk=term.pk)
    _check_term_closed(term)
    chosen = Section.objects.filter(term=term)
    if sections is not None:
        chosen = chosen.filter(pk__in=[s.pk for s in sections])
    sections = list(chosen.order_by("pk").select_for_update(no_key=True))
    results = list(Result.objects.filter(section__in=sections).select_for_update())
    _refuse_pending_changes(ResultChange.objects.filter(result__section__in=sections))
    return _freeze(results, actor=actor, now=timezone.now())


def _refuse_pending_changes(changes) -> None:
    pending = changes.filter(status=ResultChange.Status.PENDING).count()
    if pending:
        raise Conflict(
            f"{pending} change request(s) are pending: approve or reject them before freezing.", "change_pending"
        )


RESULT_FIELDS = {"comments"}
UNCHANGEABLE_MESSAGE = "This field cannot be changed."


@transaction.atomic
def result_update(*, result: Result, actor, data: dict) -> Result:
    """A direct edit: only a draft's comment (the grade of a draft follows the scores).
    Any other field is refused on that field (a 400, not a crash)."""
    unknown = sorted(set(data) - RESULT_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, UNCHANGEABLE_MESSAGE))
    result = Result.objects.select_for_update().get(pk=result.pk)
    if result.state == Result.State.FROZEN:
        raise Conflict("The result is frozen: it never changes.", "result_frozen")
    if result.state == Result.State.PUBLISHED:
        raise Conflict("The result is published: request a change instead.", "result_published")
    assign_fields(result, data, allowed=RESULT_FIELDS)
    return validated_save(result, actor=actor, reason="Comment")


# --- change requests ----------------------------------------------------------------------


@transaction.atomic
def result_change_request(*, result: Result, new_grade: str, reason: str, actor) -> ResultChange:
    result = Result.objects.select_for_update(of=("self",)).select_related("scale").get(pk=result.pk)
    if result.state == Result.State.FROZEN:
        raise Conflict("The result is frozen: it never changes.", "result_frozen")
    if result.state == Result.State.DRAFT:
        raise Conflict("The result is a draft: change the scores instead.", "result_draft")
    new_grade = (new_grade or "").strip()
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the grade should change."})
    if selectors.band_by_letter(result.scale, new_grade) is None:
        letters = ", ".join(b.letter for b in result.scale.bands.all()) if result.scale else ""
        raise ValidationError({"new_grade": f"Not a grade of the result's scale ({letters})."})
    if new_grade == result.letter_grade:
        raise ValidationError({"new_grade": "That is the current grade."})
    if ResultChange.objects.filter(result=result, status=ResultChange.Status.PENDING).exists():
        raise Conflict("This result already has a pending change request.", "change_pending")
    change = ResultChange(
        result=result, old_grade=result.letter_grade, new_grade=new_grade, reason=reason.strip(), requested_by=actor
    )
    return validated_save(change, actor=actor, reason="Requested")


def _change_lock(change: ResultChange) -> tuple[ResultChange, Result]:
    result = Result.objects.select_for_update(of=("self",)).select_related("scale", "section").get(pk=change.result_id)
    change = ResultChange.objects.select_for_update().get(pk=change.pk)
    if change.status != ResultChange.Status.PENDING:
        raise Conflict(f"The request was already {change.status}.", "change_resolved")
    return change, result


@transaction.atomic
def result_change_approve(*, change: ResultChange, actor, note: str = "") -> ResultChange:
    """Approve and apply: the result takes the new grade (its band's points and pass), in
    the same transaction, with history naming the requester and the approver. Two
    approvals at once apply it once: the second finds it resolved (409)."""
    change, result = _change_lock(change)
    if actor.pk == change.requested_by_id:
        raise Conflict("The approver must be someone other than the requester.", "same_approver")
    if result.state == Result.State.FROZEN:
        raise Conflict("The result is frozen: it never changes.", "result_frozen")
    band = selectors.band_by_letter(result.scale, change.new_grade)
    if band is None:
        raise Conflict("The new grade is no longer on the result's scale.", "grade_unknown")
    now = timezone.now()
    change.status, change.approved_by, change.resolved_at = ResultChange.Status.APPROVED, actor, now
    change.resolution_note = (note or "").strip()[:300]
    validated_save(change, actor=actor, reason="Approved", validate=False)
    result.letter_grade, result.grade_points, result.passed = band.letter, band.grade_points, band.passed
    result.last_change = change
    requester = change.requested_by
    validated_save(
        result,
        actor=actor,
        reason=f"Grade {change.old_grade or '-'} -> {change.new_grade}: requested by {requester.get_username()}, "
        f"approved by {actor.get_username()}",
        validate=False,
    )
    transaction.on_commit(lambda: _queue_published_notices([result.pk]))
    return change


@transaction.atomic
def result_change_reject(*, change: ResultChange, actor, note: str) -> ResultChange:
    change, _ = _change_lock(change)
    if actor.pk == change.requested_by_id:
        raise Conflict("The approver must be someone other than the requester.", "same_approver")
    if not (note or "").strip():
        raise ValidationError({"note": "Say why the request is rejected."})
    change.status, change.approved_by, change.resolved_at = ResultChange.Status.REJECTED, actor, timezone.now()
    change.resolution_note = note.strip()[:300]
    return validated_save(change, actor=actor, reason="Rejected", validate=False)


# --- skill ratings ------------------------------------------------------------------------


@dataclass
class RatingInput:
    enrollment_id: object
    skill_area_id: object
    rating: object
    target: object = None
    correction_reason: str = ""
    instructor_notes: str = ""
    student_notes: str = ""
    parent_notes: str = ""
    achievement_milestones: list | None = None
    learning_objectives: list | None = None
    next_goals: list | None = None


def _rating_value(value, name: str, bad: dict):
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        bad[name] = ["A rating is a whole number from 0 to 3."]
        return None
    if not 0 <= number <= 3:
        bad[name] = ["A rating is from 0 to 3."]
        return None
    return number


def _text_list(value, name: str, bad: dict) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad[name] = ["A list of short texts."]
        return []
    items = [v.strip() for v in value if v.strip()]
    if len(items) > 20 or any(len(v) > 300 for v in items):
        bad[name] = ["At most 20 items of 300 characters."]
    return items


@transaction.atomic
def skill_ratings_save(
    *, section: Section, ratings: list[RatingInput], actor, assessment_date: date | None = None
) -> list[SkillRating]:
    """Rate skills of ``section``'s students, all or nothing. Each rating is a new row;
    its previous rating is the last one of that skill for that enrollment, and a rating
    below it needs a correction reason. Bad items: ``GradebookError`` by index."""
    section = _section_lock(section)
    assessment_date = assessment_date or timezone.localdate()
    enrollments = {
        e.pk: e
        for e in Enrollment.objects.active().filter(section=section).select_related("current_level", "current_module")
    }
    level_ids = {e.current_level_id for e in enrollments.values() if e.current_level_id}
    levels = {lv.pk: lv for lv in CurriculumLevel.objects.filter(pk__in=level_ids)}
    areas = {a.pk: a for a in SkillArea.objects.filter(curriculum_id__in={lv.curriculum_id for lv in levels.values()})}
    latest = selectors.latest_ratings(list(enrollments.values()))
    errors: dict = {}
    rows, seen = [], set()
    for index, item in enumerate(ratings):
        bad: dict = {}
        enrollment = enrollments.get(_uuid(item.enrollment_id))
        area = areas.get(_uuid(item.skill_area_id))
        if enrollment is None:
            bad["enrollment"] = ["Not an active enrollment of this section."]
        elif enrollment.current_level_id is None:
            bad["enrollment"] = ["Set the student's curriculum level first."]
        elif (
            area is None
            or area.curriculum_id != levels[enrollment.current_level_id].curriculum_id
            or area.level_id
            not in (
                None,
                enrollment.current_level_id,
            )
        ):
            bad["skill_area"] = ["Not a skill area of the student's level."]
        current = _rating_value(item.rating, "rating", bad)
        previous_row = latest.get((enrollment.pk, area.pk)) if enrollment and area else None
        if previous_row is not None and previous_row.level_id != enrollment.current_level_id:
            previous_row = None  # a new level starts afresh: a lower rating there is no correction
        target = (
            _rating_value(item.target, "target", bad)
            if item.target not in (None, "")
            else (previous_row.target_rating if previous_row else 3)
        )
        lists = {
            name: _text_list(getattr(item, name), name, bad)
            for name in ("achievement_milestones", "learning_objectives", "next_goals")
        }
        if current is not None and target is not None and current > target:
            bad["rating"] = [f"The rating cannot be above the target ({target})."]
        previous = previous_row.current_rating if previous_row else None
        reason = (item.correction_reason or "").strip()
        if previous is not None and current is not None and current < previous and not reason:
            bad["correction_reason"] = [f"Lower than the previous rating ({previous}): say why."]
        if enrollment and area:
            if (enrollment.pk, area.pk) in seen:
                bad["skill_area"] = ["This skill appears twice in the request."]
            seen.add((enrollment.pk, area.pk))
        if bad:
            errors[index] = bad
            continue
        rows.append(
            SkillRating(
                student_id=enrollment.student_id,
                enrollment=enrollment,
                skill_area=area,
                level_id=enrollment.current_level_id,
                module_id=enrollment.current_module_id,
                previous_rating=previous,
                current_rating=current,
                target_rating=target,
                correction_reason=reason[:300],
                assessment_date=assessment_date,
                instructor=section.instructor,
                instructor_notes=(item.instructor_notes or "").strip(),
                student_notes=(item.student_notes or "").strip(),
                parent_notes=(item.parent_notes or "").strip(),
                created_by=actor,
                updated_by=actor,
                **lists,
            )
        )
    if errors:
        raise GradebookError(errors)
    return SkillRating.objects.bulk_create(rows)


@transaction.atomic
def enrollment_level_advance(
    *, enrollment: Enrollment, actor, level: CurriculumLevel | None = None, module: CurriculumModule | None = None
) -> Enrollment:
    """Move an enrollment to ``level`` (default: the next level of its curriculum) and
    ``module`` (default: the level's first), through the enrollment service (history)."""
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",)).select_related("current_level").get(pk=enrollment.pk)
    )
    if enrollment.status not in Enrollment.ACTIVE_STATUSES:
        raise Conflict("The enrollment has ended.", "enrollment_ended")
    current = enrollment.current_level
    if level is None:
        if current is None:
            raise ValidationError({"level": "The enrollment has no level yet: choose one."})
        level = (
            CurriculumLevel.objects.filter(curriculum_id=current.curriculum_id, order__gt=current.order)
            .order_by("order")
            .first()
        )
        if level is None:
            raise Conflict("The student is at the last level of the curriculum.", "last_level")
    elif current is not None and level.curriculum_id != current.curriculum_id:
        raise ValidationError({"level": "The level belongs to another curriculum."})
    elif current is None and level.curriculum.course_id != enrollment.section.course_id:
        raise ValidationError({"level": "The level belongs to another course's curriculum."})
    if module is None:
        module = CurriculumModule.objects.filter(level=level).order_by("order").first()
    elif module.level_id != level.pk:
        raise ValidationError({"module": "The module belongs to another level."})
    return enrollment_update(
        enrollment=enrollment, actor=actor, data={"current_level": level, "current_module": module}
    )
