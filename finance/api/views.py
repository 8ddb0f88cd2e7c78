"""API views of the finance app (docs/api.md): fee types and structures, invoices, append-only
payments and refunds, adjustments, billing runs, statements and reports.

Every queryset comes from ``finance.selectors`` with the caller, so a parent sees only
their own children's money (read-only) and location-limited staff only their locations;
out of scope is a 404. Every write validates an input serializer and calls one
``finance.services`` function; the exception handler turns a service's
``ValidationError`` into a 400 and a ``Conflict`` into a 409 ``{detail, code}``.

Files: ``?format=pdf`` (statements) and ``?format=csv`` (reports) answer the file
itself; ``invoices/{id}/pdf/`` and ``payments/{id}/receipt/`` are always PDFs. Errors
are JSON whatever the format asked for.
"""

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins
from rest_framework import serializers as drf
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from academy.api import IDEMPOTENCY_HEADER, AcademyAutoSchema, ApiViewSet, ContentNegotiation, flatten_errors
from academy.common.csv_stream import streamed_csv
from academy.common.idempotency import KEY_MAX, idempotent, request_fingerprint
from academy.models import Location
from families.selectors import guardians_visible_to, students_money_visible_to
from finance import documents, journal, reports, selectors, services, statements
from finance.api import serializers as api
from finance.filters import (
    AdjustmentFilterSet,
    BillingRunFilterSet,
    FeeStructureFilterSet,
    FeeTypeFilterSet,
    InvoiceFilterSet,
    PaymentFilterSet,
    RefundFilterSet,
    SessionPackageFilterSet,
)
from finance.models import Invoice, Payment, PaymentReversal, PaymentVerification, Refund, StudentAccount
from finance.services.fees import fee_structure_save, fee_type_save
from finance.services.packages import package_cancel, package_sell

PDF = "application/pdf"
CSV = "text/csv"


class FileFormatNegotiation(ContentNegotiation):
    """``?format=pdf`` / ``?format=csv`` name a file the view builds itself (the view's
    ``file_formats``); the negotiated renderer (for errors and JSON answers) stays JSON.
    Any other format is a 400 on ``format``."""

    default_file_formats = ("pdf", "csv")


def file_response(content: bytes, *, filename: str, content_type: str = PDF) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _is_staff(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_academy_staff)


def query_input(request, serializer_class, context=None) -> dict:
    """The query string checked by an input serializer; 400 with field errors."""
    serializer = serializer_class(data=request.query_params, context=context or {"request": request})
    if not serializer.is_valid():
        raise ValidationError(flatten_errors(serializer.errors))
    return dict(serializer.validated_data)


PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (inclusive)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (inclusive)."),
]


def format_parameter(*formats: str) -> OpenApiParameter:
    return OpenApiParameter("format", str, enum=["json", *formats], description="`json` (default) or a file.")


# --- fee types and structures ---------------------------------------------------------


class FeeTypeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """What a charge is for: TUITION, ENROLLMENT, EXAM, TRANSPORT, ..."""

    serializer_class = api.FeeTypeSerializer
    create_serializer_class = api.FeeTypeInputSerializer
    filterset_class = FeeTypeFilterSet

    def get_queryset(self):
        return selectors.fee_type_list()

    def create(self, request, *args, **kwargs):
        fee_type = fee_type_save(actor=request.user, data=self.validated_input())
        return self.respond(fee_type, status=201)

    def partial_update(self, request, *args, **kwargs):
        fee_type = fee_type_save(actor=request.user, data=self.validated_input(), fee_type=self.get_object())
        return self.respond(fee_type)


class FeeStructureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """What is charged, to whom and when; at most one active structure per scope and fee
    type (a second one is a 400 on ``fee_type``)."""

    serializer_class = api.FeeStructureSerializer
    create_serializer_class = api.FeeStructureInputSerializer
    filterset_class = FeeStructureFilterSet

    def get_queryset(self):
        return selectors.fee_structure_list(user=self.request.user)

    def create(self, request, *args, **kwargs):
        structure = fee_structure_save(actor=request.user, data=self.validated_input())
        return self.respond(structure, status=201)

    def partial_update(self, request, *args, **kwargs):
        structure = self.get_object()
        structure = fee_structure_save(actor=request.user, data=self.validated_input(), structure=structure)
        return self.respond(structure)


# --- invoices -------------------------------------------------------------------------


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Invoices of the students the caller may see; a parent sees their children's.
    POST issues an invoice (numbered, posted to the ledger, account credit applied);
    ``cancel`` voids an open one with a reversing entry (409 ``invoice_not_open``)."""

    serializer_class = api.InvoiceSerializer
    create_serializer_class = api.InvoiceCreateSerializer
    filterset_class = InvoiceFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.invoice_list_with_lines(user=self.request.user).select_related(
            "disputed_by", "dispute_resolved_by"
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["staff_view"] = _is_staff(self.request)
        return context

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    @idempotent
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        lines = [
            services.LineSpec(
                description=line.get("description", ""),
                unit_amount=line.get("unit_amount"),
                quantity=line.get("quantity", 1),
                fee_type=line.get("fee_type"),
                fee_structure=line.get("fee_structure"),
            )
            for line in data.pop("lines")
        ]
        invoice = services.invoice_issue(student=data.pop("student"), lines=lines, actor=request.user, **data)
        return self.respond(invoice, status=201)

    @extend_schema(request=api.ReasonSerializer, responses=api.InvoiceSerializer)
    @action(detail=True, methods=["post"], required_permission="finance.change_invoice", filterset_class=None)
    def cancel(self, request, pk=None):
        """Void an open invoice: a reversing ledger entry, never a delete. Money paid on it
        becomes account credit. 409 ``invoice_not_open`` when it is paid, cancelled or
        carried forward."""
        invoice = self.get_object()
        data = self.validated_input(api.ReasonSerializer, partial=False)
        invoice = services.invoice_cancel(invoice=invoice, actor=request.user, reason=data["reason"])
        return self.respond(invoice)

    @extend_schema(request=api.InvoiceNotesSerializer, responses=api.InvoiceSerializer)
    @action(detail=True, methods=["post"], required_permission="finance.change_invoice", filterset_class=None)
    def notes(self, request, pk=None):
        """Change the invoice's ``notes`` (the family reads them) and/or ``internal_notes``
        (staff only); an omitted one stays; ``reason`` goes to the history."""
        invoice = self.get_object()
        data = self.validated_input(api.InvoiceNotesSerializer, partial=False)
        services.invoice_notes_set(
            invoice=invoice,
            actor=request.user,
            notes=data.get("notes"),
            internal_notes=data.get("internal_notes"),
            reason=data.get("reason", ""),
        )
        return self.respond(invoice)

    @extend_schema(request=api.ReasonSerializer, responses=api.InvoiceSerializer)
    @action(detail=True, methods=["post"], required_permission="finance.change_invoice", filterset_class=None)
    def dispute(self, request, pk=None):
        """Mark an open invoice disputed (``reason`` required): no late fee and no reminder
        until resolved. 409 ``already_disputed`` or ``invoice_not_open``."""
        invoice = self.get_object()
        data = self.validated_input(api.ReasonSerializer, partial=False)
        services.invoice_dispute(invoice=invoice, reason=data["reason"], actor=request.user)
        return self.respond(invoice)

    @extend_schema(request=api.ResolutionSerializer, responses=api.InvoiceSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="resolve-dispute",
        required_permission="finance.change_invoice",
        filterset_class=None,
    )
    def resolve_dispute(self, request, pk=None):
        """Close the invoice's open dispute (``resolution`` required). 409 ``not_disputed``."""
        invoice = self.get_object()
        data = self.validated_input(api.ResolutionSerializer, partial=False)
        services.invoice_dispute_resolve(invoice=invoice, resolution=data["resolution"], actor=request.user)
        return self.respond(invoice)

    @extend_schema(request=api.AccountingRefSerializer, responses=api.InvoiceSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="accounting-ref",
        required_permission="finance.change_invoice",
        filterset_class=None,
    )
    def accounting_ref(self, request, pk=None):
        """Set (blank: clear) the invoice's id in the bookkeeping; another invoice's is a
        400 on ``accounting_ref``."""
        invoice = self.get_object()
        data = self.validated_input(api.AccountingRefSerializer, partial=False)
        services.invoice_accounting_ref_set(invoice=invoice, accounting_ref=data["accounting_ref"], actor=request.user)
        return self.respond(invoice)

    @extend_schema(responses={(200, PDF): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], filterset_class=None, content_negotiation_class=FileFormatNegotiation)
    def pdf(self, request, pk=None):
        """The invoice as a PDF."""
        invoice = self.get_object()
        return file_response(documents.invoice_pdf(invoice), filename=f"{invoice.invoice_number}.pdf")


# --- payments -------------------------------------------------------------------------


class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Money received: append-only (PUT, PATCH and DELETE are 405). POST records a
    payment for a student or a family and allocates it (oldest due first unless
    ``allocations`` says otherwise); the rest becomes account credit.

    ``Idempotency-Key`` header: the same key with the same body (from the same user)
    answers the original payment (201, header ``Idempotent-Replayed: true``) and records
    nothing; the same key with another body is 409 ``idempotency_key_reused``."""

    serializer_class = api.PaymentSerializer
    create_serializer_class = api.PaymentCreateSerializer
    filterset_class = PaymentFilterSet
    # named, so the role check needs not build the scoped queryset to learn its model
    permission_model = Payment
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.payment_list_with_allocations(user=self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["staff_view"] = _is_staff(self.request)
        return context

    @extend_schema(request=api.AccountingRefSerializer, responses=api.PaymentSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="accounting-ref",
        permission_model=Invoice,
        required_permission="finance.change_invoice",
        filterset_class=None,
    )
    def accounting_ref(self, request, pk=None):
        """Set (blank: clear) the payment's id in the bookkeeping, kept beside the
        append-only payment; another payment's is a 400 on ``accounting_ref``."""
        payment = self.get_object()
        data = self.validated_input(api.AccountingRefSerializer, partial=False)
        services.payment_accounting_ref_set(payment=payment, accounting_ref=data["accounting_ref"], actor=request.user)
        return self.respond(payment)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A client-chosen key (at most 100 characters): a retry never records twice.",
            )
        ]
    )
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        key = request.headers.get("Idempotency-Key", "").strip() or None
        if key is not None and len(key) > KEY_MAX:
            raise ValidationError({"Idempotency-Key": [f"Use at most {KEY_MAX} characters."]})
        # the confirmation is not part of what was paid: a retry with or without it replays
        body = {name: value for name, value in request.data.items() if name != "confirm_overpayment"}
        fingerprint = request_fingerprint({"user": str(request.user.pk), "body": body}) if key else ""
        result = services.payment_record(
            actor=request.user,
            amount=data["amount"],
            method=data["method"],
            student=data.get("student"),
            payer=data.get("guardian"),
            reference=data.get("reference", ""),
            external_transaction_id=data.get("external_transaction_id"),
            received_at=data.get("received_at"),
            allocations=(
                [(item["invoice"], item["amount"]) for item in data["allocations"]] if "allocations" in data else None
            ),
            notes=data.get("notes", ""),
            idempotency_key=key,
            fingerprint=fingerprint,
            confirm_overpayment=data["confirm_overpayment"],
        )
        if not result.created:
            response = self.respond(result.payment, status=201)
            response["Idempotent-Replayed"] = "true"
            return response
        # Just recorded for a student or payer the input serializer found in the caller's
        # scope: shown as it is in memory (its allocations as written, no verification or
        # reversal yet) instead of read back with two more queries.
        payment = result.payment
        payment._prefetched_objects_cache = {"allocations": result.allocations}
        payment._state.fields_cache.update({"verification": None, "reversal": None, "accounting": None})
        return Response(self.get_serializer(payment).data, status=201)

    @extend_schema(responses={(200, PDF): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], filterset_class=None, content_negotiation_class=FileFormatNegotiation)
    def receipt(self, request, pk=None):
        """The payment's receipt as a PDF."""
        payment = self.get_object()
        return file_response(documents.receipt_pdf(payment), filename=f"{payment.receipt_number}.pdf")

    @extend_schema(request=api.ReasonSerializer, responses=api.PaymentSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_model=PaymentReversal,
        required_permission="finance.add_paymentreversal",
        filterset_class=None,
    )
    def reverse(self, request, pk=None):
        """Undo the whole payment (a bounced cheque, a mistake) with a reversing entry; the
        payment itself stays. 409 ``already_reversed`` or ``payment_not_cleared``."""
        payment = self.get_object()
        data = self.validated_input(api.ReasonSerializer, partial=False)
        services.payment_reverse(payment=payment, actor=request.user, reason=data["reason"])
        return self.respond(payment)

    @extend_schema(request=api.PaymentVerifySerializer, responses=api.PaymentSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_model=PaymentVerification,
        required_permission="finance.add_paymentverification",
        filterset_class=None,
    )
    def verify(self, request, pk=None):
        """Record that a cheque or bank transfer cleared (its money reaches the account) or
        was rejected. 409 ``verification_not_required`` or ``already_verified``."""
        payment = self.get_object()
        data = self.validated_input(api.PaymentVerifySerializer, partial=False)
        services.payment_verify(payment=payment, actor=request.user, cleared=data["cleared"], note=data.get("note", ""))
        return self.respond(payment)


# --- refunds --------------------------------------------------------------------------


class RefundViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Account credit paid back to a family: append-only (PUT, PATCH and DELETE are 405).
    Finance staff list and record them; a parent reads their own children's. POST is
    refused with 409 ``insufficient_credit`` beyond the student's account credit.

    ``Idempotency-Key``: a retry answers the first refund and refunds nothing more."""

    serializer_class = api.RefundSerializer
    create_serializer_class = api.RefundCreateSerializer
    filterset_class = RefundFilterSet
    permission_model = Refund
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.refund_list(user=self.request.user)

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    @idempotent
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        result = services.refund_record(
            student=data["student"],
            amount=data["amount"],
            method=data["method"],
            reference=data.get("reference", ""),
            reason=data["reason"],
            actor=request.user,
        )  # the Idempotency-Key header is the decorator's: it stores and replays the answer
        return self.respond(result.refund, status=201)


# --- adjustments ----------------------------------------------------------------------


class AdjustmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Discounts, concessions, scholarships, waivers (credits), extra charges and late
    fees (debits) on open invoices. Only approved ones reach the ledger; above the
    location's threshold the approver must differ from the requester (409
    ``approver_must_differ``)."""

    serializer_class = api.AdjustmentSerializer
    create_serializer_class = api.AdjustmentCreateSerializer
    filterset_class = AdjustmentFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.adjustment_list(user=self.request.user)

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    @idempotent
    def create(self, request, *args, **kwargs):
        data = self.validated_input()
        adjustment = services.adjustment_request(
            invoice=data["invoice"], kind=data["kind"], amount=data["amount"], reason=data["reason"], actor=request.user
        )
        return self.respond(adjustment, status=201)

    def _decide(self, service):
        adjustment = self.get_object()
        data = self.validated_input(api.NoteSerializer, partial=False)
        adjustment = service(adjustment=adjustment, actor=self.request.user, note=data.get("note", ""))
        return self.respond(adjustment)

    @extend_schema(request=api.NoteSerializer, responses=api.AdjustmentSerializer)
    @action(detail=True, methods=["post"], required_permission="finance.approve_adjustment", filterset_class=None)
    def approve(self, request, pk=None):
        """Approve and post to the ledger. 409 ``approver_must_differ``, ``already_decided``
        or ``invoice_not_open``; a credit beyond what is open is a 400."""
        return self._decide(services.adjustment_approve)

    @extend_schema(request=api.NoteSerializer, responses=api.AdjustmentSerializer)
    @action(detail=True, methods=["post"], required_permission="finance.approve_adjustment", filterset_class=None)
    def reject(self, request, pk=None):
        """Reject; nothing reaches the ledger. 409 ``already_decided``."""
        return self._decide(services.adjustment_reject)


# --- billing runs ---------------------------------------------------------------------


class BillingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """One period's invoices for a location from its fee structures, as a job. POST
    answers 202 with the run and the ``url`` to poll (``status``, ``processed``,
    ``total``). Running a period again creates no second invoice for anybody.
    Permissions are those of invoices (a run issues invoices)."""

    serializer_class = api.BillingRunSerializer
    create_serializer_class = api.BillingRunCreateSerializer
    filterset_class = BillingRunFilterSet
    permission_model = Invoice
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.billing_run_list(user=self.request.user)

    @extend_schema(responses={202: api.BillingRunSerializer}, parameters=[IDEMPOTENCY_HEADER])
    @idempotent
    def create(self, request, *args, **kwargs):
        run = services.billing_run_start(actor=request.user, **self.validated_input())
        return self.respond(run, status=202)


# --- statements -----------------------------------------------------------------------


class StatementView(GenericAPIView):
    """Base of the statements: JSON, or the PDF with ``?format=pdf``. Read like invoices
    (staff with invoice access, parents for their own family); out of scope is 404."""

    schema = AcademyAutoSchema()
    permission_model = Invoice
    parent_readable = True
    content_negotiation_class = FileFormatNegotiation
    file_formats = ("pdf",)
    filter_backends = []
    pagination_class = None
    error_statuses = {"400", "401", "403", "404"}

    def period(self, request) -> dict:
        return query_input(request, api.PeriodSerializer)

    def wants_pdf(self, request) -> bool:
        return request.query_params.get("format") == "pdf"


class StudentStatementView(StatementView):
    """A student's account between two dates: opening balance, every entry by document
    date with the running balance, closing balance; and the student's invoices issued in
    the period with their totals (``?format=csv``: those invoices as CSV). A parent reads
    the statements of the children they pay for only (as in the portal)."""

    file_formats = ("pdf", "csv")

    @extend_schema(
        parameters=[*PERIOD_PARAMETERS, format_parameter("pdf", "csv")],
        responses={
            (200, "application/json"): api.StudentStatementSerializer,
            (200, PDF): OpenApiTypes.BINARY,
            (200, CSV): OpenApiTypes.STR,
        },
        tags=["statements"],
    )
    def get(self, request, pk):
        student = students_money_visible_to(request.user).filter(pk=pk).first()
        if student is None:
            return Response({"detail": "No such student."}, status=404)
        period = self.period(request)
        statement = selectors.statement_for_student(student=student, **period)
        if self.wants_pdf(request):
            return file_response(documents.statement_pdf(statement), filename=f"{student.student_number}.pdf")
        if request.query_params.get("format") == "csv":
            rows = statements.student_statement_csv_rows(statement)
            return streamed_csv(statements.CSV_HEADER, rows, filename=f"{student.student_number}.csv")
        return Response(api.StudentStatementSerializer(statement).data)


class GuardianStatementView(StatementView):
    """The family statement: every child the guardian is financially responsible for
    (those the caller may see), with the family's opening and closing balance."""

    @extend_schema(
        parameters=[*PERIOD_PARAMETERS, format_parameter("pdf")],
        responses={(200, "application/json"): api.FamilyStatementSerializer, (200, PDF): OpenApiTypes.BINARY},
        tags=["statements"],
    )
    def get(self, request, pk):
        guardian = guardians_visible_to(request.user).filter(pk=pk).first()
        if guardian is None:
            return Response({"detail": "No such guardian."}, status=404)
        period = self.period(request)
        statement = selectors.statement_for_guardian_seen_by(guardian=guardian, user=request.user, **period)
        if self.wants_pdf(request):
            return file_response(documents.statement_pdf(statement), filename=f"{guardian.guardian_number}.pdf")
        return Response(api.FamilyStatementSerializer(selectors.family_statement_data(statement)).data)


class LocationStatementView(GenericAPIView):
    """A location's ("school") statement: every invoice the location issued in the period
    (``date_from``/``date_to`` on the issue date; neither: the current academic year),
    by student with per-student subtotals and the statement's totals. JSON pages its
    students (``page``, ``page_size``; the totals are the whole statement's on every
    page); ``?format=csv`` and ``?format=pdf`` hold every invoice. Finance staff and
    administrators (``finance.view_studentaccount``); a location outside the caller's
    scope is a 404."""

    schema = AcademyAutoSchema()
    permission_model = StudentAccount
    required_permission = "finance.view_studentaccount"
    queryset = Location.objects.none()  # for the schema only (the path's id): the rows come from finance.statements
    content_negotiation_class = FileFormatNegotiation
    file_formats = ("pdf", "csv")
    filter_backends = []
    error_statuses = {"400", "401", "403", "404"}

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="First issue date (inclusive)."),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last issue date (inclusive)."),
            OpenApiParameter("page", int, description="A page number within the paginated result set."),
            OpenApiParameter("page_size", int, description="Number of students per page (at most 500)."),
            format_parameter("pdf", "csv"),
        ],
        responses={
            (200, "application/json"): api.LocationStatementSerializer,
            (200, PDF): OpenApiTypes.BINARY,
            (200, CSV): OpenApiTypes.STR,
        },
        tags=["statements"],
    )
    def get(self, request, pk):
        location = statements.location_for_statement(user=request.user, pk=pk)
        if location is None:
            return Response({"detail": "No such location."}, status=404)
        statement = statements.location_statement(
            location=location, **query_input(request, api.LocationStatementQuerySerializer)
        )
        name = statements.location_statement_filename(statement)
        if request.query_params.get("format") == "pdf":
            return file_response(documents.location_statement_pdf(statement), filename=f"{name}.pdf")
        if request.query_params.get("format") == "csv":
            rows = statements.location_statement_csv_rows(statement)
            return streamed_csv(statements.CSV_HEADER, rows, filename=f"{name}.csv")
        page = self.paginate_queryset(statement.students)
        data = {
            "count": self.paginator.page.paginator.count,
            "next": self.paginator.get_next_link(),
            "previous": self.paginator.get_previous_link(),
            "location": location,
            "date_from": statement.date_from,
            "date_to": statement.date_to,
            "period": statement.period_label,
            "totals": statement.totals,
            "results": page,
        }
        return Response(api.LocationStatementSerializer(data).data)


# --- journal and accounting references -------------------------------------------------


class JournalExportView(GenericAPIView):
    """The journal of a period for the bookkeeping, as a streamed CSV: two lines (debit,
    credit) per ledger movement in the caller's locations (``location``, repeatable:
    only these). Finance staff and administrators (``finance.view_studentaccount``)."""

    schema = AcademyAutoSchema()
    permission_model = StudentAccount
    required_permission = "finance.view_studentaccount"
    queryset = StudentAccount.objects.none()  # for the schema only
    content_negotiation_class = FileFormatNegotiation
    filter_backends = []
    pagination_class = None
    error_statuses = {"400", "401", "403"}

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First day (inclusive)."),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="Last day (inclusive)."),
            OpenApiParameter("location", OpenApiTypes.UUID, many=True, description="Only these locations."),
        ],
        responses={(200, CSV): OpenApiTypes.STR},
        tags=["reports"],
    )
    def get(self, request):
        params = query_input(request, api.JournalQuerySerializer)
        entries = journal.journal_entries(
            user=request.user,
            date_from=params["date_from"],
            date_to=params["date_to"],
            locations=params.get("location"),
        )
        filename = f"journal-{params['date_from']:%Y%m%d}-{params['date_to']:%Y%m%d}.csv"
        return streamed_csv(journal.HEADER, journal.journal_lines(entries), filename=filename)


class AccountingRefImportView(GenericAPIView):
    """Accounting references from the bookkeeping, all or nothing: ``csv`` with the
    columns ``kind`` (``invoice`` or ``payment``), ``number`` (invoice or receipt
    number) and ``accounting_ref``. Any bad row is a 400 naming each row
    (``row 2``: the first line after the header) and nothing is set."""

    schema = AcademyAutoSchema()
    permission_model = Invoice
    required_permission = "finance.change_invoice"
    queryset = Invoice.objects.none()  # for the schema only
    filter_backends = []
    pagination_class = None
    error_statuses = {"400", "401", "403", "409"}

    @extend_schema(request=api.AccountingRefImportSerializer, responses=api.AccountingRefImportResultSerializer)
    def post(self, request):
        serializer = api.AccountingRefImportSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            raise ValidationError(flatten_errors(serializer.errors))
        result = services.accounting_refs_import(
            content=serializer.validated_data["csv"],
            actor=request.user,
            invoices=selectors.invoice_list(user=request.user),
            payments=selectors.payment_list(user=request.user),
        )
        return Response({"invoices": result.invoices, "payments": result.payments})


# --- reports --------------------------------------------------------------------------


class ReportView(GenericAPIView):
    """Base of the finance reports (docs/rules.md, Money): rows scoped to the caller's locations, as
    paginated JSON or, with ``?format=csv``, a streamed CSV of every row. For finance
    staff and administrators (``finance.view_studentaccount``)."""

    schema = AcademyAutoSchema()
    permission_model = StudentAccount
    required_permission = "finance.view_studentaccount"
    queryset = StudentAccount.objects.none()  # for the schema only: the rows come from finance.reports
    content_negotiation_class = FileFormatNegotiation
    file_formats = ("csv",)
    filter_backends = []
    error_statuses = {"400", "401", "403"}
    report_name = ""
    row_serializer: type[drf.Serializer]

    def rows(self, request, params: dict):
        """The report's rows (a list of dicts; the overdue report a dict with buckets)."""
        raise NotImplementedError

    def get(self, request):
        params = query_input(request, api.ReportQuerySerializer)
        rows = self.rows(request, params)
        if request.query_params.get("format") == "csv":
            return self.csv_response(rows)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.row_serializer(page, many=True).data)

    def csv_response(self, rows) -> StreamingHttpResponse:
        fields = list(self.row_serializer().fields)
        values = ([self.row_serializer(row).data[name] for name in fields] for row in rows)
        return streamed_csv(fields, values, filename=f"{self.report_name}.csv")


def report_schema(row_serializer, *parameters):
    return extend_schema(
        parameters=[*parameters, format_parameter("csv")],
        responses={(200, "application/json"): row_serializer(many=True), (200, CSV): OpenApiTypes.STR},
        tags=["reports"],
    )


LOCATION_PARAMETER = OpenApiParameter("location", OpenApiTypes.UUID, description="Only this location.")
STATUS_PARAMETER = OpenApiParameter("status", str, enum=list(Invoice.Status.values), description="Invoice status.")
PAGE_PARAMETER = OpenApiParameter("page", int, description="A page number within the paginated result set.")
PAGE_SIZE_PARAMETER = OpenApiParameter("page_size", int, description="Number of results per page (at most 500).")
MONTHS_PARAMETER = OpenApiParameter("months", int, description="How many months back (1-60, default 12).")


class StudentBalancesReport(ReportView):
    """Per student: location, grade, the monthly fee that applies, invoiced, paid,
    carried forward, pending, overdue, account credit and the balance due (the ledger:
    ``pending - credit``; negative: credit), with the number of invoices in each
    status; largest balance first."""

    report_name = "student-balances"
    row_serializer = api.StudentBalanceRowSerializer

    def rows(self, request, params):
        return reports.student_balances(user=request.user, location=params.get("location"))

    @report_schema(api.StudentBalanceRowSerializer, LOCATION_PARAMETER)
    def get(self, request):
        return super().get(request)


class LocationSummaryReport(ReportView):
    """Per location: all and active students, invoiced, collected, carried forward,
    pending (``outstanding``), overdue, account credit and balance due, each the sum of
    the location's rows of the student balances."""

    report_name = "location-summary"
    row_serializer = api.LocationSummaryRowSerializer

    def rows(self, request, params):
        return reports.location_summary(user=request.user, location=params.get("location"))

    @report_schema(api.LocationSummaryRowSerializer, LOCATION_PARAMETER)
    def get(self, request):
        return super().get(request)


class InvoiceDetailsReport(ReportView):
    """Every invoice with its amounts and balance, newest first (``from``/``to`` on the
    issue date)."""

    report_name = "invoice-details"
    row_serializer = api.InvoiceDetailRowSerializer

    def rows(self, request, params):
        return reports.invoice_details(
            user=request.user,
            status=params.get("status"),
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            location=params.get("location"),
        )

    @report_schema(api.InvoiceDetailRowSerializer, STATUS_PARAMETER, *PERIOD_PARAMETERS, LOCATION_PARAMETER)
    def get(self, request):
        return super().get(request)


class PaymentHistoryReport(ReportView):
    """Every payment, newest first (``from``/``to`` on the receipt date)."""

    report_name = "payment-history"
    row_serializer = api.PaymentHistoryRowSerializer

    def rows(self, request, params):
        return reports.payment_history(
            user=request.user,
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            location=params.get("location"),
        )

    @report_schema(api.PaymentHistoryRowSerializer, *PERIOD_PARAMETERS, LOCATION_PARAMETER)
    def get(self, request):
        return super().get(request)


OverdueReportSerializer = inline_serializer(
    "OverdueInvoicesReport",
    fields={
        "count": drf.IntegerField(),
        "next": drf.URLField(allow_null=True),
        "previous": drf.URLField(allow_null=True),
        "buckets": api.AgeingBucketSerializer(
            many=True, help_text="Totals of every overdue invoice per ageing bucket."
        ),
        "results": api.OverdueInvoiceRowSerializer(many=True),
    },
)


class OverdueInvoicesReport(ReportView):
    """Overdue invoices with days overdue, and the totals per ageing bucket (0-30,
    31-60, 61-90, 90+ days). The CSV holds the invoices."""

    report_name = "overdue-invoices"
    row_serializer = api.OverdueInvoiceRowSerializer

    def rows(self, request, params):
        return reports.overdue_invoices(user=request.user, location=params.get("location"))

    @extend_schema(
        parameters=[LOCATION_PARAMETER, PAGE_PARAMETER, PAGE_SIZE_PARAMETER, format_parameter("csv")],
        responses={(200, "application/json"): OverdueReportSerializer, (200, CSV): OpenApiTypes.STR},
        tags=["reports"],
    )
    def get(self, request):
        report = self.rows(request, query_input(request, api.ReportQuerySerializer))
        if request.query_params.get("format") == "csv":
            return self.csv_response(report["invoices"])
        page = self.paginate_queryset(report["invoices"])
        response = self.get_paginated_response(self.row_serializer(page, many=True).data)
        response.data["buckets"] = api.AgeingBucketSerializer(report["buckets"], many=True).data
        return response


class DailyCollectionsReport(ReportView):
    """Money received per day, location and method (cleared, not reversed); the last 30
    days unless ``from``/``to`` say otherwise."""

    report_name = "daily-collections"
    row_serializer = api.DailyCollectionRowSerializer

    def rows(self, request, params):
        return reports.daily_collections(
            user=request.user,
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            location=params.get("location"),
        )

    @report_schema(api.DailyCollectionRowSerializer, *PERIOD_PARAMETERS, LOCATION_PARAMETER)
    def get(self, request):
        return super().get(request)


class MonthlyRevenueReport(ReportView):
    """Per month and location (every month of the period for every location, oldest
    first): invoiced (by issue date) and collected (by receipt date)."""

    report_name = "monthly-revenue"
    row_serializer = api.MonthlyRevenueRowSerializer

    def rows(self, request, params):
        return reports.monthly_revenue_by_location(
            user=request.user, months=params.get("months", 12), location=params.get("location")
        )

    @report_schema(api.MonthlyRevenueRowSerializer, MONTHS_PARAMETER, LOCATION_PARAMETER)
    def get(self, request):
        return super().get(request)


ACADEMIC_YEAR_PARAMETER = OpenApiParameter("academic_year", OpenApiTypes.UUID, description="Only this academic year.")


class LedgerSummaryReport(ReportView):
    """Per student and academic year: base fees, balances brought forward, adjustments,
    payments, balances carried forward, unapplied account credit and the balance
    (``base_fees + brought_forward + adjustments - payments - carried_forward -
    credit``); a student's years add up to their balance. An invoice belongs to its
    academic year (else its term's, else the year holding its issue date), what was paid
    on it to the same year, unapplied credit to the year its payment was received in."""

    report_name = "ledger-summary"
    row_serializer = api.LedgerSummaryRowSerializer

    def rows(self, request, params):
        return reports.ledger_summary(
            user=request.user, location=params.get("location"), academic_year=params.get("academic_year")
        )

    @report_schema(api.LedgerSummaryRowSerializer, LOCATION_PARAMETER, ACADEMIC_YEAR_PARAMETER)
    def get(self, request):
        return super().get(request)


__all__ = [
    "AdjustmentViewSet",
    "BillingRunViewSet",
    "DailyCollectionsReport",
    "FeeStructureViewSet",
    "FeeTypeViewSet",
    "GuardianStatementView",
    "InvoiceDetailsReport",
    "InvoiceViewSet",
    "LedgerSummaryReport",
    "LocationStatementView",
    "LocationSummaryReport",
    "MonthlyRevenueReport",
    "OverdueInvoicesReport",
    "PaymentHistoryReport",
    "PaymentViewSet",
    "RefundViewSet",
    "StudentBalancesReport",
    "StudentStatementView",
]


# --- session packages -----------------------------------------------------------------


class SessionPackageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Sessions bought for a student (purchased / used / remaining); a parent sees their
    children's. POST sells one: an invoice with one line is issued in the same
    transaction (paid like any invoice). ``cancel`` ends it for good (409
    ``package_inactive`` if already cancelled); an unused package's open invoice is
    cancelled with it. Sessions are used and given back by attendance, not here."""

    serializer_class = api.SessionPackageSerializer
    create_serializer_class = api.SessionPackageSellSerializer
    filterset_class = SessionPackageFilterSet
    parent_readable = True
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.session_package_list(user=self.request.user).order_by("-purchased_at", "pk")

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    @idempotent
    def create(self, request, *args, **kwargs):
        package = package_sell(actor=request.user, **self.validated_input())
        return self.respond(package, status=201)

    @extend_schema(request=api.ReasonSerializer, responses=api.SessionPackageSerializer)
    @action(detail=True, methods=["post"], required_permission="finance.change_sessionpackage", filterset_class=None)
    def cancel(self, request, pk=None):
        package = self.get_object()
        data = self.validated_input(api.ReasonSerializer, partial=False)
        package = package_cancel(package=package, actor=request.user, reason=data["reason"])
        return self.respond(package)
