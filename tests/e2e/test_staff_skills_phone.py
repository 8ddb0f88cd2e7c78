"""An instructor rates a class's skills on a phone: each tap is saved at once, a lower
rating asks why, a tap made without a connection waits for "Save all", and the student
who reaches every target is flagged; the office then moves them to the next level and
reads their progress (charts) from their record."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from enrollment.models import Enrollment
from enrollment.services import enroll
from grading import services
from grading.models import SkillRating
from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import PASSWORD, CourseFactory, SectionFactory, instructor_user, running_term, staff_user
from tests.factories.families import StudentFactory
from tests.factories.grading import curriculum_with_levels

PHONE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def swim_class(location):
    """SWIM-1-A taught by "coach": three children at level 1 of a curriculum with three
    skill areas; Ben was rated 2 in Breathing last time."""
    with transaction.atomic():
        office = staff_user(username="office", locations=[location])
        coach = instructor_user(username="coach", first_name="Alexandra", last_name="Montgomery-Smith")
        course = CourseFactory(code="SWIM-1", title="Swim level 1 for beginners")
        section = SectionFactory(
            course=course, term=running_term(), location=location, code="A", instructor=coach, capacity=8
        )
        _curriculum, levels, areas = curriculum_with_levels(course)
        children = [
            StudentFactory(location=location, first_name=first, last_name="Okafor-Whitfield")
            for first in ("Ada", "Ben", "Chidi")
        ]
    with transaction.atomic():
        for child in children:
            enroll(student=child, section=section, actor=office, current_level=levels[0])
        ben = Enrollment.objects.get(student=children[1])
        services.skill_ratings_save(
            section=section,
            ratings=[services.RatingInput(enrollment_id=ben.pk, skill_area_id=areas[0].pk, rating=2)],
            actor=coach,
        )
    return section, levels, areas


def student_card(page, first_name):
    return page.get_by_test_id("skill-student").filter(has_text=first_name)


def cell(card, skill):
    return card.locator(f"[data-skill-cell][data-skill='{skill}']")


def test_an_instructor_rates_skills_on_a_phone(browser, live_server, swim_class):
    _section, levels, _areas = swim_class
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        # given the instructor on a phone, on the class's rating screen
        sign_in(page, live_server.url, "/staff/login/", "coach", PASSWORD)
        page.goto(f"{live_server.url}/staff/skills/")
        page.get_by_role("link", name="SWIM-1-A").first.click()
        expect(page.get_by_test_id("skill-student")).to_have_count(3)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # when they tap a rating, it is saved at once
        ada = student_card(page, "Ada")
        breathing = cell(ada, "Breathing")
        breathing.locator("label.tap-rating-3").tap()
        expect(cell(ada, "Breathing").locator("[data-skill-status]")).to_have_text("Saved")
        assert SkillRating.objects.filter(enrollment__student__first_name="Ada", current_rating=3).count() == 1

        # a rating below the last one asks why before it is sent
        ben = student_card(page, "Ben")
        cell(ben, "Breathing").locator("label.tap-rating-1").tap()
        reason = cell(ben, "Breathing").get_by_label("Lower than 2: why?")
        expect(reason).to_be_visible()
        assert not SkillRating.objects.filter(current_rating=1).exists()
        reason.fill("Swallowed water, lost confidence")
        cell(ben, "Breathing").get_by_role("button", name="Save").tap()
        expect(cell(ben, "Breathing").locator("[data-skill-status]")).to_have_text("Saved")
        corrected = SkillRating.objects.get(current_rating=1)
        assert (corrected.previous_rating, corrected.correction_reason) == (2, "Swallowed water, lost confidence")

        # the tap that brings Ada's last skill to its target flags her as ready
        cell(ada, "Kicking").locator("label.tap-rating-3").tap()
        expect(cell(ada, "Kicking").locator("[data-skill-status]")).to_have_text("Saved")
        expect(ada.get_by_test_id("ready-flag")).to_have_count(0)
        cell(ada, "Floating").locator("label.tap-rating-3").tap()
        expect(ada.get_by_test_id("ready-flag")).to_be_visible()
        expect(page.get_by_test_id("ready-count")).to_have_text("1 of 3 ready for the next level")
        screenshot(page, "staff-skills-phone")

        # without a connection the tap waits; "Save all" sends it once back online
        context.set_offline(True)
        chidi = student_card(page, "Chidi")
        cell(chidi, "Kicking").locator("label.tap-rating-2").tap()
        expect(cell(chidi, "Kicking").locator("[data-skill-status]")).to_contain_text("Not saved")
        expect(page.locator("[data-skill-pending]")).to_have_text("1 not saved yet")
        context.set_offline(False)
        chidi.get_by_text("Note, milestones and next goals").tap()
        chidi.get_by_label("Next goals").fill("Kick from the hips")
        page.get_by_test_id("save-all").tap()
        expect(page.get_by_text("Saved 1 rating.")).to_be_visible()
        saved = SkillRating.objects.get(enrollment__student__first_name="Chidi")
        assert (saved.current_rating, saved.next_goals) == (2, ["Kick from the hips"])
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()

    # then the office moves Ada on to the next level from the list of ready students
    page = browser.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live_server.url, "/staff/login/", "office", PASSWORD)
        page.goto(f"{live_server.url}/staff/skills/ready/")
        expect(page.get_by_test_id("ready-student")).to_have_count(1)
        page.get_by_role("button", name="Move to Level 2").click()
        expect(page.get_by_text("moved to Level 2 · Module 2.1.")).to_be_visible()
        expect(page.get_by_test_id("ready-student")).to_have_count(0)
        ada = Enrollment.objects.get(student__first_name="Ada")
        assert ada.current_level == levels[1]
        # and reads her progress from her record: a chart per skill, the ratings below
        page.goto(f"{live_server.url}/staff/students/{ada.student_id}/")
        page.get_by_test_id("student-skills").click()
        expect(page.get_by_test_id("skill-chart")).to_have_count(3)
        expect(page.get_by_test_id("rating-row")).to_have_count(3)
        screenshot(page, "staff-skill-progress")
    finally:
        page.close()
