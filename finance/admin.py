"""Finance in Django admin. Money records are read-only here: payments, allocations and
the ledger are append-only, and changes go through the finance services (actions)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from simple_history.admin import SimpleHistoryAdmin

from academy.common.admin import ReadOnlyAdmin, ReadOnlyHistoryAdmin
from academy.common.exceptions import Conflict
from finance import models, services
from finance.services.policies import POLICY_FIELDS


@admin.register(models.FeeType)
class FeeTypeAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "is_active")
    search_fields = ("code", "name")


@admin.register(models.FeeStructure)
class FeeStructureAdmin(SimpleHistoryAdmin):
    list_display = (
        "name",
        "location",
        "fee_type",
        "amount",
        "frequency",
        "academic_year",
        "term",
        "grade_level",
        "program",
        "course",
        "is_active",
    )
    list_filter = ("location", "fee_type", "frequency", "is_active", "academic_year")
    search_fields = ("name",)
    list_select_related = ("location", "fee_type", "academic_year", "term", "grade_level", "program", "course")


@admin.register(models.FinancePolicy)
class FinancePolicyAdmin(SimpleHistoryAdmin):
    list_display = (
        "location",
        "hold_threshold",
        "block_transcripts",
        "block_results",
        "block_enrollment",
        "adjustment_approval_threshold",
        "late_fee_amount",
    )
    list_select_related = ("location",)

    def get_readonly_fields(self, request, obj=None):
        return ("location",) if obj is not None else ()  # one policy per location: change it, never move it

    def save_model(self, request, obj, form, change):
        """Through ``finance_policy_save``, as in the staff portal (the form has already
        run the model's rules; the service records who changed what, and why)."""
        data = {name: form.cleaned_data[name] for name in POLICY_FIELDS if name in form.cleaned_data}
        location = obj.location if change else form.cleaned_data["location"]
        saved = services.finance_policy_save(location=location, actor=request.user, data=data)
        obj.pk, obj._state.adding = saved.pk, False


class InvoiceLineInline(admin.TabularInline):
    model = models.InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ("fee_type", "description", "quantity", "unit_amount", "amount")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.Invoice)
class InvoiceAdmin(ReadOnlyHistoryAdmin):
    list_display = (
        "invoice_number",
        "student",
        "billed_to",
        "location",
        "issue_date",
        "due_date",
        "total",
        "amount_paid",
        "status",
    )
    list_filter = ("status", "location", "issue_date")
    search_fields = ("invoice_number", "student__student_number", "student__last_name", "billed_to__last_name")
    list_select_related = ("student", "billed_to", "location")
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline]
    actions = ["cancel_invoices"]
    # Only the notes are edited here, through ``invoice_notes_set`` (history, reason);
    # everything else reads, the dispute and the accounting reference included.
    EDITABLE = ("notes", "internal_notes")
    readonly_fields = (
        "invoice_number",
        "student",
        "billed_to",
        "location",
        "academic_year",
        "term",
        "issue_date",
        "due_date",
        "description",
        "status",
        "total",
        "amount_adjusted",
        "amount_paid",
        "paid_date",
        "billing_period",
        "carried_from",
        "cancelled_at",
        "cancel_reason",
        "created_by",
        "billing_run",
        "disputed_at",
        "dispute_reason",
        "disputed_by",
        "dispute_resolved_at",
        "dispute_resolved_by",
        "dispute_resolution",
        "accounting_ref",
    )
    fields = (*readonly_fields[:18], *EDITABLE, *readonly_fields[18:])

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("finance.change_invoice")  # the notes only, as in the staff portal

    def save_model(self, request, obj, form, change):
        if change:
            services.invoice_notes_set(
                invoice=obj,
                actor=request.user,
                notes=form.cleaned_data.get("notes", ""),
                internal_notes=form.cleaned_data.get("internal_notes", ""),
                reason="Changed in admin",
            )

    def save_related(self, request, form, formsets, change):
        """The lines are read-only: nothing else to save."""

    def has_cancel_permission(self, request):
        return request.user.has_perm("finance.change_invoice")  # as the staff portal and the API

    @admin.action(description="Cancel the selected invoices (reversing entries)", permissions=["cancel"])
    def cancel_invoices(self, request, queryset):
        for invoice in queryset:
            try:
                services.invoice_cancel(invoice=invoice, actor=request.user, reason="Cancelled in admin")
            except (Conflict, ValidationError) as error:
                self.message_user(request, f"{invoice}: {error}", messages.ERROR)


@admin.register(models.Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("receipt_number", "student", "payer", "amount", "method", "received_at", "collected_by")
    list_filter = ("method", "location", "requires_verification")
    search_fields = ("receipt_number", "reference", "external_transaction_id", "student__student_number")
    list_select_related = ("student", "payer", "collected_by")
    date_hierarchy = "received_at"


@admin.register(models.PaymentAccountingRef)
class PaymentAccountingRefAdmin(ReadOnlyHistoryAdmin):
    list_display = ("payment", "ref", "set_by", "set_at")
    search_fields = ("ref", "payment__receipt_number")
    list_select_related = ("payment", "set_by")


@admin.register(models.PaymentAllocation)
class PaymentAllocationAdmin(ReadOnlyAdmin):
    list_display = ("payment", "student", "invoice", "amount", "kind", "created_at")
    list_filter = ("kind",)
    list_select_related = ("payment", "student", "invoice")


@admin.register(models.PaymentVerification, models.PaymentReversal, models.Refund)
class PaymentEventAdmin(ReadOnlyAdmin):
    pass


@admin.register(models.LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("account", "seq", "kind", "amount", "balance_before", "balance_after", "description", "created_at")
    list_filter = ("kind",)
    search_fields = ("description", "account__student__student_number")
    list_select_related = ("account__student",)


@admin.register(models.StudentAccount)
class StudentAccountAdmin(ReadOnlyAdmin):
    list_display = ("student", "balance", "entry_count", "updated_at")
    list_select_related = ("student",)
    search_fields = ("student__student_number", "student__last_name")


@admin.register(models.Adjustment)
class AdjustmentAdmin(ReadOnlyHistoryAdmin):
    list_display = ("invoice", "kind", "amount", "status", "requested_by", "decided_by", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("invoice", "requested_by", "decided_by")
    actions = ["approve", "reject"]

    def _decide(self, request, queryset, service):
        for adjustment in queryset:
            try:
                service(adjustment=adjustment, actor=request.user, note="Decided in admin")
            except (Conflict, ValidationError) as error:
                self.message_user(request, f"{adjustment}: {error}", messages.ERROR)

    def has_decide_permission(self, request):
        return request.user.has_perm("finance.approve_adjustment")  # as the staff portal and the API

    @admin.action(description="Approve the selected adjustments", permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(request, queryset, services.adjustment_approve)

    @admin.action(description="Reject the selected adjustments", permissions=["decide"])
    def reject(self, request, queryset):
        self._decide(request, queryset, services.adjustment_reject)


@admin.register(models.SessionPackage)
class SessionPackageAdmin(ReadOnlyHistoryAdmin):
    """Read-only counts: packages are sold, used and restored through
    ``finance.services.packages`` (the staff portal, the API and attendance); adding
    here is disabled because a sale must issue its invoice. Cancelling is an action."""

    list_display = (
        "student",
        "course",
        "program",
        "sessions_purchased",
        "sessions_used",
        "sessions_remaining",
        "price",
        "status",
        "expires_on",
        "purchased_at",
    )
    list_filter = ("status",)
    search_fields = ("student__student_number", "student__last_name")
    list_select_related = ("student", "course", "program")
    actions = ["cancel_packages"]

    def has_cancel_permission(self, request):
        return request.user.has_perm("finance.change_sessionpackage")  # as the staff portal and the API

    @admin.action(description="Cancel the selected session packages", permissions=["cancel"])
    def cancel_packages(self, request, queryset):
        from finance.services.packages import package_cancel

        for package in queryset:
            try:
                package_cancel(package=package, actor=request.user, reason="Cancelled in admin")
            except (Conflict, ValidationError) as error:
                self.message_user(request, f"{package}: {error}", messages.ERROR)
