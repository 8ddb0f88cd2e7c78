"""A new invoice in a real browser (issue 12): choosing the student narrows the fee
structures to their location, lines are added and removed, and the total follows."""

from decimal import Decimal

import pytest
from django.db import transaction
from playwright.sync_api import expect

from finance.models import Invoice
from tests.e2e.conftest import sign_in
from tests.factories.academy import PASSWORD, LocationFactory, finance_user
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,  # flushing the append-only finance tables after a transactional test needs PostgreSQL
    pytest.mark.django_db(transaction=True),
]


def test_lines_are_added_and_removed_and_the_total_follows(page, live_server, location):
    with transaction.atomic():
        north = LocationFactory(code="NORTH", name="North campus")
        tuition = FeeTypeFactory(code="TUITION", name="Tuition")
        extras = FeeTypeFactory(code="EXTRA", name="Extras")
        main_structure = FeeStructureFactory(location=location, fee_type=tuition, name="Tuition", amount=Decimal("150"))
        north_structure = FeeStructureFactory(location=north, fee_type=tuition, name="Tuition", amount=Decimal("120"))
        student = StudentFactory(location=location, first_name="Maya", last_name="Okafor")
        finance_user(username="cashier", first_name="Frank", last_name="Chen")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    sign_in(page, live_server.url, "/staff/login/", "cashier", PASSWORD)
    page.goto(f"{live_server.url}/staff/finance/invoices/new/")
    lines = page.locator("[data-line-list] [data-invoice-line]:visible")
    expect(lines).to_have_count(1)
    first = page.locator("#id_lines-0-fee_structure")
    # before the student is known both structures are offered, each with its location
    expect(first.locator("option")).to_have_count(3)
    expect(first).to_contain_text("Tuition · North campus · 120.00")

    # choosing the student offers their location's structures only
    page.get_by_label("Student").press_sequentially("Okafor", delay=30)
    page.get_by_role("option", name="Okafor").first.click()
    expect(page.locator("[data-structure-scope]")).to_contain_text("Main campus")
    expect(first.locator("option")).to_have_count(2)
    expect(first.locator(f"option[value='{north_structure.pk}']")).to_have_count(0)

    first.select_option(str(main_structure.pk))
    expect(page.get_by_test_id("invoice-total")).to_have_text("150.00")

    # a second line: a custom one, 7.50 twice
    page.get_by_role("button", name="Add a line").click()
    expect(lines).to_have_count(2)
    expect(page.locator("#id_lines-1-fee_structure option")).to_have_count(2)  # the new line is narrowed too
    page.locator("#id_lines-1-fee_type").select_option(str(extras.pk))
    page.locator("#id_lines-1-description").fill("Swim cap")
    page.locator("#id_lines-1-unit_amount").fill("7.50")
    page.locator("#id_lines-1-quantity").fill("2")
    expect(page.get_by_test_id("invoice-total")).to_have_text("165.00")

    # a third line, then removed again
    page.get_by_role("button", name="Add a line").click()
    page.locator("#id_lines-2-fee_type").select_option(str(extras.pk))
    page.locator("#id_lines-2-unit_amount").fill("1000")
    expect(page.get_by_test_id("invoice-total")).to_have_text("1,165.00")
    lines.nth(2).get_by_role("button", name="Remove").click()
    expect(lines).to_have_count(2)
    expect(page.get_by_test_id("invoice-total")).to_have_text("165.00")

    page.get_by_role("button", name="Issue the invoice").click()
    expect(page.get_by_role("status")).to_contain_text(f"issued for {student.full_name}")
    invoice = Invoice.objects.get(student=student)
    assert invoice.total == Decimal("165.00") and invoice.lines.count() == 2
    assert errors == []
