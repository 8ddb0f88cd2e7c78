"""Benchmark of grading at the size of a school: a term of 10,000 students in 250 sections
with 6 assessments each (300,000 scores).

    .venv/bin/python bench/grading.py                                # build a term, then measure
    .venv/bin/python bench/grading.py --sections 20 --students 400   # a small term, to try it

PostgreSQL only. Uses a database of its own (``DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/academy_bench_grading``): creates it if PostgreSQL
says it does not exist and migrates it. The students come from ``students_list.py``'s
builder (bulk, with guardians). Every run builds a new term (a published result is never
deleted, so a term is published once): ``--students`` students, each in one section of
each of five blocks of ``--sections / 5`` sections (10,000 students in 250 sections of
200: 50,000 enrollments), six assessments a section weighing 100 in all, every score
(2 % excused, 1 % missing: 300,000) and every student's draft result as the scores give
it, written by ``COPY``; no history rows for the set-up (nothing measured reads them). A
complete term an interrupted run left unpublished is used again.

It prints:

(1) a 40-by-6 gradebook saved in one call of ``grading.services.gradebook_save`` (what the
    API's and the staff page's one request does): time and queries
    (``CaptureQueriesContext``), first entry (240 new scores) and every cell changed,
    beside the same for a 10-by-6 gradebook: the query count must not grow with it;
(2) the whole term published by ``grading.services.term_publish`` (the guardians'
    notices after commit switched off): time, queries, CPU in Python and in the
    PostgreSQL backend; then a ``COPY`` of the same result rows (every column, the values
    publishing left) into a bare scratch copy of the results table, and of those rows
    with the history rows publishing wrote: the ratios; and the database's floor (the
    same rows published set-based inside the server). Targets: under 10 s and within 5x
    the COPY of every row publishing writes (the results and their history rows: the
    reading the billing target settled on; the floor alone is several times the COPY of
    the result rows, so that reading could not be met by any publish); the aim within
    1.3x the floor is printed beside them;
(3) a student's results (``grading.selectors.student_results`` with what the page shows
    of each, the term GPA and the finance hold) for the student with the fewest results
    and the one with the most: the same query count.

See bench/README.md.
"""

import argparse
import datetime
import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/academy_bench_grading")

import students_list as base  # noqa: E402  (sets up Django)
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

SECTIONS_PER_STUDENT = 5  # a student takes one section in each of five blocks (periods)
GRADEBOOK_SIZE = 40  # the class of the one-request gradebook
SMALL_GRADEBOOK = 10
# type, title, weight, maximum score
ASSESSMENTS = (
    ("quiz", "Quiz 1", 10, 20),
    ("quiz", "Quiz 2", 10, 20),
    ("assignment", "Assignment", 15, 50),
    ("project", "Project", 15, 100),
    ("midterm", "Midterm", 20, 100),
    ("final", "Final exam", 30, 100),
)
TERM_START, TERM_END = datetime.date(2025, 9, 1), datetime.date(2025, 12, 19)
PROGRAM, COURSE = "BENCH-GRADING", "BENCH-GRADE-1"
TERM_PREFIX = "Bench grading"
GRADEBOOK_TERM = "Bench gradebooks"
TARGET_SECONDS = 10.0
TARGET_RATIO = 5.0
FLOOR_AIM = 1.3


# --- set-up ---------------------------------------------------------------------------------


def reference():
    from academy.models import Course, Program

    locations, year, _grades, user = base.ensure_reference_data()
    program = Program.objects.filter(code=PROGRAM).first() or Program.objects.create(
        code=PROGRAM, name="Bench graded courses"
    )
    course = Course.objects.filter(code=COURSE).first() or Course.objects.create(
        program=program, code=COURSE, title="Bench graded course", credits=Decimal("1.00")
    )
    return SimpleNamespace(locations=locations, year=year, user=user, course=course)


def active_students(count: int) -> list:
    from students.models import Student

    students = list(Student.objects.filter(status="active").order_by("pk")[:count])
    if len(students) < count:
        base.build_students(Student.all_objects.count() + (count - len(students)) * 12 // 10 + 100, chunk=5000)
        students = list(Student.objects.filter(status="active").order_by("pk")[:count])
    return students


def copy_rows(model, columns: list[str], rows) -> None:
    sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def columns_of(model) -> list[str]:
    return [field.column for field in model._meta.concrete_fields]


def sections_with_students(ref, term, code_prefix: str, groups: list[list]) -> list:
    """Sections of ``term`` with the students of each group enrolled and the six
    assessments (bulk). Answers ``[(section, [assessments], [students])]``."""
    from academy.models import Section
    from enrollment.models import Enrollment
    from grading.models import Assessment

    sections, enrollments, assessments, built = [], [], [], []
    for index, students in enumerate(groups):
        section = Section(
            id=uuid.uuid4(),
            course=ref.course,
            term=term,
            location=ref.locations[index % len(ref.locations)],
            code=f"{code_prefix}{index:04d}",
            capacity=len(students),
            schedule="Mon, Wed 09:00-09:50",
        )
        sections.append(section)
        for student in students:
            enrollments.append(
                Enrollment(
                    id=uuid.uuid4(),
                    student=student,
                    section=section,
                    term=term,
                    status="enrolled",
                    enrollment_date=TERM_START - datetime.timedelta(days=7),
                    start_date=TERM_START,
                )
            )
        mine = [
            Assessment(
                id=uuid.uuid4(),
                section=section,
                type=kind,
                title=title,
                date=TERM_START + datetime.timedelta(weeks=2 * (number + 1)),
                weight=Decimal(weight),
                max_score=Decimal(maximum),
            )
            for number, (kind, title, weight, maximum) in enumerate(ASSESSMENTS)
        ]
        assessments.extend(mine)
        built.append((section, mine, students))
    Section.objects.bulk_create(sections, batch_size=1000)
    Enrollment.objects.bulk_create(enrollments, batch_size=2000)
    Assessment.objects.bulk_create(assessments, batch_size=2000)
    return built


def build_term(ref, sections: int, students_count: int):
    """A new term: ``students_count`` students, each in one section of every block of
    ``sections / 5`` sections, with every score and every draft result."""
    from academy.models import Term
    from grading import selectors
    from grading.models import GradeScale, Result, Score

    number = Term.objects.filter(name__startswith=TERM_PREFIX).count() + 1
    students = active_students(students_count)
    started = time.perf_counter()
    scale = GradeScale.objects.prefetch_related("bands").get(is_default=True)
    rng = random.Random(number)
    now = datetime.datetime.now(tz=datetime.UTC)
    score_columns, result_columns = columns_of(Score), columns_of(Result)
    with transaction.atomic():
        term = Term.objects.create(
            academic_year=ref.year, name=f"{TERM_PREFIX} {number}", start_date=TERM_START, end_date=TERM_END
        )
        per_block = sections // SECTIONS_PER_STUDENT
        groups = [[] for _ in range(per_block * SECTIONS_PER_STUDENT)]
        for index, student in enumerate(students):
            for block in range(SECTIONS_PER_STUDENT):
                groups[block * per_block + index % per_block].append(student)
        built = sections_with_students(ref, term, "G", groups)
        scores, results = [], []
        for section, assessments, members in built:
            for student in members:
                ability = rng.uniform(45, 98)
                mine = {}
                for assessment in assessments:
                    roll = rng.random()
                    status = "excused" if roll < 0.02 else "missing" if roll < 0.03 else "scored"
                    value = None
                    if status == "scored":
                        percent = min(100.0, max(0.0, ability + rng.uniform(-12, 12)))
                        value = (Decimal(percent) * assessment.max_score / 100).quantize(Decimal("0.5"))
                    score = SimpleNamespace(status=status, score=value)
                    mine[assessment.pk] = score
                    values = {
                        "id": uuid.uuid4(),
                        "created_at": now,
                        "updated_at": now,
                        "created_by_id": ref.user.pk,
                        "updated_by_id": ref.user.pk,
                        "assessment_id": assessment.pk,
                        "student_id": student.pk,
                        "status": status,
                        "score": value,
                        "max_score": assessment.max_score,
                        "comment": "",
                        "eligibility_override_reason": "",
                    }
                    scores.append(tuple(values[column] for column in score_columns))
                grade = selectors.grade_for(selectors.weighted_percentage(assessments, mine, final=False), scale)
                values = {
                    "id": uuid.uuid4(),
                    "created_at": now,
                    "updated_at": now,
                    "student_id": student.pk,
                    "section_id": section.pk,
                    "scale_id": scale.pk,
                    "percentage": grade.percentage,
                    "letter_grade": grade.letter,
                    "grade_points": grade.points,
                    "passed": grade.passed,
                    "state": "draft",
                    "comments": "",
                    "published_at": None,
                    "published_by_id": None,
                    "frozen_at": None,
                    "frozen_by_id": None,
                    "last_change_id": None,
                }
                results.append(tuple(values[column] for column in result_columns))
        copy_rows(Score, score_columns, scores)
        copy_rows(Result, result_columns, results)
    analyze()
    print(
        f"build: {term} with {len(built)} sections, {len(students):,} students ({len(results):,} enrollments), "
        f"{len(built) * len(ASSESSMENTS):,} assessments, {len(scores):,} scores and {len(results):,} draft results in "
        f"{time.perf_counter() - started:.1f} s (then VACUUM ANALYZE)"
    )
    return term


def analyze() -> None:
    with connection.cursor() as cursor:
        for table in (
            "academy_section",
            "enrollment_enrollment",
            "grading_assessment",
            "grading_score",
            "grading_result",
            "grading_historicalresult",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def term_to_publish(ref, sections: int, students_count: int):
    """The newest bench term if nothing of it is published yet and it is complete, else a
    new one."""
    from academy.models import Section, Term
    from grading.models import Result

    term = Term.objects.filter(name__startswith=TERM_PREFIX).order_by("-created_at").first()
    if term is not None:
        size = Section.objects.filter(term=term).count()
        results = Result.objects.filter(section__term=term)
        if (
            size == sections
            and not results.exclude(state="draft").exists()
            and results.count() == students_count * SECTIONS_PER_STUDENT
        ):
            print(f"build: {term} (built earlier, not yet published) is used")
            return term
    return build_term(ref, sections, students_count)


# --- (1) a gradebook in one request ------------------------------------------------------------


def gradebook_cells(assessments, students, rng: random.Random) -> list:
    from grading.services import Cell

    cells = []
    for student in students:
        for assessment in assessments:
            value = Decimal(rng.randrange(1, int(assessment.max_score) * 2 + 1)) / 2
            cells.append(Cell(assessment_id=str(assessment.pk), student_id=str(student.pk), score=str(value)))
    return cells


def changed(cells: list) -> list:
    """The same cells, each score half a point lower (every cell changes)."""
    from grading.services import Cell

    return [
        Cell(assessment_id=c.assessment_id, student_id=c.student_id, score=str(Decimal(c.score) - Decimal("0.5")))
        for c in cells
    ]


def measure_gradebooks(ref) -> bool:
    from academy.models import Term
    from grading.services import gradebook_save

    term = Term.objects.filter(academic_year=ref.year, name=GRADEBOOK_TERM).first() or Term.objects.create(
        academic_year=ref.year, name=GRADEBOOK_TERM, start_date=TERM_START, end_date=TERM_END
    )
    students = active_students(GRADEBOOK_SIZE)
    run = uuid.uuid4().hex[:6].upper()
    with transaction.atomic():
        built = sections_with_students(
            ref, term, f"GB{run}-", [students[:SMALL_GRADEBOOK], students[:SMALL_GRADEBOOK], students]
        )
    rng = random.Random(run)
    print(f"\n(1) a gradebook saved in one request (grading.services.gradebook_save, sections {built[0][0].code}..)")
    warm_section, warm_assessments, warm_members = built.pop(0)  # first use: permissions, caches
    gradebook_save(section=warm_section, cells=gradebook_cells(warm_assessments, warm_members, rng), actor=ref.user)
    counts = {}
    for section, assessments, members in built:
        size = f"{len(members)}-by-{len(assessments)}"
        cells = gradebook_cells(assessments, members, rng)
        for label in ("first entry", "every cell changed"):
            cells = cells if label == "first entry" else changed(cells)
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                saved = gradebook_save(section=section, cells=cells, actor=ref.user)
                elapsed = time.perf_counter() - started
            assert len(saved) == len(cells), (len(saved), len(cells))
            counts[(size, label)] = len(queries.captured_queries)
            print(
                f"  {size:<8} {label:<19} {len(cells):>4} cells  {elapsed * 1000:7.1f} ms  "
                f"{len(queries.captured_queries):>3} queries"
            )
    fixed = all(
        counts[(f"{SMALL_GRADEBOOK}-by-6", label)] == counts[(f"{GRADEBOOK_SIZE}-by-6", label)]
        for label in ("first entry", "every cell changed")
    )
    print(f"  the same query count at {SMALL_GRADEBOOK} and {GRADEBOOK_SIZE} students: {verdict(fixed)}")
    return fixed


# --- (2) publishing the term --------------------------------------------------------------------


class QueryCounter:
    """Counts the statements a block sends (an ``execute_wrapper``: no query log)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def backend_cpu_seconds() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (``/proc``; Linux,
    the server on this machine)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def copy_into_scratch(table: str, column_list: str, rows: list) -> float:
    """COPY ``rows`` into a temporary ``LIKE table INCLUDING DEFAULTS`` table, dropped
    after; checks every row arrived. Answers the COPY's seconds."""
    scratch = f"bench_copy_{table}"
    with connection.connection.cursor() as cursor:  # the psycopg connection (autocommit)
        cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
        cursor.execute(f"CREATE TEMP TABLE {scratch} (LIKE {table} INCLUDING DEFAULTS)")
        started = time.perf_counter()
        with cursor.copy(f"COPY {scratch} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        elapsed = time.perf_counter() - started
        cursor.execute(f"SELECT count(*) FROM {scratch}")
        copied = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {scratch}")
    assert copied == len(rows), f"COPY wrote {copied} rows of {len(rows)} into a copy of {table}"
    return elapsed


def copy_published(term) -> tuple[dict, float, float]:
    """COPY the term's result rows as publishing left them, then those with the history
    rows publishing wrote, into bare scratch tables. Answers the rows per table, the
    seconds of the results' COPY and of both; reading the rows is not timed."""
    from grading.models import Result

    sources = (
        ("results", Result, "section_id IN (SELECT id FROM academy_section WHERE term_id = %(term)s)"),
        (
            "history rows",
            Result.history.model,
            "history_change_reason = 'Published' AND section_id IN "
            "(SELECT id FROM academy_section WHERE term_id = %(term)s)",
        ),
    )
    copied, times = {}, []
    for name, model, where in sources:
        table = model._meta.db_table
        column_list = ", ".join(f'"{column}"' for column in columns_of(model))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column_list} FROM {table} WHERE {where}", {"term": term.pk})
            rows = cursor.fetchall()
        times.append(copy_into_scratch(table, column_list, rows))
        copied[name] = len(rows)
    return copied, times[0], sum(times)


class _Rollback(Exception):
    pass


def database_floor(ref, term) -> float:
    """What the server alone spends publishing the term set-based: every draft's
    percentage from its scores by one aggregate (missing scores 0, excused left out; no
    letters), each row updated to published with its indexes and the guard trigger, and
    its history row by ``INSERT ... SELECT``; then rolled back. Answers the seconds."""
    from grading.models import Result

    history = Result.history.model
    columns = columns_of(Result)
    names = ", ".join(columns)
    params = {"term": term.pk, "now": datetime.datetime.now(tz=datetime.UTC), "user": ref.user.pk}
    in_term = "section_id IN (SELECT id FROM academy_section WHERE term_id = %(term)s)"
    statements = [
        "UPDATE grading_result r SET percentage = g.percentage, state = 'published', published_at = %(now)s, "
        "published_by_id = %(user)s, updated_at = %(now)s FROM ("
        "  SELECT a.section_id, s.student_id, ROUND(SUM(CASE WHEN s.status = 'scored' "
        "    THEN s.score / a.max_score * a.weight ELSE 0 END) * 100 "
        "    / NULLIF(SUM(CASE WHEN s.status = 'excused' THEN 0 ELSE a.weight END), 0), 2) AS percentage"
        "  FROM grading_score s JOIN grading_assessment a ON a.id = s.assessment_id"
        "  WHERE a." + in_term + " GROUP BY a.section_id, s.student_id"
        ") g WHERE r.section_id = g.section_id AND r.student_id = g.student_id AND r.state = 'draft'",
        f"INSERT INTO {history._meta.db_table} ({names}, history_date, history_change_reason, history_type, "
        f"history_user_id) SELECT {names}, %(now)s, 'Published', '~', %(user)s FROM grading_result "
        f"WHERE {in_term}",
    ]
    elapsed = 0.0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            for sql in statements:
                cursor.execute(sql, params)
            elapsed = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    analyze()  # the dead row versions the rolled-back update left
    return elapsed


def measure_publish(ref, term) -> bool:
    from grading import selectors, services
    from grading.models import Result

    results = Result.objects.filter(section__term=term)
    sections = results.values("section").distinct().count()
    print(f"\n(2) publishing {term}: {results.count():,} results in {sections} sections (term_publish)")
    floor = database_floor(ref, term)
    counter = QueryCounter()
    cpu_before, backend_before = time.process_time(), backend_cpu_seconds()
    with mock.patch("grading.services._queue_published_notices"), connection.execute_wrapper(counter):
        started = time.perf_counter()
        outcomes = services.term_publish(term=term, actor=ref.user)
        elapsed = time.perf_counter() - started
    python_cpu, backend_cpu = time.process_time() - cpu_before, backend_cpu_seconds() - backend_before
    published = sum(outcome.published for outcome in outcomes)
    print(
        f"  term_publish {elapsed:.2f} s for {published:,} results ({published / elapsed:,.0f} results/s), "
        f"{counter.count:,} queries ({counter.count / max(sections, 1):.1f} a section); "
        f"CPU {python_cpu:.2f} s in Python, {backend_cpu:.2f} s in the PostgreSQL backend"
    )
    # every result is published and is the recomputation of its scores (a sample of sections)
    assert results.filter(state="published").count() == published == results.count()
    checked = 0
    for section in {r.section for r in results.select_related("section__course", "section__location")[:2000]}:
        book = selectors.gradebook(section)
        for row in book.rows:
            assert row.result.percentage == selectors.weighted_percentage(book.assessments, row.scores, final=True)
            checked += 1
    print(f"  {checked:,} published results checked against a recomputation from their scores: {verdict(True)}")

    copied, copy_results_s, copy_all_s = copy_published(term)
    print(
        f"  COPY of the same {copied['results']:,} result rows into a bare copy of grading_result: "
        f"{copy_results_s:.3f} s, so publishing is {elapsed / copy_results_s:.1f}x it"
    )
    print(
        f"  COPY of those and the {copied['history rows']:,} history rows publishing wrote: {copy_all_s:.3f} s, "
        f"so publishing is {elapsed / copy_all_s:.1f}x it"
    )
    print(
        f"  the database's floor (the same drafts published set-based inside the server: one aggregate over the "
        f"scores, every row updated with its indexes and trigger, history by INSERT ... SELECT; rolled back): "
        f"{floor:.2f} s, so publishing is {elapsed / floor:.1f}x it"
    )
    fast = elapsed < TARGET_SECONDS
    within = elapsed / copy_all_s <= TARGET_RATIO
    print(
        f"  target under {TARGET_SECONDS:.0f} s: {verdict(fast)}; within {TARGET_RATIO:.0f}x the COPY of every "
        f"row it writes: {verdict(within)} ({elapsed / copy_all_s:.1f}x); the aim of {FLOOR_AIM}x the floor: "
        f"{elapsed / floor:.1f}x"
    )
    return fast and within


# --- (3) a student's results page ---------------------------------------------------------------


def results_page(student, user) -> int:
    """The queries of a student's results page: the results with what a row shows, the
    term GPA per term and the finance hold."""
    from grading import selectors

    with CaptureQueriesContext(connection) as queries:
        results = list(selectors.student_results(student=student, user=user))
        shown = [
            (r.section.course.title, str(r.section.term), r.section.location.name, r.scale and r.scale.name)
            for r in results
        ]
        assert len(shown) == len(results)
        by_term: dict = {}
        for result in results:
            by_term.setdefault(result.section.term_id, []).append(result)
        [selectors.term_gpa(rows) for rows in by_term.values()]
        selectors.results_hold(student)
    return len(queries.captured_queries), len(results)


def measure_student_results(ref) -> bool:
    from django.db.models import Count

    from grading.models import Result
    from students.models import Student

    per_student = Result.objects.values("student_id").annotate(n=Count("id"))
    several = per_student.order_by("-n", "student_id").first()
    one = per_student.order_by("n", "student_id").first()
    print("\n(3) a student's results page (grading.selectors.student_results, term GPA, finance hold)")
    if one is None:
        print("  no results yet")
        return False
    counts = []
    for row in (one, several):
        student = Student.objects.get(pk=row["student_id"])
        results_page(student, ref.user)  # warm up
        started = time.perf_counter()
        queries, shown = results_page(student, ref.user)
        elapsed = time.perf_counter() - started
        counts.append(queries)
        print(f"  a student with {shown:>2} result(s): {queries} queries, {elapsed * 1000:.1f} ms")
    fixed = len(set(counts)) == 1 and one["n"] < several["n"]
    print(f"  the same query count whatever the number of results: {verdict(fixed)}")
    return fixed


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", type=int, default=250, help="sections in the term (default 250)")
    parser.add_argument("--students", type=int, default=10_000, help="students in the term (default 10,000)")
    args = parser.parse_args()

    base.ensure_database()
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL (COPY)")
    print(f"database: {settings.DATABASES['default']['NAME']}  (load average {os.getloadavg()[0]:.1f})")
    call_command("migrate", interactive=False, verbosity=0)
    ref = reference()
    if args.sections % SECTIONS_PER_STUDENT or args.sections // SECTIONS_PER_STUDENT > args.students:
        raise SystemExit(f"--sections must be a multiple of {SECTIONS_PER_STUDENT}, at most 5x --students")
    term = term_to_publish(ref, args.sections, args.students)
    results = [measure_gradebooks(ref), measure_publish(ref, term), measure_student_results(ref)]
    print("\nresult:", "every target met" if all(results) else "TARGET MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
