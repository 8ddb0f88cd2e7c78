"""Benchmark of the money paths: a billing run against COPY, and payments through the API.

    .venv/bin/python bench/billing.py --students 50000            # both parts
    .venv/bin/python bench/billing.py --part billing --period next
    .venv/bin/python bench/billing.py --part payments --connections 8 --seconds 20

Uses a database of its own (``DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/academy_bench_billing``): creates it if PostgreSQL
says it does not exist, migrates it, and builds one location with a year, a term, three
grade levels, monthly fee structures (tuition per grade and a location-wide materials
fee: two lines per invoice) and N active students, each with a financially responsible
primary guardian (bulk, ``--chunk`` students per transaction; skipped when built).

(1) billing: one ``BillingRun`` for ``--period`` created by ``billing_run_start`` (the
    queueing after commit switched off) and run here synchronously through the Celery
    task function (``billing_run_execute``), timed; then, in the same run, a psycopg
    ``COPY`` of every row it wrote (invoices, their history rows, lines and ledger
    entries: same columns, same values) into bare scratch tables, timed, and of the
    invoice rows alone. Prints the times, the ratios, invoices/s and PASS/FAIL against:
    under 30 s and within 10x the COPY of the same rows. A second run of the same
    period must create nothing (checked and printed); ``ledger_verify`` must be clean.
    Invoices are append-only (ledger entries cannot be deleted), so to bill again pick
    another period: ``--period 2026-02`` or ``--period next``.

(2) payments: starts the production web stack (gunicorn, the project's WSGI app, DEBUG
    off, HTTPS=0, a throw-away SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, Celery on Redis) on
    a free port against the same database, then ``--connections`` client threads POST
    ``/api/v1/payments/`` over keep-alive ``http.client`` connections (token auth, one
    Idempotency-Key each, a student with an open invoice, a cash amount of 1.00) for
    ``--seconds`` or until ``--payments`` in total. Prints payments/s, latency
    p50/p95/p99, errors and PASS/FAIL against: at least 100 payments/s and p99 under
    150 ms (at 8 connections); then checks that the Payment rows created equal the
    successful responses and that ``ledger_verify`` is clean. gunicorn is stopped at the
    end, also on errors and Ctrl-C. See bench/README.md.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/academy_bench_billing"
os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.config.settings")
os.environ.setdefault("HTTPS", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connection, transaction  # noqa: E402

LOCATION_CODE = "BENCH-BILL"
FINANCE_TABLES = (
    "finance_invoice",
    "finance_historicalinvoice",
    "finance_invoiceline",
    "finance_ledgerentry",
    "finance_studentaccount",
    "finance_paymentallocation",
    "finance_payment",
)
BENCH_USER = "bench-finance"
ENROLLED_ON = datetime.date(2025, 9, 1)
BILLING_TARGET_S = 30.0
BILLING_TARGET_RATIO = 10.0
PAYMENTS_TARGET_PER_S = 100.0
PAYMENTS_TARGET_P99_MS = 150.0
FIRST_NAMES = "Emma Liam Olivia Noah Ava Elijah Sophia Lucas Mia Mason Amelia Ethan Priya Arjun Fatima Omar".split()  # noqa: SIM905
LAST_NAMES = "Johnson Garcia Smith Brown Williams Jones Miller Davis Lopez Wilson Patel Kumar Chen Wang Kim".split()  # noqa: SIM905


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


class Reference:
    """The location, year, term, grades, fee structures and finance login the bench uses."""

    def __init__(self):
        from academy.models import AcademicYear, GradeLevel, Location, Term, User
        from academy.roles import FINANCE
        from academy.services import structure_save, user_assign_role
        from finance.models import FeeStructure, FeeType
        from finance.services.fees import fee_structure_save, fee_type_save

        self.location = Location.objects.filter(code=LOCATION_CODE).first() or structure_save(
            instance=Location(), data={"code": LOCATION_CODE, "name": "Bench Billing"}
        )
        self.year = AcademicYear.objects.filter(name="2025-26").first() or structure_save(
            instance=AcademicYear(),
            data={
                "name": "2025-26",
                "start_date": datetime.date(2025, 8, 1),
                "end_date": datetime.date(2026, 7, 31),
                "is_current": not AcademicYear.objects.filter(is_current=True).exists(),
            },
        )
        self.term = Term.objects.filter(academic_year=self.year, name="Bench term").first() or structure_save(
            instance=Term(),
            data={
                "academic_year": self.year,
                "name": "Bench term",
                "start_date": self.year.start_date,
                "end_date": self.year.end_date,
            },
        )
        self.grades = []
        for order in range(1, 4):
            name = f"Bench billing grade {order}"
            grade = GradeLevel.objects.filter(name=name).first()
            self.grades.append(grade or structure_save(instance=GradeLevel(), data={"name": name, "order": 80 + order}))
        user = User.objects.filter(username=BENCH_USER).first()
        if user is None:
            user = User.objects.create_user(username=BENCH_USER, password=None)
            user_assign_role(user=user, role=FINANCE)
        self.user = user
        fee_types = {}
        for code, name in (("TUITION", "Tuition"), ("MATERIAL", "Materials")):
            fee_types[code] = FeeType.objects.filter(code=code).first() or fee_type_save(
                actor=user, data={"code": code, "name": name}
            )
        wanted = [
            (f"Bench tuition grade {index + 1}", grade, fee_types["TUITION"], f"{350 + 50 * index}.00")
            for index, grade in enumerate(self.grades)
        ] + [("Bench materials", None, fee_types["MATERIAL"], "25.00")]
        for name, grade, fee_type, amount in wanted:
            if not FeeStructure.objects.filter(
                location=self.location, grade_level=grade, fee_type=fee_type, is_active=True
            ).exists():
                fee_structure_save(
                    actor=user,
                    data={
                        "name": name,
                        "location": self.location,
                        "academic_year": self.year,
                        "grade_level": grade,
                        "fee_type": fee_type,
                        "amount": amount,
                        "frequency": "monthly",
                        "due_days": 14,
                    },
                )


def build_students(ref: Reference, total: int, chunk: int) -> None:
    """Add active students at the bench location (families of one to three children
    sharing a financially responsible primary guardian) until there are ``total``; each
    chunk is one transaction, so the deferred primary-guardian trigger passes at commit."""
    from academy.common.numbering import GUARDIAN_NUMBERS, STUDENT_NUMBERS, number_block
    from families.models import Guardian, StudentGuardian
    from students.models import Student

    existing = Student.all_objects.filter(location=ref.location).count()
    if existing >= total:
        print(f"build: {existing:,} students already present, nothing to build")
        return
    rng = random.Random(existing)
    started = time.perf_counter()
    built = 0
    while existing + built < total:
        size = min(chunk, total - existing - built)
        with transaction.atomic():
            families = []
            remaining = size
            while remaining:
                children = min(remaining, rng.choice((1, 1, 1, 2, 2, 3)))
                families.append(children)
                remaining -= children
            guardian_numbers = number_block(GUARDIAN_NUMBERS, len(families), on=ENROLLED_ON)
            student_numbers = iter(number_block(STUDENT_NUMBERS, size, on=ENROLLED_ON))
            guardians, students, links = [], [], []
            for guardian_number, children in zip(guardian_numbers, families, strict=True):
                last_name = rng.choice(LAST_NAMES)
                guardian = Guardian(
                    guardian_number=guardian_number,
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=last_name,
                    email=f"{guardian_number.lower()}@bench.example.org",
                    phone=f"555-{rng.randrange(10**7):07d}",
                )
                guardians.append(guardian)
                for _ in range(children):
                    number = next(student_numbers)
                    student = Student(
                        student_number=number,
                        first_name=rng.choice(FIRST_NAMES),
                        last_name=last_name,
                        date_of_birth=ENROLLED_ON - datetime.timedelta(days=rng.randrange(5 * 365, 16 * 365)),
                        enrollment_date=ENROLLED_ON,
                        location=ref.location,
                        grade_level=rng.choice(ref.grades),
                        academic_year=ref.year,
                        status=Student.Status.ACTIVE,
                        city="Springfield",
                        country="US",
                    )
                    students.append(student)
                    links.append(
                        StudentGuardian(
                            student=student,
                            guardian=guardian,
                            relationship_type="primary",
                            relation="Parent",
                            can_authorize_medical=True,
                            is_financially_responsible=True,
                        )
                    )
            Guardian.objects.bulk_create(guardians, batch_size=1000)
            Student.all_objects.bulk_create(students, batch_size=1000)
            StudentGuardian.objects.bulk_create(links, batch_size=1000)
        built += size
        print(f"build: {existing + built:,} / {total:,} students ({time.perf_counter() - started:.1f} s)", flush=True)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table in ("families_guardian", "students_student", "families_studentguardian"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"build: {built:,} students in {elapsed:.1f} s ({built / elapsed:,.0f} students/s), then VACUUM ANALYZE")


def resolve_period(ref: Reference, period: str) -> tuple[str, datetime.date]:
    """``YYYY-MM`` (or ``next``: the month after the last one billed at the location)
    and its issue date, the first of the month."""
    from finance.models import Invoice

    if period == "next":
        last = (
            Invoice.objects.filter(location=ref.location)
            .exclude(billing_period="")
            .order_by("-billing_period")
            .values_list("billing_period", flat=True)
            .first()
        )
        if last is None:
            period = "2026-01"
        else:
            year, month = (int(part) for part in last.split("-"))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            period = f"{year:04d}-{month:02d}"
    try:
        issue_date = datetime.date.fromisoformat(f"{period}-01")
    except ValueError:
        raise SystemExit(f"--period must look like 2026-01 or be 'next', not {period!r}") from None
    return period, issue_date


def billing_run(ref: Reference, period: str, issue_date: datetime.date):
    """Create the run as the API does (``billing_run_start``, without queueing its job)
    and execute it here through the Celery task function (which runs the run's job).
    Answers the finished run."""
    from finance.models import BillingRun
    from finance.services.billing import billing_run_start
    from finance.tasks import billing_run_task

    with mock.patch("academy.jobs.job_queue"):  # the run's job, queued after commit: run below
        run = billing_run_start(
            location=ref.location,
            period=period,
            issue_date=issue_date,
            actor=ref.user,
            frequency="monthly",
            academic_year=ref.year,
            term=ref.term,
        )
    billing_run_task(str(run.pk))
    return BillingRun.objects.get(pk=run.pk)


def counts(ref: Reference, period: str) -> dict:
    from finance.models import Invoice, InvoiceLine, LedgerEntry, StudentAccount

    return {
        "invoices": Invoice.objects.filter(location=ref.location, billing_period=period).count(),
        "lines": InvoiceLine.objects.filter(invoice__location=ref.location, invoice__billing_period=period).count(),
        "ledger entries": LedgerEntry.objects.filter(
            invoice__location=ref.location, invoice__billing_period=period, kind="invoice_line"
        ).count(),
        "accounts": StudentAccount.objects.count(),
    }


def copy_invoices(ref: Reference, period: str) -> tuple[int, float, float]:
    """COPY the period's invoice rows (every column, the same values) into scratch tables
    with the invoice table's definition: ``LIKE finance_invoice INCLUDING DEFAULTS`` (the
    headline) and ``INCLUDING ALL`` (with its indexes and constraints, for reference).
    Answers the rows and the two COPY times in seconds; reading the rows is not timed."""
    from finance.models import Invoice

    columns = [field.column for field in Invoice._meta.concrete_fields]
    column_list = ", ".join(f'"{name}"' for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column_list} FROM finance_invoice WHERE location_id = %s AND billing_period = %s "
            "ORDER BY invoice_number",
            [ref.location.pk, period],
        )
        rows = cursor.fetchall()
    times = [
        copy_into_scratch("finance_invoice", column_list, rows, including=including)
        for including in ("DEFAULTS", "ALL")
    ]
    return len(rows), times[0], times[1]


def copy_into_scratch(table: str, column_list: str, rows: list, *, including: str = "DEFAULTS") -> float:
    """COPY ``rows`` (values of ``column_list``) into a temporary ``LIKE table INCLUDING
    ...`` table, dropped after; checks every row arrived. Answers the COPY's seconds."""
    scratch = f"bench_copy_{table}_{including.lower()}"
    with connection.connection.cursor() as cursor:  # the psycopg connection (autocommit)
        cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
        cursor.execute(f"CREATE TEMP TABLE {scratch} (LIKE {table} INCLUDING {including})")
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


def copy_run_rows(ref: Reference, period: str) -> tuple[dict, float]:
    """COPY every row the run wrote for the period (its invoices, their history rows,
    lines and ledger entries, and the accounts it moved: every column, the same values,
    the accounts as they are after the run) into bare scratch tables
    (``LIKE ... INCLUDING DEFAULTS``), in the order the run writes them. Answers the rows
    per table and the seconds all the COPYs took; reading the rows is not timed."""
    from finance.models import Invoice, InvoiceLine, LedgerEntry, StudentAccount

    invoices = "SELECT id FROM finance_invoice WHERE location_id = %(location)s AND billing_period = %(period)s"
    billed = "SELECT student_id FROM finance_invoice WHERE location_id = %(location)s AND billing_period = %(period)s"
    sources = (
        ("invoices", Invoice, f"id IN ({invoices})"),
        ("history rows", Invoice.history.model, f"history_type = '+' AND id IN ({invoices})"),
        ("lines", InvoiceLine, f"invoice_id IN ({invoices})"),
        ("ledger entries", LedgerEntry, f"kind = 'invoice_line' AND invoice_id IN ({invoices})"),
        # the run writes a new version of each billed student's account (its balance)
        ("accounts", StudentAccount, f"student_id IN ({billed})"),
    )
    params = {"location": ref.location.pk, "period": period}
    copied, elapsed = {}, 0.0
    for name, model, where in sources:
        table = model._meta.db_table
        column_list = ", ".join(f'"{field.column}"' for field in model._meta.concrete_fields)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column_list} FROM {table} WHERE {where}", params)
            rows = cursor.fetchall()
        elapsed += copy_into_scratch(table, column_list, rows)
        copied[name] = len(rows)
    return copied, elapsed


class _Rollback(Exception):
    pass


def database_floor(ref: Reference, period: str) -> float:
    """The database's own share of the run: the same invoices, history rows, lines and
    ledger entries written again (new ids, numbers and period) by ``INSERT ... SELECT``
    inside the server, into the real tables with every index, check, trigger and
    foreign key (the deferred checks forced), then rolled back. No client, no Python:
    what no billing code can beat on this server. Answers the seconds it took."""
    from finance.models import Invoice, InvoiceLine, LedgerEntry

    def columns(model, skip=()):
        return [f.column for f in model._meta.concrete_fields if f.column not in skip]

    invoice = columns(Invoice)
    history = columns(Invoice.history.model, skip=("history_id",))
    line = columns(InvoiceLine)
    entry = columns(LedgerEntry, skip=("id",))

    def select(names, replace):
        return ", ".join(replace.get(name, f"t.{name}") for name in names)

    elapsed = 0.0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_invoice_map ON COMMIT DROP AS SELECT id AS old, gen_random_uuid() AS new "
                "FROM finance_invoice WHERE location_id = %s AND billing_period = %s",
                [ref.location.pk, period],
            )
            cursor.execute(
                "CREATE TEMP TABLE bench_line_map ON COMMIT DROP AS SELECT l.id AS old, gen_random_uuid() AS new "
                "FROM finance_invoiceline l JOIN bench_invoice_map m ON m.old = l.invoice_id"
            )
            cursor.execute("ANALYZE bench_invoice_map")
            cursor.execute("ANALYZE bench_line_map")
            renamed = {
                "id": "m.new",
                "invoice_number": "'X' || t.invoice_number",
                "billing_period": "'X' || t.billing_period",
            }
            statements = [
                f"INSERT INTO finance_invoice ({', '.join(invoice)}) SELECT {select(invoice, renamed)} "
                "FROM finance_invoice t JOIN bench_invoice_map m ON m.old = t.id",
                f"INSERT INTO finance_historicalinvoice ({', '.join(history)}) SELECT {select(history, renamed)} "
                "FROM finance_historicalinvoice t JOIN bench_invoice_map m ON m.old = t.id",
                f"INSERT INTO finance_invoiceline ({', '.join(line)}) SELECT "
                f"{select(line, {'id': 'lm.new', 'invoice_id': 'm.new'})} FROM finance_invoiceline t "
                "JOIN bench_invoice_map m ON m.old = t.invoice_id JOIN bench_line_map lm ON lm.old = t.id",
                f"INSERT INTO finance_ledgerentry ({', '.join(entry)}) SELECT "
                f"{select(entry, {'seq': 't.seq + 1000000', 'invoice_id': 'm.new', 'invoice_line_id': 'lm.new'})} "
                "FROM finance_ledgerentry t JOIN bench_invoice_map m ON m.old = t.invoice_id "
                "JOIN bench_line_map lm ON lm.old = t.invoice_line_id",
                "SET CONSTRAINTS ALL IMMEDIATE",
            ]
            started = time.perf_counter()
            for sql in statements:
                cursor.execute(sql)
            elapsed = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    return elapsed


def analyze_finance_tables() -> None:
    """``ANALYZE`` the money tables (not timed), so the planner knows their sizes when the
    server runs without autovacuum (as some development servers do): a stale estimate
    can turn the run's per-chunk "already billed?" lookup into a scan of every invoice."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        started = time.perf_counter()
        for table in FINANCE_TABLES:
            # VACUUM too: without autovacuum every run leaves a dead version of each
            # account it updated (50,000 per run), and the next run reads through them
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(
        f"  VACUUM ANALYZE of the money tables before the run ({time.perf_counter() - started:.1f} s; "
        f"autovacuum {autovacuum})"
    )


def verify_ledger() -> bool:
    from finance.selectors import ledger_verify

    started = time.perf_counter()
    report = ledger_verify()
    elapsed = time.perf_counter() - started
    print(
        f"  ledger_verify: {report.accounts:,} accounts, {report.invoices:,} invoices, {report.payments:,} payments, "
        f"{len(report.problems)} problems ({elapsed:.1f} s)"
    )
    for problem in report.problems[:10]:
        print(f"    {problem}")
    return report.ok


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --- part 1: the billing run -------------------------------------------------------------


def part_billing(ref: Reference, args) -> bool:
    from students.models import Student

    period, issue_date = resolve_period(ref, args.period)
    students = Student.objects.active().filter(location=ref.location).count()
    print(f"\n(1) billing run: period {period} (issued {issue_date}), {students:,} active students at {LOCATION_CODE}")
    before = counts(ref, period)
    analyze_finance_tables()
    if args.no_copy:
        print("  --no-copy: the run writes with bulk_create, not COPY")
    backend_cpu_before, client_cpu_before = backend_cpu_seconds(), time.process_time()
    started = time.perf_counter()
    with mock.patch("finance.services.billing._use_copy", return_value=False) if args.no_copy else nullcontext():
        run = billing_run(ref, period, issue_date)
    elapsed = time.perf_counter() - started
    client_cpu, backend_cpu = time.process_time() - client_cpu_before, backend_cpu_seconds() - backend_cpu_before
    after = counts(ref, period)
    made = {name: after[name] - before[name] for name in after}
    print(
        f"  run {run.status}: {run.invoices_created:,} invoices created, {run.skipped:,} skipped, "
        f"{run.amount_billed} billed in {elapsed:.2f} s"
    )
    print(
        "  rows written: "
        + ", ".join(f"{made[name]:,} {name}" for name in ("invoices", "lines", "ledger entries", "accounts"))
        + (" (accounts are created on a student's first money event)" if made["accounts"] else "")
    )
    print(
        f"  CPU: {client_cpu:.1f} s in this process (Python) + {backend_cpu:.1f} s in its PostgreSQL backend "
        f"= {client_cpu + backend_cpu:.1f} s of the {elapsed:.1f} s (load average {os.getloadavg()[0]:.1f})"
    )
    verdicts = [run.status == "completed"]
    if run.invoices_created == 0:
        print(f"  nothing billed: period {period} was billed before (pick another with --period or --period next)")
    else:
        copied, copy_s, copy_all_s = copy_invoices(ref, period)
        print(
            f"  COPY of the same {copied:,} invoice rows: {copy_s:.3f} s into LIKE finance_invoice INCLUDING DEFAULTS, "
            f"{copy_all_s:.3f} s INCLUDING ALL (indexes, constraints)"
        )
        print(
            f"  billing run {elapsed:.2f} s = {elapsed / copy_s:.1f}x the COPY of the invoice table's rows alone; "
            f"{run.invoices_created / elapsed:,.0f} invoices/s "
            f"(COPY {copied / copy_s:,.0f} rows/s)"
        )
        rows, copy_rows_s = copy_run_rows(ref, period)
        print(
            f"  COPY of every row the run wrote ({', '.join(f'{n:,} {name}' for name, n in rows.items())}) into "
            f"bare tables: {copy_rows_s:.3f} s, so the run is {elapsed / copy_rows_s:.1f}x the COPY of its rows"
        )
        ratio = elapsed / copy_rows_s  # the target's measure: the same rows, written by COPY
        floor_s = database_floor(ref, period)
        print(
            f"  the database's floor: the same rows by INSERT ... SELECT in the server, every index, check and "
            f"foreign key: {floor_s:.2f} s, so the run is {elapsed / floor_s:.1f}x the floor "
            f"(and the floor alone {floor_s / copy_rows_s:.1f}x the COPY of the same rows)"
        )
        under = elapsed < BILLING_TARGET_S
        within = ratio <= BILLING_TARGET_RATIO
        print(
            f"  target under {BILLING_TARGET_S:.0f} s: {verdict(under)}; "
            f"within {BILLING_TARGET_RATIO:.0f}x the COPY of the same rows: {verdict(within)} ({ratio:.1f}x)"
        )
        verdicts += [under, within, made["invoices"] == run.invoices_created]
    if not args.no_rerun:
        started = time.perf_counter()
        again = billing_run(ref, period, issue_date)
        rerun_s = time.perf_counter() - started
        unchanged = counts(ref, period)
        same = all(unchanged[name] == after[name] for name in after)
        print(
            f"  the same period again: {again.invoices_created:,} invoices created, {again.skipped:,} skipped "
            f"({rerun_s:.2f} s); no double billing: {verdict(again.invoices_created == 0 and same)}"
        )
        verdicts.append(again.invoices_created == 0 and same)
    verdicts.append(verify_ledger())
    return all(verdicts)


# --- part 2: payments through the API under concurrency ----------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """The production web process (``make serve``: gunicorn academy.config.wsgi, sync
    workers) on a free port; stopped by its process id on exit."""

    def __init__(self, *, workers: int, redis_url: str, extra_args: str = ""):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        environment = {
            **os.environ,
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "DEBUG": "0",
            "HTTPS": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
            # the benchmark is one token from one address, on purpose: no API throttle
            "API_THROTTLE_USER": "100000000/min",
            "API_THROTTLE_CLIENT": "100000000/min",
        }
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "academy.config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--access-logfile",
                "-",
                "--forwarded-allow-ips",
                "127.0.0.1",
                *shlex.split(extra_args),
            ],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, token: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; log: {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/payments/?page_size=1", headers={"Authorization": f"Token {token}"})
                status = conn.getresponse().status
                conn.close()
                if status != 200:
                    raise RuntimeError(f"GET /api/v1/payments/ answered {status}:\n{self.log_tail()}")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s; log: {self.log.name}")

    def log_tail(self, lines: int = 15) -> str:
        text = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(["  " + line for line in text[-lines:]] + [f"  (whole log: {self.log.name})"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session, started above
                self.process.wait()
        self.log.close()


class Load:
    """``connections`` threads, each with one keep-alive connection, POSTing payments."""

    def __init__(self, *, port, token, students, connections, seconds, payments, warmup, tag):
        self.port, self.token, self.students = port, token, students
        self.connections, self.seconds, self.limit, self.warmup = connections, seconds, payments, warmup
        self.tag = tag
        self.lock = threading.Lock()
        self.next_index = 0
        self.latencies: list[float] = []
        self.created = 0  # 201 without Idempotent-Replayed, warm-up included
        self.timed_ok = 0
        self.errors: list[str] = []
        self.barrier = threading.Barrier(connections + 1)
        self.deadline = None

    def _take(self, timed: bool) -> int | None:
        with self.lock:
            if timed and (
                (self.limit and self.next_index >= self.limit + self.warmup * self.connections)
                or time.perf_counter() >= self.deadline
            ):
                return None
            index = self.next_index
            self.next_index += 1
            return index

    def _post(self, conn: http.client.HTTPConnection, index: int) -> tuple[bool, float]:
        body = json.dumps({"student": self.students[index % len(self.students)], "amount": "1.00", "method": "cash"})
        headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{self.tag}-{index}",
        }
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/payments/", body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()  # reconnects on the next request
            with self.lock:
                self.errors.append(f"{type(error).__name__}: {error}")
            return False, time.perf_counter() - started
        elapsed = time.perf_counter() - started
        ok = response.status == 201 and response.getheader("Idempotent-Replayed") is None
        with self.lock:
            if ok:
                self.created += 1
            else:
                self.errors.append(f"{response.status}: {content[:200]!r}")
        return ok, elapsed

    def _worker(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            for _ in range(self.warmup):
                self._post(conn, self._take(False))
        finally:
            self.barrier.wait()
        self.barrier.wait()  # the main thread sets the deadline between the two
        mine = []
        ok_count = 0
        while (index := self._take(True)) is not None:
            ok, elapsed = self._post(conn, index)
            mine.append(elapsed)
            ok_count += ok
        conn.close()
        with self.lock:
            self.latencies += mine
            self.timed_ok += ok_count

    def run(self) -> float:
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.connections)]
        for thread in threads:
            thread.start()
        self.barrier.wait()  # warm-up done
        self.deadline = time.perf_counter() + (self.seconds if not self.limit else 10**9)
        started = time.perf_counter()
        self.barrier.wait()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


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


def cpu_seconds(master_pid: int) -> tuple[float, float]:
    """CPU seconds used so far by gunicorn's workers (children of ``master_pid``) and by
    the PostgreSQL backends connected to the bench database (from ``/proc``; Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def stat(pid) -> list[str] | None:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None

    web = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat(entry.name)) and int(fields[1]) == master_pid:
            web += (int(fields[11]) + int(fields[12])) / ticks
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [row[0] for row in cursor.fetchall()]
    database = sum((int(f[11]) + int(f[12])) / ticks for pid in backends if (f := stat(pid)))
    return web, database


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def drop_queued_tasks(redis_url: str) -> None:
    """No Celery worker runs in the bench: drop the receipt deliveries queued meanwhile
    (the default queue of the bench's own Redis database) so they do not pile up."""
    import redis

    client = redis.Redis.from_url(redis_url)
    queued = client.llen("celery")
    client.delete("celery")
    print(f"  {queued:,} receipt deliveries queued in {redis_url} (no worker runs here): dropped")


def part_payments(ref: Reference, args) -> bool:
    from academy.services import api_token_issue
    from finance.models import Invoice, Payment

    students = list(
        Invoice.objects.open().filter(location=ref.location).order_by().values_list("student_id", flat=True).distinct()
    )
    if not students:
        period, issue_date = resolve_period(ref, "next")
        print(f"\n(2) no open invoices at {LOCATION_CODE}: billing {period} first (not timed)")
        billing_run(ref, period, issue_date)
        students = list(
            Invoice.objects.open()
            .filter(location=ref.location)
            .order_by()
            .values_list("student_id", flat=True)
            .distinct()
        )
    students = [str(pk) for pk in students]
    random.Random(0).shuffle(students)  # neighbouring requests hit different accounts
    token = api_token_issue(user=ref.user)
    tag = uuid.uuid4().hex[:12]
    before = Payment.objects.count()
    limit = f"{args.payments:,} payments" if args.payments else f"{args.seconds:g} s"
    print(
        f"\n(2) payments: POST /api/v1/payments/ through gunicorn ({args.workers} sync workers), "
        f"{args.connections} keep-alive connections, {limit}, {len(students):,} students with an open invoice"
    )
    server = Gunicorn(workers=args.workers, redis_url=args.redis_url, extra_args=args.gunicorn_args)
    try:
        server.wait_ready(token)
        print(f"  gunicorn answering on 127.0.0.1:{server.port} (log {server.log.name})")
        if args.single:
            # what a clerk at the counter feels: one payment at a time, nothing else running
            alone = Load(
                port=server.port,
                token=token,
                students=students[::-1],
                connections=1,
                seconds=0,
                payments=args.single,
                warmup=5,
                tag=tag + "s",
            )
            alone.run()
            q50, q95, q99 = (percentile(alone.latencies, f) * 1000 for f in (0.50, 0.95, 0.99))
            print(
                f"  one at a time ({len(alone.latencies):,} payments over one connection): "
                f"latency p50 {q50:.1f} ms, p95 {q95:.1f} ms, p99 {q99:.1f} ms; errors: {len(alone.errors)}"
            )
        load = Load(
            port=server.port,
            token=token,
            students=students,
            connections=args.connections,
            seconds=args.seconds,
            payments=args.payments,
            warmup=args.warmup,
            tag=tag,
        )
        cpu_before = cpu_seconds(server.process.pid)
        elapsed = load.run()
        cpu_after = cpu_seconds(server.process.pid)
    finally:
        server.stop()
        if args.redis_url:
            drop_queued_tasks(args.redis_url)
    timed = len(load.latencies)
    rate = load.timed_ok / elapsed
    p50, p95, p99 = (percentile(load.latencies, f) * 1000 for f in (0.50, 0.95, 0.99)) if timed else (0, 0, 0)
    print(
        f"  {timed:,} requests in {elapsed:.2f} s after {args.warmup * args.connections} warm-up requests: "
        f"{rate:,.1f} payments/s end to end"
    )
    print(f"  latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(load.latencies) * 1000:.1f} ms")
    print(f"  errors: {len(load.errors)}" + (f" (first: {load.errors[0]})" if load.errors else ""))
    requests = load.next_index or 1
    web_ms, db_ms = ((cpu_after[i] - cpu_before[i]) * 1000 / requests for i in (0, 1))
    cores = os.cpu_count() or 1
    print(
        f"  CPU per request: {web_ms:.1f} ms in gunicorn + {db_ms:.1f} ms in PostgreSQL backends "
        f"(at most {cores * 1000 / (web_ms + db_ms):,.0f} requests/s on {cores} cores if nothing else ran; "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    fast = rate >= PAYMENTS_TARGET_PER_S
    tail = p99 < PAYMENTS_TARGET_P99_MS
    note = "" if args.connections == 8 else f" (the target is set at 8 connections; this ran {args.connections})"
    print(
        f"  target at least {PAYMENTS_TARGET_PER_S:.0f} payments/s: {verdict(fast)}; "
        f"p99 under {PAYMENTS_TARGET_P99_MS:.0f} ms: {verdict(tail)}{note}"
    )
    rows = Payment.objects.filter(idempotency_key__startswith=f"bench-{tag}-").count()
    alone_created = alone.created if args.single else 0
    matches = rows == load.created and Payment.objects.count() - before == load.created + alone_created
    print(f"  Payment rows created {rows:,}, successful responses {load.created:,}: {verdict(matches)}")
    clean = verify_ledger()
    return all([fast, tail, not load.errors, matches, clean])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("billing", "payments", "all"), default="all")
    parser.add_argument("--students", type=int, default=50_000, help="active students to build (default 50,000)")
    parser.add_argument("--chunk", type=int, default=5_000, help="students per build transaction")
    parser.add_argument("--no-build", action="store_true", help="use whatever students are there")
    parser.add_argument("--period", default="2026-01", help="billing period YYYY-MM, or 'next' (default 2026-01)")
    parser.add_argument("--no-rerun", action="store_true", help="skip billing the same period a second time")
    parser.add_argument(
        "--no-copy",
        action="store_true",
        help="write the run's rows with bulk_create (the path other databases take) instead of COPY, to compare",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--gunicorn-args", default="", help="more gunicorn options, e.g. '--worker-class gthread --threads 2'"
    )
    parser.add_argument("--connections", type=int, default=8, help="client connections (default 8)")
    parser.add_argument(
        "--single",
        type=int,
        default=200,
        help="payments one at a time first, for the latency (default 200; 0: none)",
    )
    parser.add_argument("--seconds", type=float, default=20, help="how long to post payments (default 20)")
    parser.add_argument("--payments", type=int, default=0, help="post this many payments instead of --seconds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed payments per connection first (default 2)")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="Celery broker and cache of the web stack (default redis://127.0.0.1:6379/13; '' runs tasks eagerly)",
    )
    args = parser.parse_args()
    # Ctrl-C, and a plain kill, end the run through the finally that stops gunicorn
    # (also when started from a shell that ignores SIGINT in background jobs).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    ensure_database()
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL (COPY, gunicorn against a shared database)")
    print(f"database: {settings.DATABASES['default']['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)
    ref = Reference()
    if not args.no_build:
        build_students(ref, args.students, args.chunk)
    results = []
    if args.part in ("billing", "all"):
        results.append(part_billing(ref, args))
    if args.part in ("payments", "all"):
        results.append(part_payments(ref, args))
    print("\nresult:", "every target met" if all(results) else "TARGET MISSED (see above)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted")
        sys.exit(130)
