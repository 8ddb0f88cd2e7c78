"""An instructor fills a gradebook from the keyboard (the draft grades follow as they type,
a bad cell is shown on the cell and nothing is saved until it is fixed) and publishes; a
grade change is requested by the instructor and approved by a second user, the
registrar; the parent then sees the new grade in the parent portal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from enrollment.services import enroll
from grading import services
from grading.models import Result, ResultChange, Score
from tests.e2e.conftest import screenshot, sign_in
from tests.factories.academy import (
    PASSWORD,
    AcademicYearFactory,
    CourseFactory,
    ProgramFactory,
    SectionFactory,
    TermFactory,
    instructor_user,
    parent_user,
    staff_user,
)
from tests.factories.families import GuardianFactory, StudentFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,  # flushing published results after the test needs PostgreSQL (TRUNCATE, not DELETE)
    pytest.mark.django_db(transaction=True),
]

# quiz 20, midterm 30, final 50 (out of 100 each); by last name, the page's order
SCORES = {
    "Adams": ("80", "70", "90"),  # 82.00 B
    "Brown": ("90", "90", "90"),  # 90.00 A
    "Clark": ("e", "50", "100"),  # excused quiz: 65 / 80 = 81.25 B
    "Okafor": ("70", "60", "75"),  # 69.50 D
}


def cell(page, row: int, col: int):
    return page.get_by_test_id("gradebook-row").nth(row).locator("input[data-cell]").nth(col)


def row_grade(page, row: int) -> tuple[str, str]:
    found = page.get_by_test_id("gradebook-row").nth(row)
    return found.locator("[data-percentage]").inner_text(), found.locator("[data-grade]").inner_text()


def settled(page) -> None:
    """Every save answered and no cell left unsaved."""
    # a function, not an expression: Playwright evaluates an expression string in the page,
    # which the Content-Security-Policy refuses (no 'unsafe-eval')
    page.wait_for_function(
        "() => !document.querySelector('form[data-gradebook][aria-busy]')"
        " && !document.querySelector('input[data-cell].is-dirty')"
    )


def test_keyboard_gradebook_publish_change_and_the_parent_sees_it(page, live_server, location):
    today = timezone.localdate()
    with transaction.atomic():
        teacher = instructor_user(username="teacher", first_name="Tess", last_name="Teacher")
        staff_user(username="registrar", first_name="Rita", last_name="Registrar")
        term = TermFactory(
            academic_year=AcademicYearFactory(),
            name="Autumn",
            start_date=today - timedelta(days=30),
            end_date=today + timedelta(days=60),
        )
        course = CourseFactory(code="MATH-5", title="Mathematics 5", program=ProgramFactory(code="ACAD"))
        section = SectionFactory(course=course, term=term, location=location, code="A", instructor=teacher)
        guardian = GuardianFactory(portal_user=parent_user(username="parent"), last_name="Okafor")
        ada = StudentFactory(location=location, first_name="Ada", last_name="Okafor", primary_guardian=guardian)
        pupils = [StudentFactory(location=location, last_name=name) for name in ("Adams", "Brown", "Clark")]
    with transaction.atomic():
        for student in [*pupils, ada]:
            enroll(student=student, section=section, actor=teacher, enrollment_date=term.start_date)
        for days, (kind, title, weight) in enumerate(
            (("quiz", "Quiz 1", 20), ("midterm", "Midterm", 30), ("final", "Final", 50))
        ):
            services.assessment_create(
                section=section,
                actor=teacher,
                type=kind,
                title=title,
                weight=Decimal(weight),
                date=term.start_date + timedelta(days=days),
            )

    # given the instructor on their section's gradebook
    sign_in(page, live_server.url, "/staff/login/", "teacher", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gradebooks").click()
    page.get_by_role("link", name="MATH-5-A").click()
    assert page.get_by_test_id("weights-total").inner_text() == "Weights total 100 of 100"
    rows = page.get_by_test_id("gradebook-row")
    assert rows.count() == 4
    assert rows.nth(3).locator("th").inner_text().startswith("Okafor, Ada")

    # when they type the quiz column, Enter after each score (it saves and moves down)
    cell(page, 0, 0).click()
    page.keyboard.type("80")
    assert row_grade(page, 0) == ("80.00", "B")  # the draft follows as they type
    page.keyboard.press("Enter")
    for value in ("90", "e", "70"):
        page.keyboard.type(value)
        page.keyboard.press("Enter")
    assert row_grade(page, 2) == ("—", "—")  # excused: nothing counts yet
    settled(page)
    assert Score.objects.count() == 4

    # the midterm column bottom-up with the arrows, one score out of range
    page.keyboard.press("ArrowRight")  # from the last quiz cell to its midterm
    for value in ("60", "50", "90"):
        page.keyboard.type(value)
        page.keyboard.press("ArrowUp")
    page.keyboard.type("700")
    page.keyboard.press("Enter")
    error = page.get_by_test_id("cell-error")
    error.wait_for()
    assert error.inner_text() == "A score is from 0 to 100.00."
    assert "Nothing was saved." in page.get_by_test_id("gradebook-status").inner_text()
    assert cell(page, 0, 1).get_attribute("aria-invalid") == "true"
    assert Score.objects.count() == 4  # all or nothing: the three good midterms wait too
    screenshot(page, "staff-gradebook-cell-error")
    page.keyboard.press("ArrowUp")  # back to the bad cell, its text selected
    page.keyboard.type("70")
    assert page.get_by_test_id("cell-error").count() == 0
    page.keyboard.press("Enter")

    # the final column, top-down
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowRight")
    for value in ("90", "90", "100", "75"):
        page.keyboard.type(value)
        if value != "75":
            page.keyboard.press("Enter")
    assert row_grade(page, 3) == ("69.50", "D")  # worked out in the page, before saving
    page.keyboard.press("Enter")
    settled(page)
    assert page.get_by_test_id("gradebook-status").inner_text().startswith("Saved")

    # then every score is saved and the server's grades agree with the page's
    assert Score.objects.count() == 12
    expected = {"Adams": ("82.00", "B"), "Brown": ("90.00", "A"), "Clark": ("81.25", "B"), "Okafor": ("69.50", "D")}
    for index, name in enumerate(expected):
        assert row_grade(page, index) == expected[name]
        result = Result.objects.get(section=section, student__last_name=name)
        assert (f"{result.percentage:.2f}", result.letter_grade, result.state) == (*expected[name], "draft")
    page.reload()  # what the server renders
    assert [row_grade(page, index) for index in range(4)] == list(expected.values())
    assert cell(page, 2, 0).input_value() == "E"
    screenshot(page, "staff-gradebook")

    # when they publish, after reading what will happen
    page.get_by_test_id("publish").click()
    assert "4 results will be published" in page.get_by_test_id("publish-count").inner_text()
    facts = page.get_by_test_id("publish-facts").inner_text()
    assert "are notified" in facts and "changes only through a change request" in facts
    screenshot(page, "staff-gradebook-publish")
    page.get_by_test_id("confirm-publish").click()
    page.get_by_text("Published 4 results").wait_for()
    assert set(Result.objects.values_list("state", flat=True)) == {"published"}
    assert page.locator("input[data-cell]").count() == 0  # published: read only

    # and ask for Ada's D to become a C
    rows.nth(3).get_by_test_id("request-change").click()
    page.get_by_label("New grade").select_option("C")
    page.get_by_label("Reason").fill("The final exam was re-marked: 80")
    page.get_by_role("button", name="Request the change").click()
    page.get_by_text("it waits for a decision in the queue").wait_for()
    assert page.get_by_test_id("change-row").count() == 1
    assert page.get_by_test_id("approve").count() == 0  # an instructor never decides
    page.context.clear_cookies()

    # then the registrar approves it in the queue
    sign_in(page, live_server.url, "/staff/login/", "registrar", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gradebooks").click()
    page.get_by_test_id("pending-changes").click()
    request_row = page.get_by_test_id("change-row").first
    assert "D → C" in request_row.inner_text() and "Tess Teacher" in request_row.inner_text()
    screenshot(page, "staff-grade-change-queue")
    request_row.get_by_label("Note on the decision").fill("Checked the paper")
    request_row.get_by_test_id("approve").click()
    page.get_by_text("approved: the grade is changed").wait_for()
    result = Result.objects.get(section=section, student=ada)
    assert (result.letter_grade, result.state) == ("C", "published")
    assert ResultChange.objects.get().approved_by.username == "registrar"
    page.context.clear_cookies()

    # and the parent sees the new grade in the portal
    sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)
    page.wait_for_url(f"{live_server.url}/portal/")
    page.goto(f"{live_server.url}/portal/children/{ada.pk}/results/")
    assert page.get_by_test_id("grade").inner_text() == "C"
    screenshot(page, "portal-results-after-change")


def test_the_page_works_out_the_grade_the_server_will(page, live_server, location):
    """Awkward maxima and weights (thirds, sevenths): the draft the page shows while typing
    is the server's ``weighted_percentage`` to the cent, before and after saving."""
    from types import SimpleNamespace

    from grading.selectors import weighted_percentage

    today = timezone.localdate()
    with transaction.atomic():
        teacher = instructor_user(username="teacher")
        term = TermFactory(
            academic_year=AcademicYearFactory(),
            start_date=today - timedelta(days=30),
            end_date=today + timedelta(days=60),
        )
        section = SectionFactory(term=term, location=location, code="T", instructor=teacher)
        pupils = [StudentFactory(location=location, last_name=f"Pupil{n}") for n in range(4)]
    shapes = (("33.33", "7"), ("33.33", "9"), ("33.34", "11.5"))
    with transaction.atomic():
        for student in pupils:
            enroll(student=student, section=section, actor=teacher, enrollment_date=term.start_date)
        assessments = [
            services.assessment_create(
                section=section,
                actor=teacher,
                type="quiz",
                title=f"Part {n}",
                weight=Decimal(weight),
                max_score=Decimal(top),
                date=term.start_date + timedelta(days=n),
            )
            for n, (weight, top) in enumerate(shapes)
        ]
    typed = [("1", "2", "3.25"), ("6.99", "e", "11.5"), ("0", "4.5", "m"), ("5", "8", "7.77")]

    def expected(row) -> str:
        scores = {}
        for assessment, text in zip(assessments, row, strict=True):
            status = {"e": "excused", "m": "missing"}.get(text, "scored")
            scores[assessment.pk] = SimpleNamespace(status=status, score=Decimal(text) if status == "scored" else None)
        return f"{weighted_percentage(assessments, scores, final=False):.2f}"

    sign_in(page, live_server.url, "/staff/login/", "teacher", PASSWORD)
    page.goto(f"{live_server.url}/staff/grading/gradebooks/{section.pk}/")
    for row, values in enumerate(typed):
        cell(page, row, 0).click()
        for col, value in enumerate(values):
            page.keyboard.type(value)
            if col < 2:
                page.keyboard.press("ArrowRight")
    shown = [row_grade(page, row)[0] for row in range(4)]
    assert shown == [expected(row) for row in typed]
    page.get_by_test_id("save-gradebook").click()  # the plain form post
    page.get_by_text("Saved 12 scores.").wait_for()
    saved = dict(Result.objects.filter(section=section).values_list("student__last_name", "percentage"))
    assert [f"{saved[f'Pupil{n}']:.2f}" for n in range(4)] == shown
    assert [row_grade(page, row)[0] for row in range(4)] == shown
