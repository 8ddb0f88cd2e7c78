"""Billing runs: one period's invoices for a whole location, in bulk.

A run executes as a long job (``academy.jobs``, kind ``billing_run``, registered in
``finance.jobs``): ``billing_run_start`` creates the run and its job, queued after commit
(on a worker; without a broker in a thread of the web process). The handler works in
chunks of students, each one transaction that holds the job (``Progress.hold``), bills
the chunk and moves the run's counts and ``resume_after`` (the chunk's last student)
with it. So a run whose worker was lost resumes after its last committed chunk when the
stale check (``academy.jobs.jobs_resume_stale``) interrupts and queues its job again,
once; a run taken over commits nothing more; a student billed for the period (by this
run or any other) is never billed again.
"""

import math
import uuid
from collections.abc import Callable
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from academy.common.money import money
from academy.common.numbering import INVOICE_NUMBERS, number_block
from academy.common.registry import enrolled_in
from academy.jobs import JobResult, JobStopped, Progress, job_start
from academy.models import Job
from families.models import StudentGuardian
from finance.models import (
    BillingRun,
    FeeStructure,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    PaymentAllocation,
    StudentAccount,
)
from finance.services.bulk import copy_columns, copy_supported, rows_copy
from finance.services.ledger import ZERO, accounts_lock, actor_or_none, credit_apply, invoice_refresh_status
from students.models import Student

CHUNK = 2000  # students per transaction, at most
MIN_CHUNK = 25  # ... and at least (a small run is quick anyway)
PROGRESS_STEPS = 20  # a larger run commits (and shows) its progress about this many times
BILLING_RUN_JOB = "billing_run"  # the kind of the job that executes a run (finance.jobs)


@transaction.atomic
def billing_run_start(
    *,
    location,
    period: str,
    issue_date: date,
    actor,
    frequency: str = "monthly",
    academic_year=None,
    term=None,
    due_date: date | None = None,
) -> BillingRun:
    """Create a billing run with the job that executes it, queued after commit. Answers
    the run to poll."""
    run = BillingRun(
        location=location,
        period=(period or "").strip(),
        issue_date=issue_date,
        due_date=due_date,
        frequency=frequency,
        academic_year=academic_year,
        term=term,
        created_by=actor_or_none(actor),
    )
    run.full_clean()
    if due_date is not None and due_date < issue_date:
        raise ValidationError({"due_date": ["The due date cannot be before the issue date."]})
    run.save()
    run.job = job_start(
        kind=BILLING_RUN_JOB,
        params={"run": str(run.pk)},
        actor=actor,
        location=location,
        title=f"Billing run {run.period}",
    )
    run.save(update_fields=["job", "updated_at"])
    return run


def _billing_day_this_month(day: int, today: date) -> int:
    """``day`` in ``today``'s month: a day past a short month's end is its last day."""
    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return min(day, (following - timedelta(days=1)).day)


def billing_runs_scheduled(*, today: date | None = None) -> list[BillingRun]:
    """Beat job: start the month's billing run of every active location whose billing day
    has come (``Location.billing_day``), once per location and month: a location already
    with a monthly run for the period (started by hand, or by an earlier beat) gets none,
    so a second beat, a beat after a restart or a day missed while the server was down
    never bills twice (and the run itself skips a student billed for the period). Each
    location is decided under its row's lock, so two beats at once start one run. The run
    is the one finance staff would have started (period ``YYYY-MM``, issued today), shown
    in their list of runs as started by the schedule. Answers the runs started."""
    from academy.models import Location

    today = today or timezone.localdate()
    period = f"{today:%Y-%m}"
    started = []
    due = Location.objects.filter(is_active=True, billing_day__isnull=False).order_by("pk")
    for location_id, day in due.values_list("pk", "billing_day"):
        if today.day < _billing_day_this_month(day, today):
            continue
        with transaction.atomic():
            location = Location.objects.select_for_update(no_key=True).get(pk=location_id)
            monthly = FeeStructure.Frequency.MONTHLY
            if BillingRun.objects.filter(location=location, period=period, frequency=monthly).exists():
                continue
            started.append(billing_run_start(location=location, period=period, issue_date=today, actor=None))
    return started


def _structures(run: BillingRun) -> list[FeeStructure]:
    """The run's active structures of its frequency: location-wide, per grade level, and
    per course or programme (those bill the students enrolled in it, ``structure_applies``)."""
    scope = Q(location=run.location, is_active=True, frequency=run.frequency)
    if run.academic_year_id:
        scope &= Q(academic_year__isnull=True) | Q(academic_year=run.academic_year_id)
    if run.term_id:
        scope &= Q(term__isnull=True) | Q(term=run.term_id)
    else:
        scope &= Q(term__isnull=True)
    return list(FeeStructure.objects.filter(scope).select_related("fee_type"))


def _billed_to(student_ids) -> dict:
    """Financially responsible guardian of each student (primary first), in one query."""
    best: dict = {}
    links = (
        StudentGuardian.objects.filter(student_id__in_array=student_ids)
        .order_by("student_id", "-is_financially_responsible", "created_at")
        .values_list("student_id", "guardian_id", "is_financially_responsible", "relationship_type")
    )
    for student_id, guardian_id, responsible, relationship_type in links:
        rank = (not responsible, relationship_type != "primary")
        if student_id not in best or rank < best[student_id][0]:
            best[student_id] = (rank, guardian_id)
    return {student_id: guardian_id for student_id, (_rank, guardian_id) in best.items()}


def billing_run_chunk_size(total: int) -> int:
    """Students per chunk: about ``PROGRESS_STEPS`` chunks, so the progress a poll reads
    moves in steps, with ``MIN_CHUNK`` to ``CHUNK`` students per transaction."""
    return max(1, min(CHUNK, max(MIN_CHUNK, math.ceil(total / PROGRESS_STEPS))))


def billing_run_execute(
    *,
    run_pk,
    progress: Callable[[BillingRun], None] | None = None,
    job_progress: Progress | None = None,
) -> BillingRun:
    """Process a run chunk by chunk (one transaction each, accounts locked); each chunk
    commits its invoices with the run's counts and ``resume_after``, so a poll sees the
    run advance and a run executed again goes on after the last chunk committed, with
    the counts it had (a run never started bills its students from the first).
    ``progress``, if given, is called after each chunk with the run as committed.

    ``job_progress`` is the run's job (``billing_run_job``): each chunk holds it, so a
    run taken over by a newer attempt or cancelled commits nothing more (``JobStopped``),
    and the job's bar moves with the run's. Students billed for the period (by this run
    or another) are skipped, so running it twice never bills anybody twice."""
    run = BillingRun.objects.get(pk=run_pk)
    if run.status == BillingRun.Status.COMPLETED:
        return run
    _check_columns()
    structures = _structures(run)
    students = Student.objects.active().filter(location=run.location)
    if structures and all(s.grade_level_id and not (s.course_id or s.program_id) for s in structures):
        students = students.filter(grade_level_id__in={s.grade_level_id for s in structures})
    resuming = run.resume_after is not None
    if resuming:  # after the last chunk committed, with the counts committed with it
        students = students.filter(pk__gt=run.resume_after)
    student_ids = list(students.order_by("pk").values_list("pk", flat=True))
    done = run.processed if resuming else 0
    total = done + len(student_ids)
    started = {
        "status": BillingRun.Status.RUNNING,
        "total": total,
        "started_at": run.started_at or timezone.now(),
        "error": "",
        "finished_at": None,
    }
    if not resuming:
        started.update(processed=0, invoices_created=0, skipped=0, amount_billed=0)
    BillingRun.objects.filter(pk=run.pk).update(**started)
    if job_progress is not None:
        job_progress(done, total=total)
    hold = job_progress.hold if job_progress is not None else None
    size = billing_run_chunk_size(total)
    try:
        for start in range(0, len(student_ids), size):
            chunk = student_ids[start : start + size]
            _bill_chunk(run, structures, chunk, hold=hold)
            done += len(chunk)
            if progress is not None:
                progress(BillingRun.objects.get(pk=run.pk))
            if job_progress is not None:
                job_progress(done)
        with transaction.atomic():
            if hold is not None:
                hold()
            BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.COMPLETED, finished_at=timezone.now())
    except JobStopped:  # taken over by a newer attempt, or cancelled: that one says what happened
        raise
    except Exception as error:
        if job_progress is None or job_progress.is_mine():
            BillingRun.objects.filter(pk=run.pk).update(
                status=BillingRun.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
            )
        raise
    run.refresh_from_db()
    return run


def billing_run_job(job: Job, progress: Progress) -> JobResult:
    """The handler of a run's job (kind ``billing_run``): executes the run, resumed after
    its last committed chunk when the job was interrupted."""
    run = billing_run_execute(run_pk=job.params["run"], job_progress=progress)
    return JobResult(
        message=(
            f"{run.invoices_created} invoice(s) issued for {run.period}, "
            f"{run.skipped} student(s) already billed, {run.processed} processed."
        )
    )


def billing_run_job_state(job: Job) -> None:
    """The run follows its job when the job is stopped from outside the handler (in that
    transaction): interrupted by the stale check (resumed from where it stopped), failed
    by it (interrupted a second time) or cancelled. An unfinished run then says how far it
    got: starting the period again bills the rest, the students billed skipped."""
    run = BillingRun.objects.filter(job=job, status__in=BillingRun.ACTIVE).first()
    if run is None:
        return
    if job.state == Job.State.INTERRUPTED:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.INTERRUPTED, error=job.message, updated_at=timezone.now()
        )
        return
    if job.state in (Job.State.FAILED, Job.State.CANCELLED):
        said = f"{job.message} {run.processed} of {run.total} students processed"
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.FAILED,
            error=f"{said}; start the period again to bill the others (those billed are skipped).",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )


# The columns the billing run writes, in COPY order (``_check_columns`` proves each
# list is every column of its model, so a new field cannot be left out silently).
INVOICE_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "invoice_number",
    "student_id",
    "billed_to_id",
    "location_id",
    "academic_year_id",
    "term_id",
    "issue_date",
    "due_date",
    "description",
    "status",
    "total",
    "amount_adjusted",
    "amount_paid",
    "paid_date",
    "billing_period",
    "carried_from_id",
    "cancelled_at",
    "cancel_reason",
    "created_by_id",
    "billing_run_id",
    # the notes, the dispute and the accounting reference: empty on a billed invoice
    "notes",
    "internal_notes",
    "disputed_at",
    "dispute_reason",
    "disputed_by_id",
    "dispute_resolved_at",
    "dispute_resolved_by_id",
    "dispute_resolution",
    "accounting_ref",
)
EMPTY_RECORDS = ("", "", None, "", None, None, None, "", "")  # the values of the last nine columns
HISTORY_COLUMNS = (*INVOICE_COLUMNS, "history_date", "history_change_reason", "history_type", "history_user_id")
LINE_COLUMNS = (
    "id",
    "invoice_id",
    "fee_type_id",
    "fee_structure_id",
    "description",
    "quantity",
    "unit_amount",
    "amount",
)
LEDGER_COLUMNS = (
    "account_id",
    "seq",
    "kind",
    "amount",
    "balance_before",
    "balance_after",
    "effective_date",
    "description",
    "invoice_id",
    "invoice_line_id",
    "payment_id",
    "adjustment_id",
    "refund_id",
    "created_by_id",
    "created_at",
)


def _check_columns() -> None:
    for model, columns in (
        (Invoice, INVOICE_COLUMNS),
        (Invoice.history.model, HISTORY_COLUMNS),
        (InvoiceLine, LINE_COLUMNS),
        (LedgerEntry, LEDGER_COLUMNS),
    ):
        if set(columns) != set(copy_columns(model)):
            raise RuntimeError(f"the billing run's columns of {model.__name__} differ from the model's")


@transaction.atomic
def _bill_chunk(
    run: BillingRun, structures: list[FeeStructure], student_ids: list, *, hold: Callable[[], None] | None = None
) -> None:
    """Bill one chunk of students in one transaction: hold the run's job (``hold``, the
    job's row locked first; ``JobStopped`` if the run was taken over or cancelled), lock
    their accounts, skip those already billed for the period, then write every invoice
    with its history row, its lines and their ledger entries, move the cached balances by
    the same amounts, and the run's counts and ``resume_after`` with them.

    The rows are worked out once, as plain values, and written with COPY on PostgreSQL
    or ``bulk_create`` elsewhere (``_use_copy``); both write the same rows."""
    if hold is not None:
        hold()
    accounts = accounts_lock(student_ids)
    students = {
        pk: (grade_level_id, academic_year_id)
        for pk, grade_level_id, academic_year_id in Student.objects.filter(pk__in_array=student_ids).values_list(
            "pk", "grade_level_id", "academic_year_id"
        )
    }
    already = set(
        Invoice.objects.filter(
            student_id__in_array=student_ids, billing_period=run.period, location=run.location
        ).values_list("student_id", flat=True)
    )
    billed_to = _billed_to(student_ids)
    enrolled = _enrolled_in(run, structures, student_ids)
    nothing = (frozenset(), frozenset())
    by_scope: dict = {}  # (grade level, courses, programmes) -> the structures that bill it
    plans = []
    for pk in student_ids:
        courses, programs = enrolled.get(pk, nothing)
        scope = (students[pk][0], frozenset(courses), frozenset(programs))
        if scope not in by_scope:
            by_scope[scope] = [s for s in structures if structure_applies(s, *scope)]
        lines = by_scope[scope]
        if pk in already or not lines or pk not in billed_to:
            continue
        plans.append((pk, lines))
    numbers = number_block(INVOICE_NUMBERS, len(plans), on=run.issue_date)

    today = timezone.localdate()
    now = timezone.now()
    user_id = run.created_by_id
    history_user = run.created_by or Invoice.history.model.get_default_history_user(Invoice())
    history_tail = (now, f"Billing run {run.period}", "+", history_user.pk if history_user else None)
    description = f"{run.get_frequency_display()} fees {run.period}"
    line_descriptions = {s.pk: f"{s.name} {run.period}" for s in structures}
    statuses: dict[tuple, tuple] = {}  # (total, due date) -> (status, paid date)
    invoice_rows, line_rows, entry_rows, moves = [], [], [], []
    for number, (pk, lines) in zip(numbers, plans, strict=True):
        total = sum((s.amount for s in lines), ZERO)
        due = run.due_date or run.issue_date + timedelta(days=max(s.due_days for s in lines))
        if (total, due) not in statuses:
            probe = invoice_refresh_status(Invoice(total=total, due_date=due), today=today)
            statuses[total, due] = (probe.status, probe.paid_date)
        status, paid_date = statuses[total, due]
        invoice_id = uuid.uuid4()
        invoice_rows.append(
            (
                invoice_id,
                now,
                now,
                number,
                pk,
                billed_to[pk],
                run.location_id,
                run.academic_year_id or students[pk][1],
                run.term_id,
                run.issue_date,
                due,
                description,
                status,
                total,
                ZERO,
                ZERO,
                paid_date,
                run.period,
                None,
                None,
                "",
                user_id,
                run.pk,
                *EMPTY_RECORDS,
            )
        )
        account = accounts[str(pk)]
        balance, seq = account.balance, account.entry_count
        for s in lines:
            line_id = uuid.uuid4()
            line_description = line_descriptions[s.pk]
            line_rows.append((line_id, invoice_id, s.fee_type_id, s.pk, line_description, 1, s.amount, s.amount))
            seq += 1
            entry_rows.append(
                (
                    account.pk,
                    seq,
                    LedgerEntry.Kind.INVOICE_LINE.value,
                    s.amount,
                    balance,
                    balance + s.amount,
                    run.issue_date,
                    f"{number}: {line_description}",
                    invoice_id,
                    line_id,
                    None,
                    None,
                    None,
                    user_id,
                    now,
                )
            )
            balance += s.amount
        account.balance, account.entry_count = balance, seq
        moves.append((account.pk, total, len(lines)))

    if _use_copy():
        rows_copy(Invoice, INVOICE_COLUMNS, invoice_rows)
        if getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
            rows_copy(Invoice.history.model, HISTORY_COLUMNS, [row + history_tail for row in invoice_rows])
        rows_copy(InvoiceLine, LINE_COLUMNS, line_rows)
        rows_copy(LedgerEntry, LEDGER_COLUMNS, entry_rows)
    else:
        bulk_create_with_history(
            [Invoice(**dict(zip(INVOICE_COLUMNS, row, strict=True))) for row in invoice_rows],
            Invoice,
            batch_size=500,
            default_user=run.created_by,
            default_change_reason=history_tail[1],
        )
        InvoiceLine.objects.bulk_create(
            [InvoiceLine(**dict(zip(LINE_COLUMNS, row, strict=True))) for row in line_rows], batch_size=1000
        )
        LedgerEntry.objects.bulk_create(
            [LedgerEntry(**dict(zip(LEDGER_COLUMNS, row, strict=True))) for row in entry_rows], batch_size=1000
        )
    _accounts_move(moves, now)
    with_credit = _students_with_credit([row[4] for row in invoice_rows])
    for student_id in with_credit:
        credit_apply(student_id=student_id, actor=run.created_by)
    BillingRun.objects.filter(pk=run.pk).update(
        processed=F("processed") + len(student_ids),
        invoices_created=F("invoices_created") + len(invoice_rows),
        skipped=F("skipped") + len(already),
        amount_billed=F("amount_billed") + money(sum((row[13] for row in invoice_rows), ZERO)),
        resume_after=student_ids[-1],
        updated_at=now,
    )


def structure_applies(structure: FeeStructure, grade_level_id, courses, programs) -> bool:
    """Whether ``structure`` bills a student of ``grade_level_id`` enrolled in ``courses``
    and ``programs``: each scope the structure names must match."""
    return (
        structure.grade_level_id in (None, grade_level_id)
        and (structure.course_id is None or structure.course_id in courses)
        and (structure.program_id is None or structure.program_id in programs)
    )


def _enrolled_in(run: BillingRun, structures, student_ids) -> dict:
    """The courses and programmes each student is enrolled in for the run's period (asked
    of enrollment through the registry), only when a structure bills by them."""
    if not any(s.course_id or s.program_id for s in structures):
        return {}
    return enrolled_in(
        student_ids, location=run.location, academic_year=run.academic_year, term=run.term, on=run.issue_date
    )


def _use_copy() -> bool:
    """PostgreSQL: write the chunk with COPY (``finance.services.bulk``); elsewhere with
    ``bulk_create``. Both write the same rows (tests/finance/test_billing_copy.py)."""
    return copy_supported(Invoice)


def _accounts_move(moves, now) -> None:
    """Move the (locked) accounts' cached balance and entry count by what was billed
    (``moves``: account id, amount, entries): one UPDATE per distinct (amount, number of
    entries), a handful per run however many students, instead of a row-by-row CASE."""
    groups: dict[tuple, list] = {}
    for pk, amount, count in moves:
        groups.setdefault((amount, count), []).append(pk)
    for (amount, count), pks in groups.items():
        StudentAccount.objects.filter(pk__in_array=pks).update(
            balance=F("balance") + amount, entry_count=F("entry_count") + count, updated_at=now
        )


def _students_with_credit(student_ids) -> list:
    rows = (
        PaymentAllocation.objects.filter(student_id__in_array=student_ids, invoice__isnull=True)
        .values("student_id")
        .annotate(credit=Sum("amount"))
        .filter(credit__gt=0)
    )
    return [row["student_id"] for row in rows]
