"""``verify_install`` checks of the finance app (seed 001 checklist): append-only
enforcement on the money tables, the fee-type reference data, and a clean ledger."""

from django.db import connection

from academy.common.registry import install_check
from finance.migrations._append_only import APPEND_ONLY_TABLES
from finance.models import FeeType
from finance.selectors import ledger_verify

REFERENCE_FEE_TYPES = ("TUITION", "ENROLLMENT", "EXAM", "TRANSPORT", "MATERIAL", "MAKEUP", "LATE_FEE")


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


@install_check("money tables are append-only (no UPDATE/DELETE)")
def check_append_only() -> tuple[bool, str]:
    suffixes = ("_append_only", "_no_truncate") if connection.vendor == "postgresql" else ("_no_update", "_no_delete")
    triggers = _triggers()
    missing = [table + suffix for table in APPEND_ONLY_TABLES for suffix in suffixes if table + suffix not in triggers]
    if missing:
        return False, f"missing triggers: {', '.join(missing)}"
    return True, f"{len(APPEND_ONLY_TABLES)} tables refuse UPDATE and DELETE" + (
        " and TRUNCATE" if connection.vendor == "postgresql" else ""
    )


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
