"""The parent portal's money pages: the family's account, invoices, receipts and statement.

Whose money a parent sees: the children they pay for, i.e. the children
``families.selectors.students_paid_for_by`` names (their link is financially
responsible), intersected with the children ``students_visible_to`` lets them see (an
active guardian record, no soft-deleted child). A guardian who is linked to a child but
does not pay for them (a second parent, a grandparent, an emergency contact) sees
nothing of that child's money: no balance, no invoice, no receipt, no statement line.
Anything outside that set answers 404, never 403, so a URL tells nobody it exists.

Payments follow the same rule: a payment is shown, and its receipt served, when it was
made for one of those children or allocated to one of them (``finance.selectors.
payment_list`` narrowed to them). A family payment awaiting verification (a cheque with
no allocation yet) appears once it is allocated.

Every page is read-only; the reads are the finance selectors with the caller (so the
API and the portal agree), narrowed to the paying children here.
"""

from urllib.parse import urlencode

from django import forms
from django.db.models import DecimalField, F, Q, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.utils import timezone

from academy.common.csv_stream import streamed_csv
from families.portal_shell import parent_required, portal_render
from families.selectors import students_paid_for_by, students_visible_to
from finance import documents
from finance.models import Invoice, Payment, PaymentAllocation
from finance.selectors import (
    ZERO,
    family_statement_data,
    invoice_list,
    invoice_list_with_lines,
    payment_list,
    payments_for_students,
    statement_for_guardian_seen_by,
    statement_for_student,
)
from finance.statements import CSV_HEADER, student_statement_csv_rows
from students.models import Student

RECENT_PAYMENTS = 10
PDF = "application/pdf"


def paying_children(request):
    """The children whose money the signed-in parent sees (see the module docstring)."""
    return (
        students_paid_for_by(guardian=request.guardian)
        .filter(pk__in=students_visible_to(request.user).values("pk"))
        .distinct()
    )


def _render(request, template: str, context: dict):
    """A signed-in portal page under the "money" tab."""
    return portal_render(request, template, {"nav": "money", **context})


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=PDF)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _invoice_get(request, pk, *, with_lines: bool = False) -> Invoice:
    selector = invoice_list_with_lines if with_lines else invoice_list
    try:
        return selector(user=request.user).filter(student__in=paying_children(request)).get(pk=pk)
    except Invoice.DoesNotExist:
        raise Http404("No such invoice.") from None


def _payments(request):
    children = paying_children(request).values("pk")
    return payment_list(user=request.user).filter(Q(student__in=children) | payments_for_students(children))


@parent_required
def money(request):
    """The family's account: per child the balance due and the open invoices (overdue
    ones marked), the last payments, and the family total. Five queries whatever the
    number of children, invoices and payments."""
    today = timezone.localdate()
    children = list(
        paying_children(request)
        .select_related("location")
        .annotate(
            balance_due=Coalesce(
                F("account__balance"), Value(ZERO), output_field=DecimalField(max_digits=12, decimal_places=2)
            )
        )
    )
    invoices = (
        invoice_list(user=request.user)
        .filter(student__in=[child.pk for child in children])
        .open()
        .order_by("due_date", "invoice_number")
    )
    by_child = {child.pk: [] for child in children}
    for invoice in invoices:
        invoice.is_late = invoice.status == Invoice.Status.OVERDUE or invoice.due_date < today
        by_child[invoice.student_id].append(invoice)
    for child in children:
        child.open_invoices = by_child[child.pk]
    payments = list(
        _payments(request)
        .select_related("verification", "reversal")
        .order_by("-received_at", "-receipt_number")[:RECENT_PAYMENTS]
    )
    context = {
        "children": children,
        "family_total": sum((child.balance_due for child in children), ZERO),
        "overdue_count": sum(invoice.is_late for child in children for invoice in child.open_invoices),
        "payments": payments,
        "today": today,
    }
    return _render(request, "portal/money_account.html", context)


@parent_required
def invoice_detail(request, pk):
    invoice = _invoice_get(request, pk, with_lines=True)
    allocations = (
        PaymentAllocation.objects.filter(invoice=invoice).select_related("payment").order_by("created_at", "pk")
    )
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "adjustments": invoice.adjustments.filter(status="approved").order_by("created_at"),
        "allocations": allocations,
        "is_late": invoice.status == Invoice.Status.OVERDUE
        or (invoice.status in Invoice.OPEN_STATUSES and invoice.due_date < timezone.localdate()),
    }
    return _render(request, "portal/money_invoice.html", context)


@parent_required
def invoice_pdf(request, pk):
    invoice = _invoice_get(request, pk)
    return _pdf(documents.invoice_pdf(invoice), f"{invoice.invoice_number}.pdf")


@parent_required
def receipt_pdf(request, pk):
    try:
        payment = _payments(request).select_related("student", "payer", "location", "collected_by").get(pk=pk)
    except Payment.DoesNotExist:
        raise Http404("No such receipt.") from None
    return _pdf(documents.receipt_pdf(payment), f"{payment.receipt_number}.pdf")


class StatementPeriodForm(forms.Form):
    """The period of a statement; both ends optional."""

    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self):
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The end of the period cannot be before its start.")
        return data


@parent_required
def statement(request, pk=None):
    """The family statement (every child the parent pays for), or one child's with ``pk``;
    ``?date_from=&date_to=`` limit the period (bad dates are field errors and no
    statement), ``?format=pdf`` answers the PDF, ``?format=csv`` the invoices as CSV."""
    child = None
    if pk is not None:
        try:
            child = paying_children(request).get(pk=pk)
        except Student.DoesNotExist:
            raise Http404("No such child.") from None
    form = StatementPeriodForm(request.GET or None)
    context = {"form": form, "child": child, "statement": None, "statements": [], "family_statement": None}
    if not form.is_bound or form.is_valid():
        period = {
            "date_from": form.cleaned_data["date_from"] if form.is_bound else None,
            "date_to": form.cleaned_data["date_to"] if form.is_bound else None,
        }
        if child is not None:
            result = statement_for_student(student=child, **period)
            statements = [result]
        else:
            result = statement_for_guardian_seen_by(guardian=request.guardian, user=request.user, **period)
            statements = result.statements
            context["family_statement"] = family_statement_data(result)  # the family's entries by date
        name = child.student_number if child else request.guardian.guardian_number
        if request.GET.get("format") == "pdf":
            return _pdf(documents.statement_pdf(result), f"statement-{name}.pdf")
        if request.GET.get("format") == "csv":  # the invoices of the statement
            return streamed_csv(CSV_HEADER, student_statement_csv_rows(result), filename=f"statement-{name}.csv")
        pdf_query = {key: value.isoformat() for key, value in period.items() if value}
        context |= {
            "statement": result,
            "statements": statements,
            "pdf_query": urlencode({**pdf_query, "format": "pdf"}),
            "csv_query": urlencode({**pdf_query, "format": "csv"}),
        }
    return _render(request, "portal/money_statement.html", context)
