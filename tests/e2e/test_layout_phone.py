"""The staff pages a new user found awkward, in a real browser: at 390 px the sections
list and a section's roster scroll their tables, never the page; radio buttons sit on
their label's line; the student picker finds a student by typing and is driven by the
keyboard."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from enrollment.services import enroll
from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import (
    PASSWORD,
    CourseFactory,
    SectionFactory,
    admin_user,
    instructor_user,
    running_term,
    staff_user,
)
from tests.factories.families import StudentFactory

PHONE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"


@pytest.fixture
def full_section(location):
    """A full section with a long instructor name, two students seated and two waiting."""
    with transaction.atomic():
        office = staff_user(username="office", locations=[location])
        admin_user(username="boss")
        coach = instructor_user(username="coach", first_name="Alexandra", last_name="Montgomery-Smith")
        term = running_term(days_after=60)
        section = SectionFactory(
            course=CourseFactory(code="SWIM-1", title="Swim level 1 for beginners"),
            term=term,
            location=location,
            code="A",
            instructor=coach,
            capacity=2,
            schedule="Mon, Wed 16:00-16:45",
        )
        students = [StudentFactory(location=location, last_name=f"Swimmer{n}") for n in range(4)]
    with transaction.atomic():
        for student in students:
            enroll(student=student, section=section, actor=office, enrollment_date=term.start_date, waitlist=True)
    return section


@pytest.mark.parametrize("is_mobile", [True, False], ids=["phone", "narrow-window"])
def test_sections_and_roster_do_not_scroll_sideways_at_390_px(browser, live_server, full_section, is_mobile):
    context = browser.new_context(viewport=PHONE, is_mobile=is_mobile, has_touch=is_mobile)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        # the administrator sees every column (including the visually hidden "Admin" one)
        for username in ("boss", "office"):
            sign_in(page, live_server.url, "/staff/login/", username, PASSWORD)
            for path in ("/staff/structure/sections/", f"/staff/sections/{full_section.pk}/"):
                page.goto(f"{live_server.url}{path}")
                document, body, inner = page.evaluate(WIDTHS)
                assert inner == 390, (username, path)  # a phone did not zoom out to fit a wider page
                assert document <= inner and body <= inner, (username, path, document, body)
                # the table itself still scrolls inside its wrapper
                wrap = page.locator(".table-wrap").first
                assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
            page.context.clear_cookies()
        screenshot(page, "staff-roster-phone" if is_mobile else "staff-roster-narrow")
    finally:
        context.close()


def test_radio_buttons_sit_on_their_labels_line(page, live_server, office):
    sign_in(page, live_server.url, "/staff/login/", "office", PASSWORD)
    page.goto(f"{live_server.url}/staff/students/new/")
    for radio_id in ("id_primary-mode_0", "id_other-mode_0"):
        radio = page.locator(f"#{radio_id}").bounding_box()
        label = page.locator(f"label[for='{radio_id}']").bounding_box()
        assert radio["width"] < 24, radio
        radio_middle = radio["y"] + radio["height"] / 2
        assert label["y"] <= radio_middle <= label["y"] + label["height"]
        assert label["width"] < 400  # the label is as wide as its text, not the whole row


def test_the_student_picker_finds_a_student_by_typing(page, live_server, office, location):
    with transaction.atomic():
        ada = StudentFactory(location=location, first_name="Ada", last_name="Okafor")
        StudentFactory(location=location, first_name="Chidi", last_name="Okafor")
        StudentFactory.create_batch(3, location=location)
    sign_in(page, live_server.url, "/staff/login/", "office", PASSWORD)
    page.goto(f"{live_server.url}/staff/finance/payments/new/")

    box = page.get_by_role("combobox", name="Student")
    box.press_sequentially("okaf", delay=30)
    options = page.locator("#id_student_results").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("Ada Okafor")
    expect(box).to_have_attribute("aria-expanded", "true")

    # the keyboard: down to the first match, Enter chooses it (and does not submit)
    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page.locator("#id_student")).to_have_value(str(ada.pk))
    expect(box).to_have_value(str(ada))
    expect(box).to_have_attribute("aria-expanded", "false")
    # choosing the student reloads their allocation section (htmx)
    expect(page.get_by_test_id("payment-allocation")).to_contain_text("Ada Okafor has no open invoice")
    screenshot(page, "staff-student-picker")

    # typing again forgets the choice; Escape closes the list
    box.fill("")
    box.press_sequentially("chid", delay=30)
    expect(page.locator("#id_student")).to_have_value("")
    expect(options).to_have_count(1)
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
