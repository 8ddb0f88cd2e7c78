"""Benchmark of year-end promotion: a location's students in 12 grades, 30 % of them with
one or two open invoices.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench_promotion DEBUG=1 \\
        .venv/bin/python bench/promotion.py --students 10000

Builds (once; a second run finds the rows) ``--students`` students with guardians
(``bench/students_list.py``'s builder), all moved to BENCH-A, into twelve grades
(``Bench promotion grade 1`` to ``12``, each the next of the one before; the twelfth is
final) and the year 2025-26; a 2026-27 to promote into; and for 30 % of them one or two
invoices issued through ``finance.services.invoice_issue`` (so the ledger is real).

Then, inside one transaction that is rolled back at the end (so the bench can run
again on the same rows):

- **preview**: ``promotion.selectors.preview`` of the whole location (time, queries),
  then ``run_preview`` writing the proposals; target under 5 s;
- **the run**: approved, then ``run_start`` and the job run here as a worker runs it
  (``academy.jobs.job_run``): time, students per second, queries per chunk of
  ``promotion.services.CHUNK`` students and per student; then the checks: one record per
  student, every account's balance unchanged, every carried invoice with one successor.
  Target: under 20 s at 10,000 students, queries per chunk fixed. The job runs through
  its Celery task (``academy.run_job``, applied in this process);
- **the baseline**: the seed's flow as a per-student ORM loop (``student_promote``, one
  transaction per student: lock, carry each invoice, save the student, complete each
  enrollment, write the record) over the first ``--baseline`` students of a fresh run,
  and its rate against the set-based run's. Target: the run at least 10x faster.

See bench/README.md for the other scripts.
"""

import argparse
import datetime
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import students_list as base  # sets up Django
from django.core.management import call_command
from django.db import connection, reset_queries, transaction
from django.test.utils import CaptureQueriesContext

GRADES = 12
PREVIEW_TARGET = 5.0
RUN_TARGET = 20.0
SPEEDUP_TARGET = 10.0


class _Rollback(Exception):
    pass


class QueryCounter:
    """Counts the statements (DEBUG's query log keeps only the last 9,000)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def build(students: int):
    from academy.models import AcademicYear, GradeLevel
    from finance.models import FeeType, Invoice
    from finance.services import LineSpec, invoice_issue
    from students.models import Student

    base.build_students(students, 5000)
    locations, year, _grades, user = base.ensure_reference_data()
    location = locations[0]
    nxt = AcademicYear.objects.filter(name="2026-27").first() or AcademicYear.objects.create(
        name="2026-27", start_date=datetime.date(2026, 8, 1), end_date=datetime.date(2027, 7, 31)
    )
    grades = []
    following = None
    for order in range(GRADES, 0, -1):
        grade = GradeLevel.objects.filter(name=f"Bench promotion grade {order}").first()
        if grade is None:
            grade = GradeLevel.objects.create(
                name=f"Bench promotion grade {order}", order=200 + order, next_grade=following
            )
        grades.insert(0, grade)
        following = grade
    pupils = list(Student.all_objects.order_by("student_number")[:students])
    if not Student.objects.filter(grade_level__in=grades).exists():
        started = time.perf_counter()
        for index, pupil in enumerate(pupils):
            pupil.grade_level, pupil.academic_year, pupil.location, pupil.homeroom = (
                grades[index % GRADES],
                year,
                location,
                "A",
            )
            pupil.status = Student.Status.ACTIVE
        Student.objects.bulk_update(
            pupils, ["grade_level", "academic_year", "location", "homeroom", "status"], batch_size=2000
        )
        fee_type = FeeType.objects.filter(code="BENCH-PROMO").first() or FeeType.objects.create(
            code="BENCH-PROMO", name="Bench tuition"
        )
        rng = random.Random(2)
        owing = rng.sample(pupils, int(len(pupils) * 0.3))
        for number, pupil in enumerate(owing):
            for i in range(1 + number % 2):
                with transaction.atomic():
                    invoice_issue(
                        student=pupil,
                        lines=[
                            LineSpec(
                                fee_type=fee_type,
                                unit_amount=Decimal(rng.choice(["80.00", "125.50", "300.00"])),
                                description=f"Tuition {i + 1}",
                            )
                        ],
                        actor=user,
                        issue_date=datetime.date(2026, 5, 1),
                        due_date=datetime.date(2026, 6, 1),
                    )
        invoices = Invoice.objects.filter(student__in=owing).count()
        print(
            f"build: {len(pupils):,} students in {GRADES} grades, {invoices:,} invoices for {len(owing):,} of them "
            f"({time.perf_counter() - started:.1f} s)"
        )
    else:
        print(f"build: {len(pupils):,} students already in the bench grades")
    with connection.cursor() as cursor:
        for table in ("students_student", "finance_invoice", "finance_ledgerentry", "finance_studentaccount"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return location, year, nxt, user


def measure(location, year, nxt, user) -> tuple[bool, float]:
    from academy.models import Job, User
    from academy.roles import ACADEMY_ADMIN
    from academy.services import user_assign_role
    from academy.tasks import run_job as run_job_task
    from finance.models import Invoice, StudentAccount
    from promotion import selectors, services
    from promotion.models import PromotionRecord

    principal = User.objects.filter(username="bench-principal").first()
    if principal is None:
        principal = User.objects.create_user(username="bench-principal", password=None)
        user_assign_role(user=principal, role=ACADEMY_ADMIN)
    ok = True
    try:
        with transaction.atomic():
            run = services.run_create(location=location, from_year=year, to_year=nxt, actor=user)
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                proposals = selectors.preview(run)
                preview_s = time.perf_counter() - started
            started = time.perf_counter()
            run = services.run_preview(run=run, actor=user)
            written_s = time.perf_counter() - started
            carried = sum((p.carry_amount for p in proposals if p.outcome in ("promoted", "detained")), Decimal("0"))
            print(f"\npreview of {location.name}: {len(proposals):,} students, {carried:,.2f} to carry")
            print(f"  selectors.preview   {preview_s:6.2f} s   {len(queries.captured_queries)} queries")
            print(f"  run_preview         {written_s:6.2f} s   (the preview computed again and written)")
            fast = preview_s < PREVIEW_TARGET
            print(f"  target under {PREVIEW_TARGET:.0f} s: {'met' if fast else 'MISSED'}")
            ok &= fast
            balances = dict(StudentAccount.objects.values_list("pk", "balance"))
            run = services.run_approve(run=run, actor=principal)
            job = services.run_start(run=run, actor=user)
            counted = QueryCounter()
            with connection.execute_wrapper(counted):
                started = time.perf_counter()
                run_job_task.apply(args=[str(job.pk)])
                run_s = time.perf_counter() - started
            job = Job.objects.get(pk=job.pk)
            chunks = max(1, -(-job.total // services.CHUNK))
            print(f"\nthe run: {job.total:,} students, state {job.state}, failed {job.failed_count}")
            print(
                f"  job_run             {run_s:6.2f} s   {job.total / run_s:,.0f} students/s   "
                f"{counted.count:,} queries ({counted.count / chunks:,.0f} a chunk of {services.CHUNK}: "
                f"{counted.count / max(job.total, 1):.1f} a student)"
            )
            records = PromotionRecord.objects.filter(run=run).count()
            same = dict(StudentAccount.objects.values_list("pk", "balance")) == balances
            carried_invoices = Invoice.objects.filter(status="carried_forward", student__location=location)
            successors = Invoice.objects.filter(carried_from__in=carried_invoices).count()
            print(
                f"  checks: {records:,} records, balances unchanged: {same}, "
                f"{carried_invoices.count():,} carried invoices with {successors:,} successors"
            )
            fast = run_s < RUN_TARGET
            print(f"  target under {RUN_TARGET:.0f} s: {'met' if fast else 'MISSED'}")
            ok &= (
                fast
                and same
                and records == job.total - job.failed_count - run.proposals.filter(outcome="skipped").count()
            )
            raise _Rollback
    except _Rollback:
        pass
    return ok, job.total / run_s


def baseline(location, year, nxt, user, students: int, fast_rate: float) -> bool:
    """The per-student ORM loop over the first ``students`` of a fresh run, rolled back."""
    from academy.models import User
    from promotion import services
    from promotion.models import PromotionProposal

    principal = User.objects.get(username="bench-principal")
    try:
        with transaction.atomic():
            run = services.run_create(location=location, from_year=year, to_year=nxt, actor=user)
            run = services.run_approve(run=services.run_preview(run=run, actor=user), actor=principal)
            proposals = list(
                PromotionProposal.objects.filter(run=run)
                .select_related("from_grade", "to_grade")
                .order_by("from_grade__order", "pk")[:students]
            )
            counted = QueryCounter()
            with connection.execute_wrapper(counted):
                started = time.perf_counter()
                for proposal in proposals:
                    with transaction.atomic():
                        services.student_promote(run=run, proposal=proposal, actor=principal)
                loop_s = time.perf_counter() - started
            rate = len(proposals) / loop_s
            print(f"\nthe baseline (per-student ORM loop) over {len(proposals):,} students:")
            print(
                f"  student_promote     {loop_s:6.2f} s   {rate:,.0f} students/s   "
                f"{counted.count / max(len(proposals), 1):.1f} queries a student   "
                f"({loop_s / max(len(proposals), 1) * 1000:.1f} ms a student)"
            )
            speedup = fast_rate / rate
            print(
                f"  the set-based run is {speedup:.1f}x faster; target at least {SPEEDUP_TARGET:.0f}x: "
                f"{'met' if speedup >= SPEEDUP_TARGET else 'MISSED'}"
            )
            raise _Rollback
    except _Rollback:
        pass
    return speedup >= SPEEDUP_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="students the per-student loop promotes")
    args = parser.parse_args()
    base.ensure_database()
    call_command("migrate", verbosity=0)
    built = build(args.students)
    ok, rate = measure(*built)
    ok &= baseline(*built, args.baseline, rate)
    print("\nresult:", "every target met" if ok else "TARGET MISSED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
