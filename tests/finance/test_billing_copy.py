"""The billing run's PostgreSQL COPY path (``finance.services.bulk``) writes exactly the
rows of the ``bulk_create`` path, and the database still checks every COPY'd row."""

import datetime
import uuid
from decimal import Decimal as D
from unittest import mock

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from finance import services
from finance.models import BillingRun, Invoice, InvoiceLine, LedgerEntry, PaymentAllocation, StudentAccount
from finance.selectors import ledger_verify
from finance.services.billing import INVOICE_COLUMNS, LEDGER_COLUMNS
from finance.services.bulk import copy_columns, copy_supported, rows_copy
from students.models import Student
from tests.factories.academy import GradeLevelFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory, issue

pytestmark = pytest.mark.django_db
ISSUED = datetime.date.today()


class Rollback(Exception):
    pass


@pytest.fixture
def billed_location(location, cashier):
    """Seven students in two grades; two have an account already (an earlier invoice, one
    of them partly paid, one with account credit), so the balance chains start mid-way."""
    grade_one, grade_two = GradeLevelFactory(name="G1", order=1), GradeLevelFactory(name="G2", order=2)
    FeeStructureFactory(location=location, grade_level=grade_one, amount=D("100.00"), name="G1 tuition")
    FeeStructureFactory(location=location, grade_level=grade_two, amount=D("120.50"), name="G2 tuition")
    FeeStructureFactory(
        location=location, fee_type=FeeTypeFactory(code="TRANSPORT"), amount=D("20.25"), name="Transport"
    )
    students = [StudentFactory(location=location, grade_level=grade) for grade in [grade_one] * 4 + [grade_two] * 3]
    issue(students[0], "35.00", actor=cashier)
    services.payment_record(actor=cashier, student=students[0], amount="10.00", method="cash")
    services.payment_record(
        actor=cashier, student=students[5], amount="150.00", method="cash", confirm_overpayment=True
    )  # credit
    return location, students


def _sorted(rows) -> list:
    return sorted(rows, key=lambda row: tuple(str(value) for value in row))


def _snapshot(run_pk) -> dict:
    """Everything the run wrote, without the ids and clocks that differ between runs."""
    run = BillingRun.objects.get(pk=run_pk)
    invoices = Invoice.objects.filter(billing_period=run.period)
    numbers = dict(invoices.values_list("pk", "invoice_number"))
    line_descriptions = dict(InvoiceLine.objects.filter(invoice__in=invoices).values_list("pk", "description"))
    invoice_fields = [
        f.attname
        for f in Invoice._meta.concrete_fields
        if f.attname not in ("id", "created_at", "updated_at", "billing_run_id")  # two runs, one per path
    ]
    history = Invoice.history.model.objects.filter(id__in=numbers)
    assert all(invoices.values_list("created_at", flat=True)) and all(history.values_list("history_date", flat=True))
    return {
        "run": (run.status, run.total, run.processed, run.invoices_created, run.skipped, run.amount_billed),
        "invoices": _sorted(invoices.values_list(*invoice_fields)),
        "history": _sorted(
            (numbers[row[0]], *row[1:])
            for row in history.values_list(
                "id", *invoice_fields, "history_type", "history_user_id", "history_change_reason"
            )
        ),
        "lines": _sorted(
            (numbers[row[0]], *row[1:])
            for row in InvoiceLine.objects.filter(invoice__in=invoices).values_list(
                "invoice_id", "fee_type_id", "fee_structure_id", "description", "quantity", "unit_amount", "amount"
            )
        ),
        "ledger": _sorted(
            (
                row[0],
                row[1],
                *row[2:-2],
                numbers.get(row[-2]),
                line_descriptions.get(row[-1]),
            )
            for row in LedgerEntry.objects.values_list(
                "account_id",
                "seq",
                "kind",
                "amount",
                "balance_before",
                "balance_after",
                "effective_date",
                "description",
                "payment_id",
                "created_by_id",
                "invoice_id",
                "invoice_line_id",
            )
        ),
        "accounts": _sorted(StudentAccount.objects.values_list("pk", "balance", "entry_count")),
        "allocations": _sorted(
            (row[0], row[1], numbers.get(row[2], row[2]), row[3], row[4])
            for row in PaymentAllocation.objects.values_list("payment_id", "student_id", "invoice_id", "amount", "kind")
        ),
    }


def _bill(location, cashier, *, copy: bool) -> tuple[dict, list[str]]:
    """Bill the period with one path inside a savepoint, snapshot, and roll it back
    (the invoice numbers come back too, so both paths number alike)."""
    snapshot, statements = {}, []
    with mock.patch("finance.services.billing._use_copy", return_value=copy):
        try:
            with transaction.atomic():
                run = services.billing_run_start(location=location, period="2031-03", issue_date=ISSUED, actor=cashier)
                with CaptureQueriesContext(connection) as queries:
                    services.billing_run_execute(run_pk=run.pk)
                statements = [q["sql"] for q in queries.captured_queries]
                assert ledger_verify().problems == []
                snapshot = _snapshot(run.pk)
                raise Rollback
        except Rollback:
            pass
    return snapshot, statements


@pytest.mark.postgres
def test_the_copy_path_writes_the_same_rows_as_bulk_create(billed_location, cashier):
    location, _students = billed_location
    assert copy_supported(Invoice)
    with mock.patch("finance.services.billing.CHUNK", 3):  # several chunks, one partial
        copied, copy_statements = _bill(location, cashier, copy=True)
        created, bulk_statements = _bill(location, cashier, copy=False)
    copies = [sql.split(" (")[0] for sql in copy_statements if sql.startswith("COPY ")]
    assert copies == [
        f'COPY "{table}"'
        for _chunk in range(3)
        for table in ("finance_invoice", "finance_historicalinvoice", "finance_invoiceline", "finance_ledgerentry")
    ]
    assert not any(sql.startswith("COPY ") for sql in bulk_statements)
    assert copied["run"][:5] == ("completed", 7, 7, 7, 0)
    assert len(copied["lines"]) == 14 and len(copied["ledger"]) >= 14
    # seven invoices created, one of them then paid from credit
    assert sorted(row[-3] for row in copied["history"]) == ["+"] * 7 + ["~"]
    # the student with credit had it applied to the new invoice, the same way on both paths
    assert any(row[4] == "credit_applied" for row in copied["allocations"])
    for name in copied:
        assert copied[name] == created[name], name


@pytest.mark.postgres
def test_copy_rows_are_checked_by_the_database_like_inserts(billed_location, cashier):
    location, students = billed_location
    invoice = Invoice.objects.get(student=students[0])
    account = StudentAccount.objects.get(pk=students[0].pk)
    now = timezone.now()

    def invoice_row(**changes):
        values = {
            **dict.fromkeys(INVOICE_COLUMNS),
            "id": uuid.uuid4(),
            "created_at": now,
            "updated_at": now,
            "invoice_number": "INV-TEST-000001",
            "student_id": students[1].pk,
            "billed_to_id": invoice.billed_to_id,
            "location_id": location.pk,
            "issue_date": ISSUED,
            "due_date": ISSUED,
            "description": "",
            "status": "pending",
            "total": D("10.00"),
            "amount_adjusted": D("0.00"),
            "amount_paid": D("0.00"),
            "billing_period": "",
            "cancel_reason": "",
            **dict.fromkeys(("notes", "internal_notes", "dispute_reason", "dispute_resolution", "accounting_ref"), ""),
            **changes,
        }
        return [tuple(values[name] for name in INVOICE_COLUMNS)]

    def entry_row(**changes):
        values = {
            **dict.fromkeys(LEDGER_COLUMNS),
            "account_id": account.pk,
            "seq": account.entry_count + 1,
            "kind": "invoice_line",
            "amount": D("5.00"),
            "balance_before": account.balance,
            "balance_after": account.balance + D("5.00"),
            "effective_date": ISSUED,
            "description": "copied",
            "created_at": now,
            **changes,
        }
        return [tuple(values[name] for name in LEDGER_COLUMNS)]

    # a well-formed row goes in
    with transaction.atomic():
        assert rows_copy(Invoice, INVOICE_COLUMNS, invoice_row()) == 1
        transaction.set_rollback(True)
    # a CHECK constraint (due before issue)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_copy(Invoice, INVOICE_COLUMNS, invoice_row(due_date=ISSUED - datetime.timedelta(days=1)))
    # a UNIQUE constraint (the invoice number)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_copy(Invoice, INVOICE_COLUMNS, invoice_row(invoice_number=invoice.invoice_number))
    # the ledger's balance chain, and its unique (account, seq)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_copy(LedgerEntry, LEDGER_COLUMNS, entry_row(balance_after=account.balance + D("6.00")))
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_copy(LedgerEntry, LEDGER_COLUMNS, entry_row(seq=account.entry_count))
    # a foreign key (deferred: checked at commit, here forced with SET CONSTRAINTS)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_copy(Invoice, INVOICE_COLUMNS, invoice_row(billed_to_id=students[1].pk))  # no guardian has this id
        connection.check_constraints()
    # the append-only trigger refuses changing a COPY'd ledger entry
    with transaction.atomic():
        assert rows_copy(LedgerEntry, LEDGER_COLUMNS, entry_row()) == 1
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.filter(description="copied").update(description="changed")
        transaction.set_rollback(True)


@pytest.mark.postgres
def test_a_too_long_value_is_refused_as_by_an_insert(billed_location):
    _location, students = billed_location
    account = StudentAccount.objects.get(pk=students[0].pk)
    row = dict.fromkeys(LEDGER_COLUMNS) | {
        "account_id": account.pk,
        "seq": account.entry_count + 1,
        "kind": "x" * 21,  # varchar(20)
        "amount": D("5.00"),
        "balance_before": account.balance,
        "balance_after": account.balance + D("5.00"),
        "effective_date": ISSUED,
        "description": "too long a kind",
        "created_at": timezone.now(),
    }
    with pytest.raises(DataError), transaction.atomic():
        rows_copy(LedgerEntry, LEDGER_COLUMNS, [tuple(row[name] for name in LEDGER_COLUMNS)])


def test_the_billing_columns_are_every_column_of_their_models():
    from finance.services.billing import HISTORY_COLUMNS, LINE_COLUMNS

    for model, columns in (
        (Invoice, INVOICE_COLUMNS),
        (Invoice.history.model, HISTORY_COLUMNS),
        (InvoiceLine, LINE_COLUMNS),
        (LedgerEntry, LEDGER_COLUMNS),
    ):
        assert sorted(columns) == sorted(copy_columns(model)), model.__name__


def test_in_array_finds_the_same_rows_as_in(billed_location):
    _location, students = billed_location
    wanted = [students[0].pk, students[2].pk, str(students[3].pk)]
    found = set(StudentAccount.objects.filter(pk__in_array=wanted).values_list("pk", flat=True))
    assert found == set(StudentAccount.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert found  # some of them have an account
    assert set(Student.objects.filter(pk__in_array=wanted).values_list("pk", flat=True)) == {
        students[0].pk,
        students[2].pk,
        students[3].pk,
    }
    # through a foreign key, and with nothing to look for
    assert (
        Invoice.objects.filter(student_id__in_array=wanted).count()
        == Invoice.objects.filter(student__in=wanted).count()
    )
    assert Invoice.objects.filter(student_id__in_array=wanted).exists()
    assert not StudentAccount.objects.filter(pk__in_array=[]).exists()


def test_in_array_is_one_array_parameter_on_postgres(billed_location, on_postgres):
    _location, students = billed_location
    with CaptureQueriesContext(connection) as queries:
        list(Student.objects.filter(pk__in_array=[s.pk for s in students]))
    sql = queries.captured_queries[-1]["sql"]
    if on_postgres:
        assert "= ANY(" in sql and "::uuid[]" in sql
    else:
        assert " IN (" in sql


def test_rows_copy_refuses_other_databases(on_postgres):
    if on_postgres:
        pytest.skip("SQLite only")
    assert not copy_supported(Invoice)
    with pytest.raises(RuntimeError):
        rows_copy(Invoice, INVOICE_COLUMNS, [])
