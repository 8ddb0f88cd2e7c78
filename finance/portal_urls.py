"""The parent portal's money pages, mounted into the "portal" namespace by
``academy.config.urls`` (the portal itself lives in families, below finance)."""

from django.urls import path

from finance import portal_views

urlpatterns = [
    path("money/", portal_views.money, name="money"),
    path("money/invoices/<uuid:pk>/", portal_views.invoice_detail, name="money-invoice"),
    path("money/invoices/<uuid:pk>/pdf/", portal_views.invoice_pdf, name="money-invoice-pdf"),
    path("money/receipts/<uuid:pk>/", portal_views.receipt_pdf, name="money-receipt"),
    path("money/statement/", portal_views.statement, name="money-statement"),
    path("money/children/<uuid:pk>/statement/", portal_views.statement, name="money-child-statement"),
]
