"""Finance API paths outside the router: statements (on students, guardians and
locations, which other apps own, so they are finance views under explicit paths) and
the reports.
Mounted by ``academy.config.api`` before the router."""

from django.urls import path

from finance.api import views

urlpatterns = [
    path("students/<uuid:pk>/statement/", views.StudentStatementView.as_view(), name="student-statement"),
    path("guardians/<uuid:pk>/statement/", views.GuardianStatementView.as_view(), name="guardian-statement"),
    path("locations/<uuid:pk>/statement/", views.LocationStatementView.as_view(), name="location-statement"),
    path("journal/", views.JournalExportView.as_view(), name="journal-export"),
    path("accounting-refs/import/", views.AccountingRefImportView.as_view(), name="accounting-refs-import"),
    path("reports/student-balances/", views.StudentBalancesReport.as_view(), name="report-student-balances"),
    path("reports/location-summary/", views.LocationSummaryReport.as_view(), name="report-location-summary"),
    path("reports/invoice-details/", views.InvoiceDetailsReport.as_view(), name="report-invoice-details"),
    path("reports/payment-history/", views.PaymentHistoryReport.as_view(), name="report-payment-history"),
    path("reports/overdue-invoices/", views.OverdueInvoicesReport.as_view(), name="report-overdue-invoices"),
    path("reports/daily-collections/", views.DailyCollectionsReport.as_view(), name="report-daily-collections"),
    path("reports/monthly-revenue/", views.MonthlyRevenueReport.as_view(), name="report-monthly-revenue"),
    path("reports/ledger-summary/", views.LedgerSummaryReport.as_view(), name="report-ledger-summary"),
]
