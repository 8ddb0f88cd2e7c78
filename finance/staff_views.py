"""Staff portal pages of the finance app: the dashboard, invoices (issuing, cancelling,
asking for adjustments), payments (recording, receipts, reversal, the verification
queue of cheques and transfers), the adjustment approval queue, refunds of account
credit, billing runs, statements and reports. Every read goes through
``finance.selectors`` / ``finance.reports`` with the user (out of scope is a 404);
every write is one ``finance.services`` call."""

import re
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.forms.utils import ErrorDict
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from academy.common.charts import bar_chart
from academy.common.csv_stream import streamed_csv
from academy.common.exceptions import Conflict
from academy.common.idempotency import request_fingerprint
from academy.forms import add_service_errors
from academy.jobs import job_resume_if_stale
from academy.views import query_without, staff_layout_context, staff_permission_required
from families.selectors import guardians_visible_to, students_visible_to
from finance import documents, journal, reports, selectors, services
from finance import statements as invoice_statements
from finance.filters import AdjustmentFilterSet, InvoiceFilterSet, PaymentFilterSet
from finance.models import Adjustment, Invoice, Payment
from finance.services.ledger import credit_available
from finance.staff_forms import (
    AccountingRefForm,
    AccountingRefImportForm,
    AdjustmentRequestForm,
    BillingRunForm,
    DisputeForm,
    DisputeResolveForm,
    InvoiceForm,
    InvoiceLineFormSet,
    InvoiceNotesForm,
    JournalForm,
    NoteForm,
    PaymentForm,
    PeriodForm,
    ReasonForm,
    RefundForm,
    VerificationForm,
    fee_structure_label,
    fee_structures_offered,
)

PAGE_SIZE = 25
ZERO = Decimal("0.00")


def _money(value) -> str:
    return f"{value:,.2f}"


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _one_or_404(queryset, pk):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404("Not found.")
    return found


def _conflict_text(error) -> str:
    if isinstance(error, Conflict):
        return str(error.detail)
    return " ".join(error.messages)


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- dashboard ------------------------------------------------------------------------


@staff_permission_required("finance.view_invoice")
def dashboard(request):
    context = staff_layout_context(request)
    location = context["current_location"]
    summary = [
        row for row in reports.location_summary(user=request.user) if location is None or row["id"] == location.pk
    ]
    revenue = reports.monthly_revenue(user=request.user, location=location)
    overdue = reports.overdue_invoices(user=request.user, location=location)
    context.update(
        {
            "outstanding": sum((row["outstanding"] for row in summary), ZERO),
            "overdue_total": sum((row["overdue"] for row in summary), ZERO),
            "collected_this_month": revenue[-1]["collected"] if revenue else ZERO,
            "collections": bar_chart([(row["month"], row["collected"]) for row in revenue], value_format=_money),
            "ageing": bar_chart(
                [(bucket["bucket"], bucket["amount"]) for bucket in overdue["buckets"]],
                bar_width=80,
                value_format=_money,
            ),
            "ageing_buckets": overdue["buckets"],
        }
    )
    return render(request, "staff/finance_dashboard.html", context)


# --- invoices -------------------------------------------------------------------------


def _filtered_invoices(request):
    """The invoice list's filters and search: the API's ``InvoiceFilterSet``."""
    filterset = InvoiceFilterSet(request.GET, queryset=selectors.invoice_list(user=request.user), request=request)
    return filterset, filterset.qs if filterset.is_valid() else Invoice.objects.none()


@staff_permission_required("finance.view_invoice")
def invoice_list(request):
    filterset, invoices = _filtered_invoices(request)
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "statuses": Invoice.Status.choices,
        "chosen_statuses": request.GET.getlist("status"),
        "search": request.GET.get("search", ""),
        "page": _page(request, invoices),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_invoice_list.html", context)


def _invoice_or_404(request, pk) -> Invoice:
    return _one_or_404(selectors.invoice_list_with_lines(user=request.user), pk)


def _invoice_page(request, invoice, *, status=200, **forms):
    """The invoice page; ``forms`` are the bound forms of a refused write (shown with
    their errors), the others are empty."""
    context = {
        **staff_layout_context(request),
        "invoice": invoice,
        "invoice_open": invoice.status in Invoice.OPEN_STATUSES,
        "allocations": invoice.allocations.select_related("payment").order_by("created_at", "pk"),
        "adjustments": invoice.adjustments.select_related("requested_by", "decided_by").order_by("created_at"),
        "notes_form": forms.get("notes_form")
        or InvoiceNotesForm(initial={"notes": invoice.notes, "internal_notes": invoice.internal_notes}),
        "dispute_form": forms.get("dispute_form") or DisputeForm(),
        "resolve_form": forms.get("resolve_form") or DisputeResolveForm(),
        "accounting_ref_form": forms.get("accounting_ref_form")
        or AccountingRefForm(initial={"accounting_ref": invoice.accounting_ref}),
    }
    return render(request, "staff/finance_invoice_detail.html", context, status=status)


@staff_permission_required("finance.view_invoice")
def invoice_detail(request, pk):
    return _invoice_page(request, _invoice_or_404(request, pk))


def _invoice_write(request, pk, form_class, form_name: str, write, done: str):
    """POST of a form of the invoice page: one service call; success redirects to the
    page with ``done``, a refused write shows the page with the form's errors (400,
    409 for a state conflict)."""
    invoice = _invoice_or_404(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            write(invoice, form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, str(conflict.detail))
            return _invoice_page(request, invoice, status=409, **{form_name: form})
        else:
            messages.success(request, done.format(number=invoice.invoice_number))
            return redirect("staff:finance-invoice-detail", pk=invoice.pk)
    return _invoice_page(request, invoice, status=400, **{form_name: form})


@require_POST
@staff_permission_required("finance.change_invoice")
def invoice_notes(request, pk):
    def write(invoice, data):
        services.invoice_notes_set(
            invoice=invoice,
            actor=request.user,
            notes=data["notes"],
            internal_notes=data["internal_notes"],
            reason=data["reason"],
        )

    return _invoice_write(request, pk, InvoiceNotesForm, "notes_form", write, "The notes of {number} were saved.")


@require_POST
@staff_permission_required("finance.change_invoice")
def invoice_dispute(request, pk):
    def write(invoice, data):
        services.invoice_dispute(invoice=invoice, reason=data["reason"], actor=request.user)

    return _invoice_write(
        request, pk, DisputeForm, "dispute_form", write, "{number} is disputed: no late fee and no reminder meanwhile."
    )


@require_POST
@staff_permission_required("finance.change_invoice")
def invoice_dispute_resolve(request, pk):
    def write(invoice, data):
        services.invoice_dispute_resolve(invoice=invoice, resolution=data["resolution"], actor=request.user)

    return _invoice_write(
        request, pk, DisputeResolveForm, "resolve_form", write, "The dispute of {number} was resolved."
    )


@require_POST
@staff_permission_required("finance.change_invoice")
def invoice_accounting_ref(request, pk):
    def write(invoice, data):
        services.invoice_accounting_ref_set(invoice=invoice, accounting_ref=data["accounting_ref"], actor=request.user)

    return _invoice_write(
        request, pk, AccountingRefForm, "accounting_ref_form", write, "The accounting reference of {number} was saved."
    )


@staff_permission_required("finance.add_invoice")
def invoice_new(request):
    """Issue one invoice by hand: lines from fee structures or custom lines, all saved
    with their ledger entries, or nothing. The lines offer the fee structures of the
    student's location once the student is known (``?part=structures&student=`` answers
    them as JSON for the page's script); "Add a line" posted without JavaScript shows
    the form again with one more line, judging nothing yet."""
    posted = request.method == "POST"
    if not posted and request.GET.get("part") == "structures":
        return _invoice_structure_options(request)
    adding = posted and "add_line" in request.POST
    data = _with_one_more_line(request.POST) if adding else request.POST if posted else None
    initial = {"student": request.GET["student"]} if not posted and request.GET.get("student") else {}
    form = InvoiceForm(data, user=request.user, initial=initial)
    student = form.chosen_student()
    lines = InvoiceLineFormSet(
        data, prefix="lines", user=request.user, location=student.location_id if student else None
    )
    if adding:
        _errors_unshown(form, lines)
    elif posted and form.is_valid() and lines.is_valid():
        student = form.cleaned_data["student"]
        chosen = lines.chosen()
        if not chosen:
            form.add_error(None, "Add at least one line.")
        else:  # the service refuses another location's fee structure (on that line)
            try:
                invoice = services.invoice_issue(
                    student=student,
                    lines=[line.line_spec() for line in chosen],
                    actor=request.user,
                    issue_date=form.cleaned_data["issue_date"],
                    due_date=form.cleaned_data["due_date"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as error:
                _line_errors(form, chosen, error)
            else:
                messages.success(request, f"Invoice {invoice.invoice_number} issued for {student.full_name}.")
                return redirect("staff:finance-invoice-detail", pk=invoice.pk)
    context = {
        **staff_layout_context(request),
        "form": form,
        "lines": lines,
        "student": student,
        "total": lines.total(),
    }
    return render(request, "staff/finance_invoice_new.html", context, status=400 if posted and not adding else 200)


def _with_one_more_line(data):
    data = data.copy()
    try:
        count = int(data.get("lines-TOTAL_FORMS", "0"))
    except ValueError:
        return data  # the formset reports the broken management form
    data["lines-TOTAL_FORMS"] = str(min(count + 1, InvoiceLineFormSet.max_num))
    return data


def _errors_unshown(form, lines) -> None:
    """Validate what was typed (so the line amounts and total show) but show no error:
    the user only asked for another line."""
    form.is_valid()
    lines.is_valid()
    form._errors = ErrorDict()
    for line in lines.forms:
        line._errors = ErrorDict()
    lines._errors = [line._errors for line in lines.forms]
    lines._non_form_errors = lines.error_class(error_class="nonform", renderer=lines.renderer)


def _invoice_structure_options(request) -> JsonResponse:
    """The fee structures a line may offer for ``?student=`` (every visible one when the
    student is unknown), for static/js/invoice-lines.js."""
    student = InvoiceForm(user=request.user, initial={"student": request.GET.get("student", "")}).chosen_student()
    structures = fee_structures_offered(user=request.user, location=student.location_id if student else None)
    return JsonResponse(
        {
            "location": student.location.name if student else None,
            "structures": [
                {"id": str(s.pk), "label": fee_structure_label(s), "amount": f"{s.amount:.2f}"} for s in structures
            ],
        }
    )


def _line_errors(form, chosen, error: ValidationError) -> None:
    """The service names a line's field ``lines[i].name``: put it on that line."""
    other = {}
    for key, texts in error.message_dict.items():
        match = re.fullmatch(r"lines\[(\d+)\]\.(\w+)", key)
        if match and int(match[1]) < len(chosen) and match[2] in chosen[int(match[1])].fields:
            for text in texts:
                chosen[int(match[1])].add_error(match[2], text)
        else:
            other[key] = texts
    if other:
        add_service_errors(form, ValidationError(other))


@staff_permission_required("finance.view_invoice")
def invoice_pdf(request, pk):
    invoice = _invoice_or_404(request, pk)
    return _pdf(documents.invoice_pdf(invoice), f"{invoice.invoice_number}.pdf")


@staff_permission_required("finance.change_invoice")
def invoice_cancel(request, pk):
    """GET asks for the reason; POST voids the invoice with a reversing entry. The
    service refuses a paid, cancelled or carried-forward invoice and one whose session
    package was used: the refusal shows at the top of the page (409)."""
    invoice = _invoice_or_404(request, pk)
    posted = request.method == "POST"
    form = ReasonForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        try:
            services.invoice_cancel(invoice=invoice, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, str(conflict.detail))
            status = 409
        else:
            messages.success(request, f"Invoice {invoice.invoice_number} was cancelled.")
            return redirect("staff:finance-invoice-detail", pk=invoice.pk)
    context = {**staff_layout_context(request), "invoice": invoice, "form": form}
    return render(request, "staff/finance_invoice_cancel.html", context, status=status)


@staff_permission_required("finance.add_adjustment")
def invoice_adjustment_new(request, pk):
    """Ask for an adjustment on an open invoice; it waits in the approval queue and
    reaches the ledger only once approved."""
    invoice = _invoice_or_404(request, pk)
    posted = request.method == "POST"
    form = AdjustmentRequestForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            adjustment = services.adjustment_request(
                invoice=invoice, kind=data["kind"], amount=data["amount"], reason=data["reason"], actor=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, str(conflict.detail))
            status = 409
        else:
            messages.success(
                request,
                f"{adjustment} requested on {invoice.invoice_number}: it waits for approval in the adjustments queue.",
            )
            return redirect("staff:finance-invoice-detail", pk=invoice.pk)
    context = {**staff_layout_context(request), "invoice": invoice, "form": form}
    return render(request, "staff/finance_invoice_adjustment_new.html", context, status=status)


# --- payments -------------------------------------------------------------------------


@staff_permission_required("finance.view_payment")
def payment_list(request):
    filterset = PaymentFilterSet(request.GET, queryset=selectors.payment_list(user=request.user), request=request)
    payments = filterset.qs if filterset.is_valid() else Payment.objects.none()
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "methods": Payment.Method.choices,
        "page": _page(request, payments.select_related("reversal")),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_payment_list.html", context)


def _visible_or_none(queryset, pk):
    try:
        return queryset.filter(pk=pk).first()
    except (ValidationError, ValueError):
        return None


@staff_permission_required("finance.add_payment")
def payment_new(request):
    posted = request.method == "POST"
    initial = {}
    # an id that is not a UUID, or not one the user may see, preselects nothing (never a 500)
    if not posted and request.GET.get("student"):
        initial["student"] = _visible_or_none(students_visible_to(request.user), request.GET["student"])
    if not posted and request.GET.get("guardian"):
        initial["guardian"] = _visible_or_none(guardians_visible_to(request.user), request.GET["guardian"])
    form = PaymentForm(request.POST if posted else None, user=request.user, initial=initial)
    # choosing another student reloads the allocation section with their open invoices
    form.fields["student"].widget.attrs.update(
        {
            "hx-get": reverse("staff:finance-payment-new"),
            "hx-trigger": "change",
            "hx-target": "#payment-allocation",
            "hx-select": "#payment-allocation",
            "hx-swap": "outerHTML",
        }
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        allocations = form.allocations()
        try:
            result = services.payment_record(
                actor=request.user,
                amount=data["amount"],
                method=data["method"],
                student=data.get("student"),
                payer=data.get("guardian"),
                reference=data["reference"],
                external_transaction_id=data["external_transaction_id"],
                received_at=data["received_at"],
                allocations=allocations,
                notes=data["notes"],
                idempotency_key=data["idempotency_key"],
                fingerprint=request_fingerprint({"user": str(request.user.pk), "body": form.fingerprint_data()}),
                confirm_overpayment=data.get("confirm_overpayment", False),
            )
        except ValidationError as error:
            if _refused_as_overpayment(error):
                form.ask_to_confirm_overpayment()
            _allocation_errors(form, allocations, error)
        except Conflict as conflict:
            field = "external_transaction_id" if conflict.code == "duplicate_transaction" else None
            form.add_error(field, str(conflict.detail))
        else:
            payment = result.payment
            if result.created:
                messages.success(request, f"Payment recorded: receipt {payment.receipt_number}.")
            else:
                messages.info(request, f"This payment was already recorded as receipt {payment.receipt_number}.")
            return redirect("staff:finance-payment-detail", pk=payment.pk)
    context = {**staff_layout_context(request), "form": form}
    return render(request, "staff/finance_payment_new.html", context, status=400 if posted else 200)


def _refused_as_overpayment(error: ValidationError) -> bool:
    """Whether the service asks to confirm an amount above what is owed."""
    refusals = getattr(error, "error_dict", {}).get("amount", [])
    return any(refusal.code == "overpayment_unconfirmed" for refusal in refusals)


def _allocation_errors(form, allocations, error: ValidationError) -> None:
    """The service names an allocation's field ``allocations[i].name``: put it on the
    amount field of that invoice."""
    other = {}
    for key, texts in error.message_dict.items():
        match = re.fullmatch(r"allocations\[(\d+)\]\.\w+", key)
        if match and allocations and int(match[1]) < len(allocations):
            for text in texts:
                form.add_error(form.allocation_name(allocations[int(match[1])][0]), text)
        else:
            other[key] = texts
    if other:
        add_service_errors(form, ValidationError(other))


def _payment_or_404(request, pk) -> Payment:
    return _one_or_404(selectors.payment_list_with_allocations(user=request.user), pk)


def _payment_page(request, payment, reverse_form=None, status=200, accounting_ref_form=None):
    accounting = getattr(payment, "accounting", None)
    context = {
        **staff_layout_context(request),
        "payment": payment,
        "allocations": list(payment.allocations.all()),
        "reversal": getattr(payment, "reversal", None),
        "verification": getattr(payment, "verification", None),
        "reverse_form": reverse_form or ReasonForm(),
        "accounting": accounting,
        "accounting_ref_form": accounting_ref_form
        or AccountingRefForm(initial={"accounting_ref": accounting.ref if accounting else ""}),
    }
    return render(request, "staff/finance_payment_detail.html", context, status=status)


@require_POST
@staff_permission_required("finance.change_invoice")
def payment_accounting_ref(request, pk):
    """Set the payment's id in the bookkeeping (kept beside the append-only payment)."""
    payment = _payment_or_404(request, pk)
    form = AccountingRefForm(request.POST)
    if form.is_valid():
        try:
            services.payment_accounting_ref_set(
                payment=payment, accounting_ref=form.cleaned_data["accounting_ref"], actor=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"The accounting reference of {payment.receipt_number} was saved.")
            return redirect("staff:finance-payment-detail", pk=payment.pk)
    return _payment_page(request, payment, status=400, accounting_ref_form=form)


@staff_permission_required("finance.view_payment")
def payment_detail(request, pk):
    return _payment_page(request, _payment_or_404(request, pk))


@staff_permission_required("finance.view_payment")
def payment_receipt(request, pk):
    payment = _payment_or_404(request, pk)
    return _pdf(documents.receipt_pdf(payment), f"{payment.receipt_number}.pdf")


@require_POST
@staff_permission_required("finance.add_paymentreversal")
def payment_reverse(request, pk):
    payment = _payment_or_404(request, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _payment_page(request, payment, reverse_form=form, status=400)
    try:
        services.payment_reverse(payment=payment, actor=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as error:
        add_service_errors(form, error)
        return _payment_page(request, payment, reverse_form=form, status=400)
    except Conflict as conflict:
        messages.error(request, str(conflict.detail))
    else:
        messages.success(request, f"Payment {payment.receipt_number} was reversed.")
    return redirect("staff:finance-payment-detail", pk=payment.pk)


def _awaiting_verification(request):
    return selectors.payment_list(user=request.user).filter(requires_verification=True, verification__isnull=True)


@staff_permission_required("finance.add_paymentverification")
def payment_verification_queue(request):
    """Cheques and bank transfers waiting to be checked, oldest first: until cleared,
    their money is not on the account."""
    filterset = PaymentFilterSet(request.GET, queryset=_awaiting_verification(request), request=request)
    payments = filterset.qs if filterset.is_valid() else Payment.objects.none()
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "methods": [(value, label) for value, label in Payment.Method.choices if value in Payment.VERIFIED_METHODS],
        "page": _page(request, payments.order_by("received_at", "receipt_number")),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_payment_verification.html", context)


@require_POST
@staff_permission_required("finance.add_paymentverification")
def payment_verify(request, pk):
    """Cleared: the money reaches the account (as allocated when it was recorded, else
    oldest due first); rejected: it never does. Once per payment."""
    payment = _one_or_404(selectors.payment_list(user=request.user), pk)
    form = VerificationForm(request.POST)
    if not form.is_valid():
        problem = "choose whether it cleared or was rejected." if "outcome" in form.errors else "the note is too long."
        messages.error(request, f"{payment.receipt_number}: {problem}")
        return redirect("staff:finance-payment-verification")
    cleared = form.cleaned_data["outcome"] == "cleared"
    try:
        services.payment_verify(payment=payment, actor=request.user, cleared=cleared, note=form.cleaned_data["note"])
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{payment.receipt_number}: {_conflict_text(error)}")
    else:
        outcome = f"cleared: {_money(payment.amount)} reached the account" if cleared else "was rejected"
        messages.success(request, f"{payment.receipt_number} {outcome}.")
    return redirect("staff:finance-payment-verification")


# --- adjustments ----------------------------------------------------------------------


@staff_permission_required("finance.view_adjustment")
def adjustment_queue(request):
    """The API's ``AdjustmentFilterSet`` over the adjustments the user may see; those
    waiting for a decision first unless ``?ordering=`` says otherwise."""
    queryset = selectors.adjustment_list(user=request.user)
    filterset = AdjustmentFilterSet(request.GET, queryset=queryset, request=request)
    adjustments = filterset.qs if filterset.is_valid() else Adjustment.objects.none()
    if not request.GET.get("ordering"):
        waiting = Case(When(status="requested", then=Value(0)), default=Value(1), output_field=IntegerField())
        adjustments = adjustments.annotate(waiting=waiting).order_by("waiting", "-created_at", "pk")
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "page": _page(request, adjustments),
        "status": request.GET.get("status", ""),
        "statuses": Adjustment.Status.choices,
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_adjustment_queue.html", context)


def _decide(request, pk, service, done: str):
    adjustment = _one_or_404(selectors.adjustment_list(user=request.user), pk)
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        service(adjustment=adjustment, actor=request.user, note=note)
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{adjustment.invoice.invoice_number}: {_conflict_text(error)}")
    else:
        messages.success(request, f"{adjustment} on {adjustment.invoice.invoice_number} was {done}.")
    return redirect("staff:finance-adjustments")


@require_POST
@staff_permission_required("finance.approve_adjustment")
def adjustment_approve(request, pk):
    return _decide(request, pk, services.adjustment_approve, "approved")


@require_POST
@staff_permission_required("finance.approve_adjustment")
def adjustment_reject(request, pk):
    return _decide(request, pk, services.adjustment_reject, "rejected")


# --- billing runs ---------------------------------------------------------------------


@staff_permission_required("finance.view_invoice")
def billing_run_list(request):
    context = {
        **staff_layout_context(request),
        "page": _page(request, selectors.billing_run_list(user=request.user)),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_billing_run_list.html", context)


@staff_permission_required("finance.add_invoice")
def billing_run_new(request):
    posted = request.method == "POST"
    form = BillingRunForm(
        request.POST if posted else None, user=request.user, initial={"issue_date": timezone.localdate()}
    )
    if posted and form.is_valid():
        try:
            run = services.billing_run_start(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, str(conflict.detail))
        else:
            messages.success(request, f"The billing run for {run.period} was started.")
            return redirect("staff:finance-billing-run-detail", pk=run.pk)
    context = {**staff_layout_context(request), "form": form}
    return render(request, "staff/finance_billing_run_new.html", context, status=400 if posted else 200)


@staff_permission_required("finance.view_invoice")
def billing_run_detail(request, pk):
    run = _one_or_404(selectors.billing_run_list(user=request.user), pk)
    if run.is_active and run.job is not None and job_resume_if_stale(run.job):  # no broker, no beat: the poll checks
        run.refresh_from_db()
    context = {"run": run, "active": run.is_active}  # queued, running or interrupted (resuming): it polls
    if request.htmx:
        return render(request, "staff/finance_billing_run_progress.html", context)
    return render(request, "staff/finance_billing_run_detail.html", {**staff_layout_context(request), **context})


# --- statements -----------------------------------------------------------------------


def _statement_page(request, statement, *, family: bool, subject, filename: str):
    form = PeriodForm(request.GET)
    if request.GET.get("format") == "pdf" and form.is_valid():
        return _pdf(documents.statement_pdf(statement), filename)
    if request.GET.get("format") == "csv" and form.is_valid():  # the invoices of the statement
        rows = invoice_statements.student_statement_csv_rows(statement)
        return streamed_csv(invoice_statements.CSV_HEADER, rows, filename=filename.replace(".pdf", ".csv"))
    context = {
        **staff_layout_context(request),
        "form": form,
        "family": family,
        "subject": subject,
        "statement": statement,
        "statements": statement.statements if family else [statement],
        # the family's entries by date with its running balance, as the API answers them
        "family_statement": selectors.family_statement_data(statement) if family else None,
        "pdf_query": query_without(request, "format"),
    }
    return render(request, "staff/finance_statement.html", context, status=200 if form.is_valid() else 400)


@staff_permission_required("finance.view_invoice")
def student_statement(request, pk):
    student = _one_or_404(students_visible_to(request.user).select_related("location"), pk)
    period = PeriodForm(request.GET).period()
    statement = selectors.statement_for_student(student=student, **period)
    return _statement_page(
        request, statement, family=False, subject=student, filename=f"statement-{student.student_number}.pdf"
    )


@staff_permission_required("finance.view_invoice")
def guardian_statement(request, pk):
    guardian = _one_or_404(guardians_visible_to(request.user), pk)
    period = PeriodForm(request.GET).period()
    statement = selectors.statement_for_guardian_seen_by(guardian=guardian, user=request.user, **period)
    return _statement_page(
        request, statement, family=True, subject=guardian, filename=f"statement-{guardian.guardian_number}.pdf"
    )


# --- refunds --------------------------------------------------------------------------


@staff_permission_required("finance.add_refund")
def student_refund(request, pk):
    """Pay a student's account credit back to the family; never more than the credit
    (the service refuses with 409 ``insufficient_credit``)."""
    student = _one_or_404(students_visible_to(request.user).select_related("location"), pk)
    posted = request.method == "POST"
    form = RefundForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.refund_record(
                student=student,
                amount=data["amount"],
                method=data["method"],
                reference=data["reference"],
                reason=data["reason"],
                actor=request.user,
                idempotency_key=data["idempotency_key"],  # a double submit refunds once
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            field = "amount" if conflict.code == "insufficient_credit" else None
            form.add_error(field, str(conflict.detail))
            status = 409
        else:
            if result.created:
                refunded = _money(result.refund.amount)
                messages.success(request, f"{refunded} of account credit refunded for {student.full_name}.")
            else:
                messages.info(request, "This refund was already recorded (the form was sent twice).")
            return redirect("staff:finance-student-statement", pk=student.pk)
    context = {
        **staff_layout_context(request),
        "student": student,
        "form": form,
        "available": credit_available(student.pk),
        "refunds": selectors.refund_list(user=request.user).filter(student=student)[:10],
    }
    return render(request, "staff/finance_student_refund.html", context, status=status)


# --- reports: finance.staff_report_views ---------------------------------------------


# --- the journal and accounting references --------------------------------------------


@staff_permission_required("finance.view_studentaccount")
def journal_export(request):
    """The journal of a period as double entry: the form, and with ``?from=&to=`` (and
    optionally ``location``) the streamed CSV (``finance.journal``)."""
    asked = "from" in request.GET or "to" in request.GET
    form = JournalForm(request.GET if asked else None, user=request.user)
    if asked and form.is_valid():
        data = form.cleaned_data
        entries = journal.journal_entries(
            user=request.user, date_from=data["date_from"], date_to=data["date_to"], locations=data["location"]
        )
        filename = f"journal-{data['date_from']:%Y%m%d}-{data['date_to']:%Y%m%d}.csv"
        return streamed_csv(journal.HEADER, journal.journal_lines(entries), filename=filename)
    context = {**staff_layout_context(request), "form": form, "import_form": AccountingRefImportForm()}
    return render(request, "staff/finance_journal.html", context, status=400 if asked else 200)


@require_POST
@staff_permission_required("finance.change_invoice")
def accounting_refs_import(request):
    """Upload a CSV of accounting references (kind, number, accounting_ref): all or
    nothing; the errors of each row are listed and nothing is set."""
    form = AccountingRefImportForm(request.POST, request.FILES)
    row_errors = []
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = services.accounting_refs_import(
                content=upload.read(),
                actor=request.user,
                invoices=selectors.invoice_list(user=request.user),
                payments=selectors.payment_list(user=request.user),
            )
        except ValidationError as error:
            for field, field_messages in error.message_dict.items():
                if field == "file":
                    form.add_error("file", field_messages)
                else:
                    row_errors.append((field, field_messages))
            if not row_errors and not form.errors:
                form.add_error(None, error.messages)
        else:
            messages.success(
                request, f"Accounting references set on {result.invoices} invoice(s) and {result.payments} payment(s)."
            )
            return redirect("staff:finance-journal")
    context = {
        **staff_layout_context(request),
        "form": JournalForm(user=request.user),
        "import_form": form,
        "row_errors": row_errors,
    }
    return render(request, "staff/finance_journal.html", context, status=400)
