"""The checks of an import (``families.imports``), one chunk of rows at a time in a fixed
number of queries: the references a file names (locations, grade levels, years) once
per file, then per chunk one query each for the guardians its e-mails name, the
students that already have its e-mails, and the students it would admit twice. Every
rule ``student_admit`` applies is applied here in Python: the fields' shapes
(``clean_fields``), ``Student.clean``, the database constraints (names not blank, born
before enrolled, e-mails unique among students and among guardians, one primary
guardian, no guardian twice) and the medical-details permission. A row that passes
becomes a ``RowPlan``; ``families.admission_bulk`` writes the plans."""

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from academy.models import AcademicYear, GradeLevel, Location
from academy.selectors import location_list
from families.models import Guardian, StudentGuardian
from families.services import GUARDIAN_FIELDS as GUARDIAN_MODEL_FIELDS
from students.models import MEDICAL_FIELDS, MEDICAL_PERMISSION, Student

PRIMARY_PREFIX = "guardian_"
SECOND_PREFIX = "guardian2_"
TRUE_WORDS = {"1", "yes", "y", "true", "t", "x"}
FALSE_WORDS = {"0", "no", "n", "false", "f"}
FILE_GUARDIAN_FIELDS = (
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
STUDENT_REFERENCES = ("location", "grade_level", "academic_year")
# checked by the import itself (references) or filled by the admission
STUDENT_NOT_CLEANED = [*STUDENT_REFERENCES, "student_number", "previous_location", "created_by", "updated_by"]
GUARDIAN_NOT_CLEANED = ["guardian_number", "portal_user", "created_by", "updated_by"]
LINK_NOT_CLEANED = ["student", "guardian", "created_by"]
Primary = StudentGuardian.RelationshipType.PRIMARY


@dataclass
class GuardianPlan:
    """A row's guardian: an existing one (``pk``) or the data of a new one, keyed by its
    e-mail so that the rows of brothers and sisters share it."""

    key: str  # the lower-case e-mail; "" for none
    relationship_type: str
    flags: dict
    existing: Guardian | None = None
    data: dict | None = None  # a new guardian's checked data (first row naming it)
    first_line: int = 0  # the line that creates a new guardian


@dataclass
class RowPlan:
    line: int
    student_data: dict
    guardians: list[GuardianPlan] = field(default_factory=list)
    labels: tuple[str, ...] = ()

    @property
    def student_name(self) -> str:
        return f"{self.student_data['first_name']} {self.student_data['last_name']}"


def _messages(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {NON_FIELD_ERRORS: error.messages}


class ImportChecker:
    """Checks the rows of one file, chunk after chunk; remembers what earlier chunks
    will create (guardians by e-mail, students by name, birth date and location, e-mails)
    so that duplicates within the file are found across chunks too."""

    def __init__(self, actor):
        scope = location_list(user=actor) if actor is not None else Location.objects.all()
        self.locations = {location.code.lower(): location for location in scope}
        self.grade_levels = {grade.name.lower(): grade for grade in GradeLevel.objects.all()}
        self.years = {year.name.lower(): year for year in AcademicYear.objects.all()}
        self.may_write_medical = actor is None or actor.has_perm(MEDICAL_PERMISSION)
        self.today = timezone.localdate()
        self.new_guardians: dict[str, GuardianPlan] = {}  # e-mail -> the plan that creates it
        self.student_keys: dict[tuple, int] = {}  # (first, last, born, location) -> line
        self.student_emails: dict[str, int] = {}  # e-mail -> line

    # --- one chunk ---------------------------------------------------------------------

    def check_chunk(self, rows: list[tuple[int, dict]]) -> tuple[list[RowPlan], list[tuple[int, str, str]]]:
        """Check ``rows`` ((line, {column: value})); answers the plans of the good rows
        and the problems (line, column, message) of the others, in line order."""
        emails = {
            row.get(prefix + "email", "").lower()
            for _, row in rows
            for prefix in (PRIMARY_PREFIX, SECOND_PREFIX)
            if row.get(prefix + "email")
        }
        self.guardians = (
            {
                guardian.email_lower: guardian
                for guardian in Guardian.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=emails)
            }
            if emails
            else {}
        )
        own_emails = {row["email"].lower() for _, row in rows if row.get("email")}
        self.taken_emails = (
            set(
                Student.all_objects.annotate(email_lower=Lower("email"))
                .filter(email_lower__in=own_emails)
                .values_list("email_lower", flat=True)
            )
            if own_emails
            else set()
        )
        self.existing_students = self._existing_students(rows)
        plans, problems = [], []
        for line, row in rows:
            plan, errors = self._check_row(line, row)
            problems.extend((line, column, message) for column, message in errors)
            if plan is not None:
                plans.append(plan)
        return plans, problems

    def _existing_students(self, rows) -> dict[tuple, Student]:
        """Live students a row of the chunk would admit again (one query)."""
        last_names = {row.get("last_name", "").lower() for _, row in rows if row.get("last_name")}
        born = set()
        for _, row in rows:
            try:
                born.add(datetime.date.fromisoformat(row.get("date_of_birth", "")))
            except ValueError:
                continue
        if not last_names or not born:
            return {}
        found = (
            Student.objects.annotate(first_lower=Lower("first_name"), last_lower=Lower("last_name"))
            .filter(last_lower__in=last_names, date_of_birth__in=born)
            .filter(Q(location__in=list(self.locations.values())))
            .only("student_number", "first_name", "last_name", "date_of_birth", "location_id")
        )
        return {
            (student.first_lower, student.last_lower, student.date_of_birth, student.location_id): student
            for student in found
        }

    # --- one row -------------------------------------------------------------------------

    def _check_row(self, line: int, row: dict):
        if "__extra__" in row:
            return None, [("row", "The row has more values than the header has columns.")]
        errors: list[tuple[str, str]] = []
        student_data = self._student(row, errors)
        guardians, labels = self._guardians(line, row, errors)
        if not errors:
            self._duplicates(line, student_data, errors)
        if errors:
            return None, errors
        return RowPlan(line=line, student_data=student_data, guardians=guardians, labels=tuple(labels)), []

    def _student(self, row: dict, errors: list) -> dict:
        from families.imports import STUDENT_COLUMNS

        data: dict = {name: row[name] for name in STUDENT_COLUMNS if row.get(name) and name not in STUDENT_REFERENCES}
        code = row.get("location", "")
        location = self.locations.get(code.lower())
        if code and location is None:
            errors.append(("location", f'No location with code "{code}" that you may import into.'))
        elif not code:
            errors.append(("location", "This field cannot be null."))
        data["location"] = location
        for column, lookup, what in (
            ("grade_level", self.grade_levels, "grade level"),
            ("academic_year", self.years, "academic year"),
        ):
            value = row.get(column, "")
            if value:
                found = lookup.get(value.lower())
                if found is None:
                    errors.append((column, f'No {what} named "{value}".'))
                data[column] = found
        for name in ("status", "gender"):
            if name in data:
                data[name] = data[name].lower()
        if "email" in data:
            data["email"] = data["email"].lower()
        if not self.may_write_medical:
            refused = [name for name in MEDICAL_FIELDS if name in data]
            errors.extend((name, "You may not see or change medical details.") for name in refused)
        data.setdefault("enrollment_date", self.today)
        student = Student(**data)
        reported = {column for column, _ in errors}
        try:
            student.clean_fields(exclude=STUDENT_NOT_CLEANED)
        except ValidationError as error:
            for name, messages in _messages(error).items():
                column = "row" if name == NON_FIELD_ERRORS else name
                if column not in reported:
                    errors.extend((column, message) for message in messages)
        cleaned = {name: data[name] if name in STUDENT_REFERENCES else getattr(student, name) for name in data}
        born, enrolled = cleaned.get("date_of_birth"), cleaned.get("enrollment_date")
        if isinstance(born, datetime.date):
            try:
                student.clean()
            except ValidationError as error:
                errors.extend(("date_of_birth", message) for message in _messages(error).get("date_of_birth", []))
            else:
                if isinstance(enrolled, datetime.date) and born > enrolled:
                    errors.append(("row", "The date of birth must not be after the enrollment date."))
        email = cleaned.get("email")
        taken = email in self.taken_emails or email in self.student_emails
        if email and taken and "email" not in {column for column, _ in errors}:
            errors.append(("email", "Another student already has this email address."))
        return cleaned

    def _guardians(self, line: int, row: dict, errors: list) -> tuple[list[GuardianPlan], list[str]]:
        primary, primary_label = self._guardian(line, row, PRIMARY_PREFIX, Primary, errors)
        plans, labels = [primary], [primary_label]
        from families.imports import SECOND_COLUMNS

        if any(row.get(column) for column in SECOND_COLUMNS):
            kind = (row.get("guardian2_type") or StudentGuardian.RelationshipType.SECONDARY).lower()
            if kind not in (StudentGuardian.RelationshipType.SECONDARY, StudentGuardian.RelationshipType.EMERGENCY):
                errors.append(("guardian2_type", 'Must be "secondary" or "emergency".'))
                kind = StudentGuardian.RelationshipType.SECONDARY
            second, second_label = self._guardian(line, row, SECOND_PREFIX, kind, errors)
            if second.key and second.key == primary.key:
                errors.append(("guardian2_email", "This guardian is listed twice."))
            plans.append(second)
            labels.append(second_label)
        return plans, labels

    def _guardian(self, line: int, row: dict, prefix: str, kind: str, errors: list) -> tuple[GuardianPlan, str]:
        """An existing guardian when one has the row's e-mail (any case), the new guardian
        an earlier row of the file creates, or a new one from this row's data."""
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
        link = StudentGuardian(relationship_type=kind, **flags)
        try:
            link.clean_fields(exclude=LINK_NOT_CLEANED)
        except ValidationError as error:
            for name, messages in _messages(error).items():
                errors.extend((prefix + name, message) for message in messages)
        email = row.get(prefix + "email", "").lower()
        existing = self.guardians.get(email) if email else None
        if existing is not None:
            label = f"{existing.guardian_number} {existing.full_name} (existing)"
            return GuardianPlan(key=email, relationship_type=kind, flags=flags, existing=existing), label
        earlier = self.new_guardians.get(email) if email else None
        if earlier is not None:
            name = f"{earlier.data.get('first_name', '')} {earlier.data.get('last_name', '')}"
            label = f"{name} (new, line {earlier.first_line})"
            return GuardianPlan(key=email, relationship_type=kind, flags=flags, data=earlier.data), label
        data = {name: row[prefix + name] for name in FILE_GUARDIAN_FIELDS if row.get(prefix + name)}
        data = {name: value for name, value in data.items() if name in GUARDIAN_MODEL_FIELDS}
        data["email"] = email
        if "preferred_communication" in data:
            data["preferred_communication"] = data["preferred_communication"].lower()
        guardian = Guardian(**data)
        failed = False
        try:
            guardian.clean_fields(exclude=GUARDIAN_NOT_CLEANED)
        except ValidationError as error:
            failed = True
            for name, messages in _messages(error).items():
                column = prefix + ("email" if name == NON_FIELD_ERRORS else name)
                errors.extend((column, message) for message in messages)
        plan = GuardianPlan(key=email, relationship_type=kind, flags=flags, data=data, first_line=line)
        if email and not failed:
            self.new_guardians[email] = plan
        return plan, f"{data.get('first_name', '')} {data.get('last_name', '')} (new)"

    def _duplicates(self, line: int, data: dict, errors: list) -> None:
        """A file imported twice, or a row given twice, must not admit the child twice."""
        key = (data["first_name"].lower(), data["last_name"].lower(), data["date_of_birth"], data["location"].pk)
        earlier = self.student_keys.get(key)
        if earlier is not None:
            errors.append(("row", f"Line {earlier} of this file has the same name, date of birth and location."))
            return
        found = self.existing_students.get(key)
        if found is not None:
            errors.append(
                (
                    "row",
                    f"{found.full_name} ({found.student_number}) has the same name and date of birth "
                    "at this location already.",
                )
            )
            return
        self.student_keys[key] = line
        if data.get("email"):
            self.student_emails[data["email"]] = line
