"""A parent in a real browser: opens a message from the academy and it becomes read;
types another family's child into the address bar and gets the not-found page."""

import pytest
from playwright.sync_api import expect

from notifications.services import Recipient, notify
from tests.e2e.conftest import sign_in
from tests.factories.academy import PASSWORD

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


def _message_to(user, student_name: str):
    context = {
        "guardian_name": "Parent",
        "student_name": student_name,
        "location_name": "Main campus",
        "student_number": "STU-2025-0001",
    }
    recipient = Recipient(name=user.username, user=user, channels=())
    return notify(kind="student_admitted", recipients=[recipient], context=context).created[0]


def test_a_parent_opens_a_message_and_it_becomes_read(page, live_server, family):
    guardian, _children = family
    notification = _message_to(guardian.portal_user, "Emma Johnson")

    sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)
    expect(page.get_by_test_id("unread-count")).to_have_text("1")

    page.get_by_test_id("unread-link").click()
    expect(page).to_have_url(f"{live_server.url}/portal/notifications/")
    message = page.get_by_test_id("message")
    expect(message).to_have_count(1)
    expect(message.get_by_test_id("unread-badge")).to_be_visible()

    message.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}/portal/notifications/{notification.pk}/")
    expect(page.get_by_test_id("message-detail")).to_contain_text("Emma Johnson is admitted to Main campus")
    expect(page.get_by_test_id("read-state")).to_have_text("Read")
    expect(page.get_by_test_id("unread-count")).to_have_count(0)

    page.get_by_role("link", name="Messages").first.click()
    expect(page.get_by_test_id("unread-badge")).to_have_count(0)
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_a_parent_typing_another_childs_url_gets_the_not_found_page(page, live_server, family, other_family):
    own_child = family[1][0]
    other_child = other_family[1][0]
    sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)

    page.get_by_role("link", name=own_child.full_name).click()
    expect(page).to_have_url(f"{live_server.url}/portal/children/{own_child.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(own_child.full_name)

    response = page.goto(f"{live_server.url}/portal/children/{other_child.pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(other_child.full_name)
