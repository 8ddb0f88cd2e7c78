"""Finance reports: each reads a fixed number of aggregate queries scoped to the
locations a user may see (``academy.selectors.scoped_to_locations``), narrowed to one
location when asked, and answers rows of plain values ready for a table, a chart, the
API or CSV. Money stays Decimal.

- ``balances``: student balances and the location summary (the sum of its students);
- ``listings``: invoice details, payment history, overdue invoices with ageing;
- ``flows``: daily collections by location and method, monthly revenue;
- ``per_year``: the ledger summary, per student and academic year, reconciled with the ledger.
"""

from finance.reports.balances import location_summary, student_balances
from finance.reports.base import ReportRows
from finance.reports.flows import daily_collections, monthly_revenue, monthly_revenue_by_location
from finance.reports.listings import AGEING_BUCKETS, invoice_details, overdue_invoices, payment_history
from finance.reports.per_year import ledger_summary, ledger_summary_reconcile

__all__ = [
    "AGEING_BUCKETS",
    "ReportRows",
    "daily_collections",
    "invoice_details",
    "ledger_summary",
    "ledger_summary_reconcile",
    "location_summary",
    "monthly_revenue",
    "monthly_revenue_by_location",
    "overdue_invoices",
    "payment_history",
    "student_balances",
]
