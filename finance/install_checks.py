"""``verify_install`` checks of the finance app (the install checklist of docs/rules.md): append-only
enforcement on the money tables (tried, then rolled back), gapless invoice and receipt
numbers, the fee-type reference data, a clean ledger, and the per-year summary
reconciled with it."""

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Max
from django.db.models.functions import Substr

from academy.common.models import NumberSequence
from academy.common.numbering import INVOICE_NUMBERS, RECEIPT_NUMBERS
from academy.common.registry import install_check
from finance.migrations._append_only import APPEND_ONLY_TABLES
from finance.models import FeeType, Invoice, Payment
from finance.reports import ledger_summary_reconcile
from finance.selectors import ledger_verify

REFERENCE_FEE_TYPES = (
    "TUITION",
    "ENROLLMENT",
    "EXAM",
    "TRANSPORT",
    "MATERIAL",
    "MAKEUP",
    "LATE_FEE",
    "CARRY_FORWARD",
)


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


class _Rollback(Exception):
    pass


def _refused(sql: str, table: str | None) -> bool:
    """Whether the append-only trigger of ``table`` (of any money table: ``None``)
    refuses ``sql``, run in a savepoint that is always rolled back; any other error does
    not count as refused."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    # the test suite's flush may truncate, this probe may not; and it
                    # does not queue behind a busy table for long
                    cursor.execute("SET LOCAL academy.allow_truncate = 'off'")
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                    # rows written earlier in this transaction leave deferred checks
                    # pending, and TRUNCATE refuses a table with pending checks
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(sql)
            raise _Rollback
    except _Rollback:
        return False
    except DatabaseError as error:
        return f"{table or ''} is append-only" in str(error)


def _append_only_probe() -> tuple[list[str], int]:
    """Try UPDATE and DELETE on one row of each protected table (and TRUNCATE on
    PostgreSQL), always rolled back. Answers what went through, and how many tables had
    a row to try them on."""
    allowed, tried = [], 0
    quote = connection.ops.quote_name
    for table in APPEND_ONLY_TABLES:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")  # noqa: S608 (our table names)
            has_row = cursor.fetchone() is not None
        key = "id"
        if has_row:
            tried += 1
            one = f"(SELECT {key} FROM {quote(table)} LIMIT 1)"  # noqa: S608
            if not _refused(f"UPDATE {quote(table)} SET {key} = {key} WHERE {key} = {one}", table):  # noqa: S608
                allowed.append(f"UPDATE {table}")
            if not _refused(f"DELETE FROM {quote(table)} WHERE {key} = {one}", table):  # noqa: S608
                allowed.append(f"DELETE {table}")
        # CASCADE reaches the tables referencing this one, whose statement triggers may
        # fire first: refused by any of them is refused (the names were checked before)
        if connection.vendor == "postgresql" and not _refused(f"TRUNCATE {quote(table)} CASCADE", None):
            allowed.append(f"TRUNCATE {table}")
    return allowed, tried


@install_check("money tables are append-only (no UPDATE/DELETE)")
def check_append_only() -> tuple[bool, str]:
    suffixes = ("_append_only", "_no_truncate") if connection.vendor == "postgresql" else ("_no_update", "_no_delete")
    triggers = _triggers()
    missing = [table + suffix for table in APPEND_ONLY_TABLES for suffix in suffixes if table + suffix not in triggers]
    if missing:
        return False, f"missing triggers: {', '.join(missing)}"
    allowed, tried = _append_only_probe()
    if allowed:
        return False, f"the database allowed {', '.join(allowed)} (rolled back)"
    return True, (
        f"{len(APPEND_ONLY_TABLES)} tables refuse UPDATE and DELETE"
        + (" and TRUNCATE" if connection.vendor == "postgresql" else "")
        + f" (tried on the {tried} with rows, rolled back)"
    )


def number_gaps(model, field: str, series) -> list[str]:
    """Where a gapless number series (``INV``, ``RCT``) has a gap: per year, the rows
    numbered must be exactly 1..last, and the series' last value the highest number."""
    problems = []
    prefix_length = len(series.prefix) + 5  # "INV-2026"
    rows = (
        model.objects.annotate(series_key=Substr(field, 1, prefix_length))
        .values("series_key")
        .annotate(count=Count("pk"), highest=Max(field))
        .order_by("series_key")
    )
    found = {}
    for row in rows:
        highest = int(row["highest"][prefix_length + 1 :])
        found[row["series_key"]] = highest
        if row["count"] != highest:
            problems.append(f"{row['series_key']}: {row['count']} numbered up to {highest}")
    for key, last_value in NumberSequence.objects.filter(key__startswith=f"{series.prefix}-").values_list(
        "key", "last_value"
    ):
        if found.get(key, 0) != last_value:
            problems.append(f"{key}: the series handed out {last_value}, the highest stored is {found.get(key, 0)}")
    return problems


@install_check("invoice and receipt numbers have no gaps")
def check_numbering() -> tuple[bool, str]:
    problems = number_gaps(Invoice, "invoice_number", INVOICE_NUMBERS) + number_gaps(
        Payment, "receipt_number", RECEIPT_NUMBERS
    )
    if problems:
        return False, "; ".join(problems[:5])
    return True, f"{Invoice.objects.count()} invoices and {Payment.objects.count()} receipts numbered without gaps"


@install_check("fee types (reference data)")
def check_fee_types() -> tuple[bool, str]:
    present = set(FeeType.objects.filter(code__in=REFERENCE_FEE_TYPES).values_list("code", flat=True))
    missing = sorted(set(REFERENCE_FEE_TYPES) - present)
    if missing:
        return False, f"missing fee types: {', '.join(missing)} (run manage.py seed --env prod)"
    return True, f"{len(present)} fee types"


@install_check("ledger matches balances and invoices")
def check_ledger() -> tuple[bool, str]:
    report = ledger_verify()
    if not report.ok:
        return False, f"{len(report.problems)} discrepancies, e.g. {report.problems[0]} (run manage.py verify_ledger)"
    return True, f"{report.accounts} accounts and {report.invoices} invoices agree with the ledger"


@install_check("per-year summary reconciles with the ledger")
def check_ledger_summary() -> tuple[bool, str]:
    """The per-student, per-academic-year summary (``finance.reports.per_year``):
    each student's years add up to the account balance and the ledger, and each year's
    balance equals the ledger entries of the year's invoices less what was allocated to
    them and the year's unapplied credit."""
    report = ledger_summary_reconcile()
    if not report.ok:
        shown = "; ".join(report.problems[:3])
        return False, f"{len(report.problems)} mismatches, e.g. {shown}"
    return True, f"{report.rows} student-years of {report.students} students add up to their ledger balances"
