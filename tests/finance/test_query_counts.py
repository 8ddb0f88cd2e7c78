"""Every finance list page, report and statement reads in a fixed number of queries,
whatever the number of rows: each URL is measured on a small academy (the ``money``
fixture of ``tests/finance/api_fixtures.py`` grown by one step), then the academy grows
by many more invoices, payments, adjustments, locations, children and ledger entries and
no URL may cost more than it did.

Covered here: the API reports not covered by ``test_api_reports.py`` (JSON and CSV),
the staff reports page for every report (HTML and CSV), the staff finance dashboard and
statements, the parent portal's money pages (account, invoice, receipt, statements) and
the API statements (JSON and PDF), each with and without a period."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from families.selectors import students_paid_for_by
from finance.models import LedgerEntry
from finance.selectors import statement_for_guardian, statement_for_student
from finance.services import adjustment_approve, adjustment_request, invoices_mark_overdue, payment_record
from tests.factories.academy import LocationFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, share_money

share_money(globals())

pytestmark = pytest.mark.django_db

SMALL = 1  # growth steps before the baseline
LARGE = 6  # more steps before the second measure


def grow(money, steps: int) -> None:
    """Add ``steps`` times: a location with a billed student (a location-summary row); an
    overdue invoice issued further back each step (ageing buckets, months of revenue) and
    a payment received a day earlier each step, alternately cash and card (days and
    methods of the daily collections); a child of the parent's family with an invoice and
    a payment; another invoice for the parent's first child; a payment and an approved
    discount on that child's first invoice. Then the family pays one payment spread over
    the grown children (a receipt with one allocation per child)."""
    cashier, approver = money.users["finance"], money.users["approver"]
    today = timezone.localdate()
    start = getattr(money, "grown", 0)
    for step in range(start, start + steps):
        issue(StudentFactory(location=LocationFactory()), "30.00", actor=cashier)
        issued = today - datetime.timedelta(days=10 + 20 * step)
        student = StudentFactory(location=money.location)
        issue(student, "40.00", actor=cashier, issue_date=issued, due_date=issued + datetime.timedelta(days=7))
        payment_record(
            actor=cashier,
            student=student,
            amount="15.00",
            method="cash" if step % 2 else "card",
            received_at=timezone.now() - datetime.timedelta(days=step),
        )
        child = StudentFactory(location=money.location, primary_guardian=money.guardian)
        money.family_invoices = [*getattr(money, "family_invoices", []), issue(child, "25.00", "5.00", actor=cashier)]
        payment_record(actor=cashier, student=child, amount="10.00", method="cash")
        issue(money.child, "12.00", actor=cashier)
        payment_record(
            actor=cashier, student=money.child, amount="2.00", method="cash", allocations=[(money.invoice, "2.00")]
        )
        discount = adjustment_request(
            invoice=money.invoice, kind="discount", amount=Decimal("1.00"), reason="Goodwill", actor=cashier
        )
        adjustment_approve(adjustment=discount, actor=approver)
    invoices_mark_overdue()
    money.family_payment = payment_record(
        actor=cashier,
        payer=money.guardian,
        amount=f"{len(money.family_invoices)}.00",
        method="cash",
        allocations=[(invoice, "1.00") for invoice in money.family_invoices],
    ).payment
    money.grown = start + steps


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def count_queries(client, url: str) -> int:
    """The queries of one GET of ``url`` (a streamed body is read inside the count)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)
    return len(queries)


def assert_fixed_query_counts(money, client, urls) -> dict[str, int]:
    """Measure every URL of ``urls(money)`` at the small size (the baseline), grow the
    academy, measure again: no URL may cost more than its baseline. Answers the baselines."""
    grow(money, SMALL)
    for url in urls(money).values():
        client.get(url)  # warm-up: permissions and content types are cached after the first request
    small = {name: count_queries(client, url) for name, url in urls(money).items()}
    grow(money, LARGE)
    large = {name: count_queries(client, url) for name, url in urls(money).items()}
    grew = {name: f"{small[name]} -> {large[name]}" for name in small if large[name] > small[name]}
    assert not grew, f"query counts grew with the rows: {grew}"
    return small


def _period() -> str:
    today = timezone.localdate()
    return f"from={today - datetime.timedelta(days=30)}&to={today}"


def test_the_data_really_grows(money):
    # given the small academy
    grow(money, SMALL)
    children = len(money.children) + SMALL
    entries = LedgerEntry.objects.filter(account_id=money.child.pk).count()
    # when it grows
    grow(money, LARGE)
    # then the family has more children, the first child more entries, the receipt more lines
    assert money.guardian.student_links.filter(is_financially_responsible=True).count() == children + LARGE
    assert LedgerEntry.objects.filter(account_id=money.child.pk).count() >= entries + 3 * LARGE
    assert money.family_payment.allocations.count() > LARGE


# --- API reports --------------------------------------------------------------------------

API_REPORTS = (
    "location-summary",
    "overdue-invoices",
    "daily-collections",
    "monthly-revenue",
    "student-balances",
    "ledger-summary",
)


def test_api_reports_cost_the_same_whatever_their_length(money, as_user):
    def urls(money):
        found = {}
        for name in API_REPORTS:
            found[name] = f"{V1}/reports/{name}/?page_size=100"
            found[f"{name} csv"] = f"{V1}/reports/{name}/?format=csv"
        found["daily-collections period"] = f"{V1}/reports/daily-collections/?{_period()}"
        found["monthly-revenue 24 months"] = f"{V1}/reports/monthly-revenue/?months=24"
        for name in ("student-balances", "location-summary", "ledger-summary", "daily-collections"):
            found[f"{name} at a location"] = f"{V1}/reports/{name}/?location={money.location.pk}"
        return found

    client = as_user("finance")
    assert_fixed_query_counts(money, client, urls)
    rows = client.get(f"{V1}/reports/overdue-invoices/?page_size=100").json()
    assert rows["count"] >= SMALL + LARGE
    assert client.get(f"{V1}/reports/location-summary/?page_size=100").json()["count"] >= 2 + SMALL + LARGE


# --- staff pages --------------------------------------------------------------------------

STAFF_REPORTS = (
    "student-balances",
    "location-summary",
    "invoice-details",
    "payment-history",
    "overdue-invoices",
    "daily-collections",
    "monthly-revenue",
    "ledger-summary",
)


def test_the_staff_reports_page_costs_the_same_for_every_report_whatever_its_length(money):
    def urls(money):
        base = reverse("staff:finance-reports")
        found = {}
        for slug in STAFF_REPORTS:
            found[slug] = f"{base}?report={slug}"
            found[f"{slug} page 2"] = f"{base}?report={slug}&page=2"
            found[f"{slug} csv"] = f"{base}?report={slug}&format=csv"
            found[f"{slug} period"] = f"{base}?report={slug}&{_period()}"
            found[f"{slug} at a location"] = f"{base}?report={slug}&location={money.location.pk}"
        return found

    assert_fixed_query_counts(money, client_for(money.users["finance"]), urls)


@pytest.mark.parametrize("actor", ["finance", "office"])
def test_the_staff_dashboard_and_statements_cost_the_same_whatever_their_length(money, actor):
    def urls(money):
        return {
            "dashboard": reverse("staff:finance-dashboard"),
            "dashboard at a location": f"{reverse('staff:finance-dashboard')}?location={money.location.pk}",
            "student statement": reverse("staff:finance-student-statement", args=[money.child.pk]),
            "student statement period": (
                f"{reverse('staff:finance-student-statement', args=[money.child.pk])}?{_period()}"
            ),
            "guardian statement": reverse("staff:finance-guardian-statement", args=[money.guardian.pk]),
            "guardian statement period": (
                f"{reverse('staff:finance-guardian-statement', args=[money.guardian.pk])}?{_period()}"
            ),
            "guardian statement pdf": (
                f"{reverse('staff:finance-guardian-statement', args=[money.guardian.pk])}?{_period()}&format=pdf"
            ),
        }

    client = client_for(money.users[actor])
    assert_fixed_query_counts(money, client, urls)
    page = client.get(reverse("staff:finance-guardian-statement", args=[money.guardian.pk]))
    assert len(page.context["statements"]) == len(money.children) + SMALL + LARGE


# --- parent portal ------------------------------------------------------------------------


def test_the_portal_money_pages_cost_the_same_whatever_their_length(money):
    def urls(money):
        child = money.child.pk
        return {
            "account": reverse("portal:money"),
            "invoice": reverse("portal:money-invoice", args=[money.invoice.pk]),
            "invoice pdf": reverse("portal:money-invoice-pdf", args=[money.invoice.pk]),
            "receipt": reverse("portal:money-receipt", args=[money.family_payment.pk]),
            "statement": reverse("portal:money-statement"),
            "statement period": f"{reverse('portal:money-statement')}?date_from={timezone.localdate():%Y-%m-01}",
            "statement pdf": f"{reverse('portal:money-statement')}?format=pdf",
            "child statement": reverse("portal:money-child-statement", args=[child]),
            "child statement period": (
                f"{reverse('portal:money-child-statement', args=[child])}?date_from={timezone.localdate():%Y-%m-01}"
            ),
        }

    client = client_for(money.users["parent"])
    assert_fixed_query_counts(money, client, urls)
    invoice = client.get(reverse("portal:money-invoice", args=[money.invoice.pk])).context
    assert len(invoice["allocations"]) > LARGE and len(invoice["adjustments"]) >= LARGE
    statement = client.get(reverse("portal:money-statement")).context
    assert len(statement["statements"]) == len(money.children) + SMALL + LARGE


# --- API statements -----------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["finance", "office", "parent"])
def test_api_statements_cost_the_same_whatever_the_children_and_entries(money, as_user, actor):
    def urls(money):
        student = f"{V1}/students/{money.child.pk}/statement/"
        guardian = f"{V1}/guardians/{money.guardian.pk}/statement/"
        return {
            "student": student,
            "student period": f"{student}?{_period()}",
            "student pdf": f"{student}?format=pdf",
            "guardian": guardian,
            "guardian period": f"{guardian}?{_period()}",
            "guardian pdf": f"{guardian}?{_period()}&format=pdf",
        }

    client = as_user(actor)
    assert_fixed_query_counts(money, client, urls)
    family = client.get(f"{V1}/guardians/{money.guardian.pk}/statement/").json()
    assert len(family["children"]) == len(money.children) + SMALL + LARGE
    assert len(family["entries"]) > 4 * LARGE


def test_statements_read_together_match_each_childs_ledger(money):
    # given a family with entries before, inside and after a period
    grow(money, 2)
    today = timezone.localdate()
    issue(money.children[1], "7.00", actor=money.users["finance"], issue_date=today - datetime.timedelta(days=40))
    issue(money.child, "3.00", actor=money.users["finance"], issue_date=today + datetime.timedelta(days=10))
    period = {"date_from": today - datetime.timedelta(days=10), "date_to": today + datetime.timedelta(days=5)}
    # when the family statement reads every child's entries at once
    family = statement_for_guardian(guardian=money.guardian, **period)
    # then each child's statement is its own ledger, as read alone
    assert [s.student for s in family.statements] == list(students_paid_for_by(guardian=money.guardian))
    for statement in family.statements:
        entries = LedgerEntry.objects.filter(account_id=statement.student.pk)
        before = entries.filter(effective_date__lt=period["date_from"])
        inside = entries.filter(effective_date__range=(period["date_from"], period["date_to"]))
        assert statement.opening_balance == sum((e.amount for e in before), Decimal("0.00"))
        assert [(line.date, line.description, line.debit - line.credit) for line in statement.lines] == [
            (e.effective_date, e.description, e.amount) for e in inside.order_by("effective_date", "seq")
        ]
        assert statement.closing_balance == statement.opening_balance + sum(e.amount for e in inside)
        alone = statement_for_student(student=statement.student, **period)
        assert (alone.opening_balance, alone.lines, alone.closing_balance) == (
            statement.opening_balance,
            statement.lines,
            statement.closing_balance,
        )
    opening = {statement.student.pk: statement.opening_balance for statement in family.statements}
    assert opening[money.children[1].pk] == Decimal("7.00")  # the invoice before the period
