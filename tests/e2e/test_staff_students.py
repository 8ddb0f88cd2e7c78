"""Office work in a real browser: admit a student with a new guardian, find them by
searching as you type, change the record and read the change in its history."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import PASSWORD
from tests.factories.families import StudentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_office_admits_finds_and_edits_a_student(page, live_server, office, location):
    with transaction.atomic():
        StudentFactory.create_batch(3, location=location)  # others on the list

    sign_in(page, live_server.url, "/staff/login/", "office", PASSWORD)
    screenshot(page, "staff-dashboard")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Students").click()
    page.get_by_role("link", name="Admit a student").click()

    # the admission form: the student and a new primary guardian
    page.get_by_label("First name").first.fill("Maya")
    page.get_by_label("Last name").first.fill("Okafor")
    page.get_by_label("Date of birth").fill("2016-04-02")
    page.locator("#id_student-location").select_option(str(location.pk))
    page.locator("#id_primary-relation").fill("mother")
    page.locator("#id_primary_new-first_name").fill("Ada")
    page.locator("#id_primary_new-last_name").fill("Okafor")
    page.locator("#id_primary_new-email").fill("ada.okafor@example.org")
    page.locator("#id_primary_new-phone").fill("555-0101")
    page.get_by_role("button", name="Admit").click()

    expect(page.get_by_role("status")).to_contain_text("Maya Okafor was admitted as STU-")
    expect(page.get_by_role("heading", name="Maya Okafor")).to_be_visible()
    number = re.search(r"STU-\d{4}-\d{4}", page.get_by_role("status").inner_text()).group(0)

    # search as you type on the list finds them (htmx swaps the table, the URL follows)
    page.goto(f"{live_server.url}/staff/students/")
    expect(page.get_by_test_id("student-table").locator("tbody tr")).to_have_count(4)
    page.get_by_label("Search").press_sequentially("okaf", delay=30)
    expect(page.get_by_test_id("student-table").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("student-table")).to_contain_text(number)
    expect(page).to_have_url(re.compile(r"search=okaf"))
    page.get_by_role("link", name="Okafor, Maya").click()
    screenshot(page, "staff-student-detail")

    # guardians tab
    page.get_by_role("link", name="Guardians").last.click()
    expect(page.get_by_test_id("guardian-links")).to_contain_text("Ada Okafor")

    # edit: a new city, with a reason
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("City").fill("Lisbon")
    page.get_by_label("Reason").fill("Moved house")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("saved")

    # the history tab says who changed what, and why
    page.get_by_role("link", name="History").click()
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("Changed by office")
    expect(history).to_contain_text("Moved house")
    expect(history).to_contain_text("Lisbon")
    expect(history).to_contain_text("Created by office")
