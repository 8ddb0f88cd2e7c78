"""Benchmark of the student list: the API list and the staff search against raw SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench DEBUG=1 \\
        .venv/bin/python bench/students_list.py --students 100000

Builds N students with guardians (bulk operations, numbers from ``number_block``,
5,000 students per transaction so the deferred primary-guardian trigger passes at
each commit; skipped when the rows exist), then prints for

(a) the API student list ``GET /api/v1/students/`` (django.test.Client, an unlimited
    office-staff login), and
(b) the staff search ``families.selectors.student_list(user=..., search=...)``
    evaluating one page, without a search term, with a surname fragment and with a
    student-number fragment,

the median server time over ``--runs`` runs, the median time of hand-written SQL
(``connection.cursor()``) fetching the same rows with the same joins, their ratio,
and the query count at page sizes 10, 50 and 500. Target: within 3x raw SQL and the
same query count at every page size. See bench/README.md.
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.config.settings")
os.environ.setdefault("HTTPS", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

PAGE_SIZES = (10, 50, 500)
HEADLINE_PAGE = 50
ENROLLED_ON = datetime.date(2025, 9, 1)
BENCH_USER = "bench-office"
# names as words; str.split keeps the lists short
FIRST_NAMES = (  # noqa: SIM905
    "Emma Liam Olivia Noah Ava Elijah Sophia Lucas Mia Mason Amelia Ethan Harper Logan Evelyn James Aria Aiden "
    "Chloe Jackson Priya Arjun Fatima Omar Yuki Hiro Mei Wei Sofia Mateo Zara Leo Isla Kai Nora Finn Ines Raul"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Johnson Garcia Smith Brown Williams Jones Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
    "Campbell Mitchell Carter Roberts Patel Kumar Singh Chen Wang Kim Park Tanaka Sato Okafor Mensah Novak Kowalski"
).split()


# --- set-up ------------------------------------------------------------------------------


def ensure_database() -> None:
    """Create the bench database if PostgreSQL says it does not exist."""
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
    """Locations, a current year, grade levels and the unlimited office-staff login."""
    from academy.models import AcademicYear, GradeLevel, Location, User
    from academy.roles import OFFICE_STAFF
    from academy.services import structure_save, user_assign_role

    locations = []
    for code, name in (("BENCH-A", "Bench Central"), ("BENCH-B", "Bench North"), ("BENCH-C", "Bench South")):
        location = Location.objects.filter(code=code).first()
        locations.append(location or structure_save(instance=Location(), data={"code": code, "name": name}))
    year = AcademicYear.objects.filter(name="2025-26").first() or structure_save(
        instance=AcademicYear(),
        data={
            "name": "2025-26",
            "start_date": datetime.date(2025, 8, 1),
            "end_date": datetime.date(2026, 7, 31),
            "is_current": not AcademicYear.objects.filter(is_current=True).exists(),
        },
    )
    grades = []
    for order in range(1, 7):
        grade = GradeLevel.objects.filter(name=f"Bench grade {order}").first()
        grades.append(
            grade or structure_save(instance=GradeLevel(), data={"name": f"Bench grade {order}", "order": 90 + order})
        )
    user = User.objects.filter(username=BENCH_USER).first()
    if user is None:
        user = User.objects.create_user(username=BENCH_USER, password=None)
        user_assign_role(user=user, role=OFFICE_STAFF)
    return locations, year, grades, user


def build_students(total: int, chunk: int) -> None:
    """Add students (with a primary guardian each, siblings sharing one, some secondary
    guardians) until there are ``total``; each chunk is one transaction."""
    from academy.common.numbering import GUARDIAN_NUMBERS, STUDENT_NUMBERS, number_block
    from families.models import Guardian, StudentGuardian
    from students.models import Student

    existing = Student.all_objects.count()
    if existing >= total:
        print(f"build: {existing:,} students already present, nothing to build")
        return
    locations, year, grades, _ = ensure_reference_data()
    rng = random.Random(existing)
    started = time.perf_counter()
    built = 0
    while existing + built < total:
        size = min(chunk, total - existing - built)
        with transaction.atomic():
            # families of one to three children share their primary guardian
            families = []
            remaining = size
            while remaining:
                children = min(remaining, rng.choice((1, 1, 1, 2, 2, 3)))
                families.append(children)
                remaining -= children
            guardian_numbers = number_block(GUARDIAN_NUMBERS, len(families) * 2, on=ENROLLED_ON)
            student_numbers = iter(number_block(STUDENT_NUMBERS, size, on=ENROLLED_ON))
            guardians, students, links = [], [], []
            for index, children in enumerate(families):
                last_name = rng.choice(LAST_NAMES)
                primary = Guardian(
                    guardian_number=guardian_numbers[2 * index],
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=last_name,
                    email=f"{guardian_numbers[2 * index].lower()}@bench.example.org",
                    phone=f"555-{rng.randrange(10**7):07d}",
                )
                guardians.append(primary)
                second = None
                if rng.random() < 0.3:
                    second = Guardian(
                        guardian_number=guardian_numbers[2 * index + 1],
                        first_name=rng.choice(FIRST_NAMES),
                        last_name=last_name,
                        email=f"{guardian_numbers[2 * index + 1].lower()}@bench.example.org",
                        phone=f"555-{rng.randrange(10**7):07d}",
                    )
                    guardians.append(second)
                location = rng.choice(locations)
                for _ in range(children):
                    number = next(student_numbers)
                    status = rng.choices(("active", "inactive", "withdrawn", "graduated"), (90, 4, 4, 2))[0]
                    student = Student(
                        student_number=number,
                        first_name=rng.choice(FIRST_NAMES),
                        last_name=last_name,
                        email=f"{number.lower()}@pupils.example.org" if rng.random() < 0.5 else None,
                        phone=f"555-{rng.randrange(10**7):07d}" if rng.random() < 0.3 else "",
                        date_of_birth=ENROLLED_ON - datetime.timedelta(days=rng.randrange(5 * 365, 16 * 365)),
                        enrollment_date=ENROLLED_ON,
                        location=location,
                        grade_level=rng.choice(grades),
                        homeroom=rng.choice("ABC"),
                        academic_year=year,
                        status=status,
                        city="Springfield",
                        country="US",
                    )
                    students.append(student)
                    links.append(
                        StudentGuardian(
                            student=student,
                            guardian=primary,
                            relationship_type="primary",
                            relation="Parent",
                            can_authorize_medical=True,
                            is_financially_responsible=True,
                        )
                    )
                    if second is not None:
                        links.append(StudentGuardian(student=student, guardian=second, relationship_type="secondary"))
            Guardian.objects.bulk_create(guardians, batch_size=1000)
            Student.all_objects.bulk_create(students, batch_size=1000)
            StudentGuardian.objects.bulk_create(links, batch_size=1000)
        built += size
        print(f"build: {existing + built:,} / {total:,} students ({time.perf_counter() - started:.1f} s)", flush=True)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in ("families_guardian", "students_student", "families_studentguardian"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")
    print(f"build: {built:,} students in {elapsed:.1f} s ({built / elapsed:,.0f} students/s), then VACUUM ANALYZE")


# --- what is measured --------------------------------------------------------------------

# The same rows, columns and joins the selector reads: the student with its location,
# grade level and academic year (select_related) and the primary link with its guardian
# (the selector's prefetch), in one hand-written query.
RAW_PAGE = """
SELECT s.*, l.*, gl.*, ay.*, sg.*, g.*
FROM students_student s
JOIN academy_location l ON l.id = s.location_id
LEFT JOIN academy_gradelevel gl ON gl.id = s.grade_level_id
LEFT JOIN academy_academicyear ay ON ay.id = s.academic_year_id
LEFT JOIN families_studentguardian sg ON sg.student_id = s.id AND sg.relationship_type = 'primary'
LEFT JOIN families_guardian g ON g.id = sg.guardian_id
WHERE s.deleted_at IS NULL {search}
ORDER BY s.last_name, s.first_name, s.student_number
LIMIT %s
"""
RAW_COUNT = "SELECT COUNT(*) FROM students_student s WHERE s.deleted_at IS NULL {search}"


def _raw_search(term: str) -> tuple[str, list]:
    words = term.lower().split()[:8]
    like = []
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like.append(f"%{escaped}%")
    return "".join(" AND s.search_text LIKE %s ESCAPE '\\'" for _ in words), like


def raw_page(term: str, size: int, *, count: bool) -> int:
    search, params = _raw_search(term)
    with connection.cursor() as cursor:
        if count:
            cursor.execute(RAW_COUNT.format(search=search), params)
            cursor.fetchone()
        cursor.execute(RAW_PAGE.format(search=search), [*params, size])
        return len(cursor.fetchall())


def selector_page(user, term: str, size: int) -> int:
    """What the staff list shows for one page of the search, every column it renders."""
    from families.selectors import student_list

    rows = list(student_list(user=user, search=term)[:size])
    for row in rows:
        _ = (row.student_number, row.full_name, row.location.code, row.status)
        _ = (row.grade_level.name if row.grade_level else None, row.academic_year.name if row.academic_year else None)
        _ = [(link.guardian.full_name, link.guardian.email, link.guardian.phone) for link in row.primary_links]
    return len(rows)


class ApiList:
    """``GET /api/v1/students/`` through the whole Django stack, or (if the API is not
    mounted) the selector and the API serializer with a count, as the view would do."""

    def __init__(self, user, *, token: bool = False):
        """``token=True`` authenticates as scripts do (``Authorization: Token ...``);
        otherwise with a logged-in browser session."""
        if token:
            from rest_framework.authtoken.models import Token

            key = Token.objects.get_or_create(user=user)[0].key
            self.client = Client(HTTP_AUTHORIZATION=f"Token {key}")
        else:
            self.client = Client()
            self.client.force_login(user)
        self.user = user
        response = self.client.get("/api/v1/students/", {"page_size": 1})
        self.mounted = response.status_code == 200
        if not self.mounted:
            print(f"note: GET /api/v1/students/ answered {response.status_code}; timing the selector + serializer")

    def __call__(self, term: str, size: int) -> int:
        if self.mounted:
            params = {"page_size": size, **({"search": term} if term else {})}
            response = self.client.get("/api/v1/students/", params)
            assert response.status_code == 200, response.content[:300]
            return len(response.json()["results"])
        from academy.models import User
        from families.api.serializers import StudentSerializer
        from families.selectors import student_list

        user = User.objects.get(pk=self.user.pk)  # a fresh request user each time
        queryset = student_list(user=user, search=term)
        queryset.count()
        return len(StudentSerializer(queryset[:size], many=True, context={"staff_view": True}).data)


def paired_medians_ms(first, second, runs: int) -> tuple[float, float]:
    """Median times of two functions, run alternately so both see the same machine load."""
    for _ in range(2):
        first(), second()  # warm up caches and connections
    times: tuple[list, list] = ([], [])
    for _ in range(runs):
        for function, bucket in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            function()
            bucket.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def query_count(function) -> int:
    with CaptureQueriesContext(connection) as queries:
        function()
    return len(queries)


def measure(label, server, raw, terms, runs) -> list[bool]:
    print(f"\n{label}")
    print(f"  {'search':<14}{'rows':>6}{'server ms':>11}{'raw SQL ms':>12}{'ratio':>8}   queries at page size")
    print(f"  {'':<14}{'':>6}{'(median)':>11}{'(median)':>12}{'':>8}   " + " / ".join(f"{s:>3}" for s in PAGE_SIZES))
    verdicts = []
    for term in terms:
        rows = server(term, HEADLINE_PAGE)
        raw_rows = raw(term, HEADLINE_PAGE)
        assert rows == raw_rows, f"server returned {rows} rows, raw SQL {raw_rows}"
        server_ms, raw_ms = paired_medians_ms(
            lambda term=term: server(term, HEADLINE_PAGE), lambda term=term: raw(term, HEADLINE_PAGE), runs
        )
        counts = [query_count(lambda term=term, size=size: server(term, size)) for size in PAGE_SIZES]
        ratio = server_ms / raw_ms
        same = len(set(counts)) == 1
        verdicts += [ratio <= 3, same]
        flags = ("ok" if ratio <= 3 else "SLOW") + ", " + ("same count" if same else "COUNT GROWS")
        shown = repr(term) if term else "(none)"
        print(
            f"  {shown:<14}{rows:>6}{server_ms:>11.2f}{raw_ms:>12.2f}{ratio:>7.2f}x   "
            + " / ".join(f"{c:>3}" for c in counts)
            + f"   {flags}"
        )
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100_000, help="students to build (default 100,000)")
    parser.add_argument("--chunk", type=int, default=5_000, help="students per build transaction")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per figure (median)")
    parser.add_argument("--no-build", action="store_true", help="measure what is there")
    args = parser.parse_args()

    ensure_database()
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)
    if not args.no_build:
        build_students(args.students, args.chunk)
    *_, user = ensure_reference_data()

    from academy.common.numbering import STUDENT_NUMBERS
    from students.models import Student

    total = Student.objects.count()
    surname = "garc"
    number_fragment = STUDENT_NUMBERS.format(ENROLLED_ON.year, 1234)[4:]  # "2025-1234"
    terms = ["", surname, number_fragment]
    print(f"students visible to {BENCH_USER}: {total:,}; page size {HEADLINE_PAGE}; median of {args.runs} runs")

    verdicts = []
    for label, api in (
        ("token auth, as scripts call it", ApiList(user, token=True)),
        ("browser session", ApiList(user)),
    ):
        api_label = (
            f"(a) API list GET /api/v1/students/ ({label}, whole request) vs raw SQL (count + page)"
            if api.mounted
            else "(a) API list: selector + StudentSerializer + count (API not mounted) vs raw SQL (count + page)"
        )
        verdicts += measure(api_label, api, lambda term, size: raw_page(term, size, count=True), terms, args.runs)
    verdicts += measure(
        "(b) staff search families.selectors.student_list(user, search)[:page] vs raw SQL (page)",
        lambda term, size: selector_page(user, term, size),
        lambda term, size: raw_page(term, size, count=False),
        terms,
        args.runs,
    )
    print("\nresult:", "all within 3x raw SQL, constant query counts" if all(verdicts) else "TARGET MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
