"""Staff portal finance pages beyond recording payments: cancelling an invoice, asking for
an adjustment, the verification queue of cheques and transfers, refunding account
credit, and the payment form's external id, date and explicit allocation.

Uses the ``money`` academy of ``tests/finance/api_fixtures.py``: ``child`` has
``invoice`` (150.00, 40.00 paid by ``payment``, a requested 10.00 discount),
``other_child`` has ``other_invoice`` (80.00), ``north_child`` (north location) has
``north_invoice`` (60.00)."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from academy.roles import FINANCE
from finance.models import Adjustment, Invoice, LedgerEntry, Payment, PaymentAllocation, PaymentVerification, Refund
from finance.selectors import ledger_verify
from finance.services import payment_record
from finance.services.ledger import credit_available
from finance.services.packages import package_use
from tests.factories.academy import staff_user
from tests.factories.families import StudentFactory
from tests.factories.finance import SessionPackageFactory, issue
from tests.finance.api_fixtures import money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def rows() -> dict[str, int]:
    """Every finance table a page here may write, refunds included ("nothing written")."""
    return {**money_rows(), "Refund": Refund.objects.count()}


@pytest.fixture
def north_finance(money):
    """A finance user limited to the north location: the main location's records do not
    exist for them."""
    return staff_user(role=FINANCE, locations=[money.other_location], username="finance-north")


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _turned_away(method: str, url: str, money, data=None) -> None:
    """Anonymous goes to the login page, a parent to the portal."""
    response = getattr(client_for(None), method)(url, data or {})
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))
    for parent in ("parent", "other_parent"):
        response = getattr(client_for(money.users[parent]), method)(url, data or {})
        assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")


# -- cancelling an invoice ---------------------------------------------------------------


def test_finance_staff_cancel_an_invoice_with_a_reason(money):
    # given the other child's unpaid invoice and its detail page with a cancel link
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-invoice-cancel", args=[money.other_invoice.pk])
    detail = client.get(reverse("staff:finance-invoice-detail", args=[money.other_invoice.pk]))
    assert url in detail.content.decode()
    confirm = client.get(url)
    assert confirm.status_code == 200 and 'name="reason"' in confirm.content.decode()
    entries = LedgerEntry.objects.count()
    # when they confirm with a reason
    response = client.post(url, {"reason": "Issued twice"}, follow=True)
    # then the invoice is cancelled by a reversing entry, and the page says so
    assert response.redirect_chain[-1][0] == reverse("staff:finance-invoice-detail", args=[money.other_invoice.pk])
    assert f"Invoice {money.other_invoice.invoice_number} was cancelled." in _messages(response)
    money.other_invoice.refresh_from_db()
    assert money.other_invoice.status == Invoice.Status.CANCELLED
    assert money.other_invoice.cancel_reason == "Issued twice"
    assert LedgerEntry.objects.count() == entries + 1
    assert LedgerEntry.objects.latest("id").kind == LedgerEntry.Kind.INVOICE_CANCELLED
    assert url not in response.content.decode()  # a cancelled invoice offers no cancel link
    assert ledger_verify().problems == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancelling_without_a_reason_is_a_field_error_and_writes_nothing(reason, money):
    client = client_for(money.users["finance"])
    before = rows()
    response = client.post(reverse("staff:finance-invoice-cancel", args=[money.other_invoice.pk]), {"reason": reason})
    assert response.status_code == 400
    assert "This field is required." in response.context["form"].errors["reason"]
    assert '<p class="field-error">' in response.content.decode()
    money.other_invoice.refresh_from_db()
    assert money.other_invoice.status == Invoice.Status.PENDING
    assert rows() == before


def test_a_paid_invoice_cannot_be_cancelled_and_the_reason_is_shown(money):
    # given the child's invoice paid in full
    payment_record(actor=money.users["finance"], student=money.child, amount="110.00", method="cash")
    money.invoice.refresh_from_db()
    assert money.invoice.status == Invoice.Status.PAID
    client = client_for(money.users["finance"])
    detail = client.get(reverse("staff:finance-invoice-detail", args=[money.invoice.pk])).content.decode()
    url = reverse("staff:finance-invoice-cancel", args=[money.invoice.pk])
    assert url not in detail
    before = rows()
    # when somebody posts the cancellation anyway
    response = client.post(url, {"reason": "Mistake"})
    # then the service's refusal is shown (409) and nothing is written
    assert response.status_code == 409
    body = response.content.decode()
    assert "A paid invoice cannot be cancelled." in body and 'data-testid="form-errors"' in body
    money.invoice.refresh_from_db()
    assert money.invoice.status == Invoice.Status.PAID
    assert rows() == before


def test_an_invoice_whose_session_package_was_used_cannot_be_cancelled(money):
    package = SessionPackageFactory(student=money.child, actor=money.users["finance"])
    package_use(package=package, actor=money.users["finance"])
    invoice = package.invoice_line.invoice
    before = rows()
    response = client_for(money.users["finance"]).post(
        reverse("staff:finance-invoice-cancel", args=[invoice.pk]), {"reason": "Changed their mind"}
    )
    assert response.status_code == 409
    assert "1 session(s) of the package sold on this invoice were used" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status != Invoice.Status.CANCELLED
    assert rows() == before


def test_who_may_cancel_an_invoice(money, north_finance):
    url = reverse("staff:finance-invoice-cancel", args=[money.other_invoice.pk])
    before = rows()
    # office staff see invoices but may not cancel them: no link, 403 on the page and the post
    office = client_for(money.users["office"])
    detail = office.get(reverse("staff:finance-invoice-detail", args=[money.other_invoice.pk]))
    assert url not in detail.content.decode()
    assert office.get(url).status_code == 403
    assert office.post(url, {"reason": "x"}).status_code == 403
    # finance staff of another location: the invoice does not exist for them
    assert client_for(north_finance).get(url).status_code == 404
    assert client_for(north_finance).post(url, {"reason": "x"}).status_code == 404
    _turned_away("get", url, money)
    _turned_away("post", url, money, {"reason": "x"})
    assert rows() == before
    assert client_for(money.users["admin"]).get(url).status_code == 200


# -- asking for an adjustment --------------------------------------------------------------


def test_an_adjustment_requested_from_the_invoice_waits_in_the_queue(money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-invoice-adjustment-new", args=[money.invoice.pk])
    assert url in client.get(reverse("staff:finance-invoice-detail", args=[money.invoice.pk])).content.decode()
    assert client.get(url).status_code == 200
    entries = LedgerEntry.objects.count()
    response = client.post(url, {"kind": "scholarship", "amount": "25.00", "reason": "Merit award"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("staff:finance-invoice-detail", args=[money.invoice.pk])
    adjustment = Adjustment.objects.get(reason="Merit award")
    assert (adjustment.kind, adjustment.amount, adjustment.status) == ("scholarship", Decimal("25.00"), "requested")
    assert adjustment.requested_by == money.users["finance"] and adjustment.invoice == money.invoice
    assert any("waits for approval" in text for text in _messages(response))
    # nothing reaches the account before approval
    assert LedgerEntry.objects.count() == entries
    money.invoice.refresh_from_db()
    assert money.invoice.amount_adjusted == Decimal("0.00")
    # and it is in the approval queue, waiting
    queue = client.get(reverse("staff:finance-adjustments"), {"status": "requested"})
    assert adjustment in queue.context["page"].object_list
    assert reverse("staff:finance-adjustment-approve", args=[adjustment.pk]) in queue.content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "discount", "amount": "0", "reason": "x"}, "amount", "The amount must be greater than zero."),
        ({"kind": "discount", "amount": "-5.00", "reason": "x"}, "amount", "The amount must be greater than zero."),
        ({"kind": "discount", "amount": "abc", "reason": "x"}, "amount", "Enter an amount such as 150.00."),
        ({"kind": "discount", "amount": "5.00", "reason": ""}, "reason", "This field is required."),
        ({"kind": "bonus", "amount": "5.00", "reason": "x"}, "kind", "Select a valid choice."),
    ],
)
def test_bad_adjustment_input_is_a_field_error_and_writes_nothing(data, field, message, money):
    before, adjustments = rows(), Adjustment.objects.count()
    response = client_for(money.users["finance"]).post(
        reverse("staff:finance-invoice-adjustment-new", args=[money.invoice.pk]), data
    )
    assert response.status_code == 400
    assert any(text.startswith(message) for text in response.context["form"].errors[field])
    assert rows() == before and Adjustment.objects.count() == adjustments


def test_an_adjustment_on_a_cancelled_invoice_is_refused(money):
    client = client_for(money.users["finance"])
    client.post(reverse("staff:finance-invoice-cancel", args=[money.other_invoice.pk]), {"reason": "Duplicate"})
    before, adjustments = rows(), Adjustment.objects.count()
    response = client.post(
        reverse("staff:finance-invoice-adjustment-new", args=[money.other_invoice.pk]),
        {"kind": "waiver", "amount": "5.00", "reason": "Hardship"},
    )
    assert response.status_code == 409
    assert f"{money.other_invoice.invoice_number} is not open." in response.content.decode()
    assert rows() == before and Adjustment.objects.count() == adjustments


def test_who_may_ask_for_an_adjustment(money, north_finance):
    url = reverse("staff:finance-invoice-adjustment-new", args=[money.invoice.pk])
    data = {"kind": "discount", "amount": "5.00", "reason": "x"}
    adjustments = Adjustment.objects.count()
    office = client_for(money.users["office"])
    assert url not in office.get(reverse("staff:finance-invoice-detail", args=[money.invoice.pk])).content.decode()
    assert office.get(url).status_code == 403 and office.post(url, data).status_code == 403
    assert client_for(north_finance).get(url).status_code == 404
    assert client_for(north_finance).post(url, data).status_code == 404
    _turned_away("get", url, money)
    _turned_away("post", url, money, data)
    assert Adjustment.objects.count() == adjustments


# -- the verification queue ----------------------------------------------------------------


@pytest.fixture
def waiting(money):
    """A cheque for the child and a bank transfer for the north child, not yet checked."""
    cheque = payment_record(
        actor=money.users["finance"], student=money.child, amount="50.00", method="cheque", reference="CHQ 100200"
    ).payment
    transfer = payment_record(
        actor=money.users["finance"], student=money.north_child, amount="20.00", method="bank_transfer"
    ).payment
    return cheque, transfer


def test_the_queue_lists_cheques_and_transfers_awaiting_verification(money, waiting, north_finance):
    cheque, transfer = waiting
    url = reverse("staff:finance-payment-verification")
    response = client_for(money.users["finance"]).get(url)
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == [cheque, transfer]  # oldest first; cash is not listed
    body = response.content.decode()
    assert "CHQ 100200" in body and reverse("staff:finance-payment-verify", args=[cheque.pk]) in body
    assert money.payment.receipt_number not in body
    # the finance tabs lead to it; a location filter narrows it
    assert url in client_for(money.users["finance"]).get(reverse("staff:finance-payment-list")).content.decode()
    north = client_for(money.users["finance"]).get(url, {"location": money.other_location.pk})
    assert list(north.context["page"].object_list) == [transfer]
    # staff of the north location see only theirs
    assert list(client_for(north_finance).get(url).context["page"].object_list) == [transfer]


def test_clearing_a_cheque_puts_its_money_on_the_account(money, waiting):
    cheque, _transfer = waiting
    client = client_for(money.users["finance"])
    response = client.post(
        reverse("staff:finance-payment-verify", args=[cheque.pk]),
        {"outcome": "cleared", "note": "Bank ok"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("staff:finance-payment-verification")
    assert f"{cheque.receipt_number} cleared: 50.00 reached the account." in _messages(response)
    verification = PaymentVerification.objects.get(payment=cheque)
    assert (verification.outcome, verification.note, verification.verified_by) == (
        "cleared",
        "Bank ok",
        money.users["finance"],
    )
    money.invoice.refresh_from_db()
    assert money.invoice.amount_paid == Decimal("90.00")
    assert LedgerEntry.objects.filter(payment=cheque, kind=LedgerEntry.Kind.PAYMENT).exists()
    assert cheque not in response.context["page"].object_list
    assert ledger_verify().problems == []


def test_rejecting_a_cheque_with_a_note_keeps_its_money_off_the_account(money, waiting):
    cheque, _transfer = waiting
    entries, allocations = LedgerEntry.objects.count(), PaymentAllocation.objects.count()
    response = client_for(money.users["finance"]).post(
        reverse("staff:finance-payment-verify", args=[cheque.pk]),
        {"outcome": "rejected", "note": "Signature missing"},
        follow=True,
    )
    assert f"{cheque.receipt_number} was rejected." in _messages(response)
    verification = PaymentVerification.objects.get(payment=cheque)
    assert (verification.outcome, verification.note) == ("rejected", "Signature missing")
    assert (LedgerEntry.objects.count(), PaymentAllocation.objects.count()) == (entries, allocations)
    money.invoice.refresh_from_db()
    assert money.invoice.amount_paid == Decimal("40.00")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "choose whether it cleared or was rejected."),
        ({"outcome": "maybe"}, "choose whether it cleared or was rejected."),
        ({"outcome": "rejected", "note": "x" * 301}, "the note is too long."),
    ],
)
def test_bad_verification_input_is_a_message_and_writes_nothing(data, message, money, waiting):
    cheque, _transfer = waiting
    before = rows()
    response = client_for(money.users["finance"]).post(
        reverse("staff:finance-payment-verify", args=[cheque.pk]), data, follow=True
    )
    assert f"{cheque.receipt_number}: {message}" in _messages(response)
    assert rows() == before


def test_a_payment_is_verified_once_and_cash_needs_no_verification(money, waiting):
    cheque, _transfer = waiting
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-payment-verify", args=[cheque.pk])
    client.post(url, {"outcome": "cleared"})
    before = rows()
    again = client.post(url, {"outcome": "rejected"}, follow=True)
    assert f"{cheque.receipt_number}: This payment is already verified." in _messages(again)
    cash = client.post(
        reverse("staff:finance-payment-verify", args=[money.payment.pk]), {"outcome": "cleared"}, follow=True
    )
    assert f"{money.payment.receipt_number}: This payment needs no verification." in _messages(cash)
    assert rows() == before


def test_who_may_verify(money, waiting, north_finance):
    cheque, _transfer = waiting
    queue = reverse("staff:finance-payment-verification")
    url = reverse("staff:finance-payment-verify", args=[cheque.pk])
    before = rows()
    office = client_for(money.users["office"])
    assert office.get(queue).status_code == 403
    assert office.post(url, {"outcome": "cleared"}).status_code == 403
    assert queue not in office.get(reverse("staff:finance-payment-list")).content.decode()
    assert client_for(north_finance).post(url, {"outcome": "cleared"}).status_code == 404
    assert client_for(money.users["finance"]).get(url).status_code == 405
    _turned_away("get", queue, money)
    _turned_away("post", url, money, {"outcome": "cleared"})
    assert rows() == before
    assert client_for(money.users["admin"]).get(queue).status_code == 200


def _grow_queue(money, count: int) -> None:
    for index in range(count):
        student = StudentFactory(location=money.location if index % 2 else money.other_location)
        issue(student, "30.00", actor=money.users["finance"])
        payment_record(actor=money.users["finance"], student=student, amount="10.00", method="cheque")
        payment_record(actor=money.users["finance"], student=student, amount="5.00", method="bank_transfer")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_verification_queue_takes_a_fixed_number_of_queries(money, django_assert_max_num_queries):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-payment-verification")
    client.get(url)  # warm-up: permissions are cached after the first request
    _grow_queue(money, 2)
    small = _queries(client, url)
    _grow_queue(money, 12)
    with django_assert_max_num_queries(8):  # session, user, locations, count, page (+ slack)
        response = client.get(url)
    assert response.context["page"].paginator.count == 28
    assert _queries(client, url) == small


def test_a_family_cheque_waits_in_the_queue_too(money):
    # a family payment has no allocations until it clears: it shows through its payer
    cheque = payment_record(actor=money.users["finance"], payer=money.guardian, amount="25.00", method="cheque").payment
    client = client_for(money.users["finance"])
    response = client.get(reverse("staff:finance-payment-verification"))
    assert cheque in response.context["page"].object_list
    client.post(reverse("staff:finance-payment-verify", args=[cheque.pk]), {"outcome": "cleared"})
    assert PaymentVerification.objects.filter(payment=cheque, outcome="cleared").exists()


# -- refunding account credit ------------------------------------------------------------------


@pytest.fixture
def credit(money):
    """The child pays 150.00 on 110.00 open: 40.00 of account credit."""
    payment_record(
        actor=money.users["finance"], student=money.child, amount="150.00", method="cash", confirm_overpayment=True
    )
    assert credit_available(money.child.pk) == Decimal("40.00")
    return Decimal("40.00")


def test_refunding_credit_from_the_statement(money, credit):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-student-refund", args=[money.child.pk])
    statement = client.get(reverse("staff:finance-student-statement", args=[money.child.pk]))
    assert url in statement.content.decode()
    page = client.get(url)
    assert page.status_code == 200 and page.context["available"] == credit
    assert 'data-testid="credit-available">40.00<' in page.content.decode()
    response = client.post(
        url,
        {
            "amount": "15.00",
            "method": "bank_transfer",
            "reference": "TRF-9",
            "reason": "Family moved",
            "idempotency_key": "k1",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("staff:finance-student-statement", args=[money.child.pk])
    assert f"15.00 of account credit refunded for {money.child.full_name}." in _messages(response)
    refund = Refund.objects.get()
    assert (refund.amount, refund.method, refund.reference, refund.reason, refund.refunded_by) == (
        Decimal("15.00"),
        "bank_transfer",
        "TRF-9",
        "Family moved",
        money.users["finance"],
    )
    assert credit_available(money.child.pk) == Decimal("25.00")
    assert LedgerEntry.objects.filter(refund=refund, amount=Decimal("15.00")).exists()
    assert "Family moved" in client.get(url).content.decode()  # listed among the earlier refunds
    assert ledger_verify().problems == []


def test_a_refund_sent_twice_refunds_once(money, credit):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-student-refund", args=[money.child.pk])
    data = {
        "amount": "15.00",
        "method": "cash",
        "reason": "Moved",
        "idempotency_key": client.get(url).context["form"].initial["idempotency_key"],
    }
    first = client.post(url, data)
    second = client.post(url, data, follow=True)
    assert first.status_code == 302 and Refund.objects.count() == 1
    assert "This refund was already recorded (the form was sent twice)." in _messages(second)
    assert credit_available(money.child.pk) == credit - Decimal("15.00")


@pytest.mark.parametrize(
    ("data", "field", "message", "status"),
    [
        ({"amount": "0", "reason": "x"}, "amount", "The amount must be greater than zero.", 400),
        ({"amount": "-10.00", "reason": "x"}, "amount", "The amount must be greater than zero.", 400),
        ({"amount": "10.00", "reason": ""}, "reason", "This field is required.", 400),
        ({"amount": "10.00", "reason": "x", "method": "barter"}, "method", "Select a valid choice.", 400),
        ({"amount": "40.01", "reason": "x"}, "amount", "Only 40.00 of account credit can be refunded.", 409),
    ],
)
def test_bad_refunds_are_field_errors_and_write_nothing(data, field, message, status, money, credit):
    before = rows()
    response = client_for(money.users["finance"]).post(
        reverse("staff:finance-student-refund", args=[money.child.pk]),
        {"method": "cash", "idempotency_key": "k", **data},
    )
    assert response.status_code == status
    assert any(text.startswith(message) for text in response.context["form"].errors[field])
    assert '<p class="field-error">' in response.content.decode()
    assert rows() == before
    assert credit_available(money.child.pk) == credit


def test_without_credit_there_is_nothing_to_refund(money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-student-refund", args=[money.other_child.pk])
    page = client.get(url)
    assert page.context["available"] == Decimal("0.00") and 'data-testid="no-credit"' in page.content.decode()
    before = rows()
    response = client.post(url, {"amount": "1.00", "method": "cash", "reason": "x", "idempotency_key": "k"})
    assert response.status_code == 409
    assert "Only 0.00 of account credit can be refunded." in response.context["form"].errors["amount"]
    assert rows() == before


def test_who_may_refund(money, credit, north_finance):
    url = reverse("staff:finance-student-refund", args=[money.child.pk])
    data = {"amount": "5.00", "method": "cash", "reason": "x", "idempotency_key": "k"}
    office = client_for(money.users["office"])
    statement = office.get(reverse("staff:finance-student-statement", args=[money.child.pk]))
    assert url not in statement.content.decode()
    assert office.get(url).status_code == 403 and office.post(url, data).status_code == 403
    assert client_for(north_finance).get(url).status_code == 404
    assert client_for(north_finance).post(url, data).status_code == 404
    _turned_away("get", url, money)
    _turned_away("post", url, money, data)
    assert not Refund.objects.exists()
    assert client_for(money.users["admin"]).get(url).status_code == 200


# -- the payment form: external id, date received, explicit allocation ----------------------


def _form_key(client, **query) -> str:
    body = client.get(reverse("staff:finance-payment-new"), query).content.decode()
    return re.search(r'name="idempotency_key" value="([^"]+)"', body).group(1)


def _allocation(invoice) -> str:
    return f"allocate_{invoice.pk.hex}"


@pytest.fixture
def second_invoice(money):
    """A newer open invoice of the child (due after ``invoice``)."""
    return issue(money.child, "30.00", actor=money.users["finance"], due_date=datetime.date(2099, 1, 1))


def test_the_form_offers_one_amount_per_open_invoice_of_the_student(money, second_invoice):
    client = client_for(money.users["office"])
    response = client.get(reverse("staff:finance-payment-new"), {"student": money.child.pk})
    form = response.context["form"]
    assert form.open_invoices == [money.invoice, second_invoice]
    body = response.content.decode()
    assert f'name="{_allocation(money.invoice)}"' in body and f'name="{_allocation(second_invoice)}"' in body
    assert money.other_invoice.invoice_number not in body
    assert 'hx-get="' + reverse("staff:finance-payment-new") + '"' in body  # another student reloads the list
    # without a student: no allocation fields, oldest due first
    empty = client.get(reverse("staff:finance-payment-new"))
    assert empty.context["form"].open_invoices == [] and 'data-testid="payment-allocation"' in empty.content.decode()


def test_explicit_allocation_external_id_and_date_received(money, second_invoice):
    client = client_for(money.users["finance"])
    received = timezone.localtime().replace(microsecond=0, second=0) - datetime.timedelta(days=2)
    data = {
        "student": money.child.pk,
        "amount": "50.00",
        "method": "card",
        "external_transaction_id": "POS-778899",
        "received_at": received.strftime("%Y-%m-%dT%H:%M"),
        _allocation(second_invoice): "20.00",
        _allocation(money.invoice): "",
        "idempotency_key": _form_key(client, student=money.child.pk),
    }
    response = client.post(reverse("staff:finance-payment-new"), data)
    assert response.status_code == 302, response.context["form"].errors
    payment = Payment.objects.get(external_transaction_id="POS-778899")
    assert payment.received_at == received
    placed = {(a.invoice_id, a.amount) for a in PaymentAllocation.objects.filter(payment=payment)}
    # 20.00 exactly to the newer invoice, the rest to credit, nothing to the older one
    assert placed == {(second_invoice.pk, Decimal("20.00")), (None, Decimal("30.00"))}
    assert ledger_verify().problems == []


def test_a_cheques_explicit_allocation_is_followed_once_it_clears(money, second_invoice):
    # given a cheque recorded with 25.00 for the newer invoice
    client = client_for(money.users["finance"])
    data = {
        "student": money.child.pk,
        "amount": "40.00",
        "method": "cheque",
        "reference": "CHQ 7",
        _allocation(second_invoice): "25.00",
        "idempotency_key": _form_key(client, student=money.child.pk),
    }
    assert client.post(reverse("staff:finance-payment-new"), data).status_code == 302
    cheque = Payment.objects.get(reference="CHQ 7")
    assert not PaymentAllocation.objects.filter(payment=cheque).exists()  # nothing before it clears
    # when it clears in the verification queue
    client.post(reverse("staff:finance-payment-verify", args=[cheque.pk]), {"outcome": "cleared"})
    # then 25.00 went to the newer invoice and the rest to credit, not oldest due first
    placed = {(a.invoice_id, a.amount) for a in PaymentAllocation.objects.filter(payment=cheque)}
    assert placed == {(second_invoice.pk, Decimal("25.00")), (None, Decimal("15.00"))}
    assert ledger_verify().problems == []


def test_blank_allocation_pays_the_oldest_due_first(money, second_invoice):
    client = client_for(money.users["finance"])
    data = {
        "student": money.child.pk,
        "amount": "120.00",
        "method": "cash",
        _allocation(money.invoice): "",
        _allocation(second_invoice): "",
        "idempotency_key": _form_key(client, student=money.child.pk),
    }
    assert client.post(reverse("staff:finance-payment-new"), data).status_code == 302
    payment = Payment.objects.get(idempotency_key=data["idempotency_key"])
    placed = {(a.invoice_id, a.amount) for a in PaymentAllocation.objects.filter(payment=payment)}
    assert placed == {(money.invoice.pk, Decimal("110.00")), (second_invoice.pk, Decimal("10.00"))}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"second": "31.00"}, None, "has only 30.00 open."),
        ({"second": "0"}, "second", "The amount must be greater than zero."),
        ({"second": "-1.00"}, "second", "The amount must be greater than zero."),
        ({"second": "30.00", "first": "30.00"}, None, "The allocations add up to more than the payment."),
        ({"received_at": "yesterday"}, "received_at", "Enter a valid date/time."),
    ],
)
def test_bad_allocations_are_errors_and_write_nothing(changes, field, message, money, second_invoice):
    client = client_for(money.users["finance"])
    changes = dict(changes)
    data = {"student": money.child.pk, "amount": "50.00", "method": changes.pop("method", "cash")}
    if "second" in changes:
        data[_allocation(second_invoice)] = changes.pop("second")
    if "first" in changes:
        data[_allocation(money.invoice)] = changes.pop("first")
    data.update(changes, idempotency_key=_form_key(client))
    before = rows()
    response = client.post(reverse("staff:finance-payment-new"), data)
    assert response.status_code == 400
    form = response.context["form"]
    name = {"second": _allocation(second_invoice)}.get(field, field)
    errors = form.errors.get(name, []) if name else form.non_field_errors()
    assert any(message in text for text in errors), form.errors
    assert rows() == before


def test_an_allocation_for_another_students_invoices_is_refused(money, second_invoice):
    # given the form was filled for the child, then the student was changed to another
    client = client_for(money.users["finance"])
    data = {
        "student": money.other_child.pk,
        "amount": "20.00",
        "method": "cash",
        _allocation(second_invoice): "20.00",
        "idempotency_key": _form_key(client),
    }
    before = rows()
    response = client.post(reverse("staff:finance-payment-new"), data)
    assert response.status_code == 400
    assert any("check it again" in text for text in response.context["form"].non_field_errors())
    assert rows() == before


def test_a_second_payment_with_the_same_external_id_is_refused(money):
    client = client_for(money.users["finance"])
    base = {"student": money.child.pk, "amount": "5.00", "method": "online", "external_transaction_id": "GW-1"}
    assert client.post(reverse("staff:finance-payment-new"), {**base, "idempotency_key": "one"}).status_code == 302
    before = rows()
    response = client.post(reverse("staff:finance-payment-new"), {**base, "idempotency_key": "two"})
    assert response.status_code == 400
    assert (
        "A payment with this external transaction id is already recorded."
        in (response.context["form"].errors["external_transaction_id"])
    )
    assert rows() == before
