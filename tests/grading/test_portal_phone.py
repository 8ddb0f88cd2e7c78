"""The parent portal's results and skill progress pages in a real browser on a phone:
nothing wider than the screen (long course and skill names included), the charts drawn,
the withheld page under a finance hold."""

import datetime
import os
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from enrollment.services import enroll
from grading import services
from tests.e2e.conftest import (  # noqa: F401 - the browser tests' fixtures
    CHROMIUM,
    _roles,
    browser_context_args,
    browser_type_launch_args,
    csp_violations,
    screenshot,
    sign_in,
)
from tests.factories.academy import (
    PASSWORD,
    CourseFactory,
    SectionFactory,
    finance_user,
    instructor_user,
    parent_user,
    running_term,
    staff_user,
)
from tests.factories.families import GuardianFactory, StudentFactory
from tests.factories.finance import FinancePolicyFactory, issue
from tests.factories.grading import curriculum_with_levels

PHONE = {"width": 375, "height": 740}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,  # flushing published results and invoices after the test needs PostgreSQL
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and os.environ.get("E2E_REQUIRED") != "1", reason=f"{CHROMIUM} not installed"
    ),
]


def test_results_and_skills_fit_a_phone_screen(browser, live_server, location):
    # given a child with published results in a course with a very long name and skill
    # ratings over several weeks, and a sibling whose results are withheld
    today = timezone.localdate()
    with transaction.atomic():
        teacher = instructor_user(username="teacher")
        registrar = staff_user(username="registrar")
        guardian = GuardianFactory(portal_user=parent_user(username="parent"), last_name="Featherstonehaugh")
        child, sibling = (StudentFactory(location=location, primary_guardian=guardian) for _ in range(2))
        term = running_term(name="Autumn")
        course = CourseFactory(code="SWIM-ADV", title="Advanced competitive swimming and water safety for juniors")
        section = SectionFactory(course=course, term=term, location=location, code="A", instructor=teacher)
        _curriculum, levels, areas = curriculum_with_levels(
            course, areas=("Breathing", "Streamlined underwater dolphin kicking", "Floating")
        )
    with transaction.atomic():
        enrollment = enroll(student=child, section=section, actor=registrar)
        enroll(student=sibling, section=section, actor=registrar)
        exam = services.assessment_create(section=section, actor=teacher, type="final", title="Final", weight=100)
        services.gradebook_save(
            section=section,
            cells=[
                services.Cell(assessment_id=exam.pk, student_id=pupil.pk, status="scored", score=score)
                for pupil, score in ((child, 87), (sibling, 91))
            ],
            actor=teacher,
        )
        services.result_update(
            result=section.results.get(student=child),
            actor=teacher,
            data={"comments": "A strong term; keep working on the flip turn. " * 3},
        )
        services.section_publish(section=section, actor=teacher)
        services.enrollment_level_advance(enrollment=enrollment, actor=registrar, level=levels[0])
    for weeks_ago, rating in ((9, 0), (6, 1), (3, 2), (1, 2)):
        with transaction.atomic():
            services.skill_ratings_save(
                section=section,
                ratings=[
                    services.RatingInput(
                        enrollment_id=enrollment.pk,
                        skill_area_id=area.pk,
                        rating=rating,
                        achievement_milestones=["Swims a full length of the pool without stopping or touching"],
                        next_goals=["Bilateral breathing every third stroke over twenty-five metres"],
                    )
                    for area in areas[:2]
                ],
                actor=teacher,
                assessment_date=today - datetime.timedelta(weeks=weeks_ago),
            )
    with transaction.atomic():
        FinancePolicyFactory(location=location, block_results=True, hold_threshold=Decimal("0.00"))
        issue(sibling, "1234567.89", actor=finance_user(username="cashier"))

    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)
        page.wait_for_url(f"{live_server.url}/portal/")
        # when the parent goes from the child's page to the results
        page.goto(f"{live_server.url}/portal/children/{child.pk}/")
        page.get_by_role("link", name="Results and report cards").click()
        # then the grade shows, with the report card link, and nothing scrolls sideways
        expect(page.get_by_test_id("grade")).to_have_text("B")
        expect(page.get_by_test_id("report-card-link")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "portal-grading-phone-results")

        # the skill progress page: the charts are drawn, inside the screen
        page.get_by_role("link", name="Skill progress").click()
        expect(page.get_by_test_id("progress-chart")).to_have_count(2)
        expect(page.get_by_test_id("skill")).to_have_count(3)
        box = page.get_by_test_id("progress-chart").first.bounding_box()
        assert box["width"] > 200 and box["x"] + box["width"] <= PHONE["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "portal-grading-phone-progress")

        # the sibling's results are withheld: the reason, no grade
        page.goto(f"{live_server.url}/portal/children/{sibling.pk}/results/")
        expect(page.get_by_test_id("results-withheld")).to_contain_text("Results withheld")
        expect(page.get_by_test_id("hold-reason")).to_contain_text("1,234,567.89")
        expect(page.get_by_test_id("grade")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "portal-grading-phone-withheld")
    finally:
        context.close()
