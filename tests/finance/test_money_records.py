"""Invoice notes (for the family, and internal), disputes, the added payment methods and
the accounting references: who may write them, who may read them, bad input and state
conflicts, and what a dispute holds back (late fees, reminders)."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.db import IntegrityError, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from academy.common.exceptions import Conflict
from finance import documents, services
from finance.models import FinancePolicy, Invoice, Payment, PaymentAccountingRef, Refund
from finance.notices import payment_reminders_send
from finance.services.late_fees import late_fees_apply
from finance.staff_forms import PaymentForm, RefundForm
from notifications.models import Notification
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db

STAFF_ONLY = {
    "internal_notes",
    "accounting_ref",
    "disputed_at",
    "dispute_reason",
    "disputed_by",
    "dispute_resolved_at",
    "dispute_resolved_by",
    "dispute_resolution",
}


def _notes(as_user, money, actor, body):
    return as_user(actor).post(f"{V1}/invoices/{money.invoice.pk}/notes/", body, format="json")


def _invoice_state(invoice) -> tuple:
    invoice.refresh_from_db()
    return (
        invoice.notes,
        invoice.internal_notes,
        invoice.disputed_at,
        invoice.dispute_reason,
        invoice.dispute_resolved_at,
        invoice.accounting_ref,
        invoice.history.count(),
    )


# --- notes ------------------------------------------------------------------------------


def test_finance_sets_notes_the_parent_reads_the_family_notes_never_the_internal_ones(money, as_user):
    response = _notes(
        as_user, money, "finance", {"notes": "Paid in two parts", "internal_notes": "Father asked for time"}
    )
    assert response.status_code == 200
    assert response.json()["notes"] == "Paid in two parts"
    assert response.json()["internal_notes"] == "Father asked for time"
    # the history says who and why
    latest = money.invoice.history.first()
    assert latest.history_user == money.users["finance"]
    assert latest.history_change_reason.startswith("Changed the notes and internal notes")

    # the parent: the family notes, no staff-only key, on the detail and on the list
    parent = as_user("parent")
    detail = parent.get(f"{V1}/invoices/{money.invoice.pk}/").json()
    assert detail["notes"] == "Paid in two parts"
    assert STAFF_ONLY.isdisjoint(detail)
    listed = next(item for item in parent.get(f"{V1}/invoices/").json()["results"] if item["id"] == detail["id"])
    assert STAFF_ONLY.isdisjoint(listed) and listed["notes"] == "Paid in two parts"
    assert "Father asked for time" not in parent.get(f"{V1}/invoices/").content.decode()

    # staff who read invoices (office staff of the location) read both
    office = as_user("office").get(f"{V1}/invoices/{money.invoice.pk}/").json()
    assert office["internal_notes"] == "Father asked for time" and set(office) >= STAFF_ONLY


def test_an_omitted_note_stays_and_a_reason_goes_to_the_history(money, as_user):
    services.invoice_notes_set(invoice=money.invoice, actor=money.users["finance"], notes="A", internal_notes="B")
    response = _notes(as_user, money, "finance", {"internal_notes": "C", "reason": "Called back"})
    assert response.status_code == 200
    money.invoice.refresh_from_db()
    assert (money.invoice.notes, money.invoice.internal_notes) == ("A", "C")
    assert money.invoice.history.first().history_change_reason == "Changed the internal notes: Called back"


@pytest.mark.parametrize("actor", ["office", "other_office", "instructor", "parent", "other_parent", "anonymous"])
def test_only_finance_staff_write_notes(money, as_user, actor):
    before = _invoice_state(money.invoice)
    response = _notes(as_user, money, actor, {"notes": "x", "internal_notes": "y"})
    assert response.status_code == (401 if actor == "anonymous" else 403)
    assert _invoice_state(money.invoice) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "notes"), ({"notes": "x" * 5001}, "notes"), ({"internal_notes": None}, "internal_notes")],
)
def test_bad_notes_are_a_400_and_change_nothing(money, as_user, body, field):
    before = _invoice_state(money.invoice)
    response = _notes(as_user, money, "finance", body)
    assert response.status_code == 400 and field in response.json()
    assert _invoice_state(money.invoice) == before


def test_the_portal_page_and_the_pdf_show_the_family_notes_only(client, money):
    services.invoice_notes_set(
        invoice=money.invoice, actor=money.users["finance"], notes="Bring the receipt", internal_notes="SECRET-NOTE"
    )
    client.force_login(money.users["parent"])
    page = client.get(reverse("portal:money-invoice", args=[money.invoice.pk]))
    assert page.status_code == 200
    assert "Bring the receipt" in page.content.decode() and "SECRET-NOTE" not in page.content.decode()
    html = documents.invoice_html(Invoice.objects.get(pk=money.invoice.pk))
    assert "Bring the receipt" in html and "SECRET-NOTE" not in html


def test_the_staff_invoice_page_edits_the_notes_for_finance_only(client, money):
    url = reverse("staff:finance-invoice-notes", args=[money.invoice.pk])
    client.force_login(money.users["office"])
    assert client.post(url, {"notes": "x", "internal_notes": "y"}).status_code == 403
    page = client.get(reverse("staff:finance-invoice-detail", args=[money.invoice.pk]))
    assert page.status_code == 200 and 'data-testid="notes-form"' not in page.content.decode()

    client.force_login(money.users["finance"])
    response = client.post(url, {"notes": "For the family", "internal_notes": "Staff only", "reason": "Call"})
    assert response.status_code == 302
    page = client.get(reverse("staff:finance-invoice-detail", args=[money.invoice.pk])).content.decode()
    assert "For the family" in page and "Staff only" in page
    before = _invoice_state(money.invoice)
    assert client.post(url, {"notes": "x" * 5001}).status_code == 400
    assert _invoice_state(money.invoice) == before


def test_admin_changes_only_the_notes_through_the_service(money):
    model_admin = admin.site._registry[Invoice]
    request = RequestFactory().post("/")
    request.user = money.users["finance"]
    assert model_admin.has_change_permission(request, money.invoice)
    assert {"notes", "internal_notes"}.isdisjoint(model_admin.get_readonly_fields(request, money.invoice))
    assert {"accounting_ref", "dispute_reason", "total", "status"} <= set(model_admin.readonly_fields)
    form = SimpleNamespace(cleaned_data={"notes": "From admin", "internal_notes": "Internal from admin"})
    model_admin.save_model(request, money.invoice, form, change=True)
    money.invoice.refresh_from_db()
    assert (money.invoice.notes, money.invoice.internal_notes) == ("From admin", "Internal from admin")
    assert money.invoice.history.first().history_change_reason.endswith(": Changed in admin")
    request.user = money.users["office"]
    assert not model_admin.has_change_permission(request, money.invoice)


# --- disputes ---------------------------------------------------------------------------


def test_a_dispute_and_its_resolution_through_the_api(money, as_user):
    finance = as_user("finance")
    url = f"{V1}/invoices/{money.invoice.pk}"
    response = finance.post(f"{url}/dispute/", {"reason": "Charged twice"}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["disputed"] is True and data["dispute_reason"] == "Charged twice"
    assert data["disputed_by"] == money.users["finance"].username and data["disputed_at"]
    # the parent sees that it is disputed, not the staff's record of it
    parent = as_user("parent").get(f"{url}/").json()
    assert parent["disputed"] is True and STAFF_ONLY.isdisjoint(parent)

    # a second dispute is a 409 and changes nothing
    before = _invoice_state(money.invoice)
    again = finance.post(f"{url}/dispute/", {"reason": "Again"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_disputed"
    assert _invoice_state(money.invoice) == before
    # resolving needs a resolution
    assert finance.post(f"{url}/resolve-dispute/", {"resolution": "  "}, format="json").status_code == 400
    assert _invoice_state(money.invoice) == before

    resolved = finance.post(f"{url}/resolve-dispute/", {"resolution": "Explained the lines"}, format="json")
    assert resolved.status_code == 200
    assert resolved.json()["disputed"] is False and resolved.json()["dispute_resolution"] == "Explained the lines"
    reasons = list(money.invoice.history.values_list("history_change_reason", flat=True)[:2])
    assert reasons == ["Dispute resolved: Explained the lines", "Disputed: Charged twice"]
    # nothing left to resolve
    twice = finance.post(f"{url}/resolve-dispute/", {"resolution": "x"}, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "not_disputed"


def test_a_dispute_needs_a_reason_and_an_open_invoice(money, as_user):
    finance = as_user("finance")
    before = _invoice_state(money.invoice)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = finance.post(f"{V1}/invoices/{money.invoice.pk}/dispute/", body, format="json")
        assert response.status_code == 400 and "reason" in response.json()
    assert _invoice_state(money.invoice) == before

    services.invoice_cancel(invoice=money.other_invoice, actor=money.users["finance"], reason="Duplicate")
    before = _invoice_state(money.other_invoice)
    response = finance.post(f"{V1}/invoices/{money.other_invoice.pk}/dispute/", {"reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "invoice_not_open"
    assert _invoice_state(money.other_invoice) == before


@pytest.mark.parametrize("actor", ["office", "instructor", "parent"])
def test_only_finance_staff_dispute(money, as_user, actor):
    before = _invoice_state(money.invoice)
    response = as_user(actor).post(f"{V1}/invoices/{money.invoice.pk}/dispute/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    assert _invoice_state(money.invoice) == before


def test_the_database_refuses_a_dispute_without_a_reason(money):
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=money.invoice.pk).update(disputed_at=timezone.now(), dispute_reason="")
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=money.invoice.pk).update(dispute_resolved_at=timezone.now())


def test_the_staff_page_disputes_and_resolves(client, money):
    client.force_login(money.users["finance"])
    dispute = reverse("staff:finance-invoice-dispute", args=[money.invoice.pk])
    resolve = reverse("staff:finance-invoice-dispute-resolve", args=[money.invoice.pk])
    before = _invoice_state(money.invoice)
    assert client.post(dispute, {"reason": ""}).status_code == 400
    assert client.post(resolve, {"resolution": "x"}).status_code == 409  # not disputed
    assert _invoice_state(money.invoice) == before
    assert client.post(dispute, {"reason": "Wrong amount"}).status_code == 302
    page = client.get(reverse("staff:finance-invoice-detail", args=[money.invoice.pk])).content.decode()
    assert 'data-testid="invoice-disputed"' in page and 'data-testid="resolve-form"' in page
    assert client.post(dispute, {"reason": "Again"}).status_code == 409
    assert client.post(resolve, {"resolution": "Corrected"}).status_code == 302
    money.invoice.refresh_from_db()
    assert not money.invoice.is_disputed and money.invoice.dispute_resolution == "Corrected"
    client.force_login(money.users["office"])
    assert client.post(dispute, {"reason": "x"}).status_code == 403


DUE = datetime.date(2026, 1, 10)


def test_a_disputed_invoice_gets_no_late_fee_until_resolved(location, student, cashier):
    FinancePolicy.objects.create(location=location, late_fee_amount=Decimal("15.00"), late_fee_grace_days=5)
    disputed = issue(student, "100.00", issue_date=DUE - datetime.timedelta(days=30), due_date=DUE)
    other = issue(student, "50.00", issue_date=DUE - datetime.timedelta(days=30), due_date=DUE)
    services.invoice_dispute(invoice=disputed, reason="Not enrolled that month", actor=cashier)

    result = late_fees_apply(today=DUE + datetime.timedelta(days=10))
    assert result.charged == 1  # the other one only
    assert not disputed.adjustments.exists() and other.adjustments.filter(kind="late_fee").exists()

    services.invoice_dispute_resolve(invoice=disputed, resolution="Enrolled after all", actor=cashier)
    assert late_fees_apply(today=DUE + datetime.timedelta(days=11)).charged == 1
    assert disputed.adjustments.filter(kind="late_fee", status="approved").count() == 1


def test_a_disputed_invoice_gets_no_reminder_until_resolved(student, cashier):
    today = datetime.date(2026, 3, 2)
    issued = today - datetime.timedelta(days=30)
    disputed = issue(student, "10.00", issue_date=issued, due_date=today + datetime.timedelta(days=3))
    late = issue(student, "20.00", issue_date=issued, due_date=today - datetime.timedelta(days=8))
    services.invoice_dispute(invoice=disputed, reason="Wrong child", actor=cashier)
    services.invoice_dispute(invoice=late, reason="Paid by cheque", actor=cashier)

    result = payment_reminders_send(today=today)
    assert (result.due_soon, result.overdue) == (0, 0)
    assert not Notification.objects.filter(kind__in=["invoice_due_soon", "invoice_overdue"]).exists()

    services.invoice_dispute_resolve(invoice=disputed, resolution="Right child", actor=cashier)
    result = payment_reminders_send(today=today)
    assert (result.due_soon, result.overdue) == (1, 0)
    told = Notification.objects.get(kind="invoice_due_soon")
    assert told.metadata["invoice_number"] == disputed.invoice_number


def test_a_resolved_invoice_may_be_disputed_again(student, cashier):
    invoice = issue(student, "10.00")
    services.invoice_dispute(invoice=invoice, reason="First", actor=cashier)
    services.invoice_dispute_resolve(invoice=invoice, resolution="Done", actor=cashier)
    invoice = services.invoice_dispute(invoice=invoice, reason="Second", actor=cashier)
    assert invoice.is_disputed and invoice.dispute_reason == "Second" and invoice.dispute_resolution == ""
    with pytest.raises(Conflict):
        services.invoice_dispute(invoice=invoice, reason="Third", actor=cashier)


# --- payment methods ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["credit_card", "debit_card", "other"])
def test_the_new_payment_methods_are_accepted_by_the_api_and_the_forms(money, as_user, method):
    response = as_user("finance").post(
        f"{V1}/payments/", {"student": str(money.child.pk), "amount": "5.00", "method": method}, format="json"
    )
    assert response.status_code == 201 and response.json()["method"] == method
    assert Payment.objects.get(pk=response.json()["id"]).method == method
    assert method in dict(PaymentForm.base_fields["method"].choices)
    assert method in dict(RefundForm.base_fields["method"].choices)
    assert method in dict(Refund._meta.get_field("method").choices)


def test_an_unknown_method_is_a_400_and_the_database_refuses_it(money, as_user):
    before = money_rows()
    response = as_user("finance").post(
        f"{V1}/payments/", {"student": str(money.child.pk), "amount": "5.00", "method": "barter"}, format="json"
    )
    assert response.status_code == 400 and "method" in response.json()
    assert money_rows() == before
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            receipt_number="RCPT-X", student=money.child, location=money.location, amount=Decimal("1.00"),
            method="barter", received_at=timezone.now(),
        )  # fmt: skip


# --- accounting references --------------------------------------------------------------


def test_an_invoice_accounting_ref_is_set_unique_staff_only_and_clearable(money, as_user):
    finance = as_user("finance")
    url = f"{V1}/invoices/{money.invoice.pk}/accounting-ref/"
    response = finance.post(url, {"accounting_ref": " AR-100 "}, format="json")
    assert response.status_code == 200 and response.json()["accounting_ref"] == "AR-100"
    assert "accounting_ref" not in as_user("parent").get(f"{V1}/invoices/{money.invoice.pk}/").json()

    # another invoice may not take it: 400, nothing written
    before = _invoice_state(money.other_invoice)
    taken = finance.post(f"{V1}/invoices/{money.other_invoice.pk}/accounting-ref/", {"accounting_ref": "AR-100"})
    assert taken.status_code == 400 and "accounting_ref" in taken.json()
    assert _invoice_state(money.other_invoice) == before
    # blank clears it (any number of invoices have none)
    assert finance.post(url, {"accounting_ref": ""}, format="json").json()["accounting_ref"] == ""
    assert finance.post(url, {"accounting_ref": "x" * 101}, format="json").status_code == 400
    # the database holds the rule too
    Invoice.objects.filter(pk=money.invoice.pk).update(accounting_ref="AR-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=money.other_invoice.pk).update(accounting_ref="AR-1")


def test_a_payment_accounting_ref_lives_beside_the_append_only_payment(money, as_user):
    finance = as_user("finance")
    payment = Payment.objects.get(pk=money.payment.pk)
    url = f"{V1}/payments/{payment.pk}/accounting-ref/"
    response = finance.post(url, {"accounting_ref": "BANK-77"}, format="json")
    assert response.status_code == 200 and response.json()["accounting_ref"] == "BANK-77"
    record = PaymentAccountingRef.objects.get(payment=payment)
    assert record.ref == "BANK-77" and record.set_by == money.users["finance"]
    # changed again: the payment row is untouched (the trigger would refuse it anyway)
    assert finance.post(url, {"accounting_ref": "BANK-78"}, format="json").status_code == 200
    after = Payment.objects.get(pk=payment.pk)
    assert (after.amount, after.method, after.received_at, after.notes) == (
        payment.amount,
        payment.method,
        payment.received_at,
        payment.notes,
    )
    assert [h.ref for h in PaymentAccountingRef.history.filter(payment_id=payment.pk)] == ["BANK-78", "BANK-77"]
    # unique among payments; the parent never sees it; office staff may not set it
    taken = finance.post(f"{V1}/payments/{money.north_payment.pk}/accounting-ref/", {"accounting_ref": "BANK-78"})
    assert taken.status_code == 400 and not PaymentAccountingRef.objects.filter(payment=money.north_payment).exists()
    assert "accounting_ref" not in as_user("parent").get(f"{V1}/payments/{payment.pk}/").json()
    assert as_user("office").post(url, {"accounting_ref": "X"}, format="json").status_code == 403
    assert PaymentAccountingRef.objects.get(payment=payment).ref == "BANK-78"


def test_the_staff_pages_set_accounting_refs(client, money):
    client.force_login(money.users["finance"])
    invoice_url = reverse("staff:finance-invoice-accounting-ref", args=[money.invoice.pk])
    payment_url = reverse("staff:finance-payment-accounting-ref", args=[money.payment.pk])
    assert client.post(invoice_url, {"accounting_ref": "AR-5"}).status_code == 302
    assert client.post(payment_url, {"accounting_ref": "PY-5"}).status_code == 302
    money.invoice.refresh_from_db()
    assert money.invoice.accounting_ref == "AR-5"
    assert PaymentAccountingRef.objects.get(payment=money.payment).ref == "PY-5"
    other = reverse("staff:finance-invoice-accounting-ref", args=[money.other_invoice.pk])
    assert client.post(other, {"accounting_ref": "AR-5"}).status_code == 400
    client.force_login(money.users["office"])
    assert client.post(payment_url, {"accounting_ref": "PY-6"}).status_code == 403
