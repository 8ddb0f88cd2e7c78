"""People by their names, payment methods by their labels, and what receipts and invoices
print (issue 12): "Collected by finance" where the receipt said "Frank Chen", "by upi"
in a parent's message, an empty "Received from", an invoice without state and postcode."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from families.models import Guardian
from finance import documents, services
from finance.models import Invoice
from finance.notices import payment_method_words
from notifications.models import Notification
from tests.factories.academy import finance_user
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def frank(db):
    return finance_user(username="finance", first_name="Frank", last_name="Chen")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _guardian(student) -> Guardian:
    return student.guardian_links.get(relationship_type="primary").guardian


def test_staff_pages_and_the_receipt_name_the_collector_by_full_name(student, frank):
    # given: a cheque recorded by Frank Chen (username "finance")
    issue(student, "100.00")
    payment = services.payment_record(
        student=student, amount=Decimal("20.00"), method="cheque", reference="CHQ 7", actor=frank
    ).payment
    client = client_for(frank)
    # then: the payment page, the verification queue and the receipt say "Frank Chen"
    body = client.get(reverse("staff:finance-payment-detail", args=[payment.pk])).content.decode()
    assert '<dd data-testid="collected-by">Frank Chen</dd>' in body
    queue = client.get(reverse("staff:finance-payment-verification")).content.decode()
    assert "<td>Frank Chen</td>" in queue and "<td>finance</td>" not in queue
    assert "Collected by Frank Chen" in documents.receipt_html(payment)


def test_a_user_without_a_name_is_shown_by_username_and_nobody_by_a_dash(student):
    nameless = finance_user(username="till-2")
    issue(student, "100.00")
    payment = services.payment_record(student=student, amount=Decimal("5.00"), method="cash", actor=nameless).payment
    body = client_for(nameless).get(reverse("staff:finance-payment-detail", args=[payment.pk])).content.decode()
    assert '<dd data-testid="collected-by">till-2</dd>' in body


def test_adjustments_and_billing_runs_name_people_in_full(student, frank):
    invoice = issue(student, "100.00")
    services.adjustment_request(invoice=invoice, kind="discount", amount=Decimal("5.00"), reason="Sibling", actor=frank)
    services.billing_run_start(
        location=student.location, period="2031-01", issue_date=datetime.date.today(), actor=frank
    )
    client = client_for(finance_user(username="boss", first_name="Ada", last_name="Boss"))
    for name in ("staff:finance-adjustments", "staff:finance-billing-run-list"):
        body = client.get(reverse(name)).content.decode()
        assert "Frank Chen" in body, name
    body = client.get(reverse("staff:finance-invoice-detail", args=[invoice.pk])).content.decode()
    assert "<td>Frank Chen</td>" in body


@pytest.mark.parametrize(
    ("method", "paid_by"),
    [("upi", "by UPI"), ("cash", "in cash"), ("bank_transfer", "by bank transfer"), ("card", "by card")],
)
def test_the_parents_message_names_the_method_by_its_label(student, frank, method, paid_by):
    issue(student, "100.00")
    services.payment_record(student=student, amount=Decimal("30.00"), method=method, actor=frank)
    notification = Notification.objects.get(kind="payment_received")
    assert f"30.00 {paid_by} on" in notification.message
    assert "by upi" not in notification.message and "by bank_transfer" not in notification.message


def test_a_transfer_waits_for_the_bank_transfer_to_clear_and_acronyms_keep_their_capitals():
    assert payment_method_words("bank_transfer") == ("by bank transfer", "bank transfer")
    assert payment_method_words("upi") == ("by UPI", "UPI")
    assert payment_method_words("cheque") == ("by cheque", "cheque")


def test_reports_show_method_and_status_labels_and_the_csv_keeps_the_codes(student, frank):
    issue(student, "100.00")
    services.payment_record(student=student, amount=Decimal("30.00"), method="upi", actor=frank)
    client = client_for(frank)
    url = reverse("staff:finance-reports")
    body = client.get(url, {"report": "payment-history"}).content.decode()
    assert "<td>UPI</td>" in body and "<td>upi</td>" not in body
    body = client.get(url, {"report": "daily-collections"}).content.decode()
    assert "<td>UPI</td>" in body
    body = client.get(url, {"report": "invoice-details"}).content.decode()
    assert "<td>Partially paid</td>" in body and "<td>partial</td>" not in body
    csv = b"".join(client.get(url, {"report": "payment-history", "format": "csv"}).streaming_content).decode()
    assert ",upi," in csv


def test_a_receipt_without_a_paying_guardian_says_whom_it_was_received_for(student, frank):
    issue(student, "100.00")
    payment = services.payment_record(student=student, amount=Decimal("10.00"), method="cash", actor=frank).payment
    assert payment.payer is None
    html = documents.receipt_html(payment)
    received_from = html.split("<h2>Received from</h2>", 1)[1].split("</div>\n  <div", 1)[0]
    assert f"{student.full_name} ({student.student_number})" in received_from
    assert "no paying guardian recorded" in received_from


def test_a_receipt_from_a_guardian_names_them_and_the_student(student, frank):
    guardian = _guardian(student)
    issue(student, "100.00")
    payment = services.payment_record(
        student=student, payer=guardian, amount=Decimal("10.00"), method="cash", actor=frank
    ).payment
    received_from = documents.receipt_html(payment).split("<h2>Received from</h2>", 1)[1]
    assert f"{guardian.full_name} ({guardian.guardian_number})" in received_from
    assert f"For {student.full_name}" in received_from


def test_the_invoice_prints_the_whole_address_of_the_guardian_billed(student, frank):
    # given: a guardian with a full address
    Guardian.objects.filter(pk=_guardian(student).pk).update(
        address_line1="1742 Evergreen Terrace",
        address_line2="Apartment 12B",
        city="Springfield",
        state="Illinois",
        postal_code="62704",
        country="United States",
    )
    invoice = Invoice.objects.select_related("billed_to", "student", "location").get(pk=issue(student, "80.00").pk)
    # when
    html = documents.invoice_html(invoice)
    # then: every part of it, the town line as "city, state postcode"
    bill_to = html.split('data-testid="bill-to"', 1)[1].split("</address>", 1)[0]
    for part in ("1742 Evergreen Terrace", "Apartment 12B", "Springfield, Illinois 62704", "United States"):
        assert part in bill_to, part
    assert f'<div class="name">{invoice.billed_to.full_name}</div>' in bill_to  # the name alone on its line
    assert documents.invoice_pdf(invoice).startswith(b"%PDF")
