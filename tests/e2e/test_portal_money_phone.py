"""The parent portal's money pages on a phone: nothing wider than the screen, even with
long names and seven-digit amounts."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from finance.services.payments import payment_record
from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import PASSWORD, finance_user, parent_user
from tests.factories.families import GuardianFactory, StudentFactory
from tests.factories.finance import issue

PHONE = {"width": 375, "height": 740}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,  # flushing the append-only finance tables after a transactional test needs PostgreSQL
    pytest.mark.django_db(transaction=True),
]


def test_the_money_pages_fit_a_phone_screen(browser, live_server, location):
    # given a family with long invoice lines, an overdue invoice, a payment and credit
    with transaction.atomic():
        cashier = finance_user(username="cashier")
        guardian = GuardianFactory(portal_user=parent_user(username="parent"), last_name="Featherstonehaugh")
        first, second = (StudentFactory(location=location, primary_guardian=guardian) for _ in range(2))
    today = timezone.localdate()
    with transaction.atomic():
        invoice = issue(
            first,
            "1234567.89",
            "20.00",
            actor=cashier,
            issue_date=today - datetime.timedelta(days=40),
            due_date=today - datetime.timedelta(days=10),
        )
        issue(second, "99999.99", actor=cashier)
        payment_record(actor=cashier, amount=Decimal("12345.67"), method="bank_transfer", student=second)
    pages = [
        "/portal/money/",
        f"/portal/money/invoices/{invoice.pk}/",
        "/portal/money/statement/",
        "/portal/money/statement/?date_from=bad&date_to=2020-01-01",
    ]
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)
        page.wait_for_url(f"{live_server.url}/portal/")
        for number, path in enumerate(pages, start=1):
            # when the parent opens each money page on a phone
            page.goto(f"{live_server.url}{path}")
            # then nothing is wider than the screen: no sideways scrolling
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
            screenshot(page, f"portal-money-phone-{number}")
    finally:
        context.close()
