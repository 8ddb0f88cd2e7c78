"""The journal export (double entry, debits equal credits, the caller's locations, a
fixed number of queries) and the all-or-nothing import of accounting references."""

import csv
import datetime
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from academy.roles import FINANCE
from finance import services
from finance.models import Invoice, LedgerEntry, PaymentAccountingRef
from tests.factories.academy import staff_user
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def _period() -> dict:
    today, days = timezone.localdate(), datetime.timedelta(days=400)
    return {"from": (today - days).isoformat(), "to": (today + days).isoformat()}


def _lines(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _every_kind_of_movement(money):
    """An approved discount, a payment reversed, a refund of credit, a cancelled invoice
    and a balance carried forward, on top of the invoices and payments of ``money``."""
    cashier = money.users["finance"]
    services.adjustment_approve(adjustment=money.adjustment, actor=money.users["approver"])
    extra = services.payment_record(student=money.other_child, amount="5.00", method="debit_card", actor=cashier)
    services.payment_reverse(payment=extra.payment, actor=cashier, reason="Card declined")
    services.payment_record(
        student=money.other_child, amount="100.00", method="credit_card", actor=cashier, confirm_overpayment=True
    )
    services.refund_record(
        student=money.other_child, amount="20.00", method="bank_transfer", reason="Over", actor=cashier
    )
    services.invoice_cancel(invoice=issue(money.child, "7.00", actor=cashier), actor=cashier, reason="Duplicate")
    services.invoice_carry_forward(invoice=issue(money.child, "30.00", actor=cashier), actor=cashier)


def _net(lines) -> dict:
    net = defaultdict(Decimal)
    for line in lines:
        net[line["account"]] += Decimal(line["debit"] or "0") - Decimal(line["credit"] or "0")
    return net


def test_the_journal_balances_and_shows_every_movement_as_double_entry(money, as_user):
    _every_kind_of_movement(money)
    lines = _lines(as_user("finance").get(f"{V1}/journal/", _period()))

    # two lines per ledger entry: one debit, one credit of the same amount
    assert len(lines) == 2 * LedgerEntry.objects.count()
    by_entry = defaultdict(list)
    for line in lines:
        by_entry[line["entry"]].append(line)
    for pair in by_entry.values():
        debit, credit = pair
        assert debit["debit"] and not debit["credit"] and credit["credit"] and not credit["debit"]
        assert debit["debit"] == credit["credit"]
    # debits equal credits
    total_debit = sum(Decimal(line["debit"] or "0") for line in lines)
    total_credit = sum(Decimal(line["credit"] or "0") for line in lines)
    assert total_debit == total_credit > 0

    net = _net(lines)
    # receivables are what families owe: the sum of the ledger
    assert net["Receivables"] == sum(LedgerEntry.objects.values_list("amount", flat=True))
    # revenue by fee type; money by method; a carried balance nets to zero
    assert net["Revenue:TUITION"] < 0
    assert net["Cash"] == Decimal("50.00")  # the two cash payments of ``money``
    assert net["Bank:credit_card"] == Decimal("100.00")
    assert net["Bank:debit_card"] == Decimal("0.00")  # paid, then reversed
    assert net["Bank:bank_transfer"] == Decimal("-20.00")  # the refund
    assert net["Adjustments:discount"] == Decimal("10.00")
    assert net["Balance carried forward"] == Decimal("0.00")
    assert {line["account"] for line in lines} >= {"Balance carried forward", "Revenue:cancelled invoices"}
    # a payment line names its receipt number
    receipt = money.payment.receipt_number
    assert {line["account"] for line in lines if line["reference"] == receipt} == {"Cash", "Receivables"}


def test_the_journal_covers_the_callers_locations_and_the_asked_ones(money, as_user, client_for):
    everywhere = _lines(as_user("finance").get(f"{V1}/journal/", _period()))
    assert any(line["reference"] == money.north_invoice.invoice_number for line in everywhere)
    only_north = _lines(as_user("finance").get(f"{V1}/journal/", {**_period(), "location": money.other_location.pk}))
    assert {line["reference"] for line in only_north} == {
        money.north_invoice.invoice_number,
        money.north_payment.receipt_number,
    }

    main_finance = staff_user(role=FINANCE, locations=[money.location], username="finance-main")
    mine = _lines(client_for(main_finance).get(f"{V1}/journal/", _period()))
    assert mine and not any(line["reference"] == money.north_invoice.invoice_number for line in mine)
    # a location the caller may not see is a 400
    refused = client_for(main_finance).get(f"{V1}/journal/", {**_period(), "location": money.other_location.pk})
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [({}, "from"), ({"from": "2026-01-01"}, "to"), ({"from": "2026-02-01", "to": "2026-01-01"}, "to")],
)
def test_a_journal_without_a_valid_period_is_a_400(money, as_user, query, field):
    response = as_user("finance").get(f"{V1}/journal/", query)
    assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize(
    ("actor", "status"),
    [("office", 403), ("other_office", 403), ("instructor", 403), ("parent", 403), ("anonymous", 401), ("admin", 200)],
)
def test_who_may_export_the_journal(money, as_user, actor, status):
    assert as_user(actor).get(f"{V1}/journal/", _period()).status_code == status


def test_the_journal_reads_a_fixed_number_of_queries(money, as_user, django_assert_max_num_queries):
    client = as_user("finance")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            _lines(client.get(f"{V1}/journal/", _period()))
        return len(queries)

    count()  # the first request of a client also reads its token and its user's permissions
    small = count()
    assert small <= 3
    _every_kind_of_movement(money)
    for _ in range(5):
        issue(money.child, "10.00", "20.00", actor=money.users["finance"])
    assert count() == small
    with django_assert_max_num_queries(small):
        _lines(client.get(f"{V1}/journal/", _period()))


def test_the_staff_journal_page_downloads_the_csv(client, money):
    url = reverse("staff:finance-journal")
    client.force_login(money.users["office"])
    assert client.get(url).status_code == 403
    client.force_login(money.users["finance"])
    assert client.get(url).status_code == 200
    assert client.get(url, {"from": "2026-01-01"}).status_code == 400
    lines = _lines(client.get(url, _period()))
    assert len(lines) == 2 * LedgerEntry.objects.count()
    assert sum(Decimal(line["debit"] or "0") for line in lines) == sum(Decimal(line["credit"] or "0") for line in lines)


# --- import of accounting references ----------------------------------------------------


def _csv(*rows) -> str:
    return "kind,number,accounting_ref\n" + "".join(",".join(row) + "\n" for row in rows)


def _refs(money) -> tuple:
    return (
        tuple(Invoice.objects.order_by("pk").values_list("accounting_ref", flat=True)),
        tuple(PaymentAccountingRef.objects.values_list("payment_id", "ref")),
    )


def test_an_import_sets_the_references_of_invoices_and_payments(money, as_user):
    body = {
        "csv": _csv(
            ("invoice", money.invoice.invoice_number, "AR-1"),
            ("invoice", money.other_invoice.invoice_number, "AR-2"),
            ("payment", money.payment.receipt_number, "PY-1"),
        )
    }
    response = as_user("finance").post(f"{V1}/accounting-refs/import/", body, format="json")
    assert response.status_code == 200 and response.json() == {"invoices": 2, "payments": 1}
    money.invoice.refresh_from_db()
    money.other_invoice.refresh_from_db()
    assert (money.invoice.accounting_ref, money.other_invoice.accounting_ref) == ("AR-1", "AR-2")
    assert PaymentAccountingRef.objects.get(payment=money.payment).ref == "PY-1"
    # the journal carries them
    lines = _lines(as_user("finance").get(f"{V1}/journal/", _period()))
    assert {line["accounting_ref"] for line in lines if line["reference"] == money.payment.receipt_number} == {"PY-1"}


def test_an_import_with_any_bad_row_sets_nothing_and_names_each_row(money, as_user):
    services.invoice_accounting_ref_set(invoice=money.north_invoice, accounting_ref="TAKEN", actor=None)
    before = _refs(money)
    body = {
        "csv": _csv(
            ("invoice", money.invoice.invoice_number, "AR-1"),  # fine
            ("invoice", "INV-NOPE", "AR-2"),  # no such invoice
            ("receipt", money.payment.receipt_number, "PY-1"),  # no such kind
            ("payment", money.payment.receipt_number, ""),  # no reference
            ("invoice", money.other_invoice.invoice_number, "AR-1"),  # twice in the file
            ("invoice", money.other_invoice.invoice_number, "TAKEN"),  # another invoice's
        )
    }
    response = as_user("finance").post(f"{V1}/accounting-refs/import/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"row 3", "row 4", "row 5", "row 6", "row 7"}
    assert any("INV-NOPE" in message for message in errors["row 3"])
    assert any("row 2" in message for message in errors["row 6"])
    assert any("TAKEN" in message for message in errors["row 7"])
    assert _refs(money) == before


@pytest.mark.parametrize(
    "content",
    ["", "number,accounting_ref\nINV-1,AR-1\n", "kind,number,accounting_ref\n"],
    ids=["empty", "no-kind", "no-rows"],
)
def test_an_import_of_a_malformed_file_is_a_400(money, as_user, content):
    before = _refs(money)
    response = as_user("finance").post(f"{V1}/accounting-refs/import/", {"csv": content}, format="json")
    assert response.status_code == 400
    assert _refs(money) == before


def test_an_import_sees_only_the_callers_invoices(money, client_for):
    main_finance = staff_user(role=FINANCE, locations=[money.location], username="finance-main")
    before = _refs(money)
    body = {"csv": _csv(("invoice", money.north_invoice.invoice_number, "AR-N"))}
    response = client_for(main_finance).post(f"{V1}/accounting-refs/import/", body, format="json")
    assert response.status_code == 400 and "row 2" in response.json()
    assert _refs(money) == before


@pytest.mark.parametrize("actor", ["office", "instructor", "parent"])
def test_only_finance_staff_import(money, as_user, actor):
    before = _refs(money)
    body = {"csv": _csv(("invoice", money.invoice.invoice_number, "AR-1"))}
    assert as_user(actor).post(f"{V1}/accounting-refs/import/", body, format="json").status_code == 403
    assert _refs(money) == before


def test_the_staff_page_imports_all_or_nothing(client, money):
    url = reverse("staff:finance-accounting-refs-import")
    client.force_login(money.users["finance"])
    before = _refs(money)
    bad = _csv(("invoice", money.invoice.invoice_number, "AR-1"), ("invoice", "INV-NOPE", "AR-2"))
    response = client.post(url, {"file": SimpleUploadedFile("refs.csv", bad.encode(), content_type="text/csv")})
    assert response.status_code == 400 and "INV-NOPE" in response.content.decode()
    assert _refs(money) == before
    good = _csv(("invoice", money.invoice.invoice_number, "AR-1"), ("payment", money.payment.receipt_number, "PY-1"))
    response = client.post(url, {"file": SimpleUploadedFile("refs.csv", good.encode(), content_type="text/csv")})
    assert response.status_code == 302
    money.invoice.refresh_from_db()
    assert money.invoice.accounting_ref == "AR-1"
    assert PaymentAccountingRef.objects.get(payment=money.payment).ref == "PY-1"
    client.force_login(money.users["office"])
    assert client.post(url, {"file": SimpleUploadedFile("r.csv", good.encode())}).status_code == 403
