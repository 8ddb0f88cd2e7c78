"""Staff portal pages of the finance app, mounted in the ``staff`` namespace by
``academy.config.urls``; every name starts with ``finance-``."""

from django.urls import path

from finance import staff_views

urlpatterns = [
    path("finance/", staff_views.dashboard, name="finance-dashboard"),
    path("finance/invoices/", staff_views.invoice_list, name="finance-invoice-list"),
    path("finance/invoices/new/", staff_views.invoice_new, name="finance-invoice-new"),
    path("finance/invoices/<uuid:pk>/", staff_views.invoice_detail, name="finance-invoice-detail"),
    path("finance/invoices/<uuid:pk>/pdf/", staff_views.invoice_pdf, name="finance-invoice-pdf"),
    path("finance/invoices/<uuid:pk>/cancel/", staff_views.invoice_cancel, name="finance-invoice-cancel"),
    path("finance/invoices/<uuid:pk>/notes/", staff_views.invoice_notes, name="finance-invoice-notes"),
    path("finance/invoices/<uuid:pk>/dispute/", staff_views.invoice_dispute, name="finance-invoice-dispute"),
    path(
        "finance/invoices/<uuid:pk>/dispute/resolve/",
        staff_views.invoice_dispute_resolve,
        name="finance-invoice-dispute-resolve",
    ),
    path(
        "finance/invoices/<uuid:pk>/accounting-ref/",
        staff_views.invoice_accounting_ref,
        name="finance-invoice-accounting-ref",
    ),
    path(
        "finance/invoices/<uuid:pk>/adjustments/new/",
        staff_views.invoice_adjustment_new,
        name="finance-invoice-adjustment-new",
    ),
    path("finance/payments/", staff_views.payment_list, name="finance-payment-list"),
    path("finance/payments/new/", staff_views.payment_new, name="finance-payment-new"),
    path(
        "finance/payments/verification/",
        staff_views.payment_verification_queue,
        name="finance-payment-verification",
    ),
    path("finance/payments/<uuid:pk>/", staff_views.payment_detail, name="finance-payment-detail"),
    path("finance/payments/<uuid:pk>/receipt/", staff_views.payment_receipt, name="finance-payment-receipt"),
    path("finance/payments/<uuid:pk>/reverse/", staff_views.payment_reverse, name="finance-payment-reverse"),
    path("finance/payments/<uuid:pk>/verify/", staff_views.payment_verify, name="finance-payment-verify"),
    path(
        "finance/payments/<uuid:pk>/accounting-ref/",
        staff_views.payment_accounting_ref,
        name="finance-payment-accounting-ref",
    ),
    path("finance/adjustments/", staff_views.adjustment_queue, name="finance-adjustments"),
    path("finance/adjustments/<uuid:pk>/approve/", staff_views.adjustment_approve, name="finance-adjustment-approve"),
    path("finance/adjustments/<uuid:pk>/reject/", staff_views.adjustment_reject, name="finance-adjustment-reject"),
    path("finance/billing-runs/", staff_views.billing_run_list, name="finance-billing-run-list"),
    path("finance/billing-runs/new/", staff_views.billing_run_new, name="finance-billing-run-new"),
    path("finance/billing-runs/<uuid:pk>/", staff_views.billing_run_detail, name="finance-billing-run-detail"),
    path("finance/students/<uuid:pk>/statement/", staff_views.student_statement, name="finance-student-statement"),
    path("finance/students/<uuid:pk>/refund/", staff_views.student_refund, name="finance-student-refund"),
    path("finance/guardians/<uuid:pk>/statement/", staff_views.guardian_statement, name="finance-guardian-statement"),
    path("finance/reports/", staff_views.report_view, name="finance-reports"),
    path("finance/journal/", staff_views.journal_export, name="finance-journal"),
    path("finance/journal/import/", staff_views.accounting_refs_import, name="finance-accounting-refs-import"),
]
