"""The gradebook grid of the staff portal (``grading.staff_views.gradebook``): the posted
cells read into ``grading.services.Cell``s, and the rows laid out for the template.

A cell's form field is ``cell:<assessment id>:<student id>``; its text is a score, E
(excused) or M (missing). An emptied cell that had a score becomes missing (the same as
no score for the draft and for publishing). ``override:<student id>`` carries why a final
exam counts for a student below the attendance threshold.
"""

from dataclasses import dataclass, field

from grading import selectors, services
from grading.models import Assessment, Result, ResultChange, Score

CELL_PREFIX = "cell:"
OVERRIDE_PREFIX = "override:"
EXCUSED_WORDS = {"e", "exc", "excused"}
MISSING_WORDS = {"m", "miss", "missing"}


def cell_text(score: Score | None) -> str:
    """How a saved score shows in its cell: the number without useless zeros, E or M."""
    if score is None:
        return ""
    if score.status == Score.Status.EXCUSED:
        return "E"
    if score.status == Score.Status.MISSING:
        return "M"
    text = f"{score.score:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cell_key(assessment_id, student_id) -> str:
    return f"{CELL_PREFIX}{assessment_id}:{student_id}"


def _cell_status(text: str) -> tuple[str | None, str | None]:
    """(status, score text) of what was typed in a cell; (None, None) when empty."""
    if not text:
        return None, None
    word = text.lower()
    if word in EXCUSED_WORDS:
        return Score.Status.EXCUSED, None
    if word in MISSING_WORDS:
        return Score.Status.MISSING, None
    return Score.Status.SCORED, text


def posted_cells(post, book: selectors.Gradebook) -> tuple[list, list[str]]:
    """The cells of a posted gradebook as ``services.Cell``s, in the page's order, and the
    field name of each (to put the service's errors back on their cells). An empty cell
    without a saved score is no cell; one that had a score is now missing. A saved score
    keeps its comment (entered through the API)."""
    rows = {str(row.student.pk): (index, row) for index, row in enumerate(book.rows)}
    assessments = {str(a.pk): (index, a) for index, a in enumerate(book.assessments)}
    entries = []
    for key in post:
        if not key.startswith(CELL_PREFIX):
            continue
        assessment_id, _, student_id = key[len(CELL_PREFIX) :].partition(":")
        row_index = rows.get(student_id, (len(rows), None))[0]
        column = assessments.get(assessment_id, (len(assessments), None))[0]
        entries.append((row_index, column, key, assessment_id, student_id))
    cells, keys = [], []
    for _row_index, _column, key, assessment_id, student_id in sorted(entries):
        row = rows.get(student_id, (None, None))[1]
        assessment = assessments.get(assessment_id, (None, None))[1]
        existing = row.scores.get(assessment.pk) if row is not None and assessment is not None else None
        status, score = _cell_status(post.get(key, "").strip())
        if status is None:
            if existing is None:
                continue
            status = Score.Status.MISSING
        override = ""
        if assessment is not None and assessment.type == Assessment.Type.FINAL:
            override = post.get(f"{OVERRIDE_PREFIX}{student_id}", "").strip()
        cells.append(
            services.Cell(
                assessment_id=assessment_id,
                student_id=student_id,
                status=status,
                score=score,
                comment=existing.comment if existing is not None else "",
                override_reason=override,
            )
        )
        keys.append(key)
    return cells, keys


@dataclass
class CellView:
    key: str
    assessment: Assessment
    value: str  # what the cell shows: the posted text after an error, else the saved score
    saved: str  # the saved score's text (Escape puts it back)
    errors: list = field(default_factory=list)


@dataclass
class RowView:
    row: selectors.GradebookRow
    cells: list
    editable: bool
    pending_change: ResultChange | None = None
    override_key: str = ""
    override_value: str = ""

    @property
    def shown_grade(self):
        """(percentage, letter, state): the result's once published, else the draft's."""
        result = self.row.result
        if result is not None and result.state != Result.State.DRAFT:
            return result.percentage, result.letter_grade, result.state
        return self.row.draft.percentage, self.row.draft.letter, Result.State.DRAFT


def grid(book, *, can_edit: bool, pending: dict, posted=None, errors=None) -> list[RowView]:
    errors = errors or {}
    rows = []
    for row in book.rows:
        editable = can_edit and (row.result is None or row.result.state == Result.State.DRAFT)
        cells = []
        for assessment in book.assessments:
            key = cell_key(assessment.pk, row.student.pk)
            score = row.scores.get(assessment.pk)
            saved = cell_text(score)
            value = posted.get(key, "") if posted is not None and editable else saved
            cells.append(CellView(key=key, assessment=assessment, value=value, saved=saved, errors=errors.get(key, [])))
        override_key = f"{OVERRIDE_PREFIX}{row.student.pk}"
        rows.append(
            RowView(
                row=row,
                cells=cells,
                editable=editable,
                pending_change=pending.get(row.result.pk) if row.result is not None else None,
                override_key=override_key,
                override_value=posted.get(override_key, "") if posted is not None else "",
            )
        )
    return rows


def pending_changes(section) -> dict:
    """Result id -> its pending change request, for the section's results."""
    changes = ResultChange.objects.filter(result__section=section, status=ResultChange.Status.PENDING)
    return {change.result_id: change for change in changes}


def row_answer(row: selectors.GradebookRow) -> dict:
    view = RowView(row=row, cells=[], editable=False)
    percentage, letter, state = view.shown_grade
    return {"percentage": None if percentage is None else f"{percentage:.2f}", "letter": letter, "state": state}
