"""PDF documents of the finance app, rendered with WeasyPrint from HTML templates under
``templates/finance/pdf/``: receipts, invoices and statements."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from finance.models import Invoice, Payment
from finance.selectors import FamilyStatement, Statement


def render_pdf(template: str, context: dict) -> bytes:
    html = render_to_string(
        template,
        {
            "academy_name": settings.ACADEMY_NAME,
            "currency": settings.CURRENCY,
            "generated_at": timezone.now(),
            **context,
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def receipt_pdf(payment: Payment) -> bytes:
    allocations = payment.allocations.select_related("invoice", "student").order_by("created_at")
    return render_pdf("finance/pdf/receipt.html", {"payment": payment, "allocations": allocations})


def invoice_pdf(invoice: Invoice) -> bytes:
    return render_pdf(
        "finance/pdf/invoice.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.select_related("fee_type"),
            "adjustments": invoice.adjustments.filter(status="approved"),
        },
    )


def statement_pdf(statement: Statement | FamilyStatement) -> bytes:
    family = isinstance(statement, FamilyStatement)
    return render_pdf(
        "finance/pdf/statement.html",
        {
            "family": family,
            "statement": statement,
            "statements": statement.statements if family else [statement],
        },
    )
