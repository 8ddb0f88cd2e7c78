"""Year-end promotion in a real browser: the office creates a run in the staff wizard,
reads the preview and keeps one child back with a reason (it may not approve); the
academy admin, someone else, approves and starts it and the run's progress bar reaches
the end; then the parent signs in to the parent portal and reads each child's year-end
notice: one moves up to the next grade, the other stays in the same grade."""

import datetime

import pytest
from django.db import transaction
from playwright.sync_api import expect

from promotion.models import PromotionRecord, PromotionRun
from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import (
    PASSWORD,
    AcademicYearFactory,
    GradeLevelFactory,
    admin_user,
    parent_user,
    staff_user,
)
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_office_previews_and_overrides_the_admin_approves_and_starts_the_parent_reads_the_notice(
    browser, live_server, location
):
    # given two years, the grade ladder, the office, the academy admin and the Okafors' two
    # children in Grade 1, with Cara Diaz in the final grade
    with transaction.atomic():
        old = AcademicYearFactory(
            name="2025-26", start_date=datetime.date(2025, 8, 1), end_date=datetime.date(2026, 7, 31)
        )
        AcademicYearFactory(
            name="2026-27", start_date=datetime.date(2026, 8, 1), end_date=datetime.date(2027, 7, 31), is_current=False
        )
        third = GradeLevelFactory(name="Grade 3", order=3)
        second = GradeLevelFactory(name="Grade 2", order=2, next_grade=third)
        first = GradeLevelFactory(name="Grade 1", order=1, next_grade=second)
        staff_user(username="office", first_name="Olive", last_name="Office", locations=[location])
        admin_user(username="principal", first_name="Pat", last_name="Principal")
        guardian = GuardianFactory(portal_user=parent_user(username="parent"), last_name="Okafor")

        def pupil(first_name, last_name, grade, **extra):
            return StudentFactory(
                location=location,
                first_name=first_name,
                last_name=last_name,
                grade_level=grade,
                academic_year=old,
                **extra,
            )

        ada = pupil("Ada", "Okafor", first, primary_guardian=guardian)
        ben = pupil("Ben", "Okafor", first, primary_guardian=guardian)
        cara = pupil("Cara", "Diaz", third)

    office_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    admin_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    parent_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        # when the office creates a run from 2025-26 into 2026-27 in the wizard
        office = office_context.new_page()
        office.set_default_timeout(15_000)
        sign_in(office, live_server.url, "/staff/login/", "office", PASSWORD)
        office.get_by_role("navigation", name="Main").get_by_role("link", name="Promotion").click()
        office.get_by_test_id("new-run").click()
        office.get_by_label("Location").select_option(label="Main campus (MAIN)")
        office.get_by_label("From year").select_option(label="2025-26")
        office.get_by_label("Into year").select_option(label="2026-27")
        expect(office.get_by_label("Carry open balances into the new year")).to_be_checked()
        office.get_by_test_id("create-run").click()
        office.get_by_text("Draft run created.").wait_for()
        expect(office.get_by_test_id("run-state")).to_have_text("Draft")
        run = PromotionRun.objects.get()
        assert run.created_by.username == "office"

        # and previews it: every student's proposed outcome and why
        office.get_by_test_id("preview").click()
        office.locator('[data-testid="job-progress"][data-status="completed"]').wait_for()
        expect(office.get_by_test_id("run-state")).to_have_text("Previewed")
        expect(office.get_by_test_id("proposal-count")).to_have_text("3 students")
        rows = office.get_by_test_id("proposal-row")
        expect(rows).to_have_count(3)

        def row(student):
            return office.locator(f'[data-testid="proposal-row"][data-student="{student.pk}"]')

        expect(row(ada)).to_have_attribute("data-outcome", "promoted")
        expect(row(ada)).to_contain_text("Grade 1 → Grade 2")
        expect(row(ben)).to_have_attribute("data-outcome", "promoted")
        expect(row(cara)).to_have_attribute("data-outcome", "graduated")
        expect(row(cara)).to_contain_text("Grade 3 is the final grade.")
        expect(office.get_by_test_id("summary-row")).to_have_count(2)

        # and keeps Ben back with a reason
        row(ben).get_by_test_id("open-override").click()
        office.get_by_label("Outcome").select_option("detained")
        office.get_by_label("Reason").fill("Repeats the year at the family's request")
        office.get_by_test_id("save-override").click()
        office.get_by_text("Outcome of Ben Okafor changed.").wait_for()
        expect(row(ben)).to_have_attribute("data-outcome", "detained")
        expect(row(ben).get_by_test_id("override")).to_have_text("Detained")
        expect(row(ben)).to_contain_text("Repeats the year at the family's request")
        # the office may not approve: no button, and the page says who does
        expect(office.get_by_test_id("approve")).to_have_count(0)
        expect(office.get_by_test_id("run-actions")).to_contain_text("other than its creator, approves it")
        screenshot(office, "staff-promotion-previewed")

        # then the academy admin approves and starts it
        principal = admin_context.new_page()
        principal.set_default_timeout(15_000)
        sign_in(principal, live_server.url, "/staff/login/", "principal", PASSWORD)
        principal.goto(f"{live_server.url}/staff/promotion/runs/{run.pk}/")
        principal.get_by_test_id("approve").click()
        principal.get_by_text("Run approved.").wait_for()
        expect(principal.get_by_test_id("run-state")).to_have_text("Approved")
        principal.get_by_test_id("start").click()
        principal.get_by_text("The run has started").wait_for()

        # and its progress bar reaches the end
        progress = principal.locator('[data-testid="job-progress"][data-status="completed"]')
        progress.wait_for()
        expect(progress.locator("progress")).to_have_attribute("value", "100")
        expect(progress).to_contain_text("3 of 3 done")
        expect(principal.get_by_test_id("run-state")).to_have_text("Completed")
        expect(principal.get_by_test_id("record-row")).to_have_count(3)
        screenshot(principal, "staff-promotion-completed")
        outcomes = dict(PromotionRecord.objects.values_list("student_id", "outcome"))
        assert outcomes == {ada.pk: "promoted", ben.pk: "detained", cara.pk: "graduated"}

        # and the parent reads each child's notice in the parent portal
        parent = parent_context.new_page()
        parent.set_default_timeout(15_000)
        sign_in(parent, live_server.url, "/portal/login/", "parent", PASSWORD)
        parent.wait_for_url(f"{live_server.url}/portal/")
        parent.get_by_test_id("promotions-link").get_by_role("link").click()
        expect(parent).to_have_url(f"{live_server.url}/portal/promotions/")
        expect(parent.get_by_test_id("child-promotions")).to_have_count(2)  # their own two, not Cara

        def notice(student):
            return parent.locator(f'[data-testid="child-promotions"][data-child="{student.pk}"]')

        expect(notice(ada).get_by_test_id("promotion-record")).to_have_attribute("data-outcome", "promoted")
        expect(notice(ada).get_by_test_id("promotion-text")).to_contain_text(
            "Ada moves up from Grade 1 to Grade 2 for 2026-27."
        )
        expect(notice(ada).get_by_test_id("new-grade")).to_have_text("Grade 2")
        expect(notice(ada).get_by_test_id("new-year")).to_have_text("2026-27")
        expect(notice(ben).get_by_test_id("promotion-text")).to_contain_text("Ben stays in Grade 1 for 2026-27.")
        expect(notice(ben).get_by_test_id("new-grade")).to_have_text("Grade 1")
        expect(parent.get_by_text("Cara")).to_have_count(0)
        screenshot(parent, "portal-promotion-notices")

        # and the same notice on the child's own page
        parent.goto(f"{live_server.url}/portal/children/{ada.pk}/")
        parent.get_by_test_id("promotions-link").get_by_role("link").click()
        expect(parent).to_have_url(f"{live_server.url}/portal/children/{ada.pk}/promotions/")
        expect(parent.get_by_test_id("new-grade")).to_have_text("Grade 2")
    finally:
        office_context.close()
        admin_context.close()
        parent_context.close()
