"""Staff portal pages of the finance set-up: fee types and fee structures (list, create,
edit, deactivate; nothing that was invoiced is ever deleted, so there is no delete),
each location's finance policy, session packages (list, sell, cancel) and carrying one
invoice's balance forward by hand.

Reads go through ``finance.selectors`` with the user (a record outside their locations
is a 404); every write is one ``finance.services`` call, whose ``ValidationError``
becomes a form error (400) and whose ``Conflict`` a form error with status 409."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from academy.common.idempotency import idempotency_answer, idempotency_claim, request_fingerprint
from academy.forms import add_service_errors
from academy.views import query_without, staff_layout_context, staff_permission_required
from families.selectors import students_visible_to
from finance import selectors, services
from finance.filters import FeeStructureFilterSet, FeeTypeFilterSet, SessionPackageFilterSet
from finance.models import FeeStructure, FeeType, Invoice, SessionPackage
from finance.services.fees import fee_structure_save, fee_type_save
from finance.services.packages import package_cancel, package_sell
from finance.staff_forms import ReasonForm
from finance.staff_setup_forms import (
    ActiveForm,
    CarryForwardForm,
    FeeStructureForm,
    FeeTypeForm,
    FinancePolicyForm,
    PackageSellForm,
)

PAGE_SIZE = 25
SELL_SCOPE = "staff:finance-package-sell"


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _one_or_404(queryset, pk):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404("Not found.")
    return found


def _write(form, write) -> tuple[object, int]:
    """Run ``write`` (one service call) for a valid ``form``: (its answer, 200), or
    (None, 400) with the service's field errors on the form, or (None, 409) with the
    refusal at the top of the form."""
    try:
        return write(form.cleaned_data), 200
    except ValidationError as error:
        add_service_errors(form, error)
        return None, 400
    except Conflict as conflict:
        form.add_error(None, str(conflict.detail))
        return None, 409


def _refusal(form) -> str:
    return " ".join(text for texts in form.errors.values() for text in texts)


# --- fee types --------------------------------------------------------------------------


@staff_permission_required("finance.view_feetype")
def fee_type_list(request):
    filterset = FeeTypeFilterSet(
        request.GET, queryset=selectors.fee_type_list().order_by("code", "pk"), request=request
    )
    fee_types = filterset.qs if filterset.is_valid() else FeeType.objects.none()
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "page": _page(request, fee_types),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_fee_type_list.html", context)


def _fee_type_form(request, fee_type: FeeType | None):
    posted = request.method == "POST"
    initial = {"code": fee_type.code, "name": fee_type.name, "is_active": fee_type.is_active} if fee_type else {}
    form = FeeTypeForm(request.POST if posted else None, initial=initial)
    status = 400 if posted else 200
    if posted and form.is_valid():
        saved, status = _write(form, lambda data: fee_type_save(actor=request.user, data=data, fee_type=fee_type))
        if saved is not None:
            messages.success(request, f"Fee type {saved.code} saved.")
            return redirect("staff:finance-fee-type-list")
    context = {**staff_layout_context(request), "form": form, "fee_type": fee_type}
    return render(request, "staff/finance_fee_type_form.html", context, status=status)


@staff_permission_required("finance.add_feetype")
def fee_type_new(request):
    return _fee_type_form(request, None)


@staff_permission_required("finance.change_feetype")
def fee_type_edit(request, pk):
    return _fee_type_form(request, _one_or_404(selectors.fee_type_list(), pk))


@require_POST
@staff_permission_required("finance.change_feetype")
def fee_type_active(request, pk):
    """Deactivate a fee type (it is no longer offered; what was charged with it stays)
    or make it active again."""
    fee_type = _one_or_404(selectors.fee_type_list(), pk)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{fee_type.code}: say whether it is active.")
    else:
        saved, _status = _write(
            form, lambda data: fee_type_save(actor=request.user, data={"is_active": data["active"]}, fee_type=fee_type)
        )
        if saved is None:
            messages.error(request, f"{fee_type.code} was not changed: {_refusal(form)}")
        else:
            messages.success(request, f"Fee type {saved.code} is {'active' if saved.is_active else 'inactive'}.")
    return redirect("staff:finance-fee-type-list")


# --- fee structures ---------------------------------------------------------------------


@staff_permission_required("finance.view_feestructure")
def fee_structure_list(request):
    """The fee structures of the user's locations; ``?location=`` and ``?is_active=``
    (and the API's other filters) narrow them."""
    queryset = selectors.fee_structure_list(user=request.user).order_by(
        "location__name", "fee_type__code", "name", "pk"
    )
    filterset = FeeStructureFilterSet(request.GET, queryset=queryset, request=request)
    structures = filterset.qs if filterset.is_valid() else FeeStructure.objects.none()
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "page": _page(request, structures),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_fee_structure_list.html", context)


def _fee_structure_form(request, structure: FeeStructure | None):
    posted = request.method == "POST"
    form = FeeStructureForm(request.POST if posted else None, user=request.user, structure=structure)
    status = 400 if posted else 200
    if posted and form.is_valid():
        saved, status = _write(
            form, lambda data: fee_structure_save(actor=request.user, data=data, structure=structure)
        )
        if saved is not None:
            messages.success(request, f"Fee structure “{saved.name}” saved for {saved.location.name}.")
            return redirect("staff:finance-fee-structure-list")
    context = {**staff_layout_context(request), "form": form, "structure": structure}
    return render(request, "staff/finance_fee_structure_form.html", context, status=status)


@staff_permission_required("finance.add_feestructure")
def fee_structure_new(request):
    return _fee_structure_form(request, None)


@staff_permission_required("finance.change_feestructure")
def fee_structure_edit(request, pk):
    return _fee_structure_form(request, _one_or_404(selectors.fee_structure_list(user=request.user), pk))


@require_POST
@staff_permission_required("finance.change_feestructure")
def fee_structure_active(request, pk):
    """Deactivate a fee structure (billing runs no longer charge it; its invoices stay)
    or make it active again (refused while another active one has its scope and fee type)."""
    structure = _one_or_404(selectors.fee_structure_list(user=request.user), pk)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"“{structure.name}”: say whether it is active.")
    else:
        saved, _status = _write(
            form,
            lambda data: fee_structure_save(
                actor=request.user, data={"is_active": data["active"]}, structure=structure
            ),
        )
        if saved is None:
            messages.error(request, f"“{structure.name}” was not changed: {_refusal(form)}")
        else:
            messages.success(request, f"“{saved.name}” is {'active' if saved.is_active else 'inactive'}.")
    return redirect("staff:finance-fee-structure-list")


# --- finance policies -------------------------------------------------------------------


def _policy_of(location):
    return getattr(location, "finance_policy", None)  # none yet: the defaults apply


@staff_permission_required("finance.view_financepolicy")
def policy_list(request):
    """Each location's finance policy, side by side (one query for every location)."""
    locations = selectors.finance_policy_locations(user=request.user)
    context = {
        **staff_layout_context(request),
        "rows": [(location, _policy_of(location)) for location in locations],
        "defaults": FinancePolicyForm.initial_for(None),
    }
    return render(request, "staff/finance_policy_list.html", context)


@staff_permission_required("finance.change_financepolicy")
def policy_edit(request, location_pk):
    location = _one_or_404(selectors.finance_policy_locations(user=request.user), location_pk)
    policy = _policy_of(location)
    posted = request.method == "POST"
    form = FinancePolicyForm(request.POST if posted else None, initial=FinancePolicyForm.initial_for(policy))
    status = 400 if posted else 200
    if posted and form.is_valid():
        saved, status = _write(
            form,
            lambda data: services.finance_policy_save(location=location, actor=request.user, data=data),
        )
        if saved is not None:
            messages.success(request, f"The finance policy of {location.name} was saved.")
            return redirect("staff:finance-policy-list")
    context = {**staff_layout_context(request), "form": form, "location": location, "policy": policy}
    return render(request, "staff/finance_policy_form.html", context, status=status)


# --- session packages -------------------------------------------------------------------


@staff_permission_required("finance.view_sessionpackage")
def package_list(request):
    """Session packages of the students the user may see (of the location chosen in
    the header), newest first; ``?student=`` and ``?status=`` narrow them."""
    layout = staff_layout_context(request)
    queryset = selectors.session_package_staff_list(user=request.user, location=layout["current_location"])
    filterset = SessionPackageFilterSet(request.GET, queryset=queryset.order_by("-purchased_at", "pk"), request=request)
    packages = filterset.qs if filterset.is_valid() else SessionPackage.objects.none()
    context = {
        **layout,
        "filter": filterset,
        "student": filterset.form.cleaned_data.get("student") if filterset.is_valid() else None,
        "statuses": SessionPackage.Status.choices,
        "page": _page(request, packages),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/finance_package_list.html", context)


def _visible_or_none(queryset, pk):
    try:
        return queryset.filter(pk=pk).first()
    except (ValidationError, ValueError):
        return None


def _sell_once(request, form) -> SessionPackage:
    """``package_sell`` under the form's idempotency key: the same form posted twice sells
    one package (the second post finds the first sale), another sale with the key is a 409."""
    data = form.cleaned_data
    fingerprint = request_fingerprint({"user": str(request.user.pk), "body": form.fingerprint_data()})
    with transaction.atomic():
        earlier = idempotency_claim(
            user=request.user, scope=SELL_SCOPE, key=data["idempotency_key"], fingerprint=fingerprint
        )
        if earlier is not None:
            return SessionPackage.objects.get(pk=earlier.body["id"])
        package = package_sell(
            student=data["student"],
            sessions=data["sessions"],
            price=data["price"],
            actor=request.user,
            course=data["course"],
            program=data["program"],
            expires_on=data["expires_on"],
            fee_type=data["fee_type"],
        )
        idempotency_answer(
            user=request.user, scope=SELL_SCOPE, key=data["idempotency_key"], status_code=201, body={"id": package.pk}
        )
    return package


@staff_permission_required("finance.add_sessionpackage")
def package_new(request):
    """Sell a package: one invoice with one line is issued for it at once."""
    posted = request.method == "POST"
    initial = {}
    if not posted and request.GET.get("student"):  # an id that is not one the user may see preselects nothing
        initial["student"] = _visible_or_none(students_visible_to(request.user), request.GET["student"])
    form = PackageSellForm(request.POST if posted else None, user=request.user, initial=initial)
    status = 400 if posted else 200
    if posted and form.is_valid():
        package, status = _write(form, lambda data: _sell_once(request, form))
        if package is not None:
            invoice = package.invoice_line.invoice
            messages.success(
                request,
                f"{package.sessions_purchased} sessions sold to {package.student.full_name}: "
                f"invoice {invoice.invoice_number}.",
            )
            return redirect(f"{reverse('staff:finance-package-list')}?student={package.student_id}")
    context = {**staff_layout_context(request), "form": form}
    return render(request, "staff/finance_package_new.html", context, status=status)


@staff_permission_required("finance.change_sessionpackage")
def package_cancel_view(request, pk):
    """GET asks why; POST cancels the package for good (an unused package's open
    invoice is cancelled with it). Already cancelled: 409 with the reason shown."""
    package = _one_or_404(selectors.session_package_staff_list(user=request.user), pk)
    posted = request.method == "POST"
    form = ReasonForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        cancelled, status = _write(
            form, lambda data: package_cancel(package=package, actor=request.user, reason=data["reason"])
        )
        if cancelled is not None:
            messages.success(request, f"The package of {package.student.full_name} was cancelled.")
            return redirect(f"{reverse('staff:finance-package-list')}?student={package.student_id}")
    context = {**staff_layout_context(request), "package": package, "form": form}
    return render(request, "staff/finance_package_cancel.html", context, status=status)


# --- carrying an invoice's balance forward ------------------------------------------------


@staff_permission_required("finance.change_invoice")
def invoice_carry_forward(request, pk):
    """GET asks why; POST moves the open invoice's unpaid balance into a new invoice
    (``invoice_carry_forward``), the reason kept on the ledger and in the history. A
    paid, cancelled or already carried invoice is refused with 409 and the reason."""
    invoice = _one_or_404(selectors.invoice_list(user=request.user), pk)
    posted = request.method == "POST"
    form = CarryForwardForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        new, status = _write(
            form,
            lambda data: services.invoice_carry_forward(
                invoice=invoice, actor=request.user, reason=data["reason"], due_date=data["due_date"]
            ),
        )
        if new is not None:
            messages.success(
                request,
                f"The balance of {invoice.invoice_number} ({new.total:,.2f}) was carried forward "
                f"to {new.invoice_number}.",
            )
            return redirect("staff:finance-invoice-detail", pk=new.pk)
    context = {
        **staff_layout_context(request),
        "invoice": invoice,
        "invoice_open": invoice.status in Invoice.OPEN_STATUSES,
        "form": form,
    }
    return render(request, "staff/finance_invoice_carry_forward.html", context, status=status)
