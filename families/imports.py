"""Import of legacy student lists with their guardians (``manage.py import_students``
and the staff portal upload page share ``students_import``). docs/import_students.md
describes the file.

Every row is checked with the rules of ``families.services.student_admit`` (the
admission form and the API), in chunks of rows with a fixed number of queries each
(``families.import_checks``); every problem is reported by line and column. Only when
no row has a problem, and it is not a dry run, are the students admitted in bulk, all
in one transaction (``families.admission_bulk``): a file is written completely or not at
all, and a dry run writes nothing (not even a number of a series). The staff page runs
the import as a job (``families.jobs``), reporting progress.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from families.admission_bulk import AdmissionPlan, LinkPlan, students_admit_bulk
from families.import_checks import (
    FALSE_WORDS,
    PRIMARY_PREFIX,
    SECOND_PREFIX,
    TRUE_WORDS,
    ImportChecker,
    RowPlan,
)
from families.import_checks import FILE_GUARDIAN_FIELDS as GUARDIAN_FIELDS
from families.models import Guardian
from students.models import Student

STUDENT_COLUMNS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "gender",
    "location",
    "grade_level",
    "academic_year",
    "homeroom",
    "status",
    "enrollment_date",
    "salutation",
    "preferred_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "country",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "medical_conditions",
    "medications",
    "allergies",
    "referral_source",
    "internal_notes",
)
PRIMARY_COLUMNS = (*(PRIMARY_PREFIX + name for name in GUARDIAN_FIELDS), "guardian_relation")
SECOND_COLUMNS = (
    *(SECOND_PREFIX + name for name in GUARDIAN_FIELDS),
    "guardian2_relation",
    "guardian2_type",
    "guardian2_can_pick_up",
    "guardian2_can_authorize_medical",
    "guardian2_receives_communications",
    "guardian2_financially_responsible",
)
COLUMNS = (*STUDENT_COLUMNS, *PRIMARY_COLUMNS, *SECOND_COLUMNS)
REQUIRED_COLUMNS = ("first_name", "last_name", "date_of_birth", "location", "guardian_email")
MAX_PROBLEMS_PER_FILE = 1000
CHUNK_ROWS = 500  # rows checked per round of queries
ADMIT_BATCH_ROWS = 1000  # rows written per round of INSERTs
__all__ = ["COLUMNS", "FALSE_WORDS", "REQUIRED_COLUMNS", "TRUE_WORDS", "students_import"]


@dataclass(frozen=True)
class Problem:
    """Something wrong with one line (line 1 is the header); ``column`` as in the file."""

    line: int
    column: str
    message: str


@dataclass(frozen=True)
class Admitted:
    line: int
    student_number: str
    student_name: str
    guardians: tuple[str, ...]  # "PAR-2025-0001 Sarah Johnson (new)" / "(existing)"


@dataclass
class ImportReport:
    """The outcome of one file: what was (or would be) admitted, and every problem."""

    dry_run: bool
    rows: int = 0
    admitted: list[Admitted] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run and bool(self.admitted)

    @property
    def summary(self) -> str:
        if self.problems:
            lines = len({problem.line for problem in self.problems})
            return (
                f"{len(self.problems)} problem{'s' * (len(self.problems) != 1)} on {lines} "
                f"line{'s' * (lines != 1)} of {self.rows} rows: nothing was written."
            )
        if not self.rows:
            return "The file has no student rows: nothing was written."
        if self.dry_run:
            return (
                f"Dry run: all {self.rows} rows are valid; {len(self.admitted)} students would be admitted. "
                "Nothing was written."
            )
        return f"Admitted {len(self.admitted)} students."

    def as_text(self) -> str:
        out = [self.summary]
        for problem in self.problems:
            out.append(f"line {problem.line}: {problem.column}: {problem.message}")
        if self.ok:
            for row in self.admitted:
                out.append(f"line {row.line}: {row.student_number} {row.student_name} - {', '.join(row.guardians)}")
        return "\n".join(out)


def students_import(
    *,
    file,
    actor,
    dry_run: bool,
    notify_guardians: bool = False,
    progress: Callable[[int, "ImportReport"], None] | None = None,
    before_write: Callable[[], None] | None = None,
    reason: str = "Admitted",
    chunk_size: int = CHUNK_ROWS,
) -> ImportReport:
    """Check and (unless ``dry_run`` or a problem is found) admit every student of a CSV
    file. ``file`` is a text or binary stream (an upload, an open file). ``actor`` is
    recorded in the history; with an actor, locations are limited to theirs.
    ``notify_guardians`` sends the usual "admitted" message (off for legacy data).

    The whole file is read first, then checked ``chunk_size`` rows at a time in a fixed
    number of queries per chunk (``families.import_checks``), calling
    ``progress(rows checked, report)`` after each chunk. Only when every row is good
    (and it is not a dry run) are the students admitted, all in one transaction
    (``families.admission_bulk``; ``before_write()`` is called first inside it, for a
    job to hold its row); ``reason`` goes into the students' history."""
    report = ImportReport(dry_run=dry_run)
    rows = _read(file, report)
    if report.problems:
        return report
    report.rows = len(rows)
    if progress is not None:
        progress(0, report)
    checker = ImportChecker(actor)
    plans: list[RowPlan] = []
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start : start + chunk_size]
        good, problems = checker.check_chunk(chunk)
        plans.extend(good)
        report.problems.extend(Problem(line, column, message) for line, column, message in problems)
        if len(report.problems) >= MAX_PROBLEMS_PER_FILE:
            del report.problems[MAX_PROBLEMS_PER_FILE:]
            last = report.problems[-1].line
            report.problems.append(Problem(last, "file", "Too many problems; stopped checking here."))
            break
        if progress is not None:
            progress(start + len(chunk), report)
    if report.problems or dry_run:
        if not report.problems:
            report.admitted = [
                Admitted(line=plan.line, student_number="", student_name=plan.student_name, guardians=plan.labels)
                for plan in plans
            ]
        return report
    try:
        with transaction.atomic():
            if before_write is not None:
                before_write()
            admitted = _admit(plans, actor=actor, notify_guardians=notify_guardians, reason=reason)
    except IntegrityError:
        report.problems.append(
            Problem(
                1,
                "file",
                "Another change to the same students or guardians was saved while the file was checked; "
                "nothing was written. Import the file again.",
            )
        )
        return report
    report.admitted = admitted
    return report


def _admit(plans: list[RowPlan], *, actor, notify_guardians: bool, reason: str) -> list[Admitted]:
    """Write the checked rows in batches (``students_admit_bulk``), in the caller's
    transaction. A new guardian is made once, by the first row naming its e-mail."""
    new_guardians: dict[str, Guardian] = {}
    admitted: list[Admitted] = []
    for start in range(0, len(plans), ADMIT_BATCH_ROWS):
        batch = plans[start : start + ADMIT_BATCH_ROWS]
        admissions = []
        for plan in batch:
            links = []
            for spec in plan.guardians:
                guardian = spec.existing
                if guardian is None:
                    guardian = new_guardians.get(spec.key)
                    if guardian is None:
                        guardian = Guardian(**spec.data)
                        new_guardians[spec.key] = guardian
                links.append(LinkPlan(guardian=guardian, relationship_type=spec.relationship_type, flags=spec.flags))
            admissions.append(AdmissionPlan(student=Student(**plan.student_data), links=links))
        students_admit_bulk(actor=actor, admissions=admissions, notify_guardians=notify_guardians, reason=reason)
        for plan, admission in zip(batch, admissions, strict=True):
            labels = tuple(
                label if spec.existing else f"{link.guardian.guardian_number} {link.guardian.full_name} (new)"
                for spec, link, label in zip(plan.guardians, admission.links, plan.labels, strict=True)
            )
            admitted.append(
                Admitted(
                    line=plan.line,
                    student_number=admission.student.student_number,
                    student_name=admission.student.full_name,
                    guardians=labels,
                )
            )
    return admitted


# --- reading the file ------------------------------------------------------------------


def _text(file):
    """A text stream over ``file``: UTF-8 (with or without a byte-order mark)."""
    if isinstance(file, io.TextIOBase):
        return file
    raw = getattr(file, "file", file)  # an upload wraps the real file
    if hasattr(raw, "seek"):
        raw.seek(0)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _file_error(error) -> str:
    if isinstance(error, UnicodeDecodeError):
        return 'The file is not UTF-8 text; save it as "CSV UTF-8".'
    return f"The file is not valid CSV: {error}."


def _normal(name: str) -> str:
    return (name or "").strip().lower().replace(" ", "_")


def _check_header(header: list[str]) -> list[Problem]:
    names = [_normal(name) for name in header]
    problems = []
    if not names:
        return [Problem(1, "header", "The file is empty; the first line must name the columns.")]
    unknown = [name for name, normal in zip(header, names, strict=True) if normal not in COLUMNS]
    if unknown:
        problems.append(Problem(1, "header", f"Unknown column(s): {', '.join(unknown)}. See docs/import_students.md."))
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        problems.append(Problem(1, "header", f"Column(s) given twice: {', '.join(duplicated)}."))
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(Problem(1, "header", f"Missing required column(s): {', '.join(missing)}."))
    return problems


def _records(reader: csv.DictReader):
    """(line where the record starts, {normalised column: stripped value})."""
    while True:
        line = reader.line_num + 1
        row = next(reader, None)
        if row is None:
            return
        extra = row.pop(None, None)
        cleaned = {_normal(name): (value or "").strip() for name, value in row.items()}
        if extra:
            cleaned["__extra__"] = extra
        yield line, cleaned


def _read(file, report: ImportReport) -> list[tuple[int, dict]]:
    """Every non-empty record of the file, or a problem of the file or its header."""
    try:
        reader = csv.DictReader(_text(file))
        header = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as error:
        report.problems.append(Problem(1, "file", _file_error(error)))
        return []
    header_problems = _check_header(header)
    if header_problems:
        report.problems.extend(header_problems)
        return []
    rows = []
    try:
        for line, row in _records(reader):
            if any(row.values()):
                rows.append((line, row))
    except (UnicodeDecodeError, csv.Error) as error:
        report.problems.append(Problem(reader.line_num, "file", _file_error(error)))
        return []
    return rows
