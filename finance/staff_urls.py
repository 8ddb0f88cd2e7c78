"""Staff portal pages of the finance app, mounted in the ``staff`` namespace by
``academy.config.urls``; every name starts with ``finance-``."""

from django.urls import path

from finance import staff_report_views, staff_setup_views, staff_views, statement_views

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
    path("finance/locations/statements/", statement_views.location_statement_index, name="finance-location-statements"),
    path(
        "finance/locations/<uuid:pk>/statement/",
        statement_views.location_statement,
        name="finance-location-statement",
    ),
    path("finance/reports/", staff_report_views.report_view, name="finance-reports"),
    path("finance/journal/", staff_views.journal_export, name="finance-journal"),
    path("finance/journal/import/", staff_views.accounting_refs_import, name="finance-accounting-refs-import"),
    # set-up: fee types and structures, policies, session packages, carrying forward (finance.staff_setup_views)
    path("finance/fee-types/", staff_setup_views.fee_type_list, name="finance-fee-type-list"),
    path("finance/fee-types/new/", staff_setup_views.fee_type_new, name="finance-fee-type-new"),
    path("finance/fee-types/<uuid:pk>/edit/", staff_setup_views.fee_type_edit, name="finance-fee-type-edit"),
    path("finance/fee-types/<uuid:pk>/active/", staff_setup_views.fee_type_active, name="finance-fee-type-active"),
    path("finance/fee-structures/", staff_setup_views.fee_structure_list, name="finance-fee-structure-list"),
    path("finance/fee-structures/new/", staff_setup_views.fee_structure_new, name="finance-fee-structure-new"),
    path(
        "finance/fee-structures/<uuid:pk>/edit/",
        staff_setup_views.fee_structure_edit,
        name="finance-fee-structure-edit",
    ),
    path(
        "finance/fee-structures/<uuid:pk>/active/",
        staff_setup_views.fee_structure_active,
        name="finance-fee-structure-active",
    ),
    path("finance/policies/", staff_setup_views.policy_list, name="finance-policy-list"),
    path("finance/policies/<uuid:location_pk>/", staff_setup_views.policy_edit, name="finance-policy-edit"),
    path("finance/packages/", staff_setup_views.package_list, name="finance-package-list"),
    path("finance/packages/new/", staff_setup_views.package_new, name="finance-package-new"),
    path("finance/packages/<uuid:pk>/cancel/", staff_setup_views.package_cancel_view, name="finance-package-cancel"),
    path(
        "finance/invoices/<uuid:pk>/carry-forward/",
        staff_setup_views.invoice_carry_forward,
        name="finance-invoice-carry-forward",
    ),
]
