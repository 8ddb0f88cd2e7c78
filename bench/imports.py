"""Benchmark of the student import: N rows checked and admitted on PostgreSQL.

    .venv/bin/python bench/imports.py --rows 10000

Uses a database of its own (``DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/academy_bench_imports``): creates it if PostgreSQL
says it does not exist, migrates it, and makes the reference data a file names (one
location, a grade level, an academic year) and an office-staff login of that location.
Then writes a CSV of ``--rows`` students (names tagged with this run, so every run
admits new children; every third row a brother or sister sharing the guardian of the
row before, every fifth a second guardian) and runs
``families.imports.students_import`` on it twice: a dry run (checking only) and the
import (checking and admitting in one transaction), each timed, with its query count.
Prints rows/second and the total time, and PASS/FAIL against: the import of 10,000
rows under 30 s.
"""

import argparse
import io
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/academy_bench_imports")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.config.settings")
os.environ.setdefault("HTTPS", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

TARGET_SECONDS = 30
HEADER = (
    "first_name,last_name,date_of_birth,gender,location,grade_level,academic_year,email,"
    "guardian_first_name,guardian_last_name,guardian_email,guardian_phone,guardian_relation,"
    "guardian2_first_name,guardian2_last_name,guardian2_email,guardian2_phone,guardian2_type"
)


def ensure_database() -> None:
    try:
        connection.ensure_connection()
    except OperationalError as error:
        if connection.vendor != "postgresql" or "does not exist" not in str(error):
            raise
        name = settings.DATABASES["default"]["NAME"]
        with connection._nodb_cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        print(f"created database {name}")


def ensure_reference_data():
    from academy.models import AcademicYear, GradeLevel, Location, User
    from academy.roles import OFFICE_STAFF
    from academy.services import roles_sync, structure_save, user_assign_role

    roles_sync()
    location = Location.objects.filter(code="BENCH-IMP").first() or structure_save(
        instance=Location(), data={"code": "BENCH-IMP", "name": "Bench imports"}
    )
    if not GradeLevel.objects.filter(name="Grade 3").exists():
        structure_save(instance=GradeLevel(), data={"name": "Grade 3", "order": 3})
    if not AcademicYear.objects.filter(name="2025-26").exists():
        import datetime

        structure_save(
            instance=AcademicYear(),
            data={"name": "2025-26", "start_date": datetime.date(2025, 9, 1), "end_date": datetime.date(2026, 6, 30)},
        )
    user = User.objects.filter(username="bench-importer").first()
    if user is None:
        user = User.objects.create_user(username="bench-importer", password=uuid.uuid4().hex, is_staff=True)
        user_assign_role(user=user, role=OFFICE_STAFF)
        user.locations.add(location)
    return User.objects.get(pk=user.pk)


def make_file(rows: int, tag: str) -> bytes:
    lines = [HEADER]
    for index in range(rows):
        family = index - 1 if index % 3 == 2 else index
        born = f"20{12 + index % 8}-{1 + index % 12:02d}-{1 + index % 28:02d}"
        second = (
            f"Sam,Fam{tag}{family},sam.{tag}.{family}@example.org,555-2{family},emergency" if index % 5 == 0 else ",,,,"
        )
        lines.append(
            f"Kid{index},Fam{tag}{family},{born},{('female', 'male')[index % 2]},BENCH-IMP,Grade 3,2025-26,"
            f"kid.{tag}.{index}@example.org,Pat,Fam{tag}{family},pat.{tag}.{family}@example.org,555-1{family},Mother,"
            f"{second}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def timed(file: bytes, *, actor, dry_run: bool):
    from families.imports import students_import

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = students_import(file=io.BytesIO(file), actor=actor, dry_run=dry_run)
        seconds = time.perf_counter() - started
    return report, seconds, len(queries.captured_queries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    ensure_database()
    call_command("migrate", interactive=False, verbosity=0)
    actor = ensure_reference_data()
    from students.models import Student

    file = make_file(args.rows, uuid.uuid4().hex[:6])
    print(f"{args.rows} rows, {len(file) / 1024 / 1024:.1f} MB, database {settings.DATABASES['default']['NAME']}")
    before = Student.all_objects.count()
    for dry_run in (True, False):
        report, seconds, queries = timed(file, actor=actor, dry_run=dry_run)
        what = "check only (dry run)" if dry_run else "check and admit     "
        print(
            f"{what}: {seconds:6.2f} s  {args.rows / seconds:8.0f} rows/s  {queries} queries  "
            f"{len(report.problems)} problems  {report.summary}"
        )
        if report.problems:
            print("\n".join(report.as_text().splitlines()[:10]))
            return 1
    admitted = Student.all_objects.count() - before
    ok = admitted == args.rows and seconds < TARGET_SECONDS
    print(f"admitted {admitted} students; total {seconds:.2f} s for {args.rows} rows: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
