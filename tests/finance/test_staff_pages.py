"""The staff portal's finance pages: who may open them, what they show, query counts of
the lists, CSRF on every form, the dashboard, statements, reports and billing runs.
Payment recording and reversal are in ``test_staff_payments.py``.

Uses the ``money`` academy of ``tests/finance/api_fixtures.py``."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from academy.common.charts import bar_chart
from finance.models import Adjustment, BillingRun, Invoice, LedgerEntry, Payment
from finance.services import invoices_mark_overdue, payment_record
from tests.factories.academy import instructor_user
from tests.factories.families import StudentFactory
from tests.factories.finance import FinancePolicyFactory, issue
from tests.finance.api_fixtures import share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# -- who may open what -----------------------------------------------------------------

LIST_PAGES = {
    # name: (finance, office)
    "staff:finance-dashboard": (200, 200),
    "staff:finance-invoice-list": (200, 200),
    "staff:finance-payment-list": (200, 200),
    "staff:finance-payment-new": (200, 200),
    "staff:finance-adjustments": (200, 403),
    "staff:finance-billing-run-list": (200, 200),
    "staff:finance-billing-run-new": (200, 403),
    "staff:finance-reports": (200, 403),
}
DETAIL_PAGES = {
    # name: attribute of ``money`` naming the record (all at the main location)
    "staff:finance-invoice-detail": "invoice",
    "staff:finance-invoice-pdf": "invoice",
    "staff:finance-payment-detail": "payment",
    "staff:finance-payment-receipt": "payment",
    "staff:finance-billing-run-detail": "run",
    "staff:finance-student-statement": "child",
    "staff:finance-guardian-statement": "guardian",
}


def _others_are_turned_away(url, money):
    assert client_for(instructor_user(username="teacher")).get(url).status_code == 403
    for parent in ("parent", "other_parent"):
        response = client_for(money.users[parent]).get(url)
        assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    response = client_for(None).get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))


@pytest.mark.parametrize("name", LIST_PAGES)
def test_permission_matrix_of_the_list_pages(name, money):
    url = reverse(name)
    finance_status, office_status = LIST_PAGES[name]
    assert client_for(money.users["admin"]).get(url).status_code == 200
    assert client_for(money.users["finance"]).get(url).status_code == finance_status
    assert client_for(money.users["office"]).get(url).status_code == office_status
    assert client_for(money.users["other_office"]).get(url).status_code == office_status
    _others_are_turned_away(url, money)


@pytest.mark.parametrize("name", DETAIL_PAGES)
def test_permission_matrix_of_the_detail_pages(name, money):
    url = reverse(name, args=[getattr(money, DETAIL_PAGES[name]).pk])
    for actor in ("admin", "finance", "office"):
        assert client_for(money.users[actor]).get(url).status_code == 200, actor
    # staff of another location: a record they cannot see does not exist for them
    assert client_for(money.users["other_office"]).get(url).status_code == 404
    _others_are_turned_away(url, money)


def test_other_location_staff_see_only_their_records_in_the_lists(money):
    client = client_for(money.users["other_office"])
    body = client.get(reverse("staff:finance-invoice-list")).content.decode()
    assert money.north_invoice.invoice_number in body and money.invoice.invoice_number not in body
    body = client.get(reverse("staff:finance-payment-list")).content.decode()
    assert money.north_payment.receipt_number in body and money.payment.receipt_number not in body


def test_the_finance_link_is_in_the_main_nav_for_those_who_may_see_invoices(money):
    assert reverse("staff:finance-dashboard") in client_for(money.users["office"]).get("/staff/").content.decode()
    teacher = instructor_user(username="teacher")
    assert reverse("staff:finance-dashboard") not in client_for(teacher).get("/staff/").content.decode()


POSTS = [
    ("staff:finance-payment-new", None, {"amount": "5.00", "method": "cash", "idempotency_key": "k"}),
    ("staff:finance-payment-reverse", "payment", {"reason": "Mistake"}),
    ("staff:finance-adjustment-approve", "adjustment", {}),
    ("staff:finance-adjustment-reject", "adjustment", {}),
    ("staff:finance-billing-run-new", None, {"period": "2031-01", "issue_date": "2031-01-01", "frequency": "monthly"}),
]


@pytest.mark.parametrize(("name", "record", "data"), POSTS)
def test_csrf_is_enforced_on_every_form(name, record, data, money):
    client = Client(enforce_csrf_checks=True)
    client.force_login(money.users["admin"])
    counts = (Payment.objects.count(), BillingRun.objects.count(), LedgerEntry.objects.count())
    args = [getattr(money, record).pk] if record else []
    assert client.post(reverse(name, args=args), data).status_code == 403
    assert (Payment.objects.count(), BillingRun.objects.count(), LedgerEntry.objects.count()) == counts
    money.adjustment.refresh_from_db()
    assert money.adjustment.status == Adjustment.Status.REQUESTED


# -- lists: filters and a fixed number of queries ----------------------------------------


def test_invoice_list_filters_by_status_location_and_search(money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-invoice-list")
    body = client.get(url, {"search": money.other_child.last_name}).content.decode()
    assert money.other_invoice.invoice_number in body and money.invoice.invoice_number not in body
    body = client.get(url, {"search": money.invoice.invoice_number}).content.decode()
    assert money.invoice.invoice_number in body and money.other_invoice.invoice_number not in body
    body = client.get(url, {"location": money.other_location.pk}).content.decode()
    assert money.north_invoice.invoice_number in body and money.invoice.invoice_number not in body
    body = client.get(url, {"status": "partial"}).content.decode()
    assert money.invoice.invoice_number in body and money.other_invoice.invoice_number not in body
    # a location the user may not choose is an error, not a silent "all"
    response = client_for(money.users["other_office"]).get(url, {"location": money.location.pk})
    assert money.invoice.invoice_number not in response.content.decode()


def _grow(money, count: int) -> None:
    for _ in range(count):
        student = StudentFactory(location=money.location)
        issue(student, "20.00", actor=money.users["finance"])
        payment_record(actor=money.users["finance"], student=student, amount="5.00", method="cash")
    for invoice in Invoice.objects.filter(adjustments__isnull=True)[:count]:
        Adjustment.objects.create(
            invoice=invoice, student_id=invoice.student_id, kind="discount", amount=Decimal("1.00"), reason="test"
        )
    for index in range(count):
        BillingRun.objects.create(location=money.location, period=f"1999-{index:02d}", issue_date=datetime.date.today())


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "name",
    [
        "staff:finance-invoice-list",
        "staff:finance-payment-list",
        "staff:finance-adjustments",
        "staff:finance-billing-run-list",
    ],
)
def test_lists_take_a_fixed_number_of_queries(name, money, django_assert_max_num_queries):
    client = client_for(money.users["finance"])
    url = reverse(name)
    client.get(url)  # warm-up: permissions are cached after the first request
    _grow(money, 2)
    small = _queries(client, url)
    _grow(money, 12)
    with django_assert_max_num_queries(14):
        assert client.get(url).status_code == 200
    assert _queries(client, url) == small


# -- dashboard ---------------------------------------------------------------------------


def test_dashboard_shows_totals_and_charts_and_honours_the_location(money):
    past = timezone.localdate() - datetime.timedelta(days=45)
    late = issue(money.child, "70.00", actor=money.users["finance"], issue_date=past, due_date=past)
    invoices_mark_overdue()
    late.refresh_from_db()
    assert late.status == Invoice.Status.OVERDUE
    client = client_for(money.users["finance"])
    response = client.get(reverse("staff:finance-dashboard"))
    body = response.content.decode()
    assert 'data-testid="collections-chart"' in body and 'data-testid="ageing-chart"' in body
    assert "<script" not in body.split("<main", 1)[1]  # charts are server-side SVG
    assert response.context["overdue_total"] == Decimal("70.00")
    # main: 150 - 40 + 80 + 70 open; north: 60 - 10
    assert response.context["outstanding"] == Decimal("310.00")
    assert response.context["collected_this_month"] == Decimal("50.00")
    ageing = {bucket["bucket"]: bucket for bucket in response.context["ageing_buckets"]}
    assert ageing["31-60"]["amount"] == Decimal("70.00") and ageing["31-60"]["count"] == 1

    north = client.get(reverse("staff:finance-dashboard"), {"location": money.other_location.pk})
    assert north.context["current_location"] == money.other_location
    assert north.context["outstanding"] == Decimal("50.00")
    assert north.context["overdue_total"] == Decimal("0.00")
    assert north.context["collected_this_month"] == Decimal("10.00")


def test_bar_chart_scales_money_to_the_tallest_bar():
    chart = bar_chart([("a", Decimal("10.00")), ("b", Decimal("40.00")), ("c", Decimal("0"))], height=140)
    heights = [bar["height"] for bar in chart["bars"]]
    assert heights == [30, 120, 0]
    assert chart["total"] == Decimal("50.00")


# -- invoice page ----------------------------------------------------------------------


def test_invoice_page_shows_lines_payments_adjustments_and_balance(money):
    body = (
        client_for(money.users["office"])
        .get(reverse("staff:finance-invoice-detail", args=[money.invoice.pk]))
        .content.decode()
    )
    assert "Tuition 1" in body and "Tuition 2" in body
    assert money.payment.receipt_number in body
    assert "Sibling discount" in body
    assert "110.00" in body  # 150.00 - 40.00
    assert reverse("staff:finance-invoice-pdf", args=[money.invoice.pk]) in body


def test_invoice_pdf(money):
    response = client_for(money.users["office"]).get(reverse("staff:finance-invoice-pdf", args=[money.invoice.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


# -- statements ------------------------------------------------------------------------


def test_student_statement_page_and_pdf(money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-student-statement", args=[money.child.pk])
    response = client.get(url)
    assert response.context["statement"].closing_balance == Decimal("110.00")
    assert "110.00" in response.content.decode()
    pdf = client.get(url, {"format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_statement_period_is_checked(money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-student-statement", args=[money.child.pk])
    response = client.get(url, {"from": "2030-02-01", "to": "2030-01-01"})
    assert response.status_code == 400
    assert "The end of the period is before its start." in response.content.decode()
    future = client.get(url, {"from": "2099-01-01"})
    assert future.context["statement"].opening_balance == Decimal("110.00")
    assert future.context["statement"].lines == []


def test_family_statement_page_and_pdf(money):
    client = client_for(money.users["office"])
    url = reverse("staff:finance-guardian-statement", args=[money.guardian.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["statement"].closing_balance == Decimal("110.00")
    assert {s.student for s in response.context["statements"]} == set(money.children)
    pdf = client.get(url, {"format": "pdf"})
    assert pdf.content.startswith(b"%PDF")


# -- reports ---------------------------------------------------------------------------

REPORT_SLUGS = [
    "student-balances",
    "location-summary",
    "invoice-details",
    "payment-history",
    "overdue-invoices",
    "daily-collections",
    "monthly-revenue",
    "ledger-summary",
]


@pytest.mark.parametrize("slug", REPORT_SLUGS)
def test_each_report_is_a_table_and_a_csv(slug, money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-reports")
    response = client.get(url, {"report": slug})
    assert response.status_code == 200
    assert 'data-testid="report-table"' in response.content.decode()
    download = client.get(url, {"report": slug, "format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0].split(",")[0] == response.context["columns"][0][0]


def test_report_csv_content_and_scope(money):
    client = client_for(money.users["finance"])
    download = client.get(reverse("staff:finance-reports"), {"report": "invoice-details", "format": "csv"})
    text = b"".join(download.streaming_content).decode()
    assert money.invoice.invoice_number in text and "150.00" in text
    assert client.get(reverse("staff:finance-reports"), {"report": "nope"}).status_code == 404


# -- billing runs ----------------------------------------------------------------------


def test_billing_run_start_runs_the_task_and_the_page_shows_it_completed(money, django_capture_on_commit_callbacks):
    client = client_for(money.users["finance"])
    invoices = Invoice.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("staff:finance-billing-run-new"),
            {
                "location": money.location.pk,
                "frequency": "monthly",
                "period": "2031-02",
                "issue_date": "2031-02-01",
            },
        )
    run = BillingRun.objects.get(period="2031-02")
    assert response.status_code == 302 and response["Location"] == reverse(
        "staff:finance-billing-run-detail", args=[run.pk]
    )
    page = client.get(response["Location"])
    body = page.content.decode()
    assert 'data-status="completed"' in body and "Completed" in body
    assert 'hx-trigger="every 2s"' not in body  # finished: no more polling
    assert Invoice.objects.count() == invoices + run.invoices_created > invoices


def test_a_queued_run_polls_itself_with_htmx(money):
    client = client_for(money.users["finance"])
    url = reverse("staff:finance-billing-run-detail", args=[money.run.pk])
    body = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in body and f'hx-get="{url}"' in body
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith("{") is False and "<html" not in partial
    assert 'data-status="queued"' in partial and 'hx-trigger="every 2s"' in partial


def test_billing_run_bad_input_shows_errors_and_writes_nothing(money):
    runs = BillingRun.objects.count()
    response = client_for(money.users["finance"]).post(
        reverse("staff:finance-billing-run-new"),
        {
            "location": money.location.pk,
            "frequency": "monthly",
            "period": "2031-03",
            "issue_date": "2031-03-10",
            "due_date": "2031-03-01",
        },
    )
    assert response.status_code == 400
    assert "The due date cannot be before the issue date." in response.content.decode()
    other = client_for(money.users["admin"]).post(reverse("staff:finance-billing-run-new"), {"period": ""})
    assert other.status_code == 400 and "field-error" in other.content.decode()
    assert BillingRun.objects.count() == runs


# -- adjustments -------------------------------------------------------------------------


def test_queue_shows_requested_first(money):
    done = Adjustment.objects.create(
        invoice=money.other_invoice,
        student=money.other_child,
        kind="waiver",
        amount=Decimal("2.00"),
        reason="Old one",
        status="rejected",
        decided_at=timezone.now(),
    )
    page = client_for(money.users["finance"]).get(reverse("staff:finance-adjustments")).context["page"]
    assert [a.pk for a in page.object_list][:2] == [money.adjustment.pk, done.pk]


def test_the_requester_cannot_approve_above_the_threshold(money):
    FinancePolicyFactory(location=money.location, adjustment_approval_threshold=Decimal("5.00"))
    entries = LedgerEntry.objects.count()
    response = client_for(money.users["finance"]).post(
        reverse("staff:finance-adjustment-approve", args=[money.adjustment.pk]), follow=True
    )
    assert "Above the approval threshold another person must approve." in response.content.decode()
    money.adjustment.refresh_from_db()
    money.invoice.refresh_from_db()
    assert money.adjustment.status == Adjustment.Status.REQUESTED
    assert money.invoice.amount_adjusted == Decimal("0.00")
    assert LedgerEntry.objects.count() == entries

    client_for(money.users["approver"]).post(reverse("staff:finance-adjustment-approve", args=[money.adjustment.pk]))
    money.adjustment.refresh_from_db()
    assert money.adjustment.status == Adjustment.Status.APPROVED
    assert money.adjustment.decided_by == money.users["approver"]


def test_reject_and_office_staff_may_not_decide(money):
    office = client_for(money.users["office"])
    url = reverse("staff:finance-adjustment-reject", args=[money.adjustment.pk])
    assert office.post(url).status_code == 403
    assert client_for(money.users["finance"]).get(url).status_code == 405
    client_for(money.users["approver"]).post(url, {"note": "No"})
    money.adjustment.refresh_from_db()
    assert money.adjustment.status == Adjustment.Status.REJECTED
