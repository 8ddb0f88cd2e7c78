"""Billing runs: one period's invoices for a whole location, in bulk."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from academy.common.money import money
from academy.common.numbering import INVOICE_NUMBERS, number_block
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
from finance.services.ledger import ZERO, accounts_lock, actor_or_none, credit_apply, invoice_refresh_status
from students.models import Student

CHUNK = 500


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
    """Create a billing run and queue it after commit. Answers the job to poll."""
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
    transaction.on_commit(lambda: _queue(run.pk))
    return run


def _queue(run_pk) -> None:
    from finance.tasks import billing_run_task

    billing_run_task.delay(str(run_pk))


def _structures(run: BillingRun) -> list[FeeStructure]:
    scope = Q(location=run.location, is_active=True, frequency=run.frequency, program__isnull=True, course__isnull=True)
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
    links = StudentGuardian.objects.filter(student_id__in=student_ids).order_by(
        "student_id", "-is_financially_responsible", "created_at"
    )
    for link in links:
        rank = (not link.is_financially_responsible, link.relationship_type != "primary")
        if link.student_id not in best or rank < best[link.student_id][0]:
            best[link.student_id] = (rank, link.guardian_id)
    return {student_id: guardian_id for student_id, (_rank, guardian_id) in best.items()}


def billing_run_execute(*, run_pk) -> BillingRun:
    """Process a run chunk by chunk (one transaction each, accounts locked). Safe to run
    again after a crash: students already billed for the period are skipped."""
    run = BillingRun.objects.get(pk=run_pk)
    if run.status == BillingRun.Status.COMPLETED:
        return run
    structures = _structures(run)
    students = Student.objects.active().filter(location=run.location)
    if structures and all(s.grade_level_id for s in structures):
        students = students.filter(grade_level_id__in={s.grade_level_id for s in structures})
    student_ids = list(students.order_by("pk").values_list("pk", flat=True))
    BillingRun.objects.filter(pk=run.pk).update(
        status=BillingRun.Status.RUNNING,
        total=len(student_ids),
        started_at=run.started_at or timezone.now(),
        processed=0,
        invoices_created=0,
        skipped=0,
        amount_billed=0,
        error="",
    )
    try:
        for start in range(0, len(student_ids), CHUNK):
            _bill_chunk(run, structures, student_ids[start : start + CHUNK])
    except Exception as error:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.COMPLETED, finished_at=timezone.now())
    run.refresh_from_db()
    return run


@transaction.atomic
def _bill_chunk(run: BillingRun, structures: list[FeeStructure], student_ids: list) -> None:
    accounts = accounts_lock(student_ids)
    students = {
        s.pk: s
        for s in Student.objects.filter(pk__in=student_ids).only(
            "pk", "location_id", "grade_level_id", "academic_year_id"
        )
    }
    already = set(
        Invoice.objects.filter(
            student_id__in=student_ids, billing_period=run.period, location=run.location
        ).values_list("student_id", flat=True)
    )
    billed_to = _billed_to(student_ids)
    today = timezone.localdate()
    plans = []
    for pk in student_ids:
        student = students[pk]
        lines = [s for s in structures if s.grade_level_id in (None, student.grade_level_id)]
        if pk in already or not lines or pk not in billed_to:
            continue
        plans.append((student, lines))
    numbers = number_block(INVOICE_NUMBERS, len(plans), on=run.issue_date)
    invoices, all_lines = [], []
    for number, (student, lines) in zip(numbers, plans, strict=True):
        due = run.due_date or run.issue_date + timedelta(days=max(s.due_days for s in lines))
        invoice = Invoice(
            invoice_number=number,
            student_id=student.pk,
            billed_to_id=billed_to[student.pk],
            location=run.location,
            academic_year_id=run.academic_year_id or student.academic_year_id,
            term=run.term,
            issue_date=run.issue_date,
            due_date=due,
            billing_period=run.period,
            description=f"{run.get_frequency_display()} fees {run.period}",
            total=sum((s.amount for s in lines), ZERO),
            created_by=run.created_by,
        )
        invoice_refresh_status(invoice, today=today)
        invoices.append(invoice)
        all_lines.append(
            [
                InvoiceLine(
                    invoice=invoice,
                    fee_type=s.fee_type,
                    fee_structure=s,
                    description=f"{s.name} {run.period}",
                    quantity=1,
                    unit_amount=s.amount,
                    amount=s.amount,
                )
                for s in lines
            ]
        )
    bulk_create_with_history(
        invoices,
        Invoice,
        batch_size=500,
        default_user=run.created_by,
        default_change_reason=f"Billing run {run.period}",
    )
    InvoiceLine.objects.bulk_create([line for lines in all_lines for line in lines], batch_size=1000)
    entries, touched = [], []
    for invoice, lines in zip(invoices, all_lines, strict=True):
        account = accounts[str(invoice.student_id)]
        for line in lines:
            entries.append(
                LedgerEntry(
                    account=account,
                    seq=account.entry_count + 1,
                    kind=LedgerEntry.Kind.INVOICE_LINE,
                    amount=line.amount,
                    balance_before=account.balance,
                    balance_after=account.balance + line.amount,
                    effective_date=invoice.issue_date,
                    description=f"{invoice.invoice_number}: {line.description}",
                    invoice=invoice,
                    invoice_line=line,
                    created_by=run.created_by,
                )
            )
            account.balance += line.amount
            account.entry_count += 1
        touched.append(account)
    LedgerEntry.objects.bulk_create(entries, batch_size=1000)
    _accounts_move(touched, invoices, all_lines)
    with_credit = _students_with_credit([invoice.student_id for invoice in invoices])
    for student_id in with_credit:
        credit_apply(student_id=student_id, actor=run.created_by)
    BillingRun.objects.filter(pk=run.pk).update(
        processed=F("processed") + len(student_ids),
        invoices_created=F("invoices_created") + len(invoices),
        skipped=F("skipped") + len(already),
        amount_billed=F("amount_billed") + money(sum((i.total for i in invoices), ZERO)),
    )


def _accounts_move(accounts, invoices, all_lines) -> None:
    """Move the (locked) accounts' cached balance and entry count by what was billed: one
    UPDATE per distinct (amount, number of lines), a handful per run however many
    students, instead of a row-by-row CASE."""
    groups: dict[tuple, list] = {}
    for account, invoice, lines in zip(accounts, invoices, all_lines, strict=True):
        groups.setdefault((invoice.total, len(lines)), []).append(account.pk)
    now = timezone.now()
    for (amount, count), pks in groups.items():
        StudentAccount.objects.filter(pk__in=pks).update(
            balance=F("balance") + amount, entry_count=F("entry_count") + count, updated_at=now
        )


def _students_with_credit(student_ids) -> list:
    rows = (
        PaymentAllocation.objects.filter(student_id__in=student_ids, invoice__isnull=True)
        .values("student_id")
        .annotate(credit=Sum("amount"))
        .filter(credit__gt=0)
    )
    return [row["student_id"] for row in rows]
