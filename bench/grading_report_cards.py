"""Benchmark of report cards: one student's PDF, and a location's 500 through the job.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench_reports DEBUG=1 \\
        .venv/bin/python bench/grading_report_cards.py --students 500

Builds (once; a second run finds the rows) ``--students`` students with guardians
(``bench/students_list.py``'s builder), a term "Bench report cards" of 2025-26 and, at
the location BENCH-A, groups of 25 students taking four courses each (Mathematics,
Science, English, Swimming; a section per course and group): published results with a
letter, points and a comment, ten class sessions per section with every mark (about 80 %
attended), and for Swimming a curriculum of three skill areas rated twice. Rows are
written in bulk (``bulk_create``); nothing measured reads history.

Then it prints:

- **one report card**: ``grading.report_cards.report_card_pdf`` for one student, the
  median and the slowest of ``--runs`` runs after two warm-up runs, split into the data
  and HTML (queries counted) and WeasyPrint; target under 1 s;
- **the job**: ``report_cards_start`` for the location and the term, run here through
  the Celery task (``academy.run_job``, eagerly, inline: the same code a worker runs),
  then the whole job's time, report cards per second, the ZIP's size and the job's
  state, done, failed; target: all of them made, none failed.

The job's files go to a temporary ``JOB_FILES_ROOT``, removed at the end. See
bench/README.md for the other scripts.
"""

import argparse
import datetime
import statistics
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import students_list as base  # sets up Django
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

GROUP = 25
FIRST_DAY = datetime.date(2025, 9, 8)
SESSIONS = 10
COURSES = (
    ("BENCH-RC-MATH", "Mathematics", 3),
    ("BENCH-RC-SCI", "Science", 2),
    ("BENCH-RC-ENG", "English", 2),
    ("BENCH-RC-SWIM", "Swimming", 1),
)
LETTERS = (("A", 95, "4.00"), ("B", 85, "3.00"), ("C", 75, "2.00"), ("D", 65, "1.00"))
AREAS = ("Breathing", "Kicking", "Floating")
STATUSES = ["present"] * 8 + ["late", "absent", "excused", "partial"]


def reference():
    """The term, the four courses (Swimming with a curriculum) and the location."""
    from academy.models import Course, Curriculum, CurriculumLevel, Program, SkillArea, Term

    locations, year, _grades, user = base.ensure_reference_data()
    term = Term.objects.filter(academic_year=year, name="Bench report cards").first() or Term.objects.create(
        academic_year=year,
        name="Bench report cards",
        start_date=datetime.date(2025, 9, 1),
        end_date=datetime.date(2025, 12, 19),
    )
    program = Program.objects.filter(code="BENCH-RC").first() or Program.objects.create(
        code="BENCH-RC", name="Bench report cards"
    )
    courses = []
    for code, title, credits in COURSES:
        course = Course.objects.filter(code=code).first() or Course.objects.create(
            program=program, code=code, title=title, credits=credits
        )
        courses.append(course)
    swim = courses[-1]
    curriculum = Curriculum.objects.filter(course=swim).first() or Curriculum.objects.create(
        course=swim, name="Bench swimming"
    )
    level = CurriculumLevel.objects.filter(curriculum=curriculum, order=1).first() or CurriculumLevel.objects.create(
        curriculum=curriculum, name="Level 1", order=1
    )
    areas = [SkillArea.objects.get_or_create(curriculum=curriculum, name=name)[0] for name in AREAS]
    return locations[0], term, courses, level, areas, user


def build(students: int) -> None:
    """Students, then per group of 25 the four sections with enrollments, published
    results, sessions, marks and (Swimming) skill ratings. Skipped when built."""
    from academy.models import ClassSession, Section
    from attendance.models import AttendanceRecord
    from enrollment.models import Enrollment
    from grading.models import GradeScale, Result, SkillRating
    from students.models import Student

    base.build_students(students, 5000)
    location, term, courses, level, areas, user = reference()
    if Enrollment.objects.filter(term=term).exists():
        print(f"build: the term's {Enrollment.objects.filter(term=term).count():,} enrollments are already there")
        return
    started = time.perf_counter()
    scale = GradeScale.objects.get(is_default=True)
    pupils = list(Student.all_objects.order_by("student_number")[:students])
    now = datetime.datetime.now(tz=datetime.UTC)
    sections, sessions, enrollments, results, marks, ratings = [], [], [], [], [], []
    for number, first in enumerate(range(0, len(pupils), GROUP)):
        group = pupils[first : first + GROUP]
        for course_index, course in enumerate(courses):
            section = Section(
                id=uuid.uuid4(),
                course=course,
                term=term,
                location=location,
                code=f"G{number:03d}",
                capacity=GROUP,
                instructor=user,
            )
            sections.append(section)
            meetings = [
                ClassSession(
                    id=uuid.uuid4(),
                    section=section,
                    date=FIRST_DAY + datetime.timedelta(weeks=week, days=course_index),
                    start_time=datetime.time(9 + course_index),
                    end_time=datetime.time(9 + course_index, 50),
                )
                for week in range(SESSIONS)
            ]
            sessions.extend(meetings)
            for index, pupil in enumerate(group):
                statuses = [STATUSES[(index + week * 7 + course_index) % len(STATUSES)] for week in range(SESSIONS)]
                attended = sum(status in ("present", "late", "partial") for status in statuses)
                enrollment = Enrollment(
                    id=uuid.uuid4(),
                    student=pupil,
                    section=section,
                    term=term,
                    status="enrolled",
                    enrollment_date=term.start_date,
                    start_date=term.start_date,
                    current_level=level if course is courses[-1] else None,
                    sessions_allocated=SESSIONS,
                    sessions_completed=attended,
                    sessions_remaining=SESSIONS - attended,
                )
                enrollments.append(enrollment)
                letter, percentage, points = LETTERS[(index + course_index) % len(LETTERS)]
                results.append(
                    Result(
                        student=pupil,
                        section=section,
                        scale=scale,
                        percentage=percentage,
                        letter_grade=letter,
                        grade_points=points,
                        passed=True,
                        state="published",
                        comments=f"{pupil.first_name} works steadily in {course.title.lower()}.",
                        published_at=now,
                        published_by=user,
                    )
                )
                for meeting, status in zip(meetings, statuses, strict=True):
                    used = status in ("present", "late", "partial")
                    marks.append(
                        AttendanceRecord(
                            student=pupil,
                            class_session=meeting,
                            enrollment=enrollment,
                            status=status,
                            session_date=meeting.date,
                            session_duration_minutes=50,
                            consumed_from="enrollment" if used else "none",
                        )
                    )
                if course is courses[-1]:
                    for area_index, area in enumerate(areas):
                        for week, rating in ((2, 1), (8, min(3, 1 + (index + area_index) % 3))):
                            ratings.append(
                                SkillRating(
                                    student=pupil,
                                    enrollment=enrollment,
                                    skill_area=area,
                                    level=level,
                                    previous_rating=None if week == 2 else 1,
                                    current_rating=rating,
                                    target_rating=3,
                                    assessment_date=FIRST_DAY + datetime.timedelta(weeks=week),
                                    instructor=user,
                                    next_goals=["Keep going"],
                                )
                            )
    with transaction.atomic():
        Section.objects.bulk_create(sections, batch_size=1000)
        ClassSession.objects.bulk_create(sessions, batch_size=2000)
        Enrollment.objects.bulk_create(enrollments, batch_size=2000)
        Result.objects.bulk_create(results, batch_size=2000)
        AttendanceRecord.objects.bulk_create(marks, batch_size=2000)
        SkillRating.objects.bulk_create(ratings, batch_size=2000)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in (
                "enrollment_enrollment",
                "grading_result",
                "attendance_attendancerecord",
                "grading_skillrating",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")
    print(
        f"build: {len(sections)} sections, {len(enrollments):,} enrollments and published results, "
        f"{len(marks):,} marks, {len(ratings):,} skill ratings ({time.perf_counter() - started:.1f} s)"
    )


def time_one_card(student, term, runs: int) -> bool:
    from weasyprint import HTML

    from grading.report_cards import report_card_html, report_card_pdf

    for _ in range(2):
        report_card_pdf(student=student, term=term)
    totals, datas, renders = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            html = report_card_html(student=student, term=term)
        built = time.perf_counter()
        content = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
        done = time.perf_counter()
        datas.append((built - started) * 1000)
        renders.append((done - built) * 1000)
        totals.append((done - started) * 1000)
    median = statistics.median(totals)
    print(f"\none report card ({student.student_number}, {connection.vendor}), {runs} runs after two warm-ups:")
    print(f"  whole PDF      median {median:7.1f} ms   slowest {max(totals):7.1f} ms   {len(content):,} bytes")
    print(f"  data and HTML  median {statistics.median(datas):7.1f} ms   {len(queries.captured_queries)} queries")
    print(f"  WeasyPrint     median {statistics.median(renders):7.1f} ms")
    print(f"  target under 1 s: {'met' if median < 1000 else 'MISSED'}")
    return median < 1000


def time_the_job(location, term, user, expected: int) -> bool:
    from academy.config.celery import app
    from academy.jobs import job_result_file
    from academy.models import Job
    from grading.report_cards import report_cards_start

    # the job runs here, inline, through the Celery task (what a worker runs), when the
    # service's transaction commits: eager tasks, and not in a background thread
    app.conf.task_always_eager = True
    settings.BACKGROUND_TASKS_IN_THREAD = False
    started = time.perf_counter()
    job = report_cards_start(term=term, location=location, actor=user)
    elapsed = time.perf_counter() - started
    job = Job.objects.get(pk=job.pk)
    path = job_result_file(job)
    pdfs = len(zipfile.ZipFile(path).namelist()) if path else 0
    print(f"\nthe job: report cards of {location.name}, {term} ({job.total:,} students)")
    print(
        f"  state {job.state}, done {job.done:,} of {job.total:,}, failed {job.failed_count}, attempts {job.attempts}"
    )
    print(
        f"  whole job      {elapsed:7.1f} s   {job.total / elapsed:6.1f} report cards/s"
        f"   {elapsed / job.total * 1000:.0f} ms each"
    )
    if path:
        print(f"  ZIP            {pdfs:,} PDFs, {path.stat().st_size / 1e6:.1f} MB ({job.result_name})")
    ok = job.state == Job.State.COMPLETED and pdfs == expected and job.failed_count == 0
    print(f"  target: {expected:,} report cards, none failed: {'met' if ok else 'MISSED'}")
    return ok


def main() -> int:
    from enrollment.models import Enrollment
    from students.models import Student

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-job", action="store_true", help="time one report card only")
    args = parser.parse_args()

    base.ensure_database()
    call_command("migrate", verbosity=0)
    build(args.students)
    location, term, _courses, _level, _areas, user = reference()
    enrolled = Enrollment.objects.filter(term=term, section__location=location).values("student_id")
    student = Student.all_objects.filter(pk__in=enrolled).order_by("student_number").first()
    ok = time_one_card(student, term, args.runs)
    if not args.no_job:
        with tempfile.TemporaryDirectory(prefix="bench-report-cards-") as folder:
            settings.JOB_FILES_ROOT = Path(folder)
            ok &= time_the_job(location, term, user, Student.all_objects.filter(pk__in=enrolled).count())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
