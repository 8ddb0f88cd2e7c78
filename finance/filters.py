"""FilterSets of the finance lists, shared by the staff lists and the API.

A ``student``, ``guardian``, ``invoice`` or ``location`` parameter must name a record
the caller may see (the selectors); anything else is a 400 on that parameter.
"""

import django_filters
from django.db.models import Exists, OuterRef, Q

from academy.filters import SearchMixin, StableOrderingFilter, visible_locations
from academy.selectors import academic_year_list, course_list, grade_level_list, program_list, term_list
from families.selectors import guardians_visible_to, students_visible_to
from finance.models import (
    Adjustment,
    BillingRun,
    FeeStructure,
    FeeType,
    Invoice,
    Payment,
    PaymentAllocation,
    Refund,
    SessionPackage,
)
from finance.selectors import billing_run_list, invoice_list, payments_for_students


def _user(request):
    return getattr(request, "user", None)


def _visible_students(request):
    return students_visible_to(_user(request))


def _visible_guardians(request):
    return guardians_visible_to(_user(request))


class FeeTypeFilterSet(django_filters.FilterSet):
    ordering = StableOrderingFilter(fields=("code", "name"))

    class Meta:
        model = FeeType
        fields = ["is_active", "code"]


class FeeStructureFilterSet(django_filters.FilterSet):
    location = django_filters.ModelChoiceFilter(queryset=visible_locations)
    fee_type = django_filters.ModelChoiceFilter(queryset=lambda request: FeeType.objects.all())
    academic_year = django_filters.ModelChoiceFilter(queryset=lambda request: academic_year_list())
    term = django_filters.ModelChoiceFilter(queryset=lambda request: term_list())
    grade_level = django_filters.ModelChoiceFilter(queryset=lambda request: grade_level_list())
    ordering = StableOrderingFilter(fields=("name", "amount", "created_at"))

    class Meta:
        model = FeeStructure
        fields = ["location", "fee_type", "academic_year", "term", "grade_level", "frequency", "is_active"]


SEARCH_MAX = 100


class InvoiceFilterSet(SearchMixin, django_filters.FilterSet):
    search_fields = ("invoice_number", "student__student_number", "student__first_name", "student__last_name")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX,
        help_text="Words in the invoice number or the student's number, first or last name (every word must match).",
    )
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    billed_to = django_filters.ModelChoiceFilter(queryset=_visible_guardians)
    location = django_filters.ModelChoiceFilter(queryset=visible_locations)
    status = django_filters.MultipleChoiceFilter(choices=Invoice.Status.choices, distinct=False)
    due_date = django_filters.DateFromToRangeFilter(
        help_text="``due_date_after`` / ``due_date_before`` (YYYY-MM-DD, inclusive)."
    )
    issue_date = django_filters.DateFromToRangeFilter(
        help_text="``issue_date_after`` / ``issue_date_before`` (YYYY-MM-DD, inclusive)."
    )
    invoice_number = django_filters.CharFilter(lookup_expr="icontains", max_length=20)
    billing_run = django_filters.ModelChoiceFilter(
        queryset=lambda request: billing_run_list(user=_user(request)),
        method="filter_billing_run",
        help_text="The invoices the billing run issued.",
    )
    ordering = StableOrderingFilter(fields=("invoice_number", "issue_date", "due_date", "total", "status"))

    class Meta:
        model = Invoice
        fields = ["student", "billed_to", "location", "status", "billing_period"]

    def filter_billing_run(self, queryset, name, run):
        # a run's invoices share its location and issue date: read through that index
        return queryset.filter(billing_run=run, location=run.location_id, issue_date=run.issue_date)


class PaymentFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX,
        help_text="Words in the receipt number, the reference, the paying guardian's name or the student's "
        "number, first or last name; a family payment matches the children it paid for (every word must match).",
    )
    student = django_filters.ModelChoiceFilter(
        queryset=_visible_students, method="filter_student", help_text="Payments for the student, family ones too."
    )
    guardian = django_filters.ModelChoiceFilter(
        queryset=_visible_guardians, field_name="payer", help_text="Payments made by the guardian."
    )
    location = django_filters.ModelChoiceFilter(queryset=visible_locations)
    method = django_filters.ChoiceFilter(choices=Payment.Method.choices)
    received = django_filters.DateFromToRangeFilter(
        field_name="received_at__date", help_text="``received_after`` / ``received_before`` (YYYY-MM-DD)."
    )
    receipt_number = django_filters.CharFilter(lookup_expr="icontains", max_length=20)
    ordering = StableOrderingFilter(fields=("receipt_number", "received_at", "amount"))

    class Meta:
        model = Payment
        fields = ["student", "guardian", "location", "method", "requires_verification"]

    def filter_student(self, queryset, name, student):
        return queryset.filter(Q(student=student) | payments_for_students([student]))

    def filter_search(self, queryset, name, value: str):
        for word in value.split()[:8]:
            student_named = (
                Q(student__student_number__icontains=word)
                | Q(student__first_name__icontains=word)
                | Q(student__last_name__icontains=word)
            )
            allocated_to_named = PaymentAllocation.objects.filter(payment=OuterRef("pk")).filter(student_named)
            queryset = queryset.filter(
                Q(receipt_number__icontains=word)
                | Q(reference__icontains=word)
                | Q(payer__first_name__icontains=word)
                | Q(payer__last_name__icontains=word)
                | student_named
                | Exists(allocated_to_named)
            )
        return queryset


class AdjustmentFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    invoice = django_filters.ModelChoiceFilter(queryset=lambda request: invoice_list(user=_user(request)))
    status = django_filters.ChoiceFilter(choices=Adjustment.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Adjustment.Kind.choices)
    ordering = StableOrderingFilter(fields=("created_at", "amount", "status"))

    class Meta:
        model = Adjustment
        fields = ["student", "invoice", "status", "kind"]


class SessionPackageFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    status = django_filters.ChoiceFilter(choices=SessionPackage.Status.choices)
    course = django_filters.ModelChoiceFilter(queryset=lambda request: course_list())
    program = django_filters.ModelChoiceFilter(queryset=lambda request: program_list())
    expires_on = django_filters.DateFromToRangeFilter(
        help_text="``expires_on_after`` / ``expires_on_before`` (YYYY-MM-DD, inclusive)."
    )
    ordering = StableOrderingFilter(fields=("purchased_at", "expires_on", "sessions_remaining"))

    class Meta:
        model = SessionPackage
        fields = ["student", "status", "course", "program"]


class BillingRunFilterSet(django_filters.FilterSet):
    location = django_filters.ModelChoiceFilter(queryset=visible_locations)
    status = django_filters.ChoiceFilter(choices=BillingRun.Status.choices)
    ordering = StableOrderingFilter(fields=("created_at", "period", "issue_date"))

    class Meta:
        model = BillingRun
        fields = ["location", "status", "period"]


class RefundFilterSet(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(queryset=_visible_students)
    method = django_filters.ChoiceFilter(choices=Payment.Method.choices)
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at__date", help_text="``created_after`` / ``created_before`` (YYYY-MM-DD)."
    )
    ordering = StableOrderingFilter(fields=("created_at", "amount"))

    class Meta:
        model = Refund
        fields = ["student", "method"]
