"""A person signs in through a real browser: staff to the staff portal, a parent to
the parent portal, and each sees what they may see."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import PASSWORD
from tests.factories.families import StudentFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


def test_staff_sign_in_and_see_student_counts(page, live_server, office, location, other_location):
    # given three students at the office's location (one withdrawn) and one elsewhere
    with transaction.atomic():
        StudentFactory.create_batch(2, location=location)
        StudentFactory(location=location, status="withdrawn")
        StudentFactory(location=other_location)

    # when the office user opens the staff portal, they are asked to sign in first
    page.goto(f"{live_server.url}/staff/")
    expect(page).to_have_url(re.compile(r"/staff/login/\?next=/staff/$"))
    sign_in(page, live_server.url, "/staff/login/?next=/staff/", "office", PASSWORD)

    # then the dashboard counts only the students of their location
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("students-total")).to_contain_text("3")
    expect(page.get_by_test_id("students-active")).to_contain_text("2")
    expect(page.get_by_test_id("students-withdrawn")).to_contain_text("1")
    by_location = page.get_by_test_id("students-by-location")
    expect(by_location).to_contain_text("Main campus")
    expect(by_location).not_to_contain_text("North campus")
    # the layout's own CSS is served (no CDN): the top bar is styled
    assert page.locator(".topbar").evaluate("el => getComputedStyle(el).position") == "sticky"

    # and signing out from the user menu ends the session
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/staff/login/")
    page.goto(f"{live_server.url}/staff/")
    expect(page).to_have_url(re.compile(r"/staff/login/"))


def test_parent_sees_exactly_their_two_children(page, live_server, family, other_family):
    _guardian, children = family
    other_child = other_family[1][0]

    sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/portal/")
    cards = page.get_by_test_id("child")
    expect(cards).to_have_count(2)
    for child in children:
        expect(page.get_by_test_id("children")).to_contain_text(child.student_number)
        expect(page.get_by_test_id("children")).to_contain_text(child.full_name)
    expect(page.get_by_test_id("children")).not_to_contain_text(other_child.student_number)
    expect(page.get_by_test_id("children")).not_to_contain_text(other_child.full_name)


def test_a_parent_trying_the_staff_login_is_told_where_to_go(page, live_server, family):
    sign_in(page, live_server.url, "/staff/login/", "parent", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("This sign-in is for academy staff")
    expect(page).to_have_url(f"{live_server.url}/staff/login/")


def test_the_parent_portal_fits_a_phone_screen(browser, live_server, family):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)
        expect(page.get_by_test_id("child")).to_have_count(2)
        screenshot(page, "parent-dashboard-phone")
        # nothing is wider than the screen: no sideways scrolling on a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
