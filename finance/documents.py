"""PDF documents of the finance app, rendered with WeasyPrint from HTML templates under
``templates/finance/pdf/``: receipts, invoices and statements."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from finance.models import Invoice, Payment
from finance.selectors import FamilyStatement, Statement
from finance.statements import LocationStatement


def render_html(template: str, context: dict) -> str:
    """The HTML a PDF is made from (what tests read)."""
    return render_to_string(
        template,
        {
            "academy_name": settings.ACADEMY_NAME,
            "currency": settings.CURRENCY,
            "generated_at": timezone.now(),
            **context,
        },
    )


def render_pdf(template: str, context: dict) -> bytes:
    return pdf_from_html(render_html(template, context))


def pdf_from_html(html: str) -> bytes:
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def receipt_html(payment: Payment) -> str:
    allocations = payment.allocations.select_related("invoice", "student").order_by("created_at")
    return render_html("finance/pdf/receipt.html", {"payment": payment, "allocations": allocations})


def receipt_pdf(payment: Payment) -> bytes:
    return pdf_from_html(receipt_html(payment))


def invoice_html(invoice: Invoice) -> str:
    return render_html(
        "finance/pdf/invoice.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.select_related("fee_type"),
            "adjustments": invoice.adjustments.filter(status="approved"),
        },
    )


def invoice_pdf(invoice: Invoice) -> bytes:
    return pdf_from_html(invoice_html(invoice))


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


def location_statement_html(statement: LocationStatement) -> str:
    return render_html("finance/pdf/location_statement.html", {"statement": statement})


def location_statement_pdf(statement: LocationStatement) -> bytes:
    """Every invoice of a location's statement (never a page of it)."""
    return pdf_from_html(location_statement_html(statement))
