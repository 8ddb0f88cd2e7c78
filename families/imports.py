"""Import of legacy student lists with their guardians (``manage.py import_students``
and the staff portal upload page share ``students_import``). docs/import_students.md
describes the file.

Every row is an admission through ``families.services.student_admit``, the same
validation as the admission form and the API, each in its own savepoint inside one
transaction: every row is checked, every problem is reported by line and column, and
the transaction is committed only when there is no problem and it is not a dry run.
So a file is written completely or not at all, and a dry run writes nothing (the
number series are rolled back with it).
"""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from academy.common.exceptions import Conflict
from academy.models import AcademicYear, GradeLevel
from academy.selectors import location_list
from families.models import Guardian, StudentGuardian
from families.services import GuardianLinkSpec, student_admit
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
GUARDIAN_FIELDS = (
    "salutation",
    "first_name",
    "last_name",
    "email",
    "phone",
    "preferred_communication",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "country",
    "postal_code",
)
PRIMARY_PREFIX = "guardian_"
SECOND_PREFIX = "guardian2_"
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
TRUE_WORDS = {"1", "yes", "y", "true", "t", "x"}
FALSE_WORDS = {"0", "no", "n", "false", "f"}
MAX_PROBLEMS_PER_FILE = 1000


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


def students_import(*, file, actor, dry_run: bool, notify_guardians: bool = False) -> ImportReport:
    """Check and (unless ``dry_run`` or a problem is found) admit every student of a CSV
    file. ``file`` is a text or binary stream (an upload, an open file). ``actor`` is
    recorded in the history; with an actor, locations are limited to theirs.
    ``notify_guardians`` sends the usual "admitted" message (off for legacy data)."""
    report = ImportReport(dry_run=dry_run)
    try:
        reader = csv.DictReader(_text(file))
        header = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as error:
        report.problems.append(Problem(1, "file", _file_error(error)))
        return report
    header_problems = _check_header(header)
    if header_problems:
        report.problems.extend(header_problems)
        return report
    context = _Lookups(actor)
    with transaction.atomic():
        try:
            for line, row in _records(reader):
                if not any((value or "").strip() for value in row.values()):
                    continue  # an empty line
                report.rows += 1
                _import_row(report, line, row, actor=actor, context=context, notify_guardians=notify_guardians)
                if len(report.problems) >= MAX_PROBLEMS_PER_FILE:
                    report.problems.append(Problem(line, "file", "Too many problems; stopped checking here."))
                    break
        except (UnicodeDecodeError, csv.Error) as error:
            report.problems.append(Problem(reader.line_num, "file", _file_error(error)))
        if dry_run or report.problems:
            transaction.set_rollback(True)
    return report


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


# --- one row ----------------------------------------------------------------------------


class _Lookups:
    """The references a row names by code or name, looked up once per file."""

    def __init__(self, actor):
        scope = location_list(user=actor) if actor is not None else _all_locations()
        self.locations = {location.code.lower(): location for location in scope}
        self.grade_levels = {grade.name.lower(): grade for grade in GradeLevel.objects.all()}
        self.years = {year.name.lower(): year for year in AcademicYear.objects.all()}


def _all_locations():
    from academy.models import Location

    return Location.objects.all()


class _Discard(Exception):
    """Rolls back the savepoint of a row that the import itself found wrong."""


def _import_row(report: ImportReport, line: int, row: dict, *, actor, context: _Lookups, notify_guardians: bool):
    if "__extra__" in row:
        report.problems.append(Problem(line, "row", "The row has more values than the header has columns."))
        return
    student_data, primary, others, labels, errors = _specs(row, context)
    if not errors:
        duplicate = _existing_student(student_data)
        if duplicate is not None:
            errors.append(("row", _duplicate_message(report, duplicate)))
    # The admission runs even when a reference was not found, so that every problem of
    # the row is reported at once; its own errors on those columns would only repeat ours.
    student = None
    try:
        with transaction.atomic():  # a savepoint: a refused row leaves nothing behind
            student = student_admit(
                actor=actor,
                student_data=student_data,
                primary=primary,
                others=others,
                notify_guardians=notify_guardians,
            )
            if errors:
                raise _Discard
    except _Discard:
        student = None
    except ValidationError as error:
        reported = {column for column, _ in errors}
        errors.extend((column, message) for column, message in _columns_of(error) if column not in reported)
    except Conflict as error:
        errors.append(("row", error.detail))
    if errors:
        report.problems.extend(Problem(line, column, message) for column, message in errors)
        return
    report.admitted.append(
        Admitted(line=line, student_number=student.student_number, student_name=student.full_name, guardians=labels)
    )


def _specs(row: dict, context: _Lookups):
    """What ``student_admit`` takes, from one row, and the problems only the file can
    have (a code or name that names nothing, a yes/no that is neither)."""
    errors: list[tuple[str, str]] = []
    student_data: dict = {name: row[name] for name in STUDENT_COLUMNS if row.get(name)}
    code = row.get("location", "")
    location = context.locations.get(code.lower())
    if code and location is None:
        errors.append(("location", f'No location with code "{code}" that you may import into.'))
    student_data["location"] = location
    for column, lookup, what in (
        ("grade_level", context.grade_levels, "grade level"),
        ("academic_year", context.years, "academic year"),
    ):
        value = row.get(column, "")
        if value:
            found = lookup.get(value.lower())
            if found is None:
                errors.append((column, f'No {what} named "{value}".'))
            student_data[column] = found
    for name in ("status", "gender"):
        if name in student_data:
            student_data[name] = student_data[name].lower()
    primary, primary_label = _guardian_spec(row, PRIMARY_PREFIX, StudentGuardian.RelationshipType.PRIMARY, errors)
    others, labels = [], [primary_label]
    if any(row.get(column) for column in SECOND_COLUMNS):
        kind = (row.get("guardian2_type") or StudentGuardian.RelationshipType.SECONDARY).lower()
        if kind not in (StudentGuardian.RelationshipType.SECONDARY, StudentGuardian.RelationshipType.EMERGENCY):
            errors.append(("guardian2_type", 'Must be "secondary" or "emergency".'))
            kind = StudentGuardian.RelationshipType.SECONDARY
        second, second_label = _guardian_spec(row, SECOND_PREFIX, kind, errors)
        others.append(second)
        labels.append(second_label)
    return student_data, primary, others, tuple(labels), errors


def _guardian_spec(row: dict, prefix: str, kind: str, errors: list) -> tuple[GuardianLinkSpec, str]:
    """An existing guardian when one has the row's e-mail (any case), else the data of a
    new one (``student_admit`` checks it like any new guardian)."""
    data = {name: row[prefix + name] for name in GUARDIAN_FIELDS if row.get(prefix + name)}
    flags = {}
    if row.get(prefix + "relation"):
        flags["relation"] = row[prefix + "relation"]
    for flag, column in (
        ("can_pick_up", "can_pick_up"),
        ("can_authorize_medical", "can_authorize_medical"),
        ("receives_communications", "receives_communications"),
        ("is_financially_responsible", "financially_responsible"),
    ):
        value = row.get(prefix + column, "").lower()
        if value in TRUE_WORDS:
            flags[flag] = True
        elif value in FALSE_WORDS:
            flags[flag] = False
        elif value:
            errors.append((prefix + column, 'Must be "yes" or "no".'))
    if "preferred_communication" in data:
        data["preferred_communication"] = data["preferred_communication"].lower()
    email = data.get("email", "")
    existing = Guardian.objects.filter(email__iexact=email).first() if email else None
    if existing is not None:
        label = f"{existing.guardian_number} {existing.full_name} (existing)"
        return GuardianLinkSpec(relationship_type=kind, guardian=existing, flags=flags), label
    label = f"{data.get('first_name', '')} {data.get('last_name', '')} (new)"
    return GuardianLinkSpec(relationship_type=kind, data=data or {"email": ""}, flags=flags), label


def _duplicate_message(report: ImportReport, duplicate: Student) -> str:
    """Name the earlier row of the file when this import admitted the duplicate (its
    number is only provisional: nothing is written while a row has a problem), else the
    student on file by their real number."""
    line = next((row.line for row in report.admitted if row.student_number == duplicate.student_number), None)
    if line is not None:
        return f"Line {line} of this file has the same name, date of birth and location."
    return (
        f"{duplicate.full_name} ({duplicate.student_number}) has the same name and date of birth "
        "at this location already."
    )


def _existing_student(student_data: dict) -> Student | None:
    """A live student with the same names and date of birth at the same location: a
    file imported twice, or a duplicate row, must not admit the child twice."""
    try:
        return Student.objects.filter(
            first_name__iexact=student_data.get("first_name", ""),
            last_name__iexact=student_data.get("last_name", ""),
            date_of_birth=student_data.get("date_of_birth"),
            location=student_data.get("location"),
        ).first()
    except ValidationError:  # not a date: student_admit reports it on the column
        return None


def _columns_of(error: ValidationError) -> list[tuple[str, str]]:
    """``student_admit``'s error keys as the file's columns: ``date_of_birth``,
    ``primary_guardian.email`` -> ``guardian_email``, ``guardians[0].phone`` ->
    ``guardian2_phone``."""
    if not hasattr(error, "error_dict"):
        return [("row", message) for message in error.messages]
    found = []
    for key, messages in error.message_dict.items():
        column = key
        if key == NON_FIELD_ERRORS or key == "student":
            column = "row"
        elif key.startswith("primary_guardian"):
            rest = key[len("primary_guardian") :].lstrip(".")
            column = PRIMARY_PREFIX + (rest or "email")
        elif key.startswith("guardians[0]"):
            rest = key[len("guardians[0]") :].lstrip(".")
            column = SECOND_PREFIX + (rest or "email")
        for message in messages:
            found.append((column, message))
    return found
