"""``manage.py import_students FILE.csv [--dry-run]``: admit a legacy list of students
with their guardians. The logic is ``families.imports.students_import`` (shared with the
staff portal's upload page); docs/import_students.md describes the file."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from families.imports import COLUMNS, REQUIRED_COLUMNS, students_import


class Command(BaseCommand):
    help = (
        "Import students with their guardians from a UTF-8 CSV file. Every row is checked first, with the "
        "same rules as an admission; problems are printed by line and column. With --dry-run nothing is "
        "written; without it the whole file is written, or nothing if any row has a problem. "
        f"Required columns: {', '.join(REQUIRED_COLUMNS)}. All columns: {', '.join(COLUMNS)}. "
        "Dates are YYYY-MM-DD, location is a location code, grade_level and academic_year are names. "
        "A guardian whose e-mail is already known is linked, not created again. See docs/import_students.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file (UTF-8, first line: the column names).")
        parser.add_argument("--dry-run", action="store_true", help="Check every row and report; write nothing.")
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="Record this user as who admitted the students (history); limits locations to theirs.",
        )
        parser.add_argument(
            "--notify", action="store_true", help='Send guardians the usual "admitted" message (off by default).'
        )

    def handle(self, *args, file, dry_run, actor, notify, **options):
        user = None
        if actor:
            user = get_user_model().objects.filter(username=actor, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {actor!r}.")
            if not user.has_perm("students.add_student"):
                raise CommandError(f"{actor} may not admit students (students.add_student).")
        try:
            handle = open(file, "rb")  # noqa: SIM115 - closed below
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from error
        with handle:
            report = students_import(file=handle, actor=user, dry_run=dry_run, notify_guardians=notify)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary))
            for row in report.admitted:
                self.stdout.write(
                    f"line {row.line}: {row.student_number} {row.student_name} - {', '.join(row.guardians)}"
                )
            return
        for problem in report.problems:
            self.stderr.write(f"line {problem.line}: {problem.column}: {problem.message}")
        raise CommandError(report.summary)
