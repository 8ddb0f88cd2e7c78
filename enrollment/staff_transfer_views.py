"""Staff portal pages of location transfers: the list (requests waiting for approval
first), a new request, and a transfer's page with its impact and the Approve / Reject /
Apply buttons. Reads go through ``enrollment.transfer_selectors`` with the user (out of
scope is a 404); each write is one ``enrollment.transfers`` call, whose refusal is shown
as a message or a form error with nothing written."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from academy.forms import add_service_errors
from academy.views import query_without, staff_layout_context, staff_permission_required
from enrollment import transfers
from enrollment.staff_transfer_forms import ApplyForm, ApproveForm, RejectForm, TransferRequestForm
from enrollment.transfer_filters import LocationTransferFilterSet
from enrollment.transfer_selectors import transfer_destinations, transfer_list, transfer_move_targets
from families.selectors import students_visible_to
from students.models import LocationTransfer

PAGE_SIZE = 25
APPROVE_PERMISSION = "students.approve_locationtransfer"


def _error_text(error) -> str:
    if isinstance(error, Conflict):
        return str(error.detail)
    if hasattr(error, "error_dict"):
        return " ".join(f"{message}" for messages_ in error.message_dict.values() for message in messages_)
    return " ".join(error.messages)


def _transfer_or_404(request, pk) -> LocationTransfer:
    transfer = transfer_list(user=request.user).filter(pk=pk).first()
    if transfer is None:
        raise Http404("No such transfer.")
    return transfer


@staff_permission_required("students.view_locationtransfer")
def transfer_list_view(request):
    filterset = LocationTransferFilterSet(request.GET, queryset=transfer_list(user=request.user), request=request)
    if filterset.is_valid():
        waiting = Case(
            When(status=LocationTransfer.Status.REQUESTED, then=Value(0)),
            When(status=LocationTransfer.Status.APPROVED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        found = filterset.qs
        if not request.GET.get("ordering"):
            found = found.annotate(waiting=waiting).order_by("waiting", "-requested_at", "pk")
    else:
        found = LocationTransfer.objects.none()
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "statuses": LocationTransfer.Status.choices,
        "chosen_statuses": request.GET.getlist("status"),
        "locations": list(transfer_destinations()),
        "chosen_location": request.GET.get("location", ""),
        "page": Paginator(found, PAGE_SIZE).get_page(request.GET.get("page")),
        "query": query_without(request, "page"),
    }
    return render(request, "staff/transfer_list.html", context)


@staff_permission_required("students.add_locationtransfer")
def transfer_new(request):
    posted = request.method == "POST"
    initial = {}
    student_pk = request.GET.get("student", "")
    if not posted and student_pk:
        try:
            student = students_visible_to(request.user).filter(pk=student_pk).first()
        except ValidationError:  # not a UUID
            student = None
        if student is not None:
            initial["student_number"] = student.student_number
    form = TransferRequestForm(request.POST if posted else None, user=request.user, initial=initial)
    if posted and form.is_valid():
        try:
            transfer = transfers.transfer_request(actor=request.user, **form.service_data())
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, str(conflict.detail))
        else:
            messages.success(request, f"Transfer {transfer.transfer_number} was requested.")
            return redirect("staff:transfer-detail", pk=transfer.pk)
    context = {**staff_layout_context(request), "form": form}
    return render(request, "staff/transfer_new.html", context, status=400 if posted else 200)


def _apply_form(request, transfer, data=None) -> ApplyForm:
    return ApplyForm(
        data,
        enrollments=transfer.impact_details,
        targets=transfer_move_targets(transfer=transfer, user=request.user),
    )


@staff_permission_required("students.view_locationtransfer")
def transfer_detail(request, pk):
    transfer = _transfer_or_404(request, pk)
    may_decide = request.user.has_perm(APPROVE_PERMISSION)
    context = {
        **staff_layout_context(request),
        "transfer": transfer,
        "may_approve": may_decide and transfer.status == LocationTransfer.Status.REQUESTED,
        "is_requester": transfer.requested_by_id == request.user.pk,
        "may_reject": may_decide and transfer.is_open,
        "may_apply": may_decide and transfer.status == LocationTransfer.Status.APPROVED,
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
    }
    if context["may_apply"]:
        context["apply_form"] = _apply_form(request, transfer)
    return render(request, "staff/transfer_detail.html", context)


def _run(request, transfer, call, done: str):
    try:
        call()
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{transfer.transfer_number}: {_error_text(error)}")
    else:
        messages.success(request, f"Transfer {transfer.transfer_number} was {done}.")
    return redirect("staff:transfer-detail", pk=transfer.pk)


@require_POST
@staff_permission_required(APPROVE_PERMISSION)
def transfer_approve(request, pk):
    transfer = _transfer_or_404(request, pk)
    form = ApproveForm(request.POST)
    notes = form.cleaned_data["notes"] if form.is_valid() else ""
    return _run(
        request,
        transfer,
        lambda: transfers.transfer_approve(transfer=transfer, actor=request.user, notes=notes),
        "approved",
    )


@require_POST
@staff_permission_required(APPROVE_PERMISSION)
def transfer_reject(request, pk):
    transfer = _transfer_or_404(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{transfer.transfer_number}: say why the transfer is rejected.")
        return redirect("staff:transfer-detail", pk=transfer.pk)
    return _run(
        request,
        transfer,
        lambda: transfers.transfer_reject(transfer=transfer, actor=request.user, reason=form.cleaned_data["reason"]),
        "rejected",
    )


@require_POST
@staff_permission_required(APPROVE_PERMISSION)
def transfer_apply(request, pk):
    transfer = _transfer_or_404(request, pk)
    form = _apply_form(request, transfer, request.POST)
    if not form.is_valid():
        messages.error(request, f"{transfer.transfer_number}: choose a section of {transfer.to_location.name}.")
        return redirect("staff:transfer-detail", pk=transfer.pk)
    return _run(
        request,
        transfer,
        lambda: transfers.transfer_apply(transfer=transfer, actor=request.user, moves=form.moves()),
        "applied",
    )
