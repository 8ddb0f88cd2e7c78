"""Benchmark of the attendance pages at 20,000 and at 2,000,000 attendance records.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench_att DEBUG=1 \\
        .venv/bin/python bench/attendance.py --records 2000000

Builds sections of 12 students with 40 weekly sessions each (480 marks a section: 80 %
present, then late, absent, excused and partial), first up to ``--small`` marks, times
the pages, then grows the academy (more sections, students and marks; the first
sections stay as they are) up to ``--records`` marks and times the same pages again:

- the attendance screen (roster) of a class session, staff page and API;
- a student's attendance summary, API and staff page;
- the monthly report of one class (staff page, ``?section=``).

It prints, per page, the query count and the median time at both sizes and their ratio
(target: the same query count, and at most 1.5x the time at the small size). Rows
are written in bulk: students and guardians by ``bench/students_list.py``'s builder,
sessions and enrollments by ``bulk_create``, marks by PostgreSQL ``COPY`` (SQLite:
``bulk_create``, only to try the script). No history rows are built; nothing measured
reads them. See bench/README.md.
"""

import argparse
import datetime
import math
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import students_list as base  # sets up Django
from django.core.management import call_command
from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

STUDENTS_PER_SECTION = 12
SESSIONS_PER_SECTION = 40
MARKS_PER_SECTION = STUDENTS_PER_SECTION * SESSIONS_PER_SECTION
FIRST_DAY = datetime.date(2025, 9, 1)
STATUSES = ["present"] * 16 + ["late", "absent", "excused", "partial"]
COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "student_id",
    "class_session_id",
    "enrollment_id",
    "status",
    "session_date",
    "session_duration_minutes",
    "minutes_late",
    "minutes_early_departure",
    "instructor_notes",
    "parent_notes",
    "behavioral_notes",
    "is_makeup",
    "consumed_from",
)


def reference():
    from academy.models import Course, Program, Term

    locations, year, _grades, user = base.ensure_reference_data()
    term = Term.objects.filter(academic_year=year, name="Bench year").first() or Term.objects.create(
        academic_year=year, name="Bench year", start_date=FIRST_DAY, end_date=datetime.date(2026, 7, 10)
    )
    program = Program.objects.filter(code="BENCH-SWIM").first() or Program.objects.create(
        code="BENCH-SWIM", name="Bench swimming"
    )
    course = Course.objects.filter(code="BENCH-SWIM-1").first() or Course.objects.create(
        program=program, code="BENCH-SWIM-1", title="Bench swim level 1"
    )
    return locations, term, course, user


def unenrolled_students(count: int) -> list:
    from enrollment.models import Enrollment
    from students.models import Student

    taken = Enrollment.objects.values("student_id")
    students = list(Student.objects.filter(status="active").exclude(pk__in=taken).order_by("pk")[:count])
    if len(students) < count:
        base.build_students(Student.all_objects.count() + (count - len(students)) * 12 // 10 + 100, chunk=5000)
        students = list(Student.objects.filter(status="active").exclude(pk__in=taken).order_by("pk")[:count])
    return students


def copy_marks(rows: list[tuple]) -> None:
    from attendance.models import AttendanceRecord

    if connection.vendor == "postgresql":
        sql = f"COPY attendance_attendancerecord ({', '.join(COLUMNS)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        AttendanceRecord.objects.bulk_create(
            [AttendanceRecord(**dict(zip(COLUMNS, row, strict=True))) for row in rows], batch_size=2000
        )


def build_sections(records: int) -> None:
    """Add sections (12 students, 40 sessions, every mark) until there are ``records``."""
    from academy.models import ClassSession, Section
    from attendance.models import AttendanceRecord
    from enrollment.models import Enrollment

    wanted = math.ceil(records / MARKS_PER_SECTION)
    have = Section.objects.filter(code__startswith="B").filter(course__code="BENCH-SWIM-1").count()
    if have >= wanted:
        print(f"build: {AttendanceRecord.objects.count():,} marks already present")
        return
    locations, term, course, _user = reference()
    started = time.perf_counter()
    chunk = 100
    for first in range(have, wanted, chunk):
        count = min(chunk, wanted - first)
        students = iter(unenrolled_students(count * STUDENTS_PER_SECTION))
        rng = random.Random(first)
        now = datetime.datetime.now(tz=datetime.UTC)
        with transaction.atomic():
            sections, sessions, enrollments, marks = [], [], [], []
            for number in range(first, first + count):
                section = Section(
                    id=uuid.uuid4(),
                    course=course,
                    term=term,
                    location=locations[number % len(locations)],
                    code=f"B{number:05d}",
                    capacity=STUDENTS_PER_SECTION,
                )
                sections.append(section)
                meetings = [
                    ClassSession(
                        id=uuid.uuid4(),
                        section=section,
                        date=FIRST_DAY + datetime.timedelta(weeks=week, days=number % 5),
                        start_time=datetime.time(16),
                        end_time=datetime.time(17),
                    )
                    for week in range(SESSIONS_PER_SECTION)
                ]
                sessions.extend(meetings)
                for _ in range(STUDENTS_PER_SECTION):
                    student = next(students)
                    statuses = [rng.choice(STATUSES) for _ in meetings]
                    attended = sum(status in ("present", "late", "partial") for status in statuses)
                    enrollment = Enrollment(
                        id=uuid.uuid4(),
                        student=student,
                        section=section,
                        term=term,
                        status="enrolled",
                        enrollment_date=FIRST_DAY,
                        start_date=FIRST_DAY,
                        sessions_allocated=SESSIONS_PER_SECTION,
                        sessions_completed=attended,
                        sessions_remaining=SESSIONS_PER_SECTION - attended,
                    )
                    enrollments.append(enrollment)
                    for meeting, status in zip(meetings, statuses, strict=True):
                        used = status in ("present", "late", "partial")
                        marks.append(
                            (
                                uuid.uuid4(),
                                now,
                                now,
                                student.pk,
                                meeting.pk,
                                enrollment.pk,
                                status,
                                meeting.date,
                                60,
                                10 if status == "late" else 0,
                                20 if status == "partial" else 0,
                                "",
                                "",
                                "",
                                False,
                                "enrollment" if used else "none",
                            )
                        )
            Section.objects.bulk_create(sections, batch_size=1000)
            ClassSession.objects.bulk_create(sessions, batch_size=2000)
            Enrollment.objects.bulk_create(enrollments, batch_size=2000)
            copy_marks(marks)
        done = (first + count) * MARKS_PER_SECTION
        print(f"build: {done:,} / {records:,} marks ({time.perf_counter() - started:.1f} s)", flush=True)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in (
                "academy_section",
                "academy_classsession",
                "enrollment_enrollment",
                "attendance_attendancerecord",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")


def targets() -> dict:
    """The first bench section, its 20th session and its first student: built in the
    small academy and left untouched when it grows."""
    from academy.models import ClassSession, Section
    from enrollment.models import Enrollment

    section = Section.objects.filter(course__code="BENCH-SWIM-1").order_by("code").first()
    session = ClassSession.objects.filter(section=section).order_by("date")[19]
    student_id = Enrollment.objects.filter(section=section).order_by("pk").values_list("student_id", flat=True)[0]
    return {
        "roster page": f"/staff/attendance/sessions/{session.pk}/",
        "roster API": f"/api/v1/class-sessions/{session.pk}/attendance/",
        "student summary API": f"/api/v1/students/{student_id}/attendance-summary/",
        "student attendance page": f"/staff/attendance/students/{student_id}/",
        "class monthly report": (
            f"/staff/attendance/report/?section={section.pk}&date_from=2025-09-01&date_to=2026-08-31"
        ),
    }


def measure(client: Client, urls: dict, runs: int) -> dict:
    results = {}
    for name, url in urls.items():
        for _ in range(2):  # warm up (grants cache, plans)
            assert client.get(url).status_code == 200, (name, url)
        reset_queries()  # the request_started signal resets the log: start from empty
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        results[name] = (len(queries.captured_queries), statistics.median(times))
    return results


def main() -> int:
    from attendance.models import AttendanceRecord

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="build nothing: time the pages of the database as it is (to re-measure a built database "
        "when the machine is quiet, back to back with a small one)",
    )
    args = parser.parse_args()

    base.ensure_database()
    call_command("migrate", verbosity=0)
    _locations, _term, _course, user = reference()
    client = Client()
    client.force_login(user)

    if args.measure_only:
        print(f"{AttendanceRecord.objects.count():,} attendance records ({connection.vendor})")
        for name, (count, median) in measure(client, targets(), args.runs).items():
            print(f"  {name:<26} {count:>3} queries  median {median:8.1f} ms")
        return 0

    sizes = {}
    for label, records in (("small", args.small), ("large", args.records)):
        build_sections(records)
        total = AttendanceRecord.objects.count()
        print(f"\n{label}: {total:,} attendance records ({connection.vendor})")
        sizes[label] = measure(client, targets(), args.runs)
        for name, (count, median) in sizes[label].items():
            print(f"  {name:<26} {count:>3} queries  median {median:8.1f} ms")

    print("\npage                        queries small/large   median small -> large   ratio  (target <= 1.5x)")
    ok = True
    for name, (count, small_ms) in sizes["small"].items():
        large_count, large_ms = sizes["large"][name]
        ratio = large_ms / small_ms if small_ms else float("inf")
        ok &= count == large_count and ratio <= 1.5
        print(
            f"  {name:<26} {count:>5} / {large_count:<5}      {small_ms:7.1f} -> {large_ms:7.1f} ms   {ratio:5.2f}x"
            f"  {'ok' if count == large_count and ratio <= 1.5 else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
