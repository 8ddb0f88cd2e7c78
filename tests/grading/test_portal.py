"""The parent portal's grading pages: a child's published results by term (never drafts),
the report card, skill progress with its charts, the finance hold that withholds results,
the permission matrix (the child's guardian, another family, staff, anonymous) and
fixed query counts."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from academy.common.money import money_format
from enrollment.services import enroll
from finance.services.payments import payment_record
from grading import services
from grading.models import Result, SkillRating
from tests.factories.academy import CourseFactory, SectionFactory, admin_user, finance_user, running_term, staff_user
from tests.factories.finance import FinancePolicyFactory, issue
from tests.factories.grading import curriculum_with_levels
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db

PORTAL_LOGIN = "/portal/login/"


def graded_section(*, student, term, teacher, registrar, score, code, publish=True, credits=1):
    """A one-exam section of a new course with ``student`` enrolled and scored, published
    unless ``publish`` is false (the result stays a draft)."""
    course = CourseFactory(code=code, title=f"Course {code}", credits=credits)
    section = SectionFactory(course=course, term=term, location=student.location, code="A", instructor=teacher)
    enroll(student=student, section=section, actor=registrar)
    exam = services.assessment_create(section=section, actor=teacher, type="final", title="Final", weight=Decimal(100))
    services.gradebook_save(
        section=section,
        cells=[services.Cell(assessment_id=exam.pk, student_id=student.pk, status="scored", score=score)],
        actor=teacher,
    )
    if publish:
        services.section_publish(section=section, actor=teacher)
    return section


@pytest.fixture
def parent(family):
    return family[0].portal_user


@pytest.fixture
def child(family):
    return family[1][0]


@pytest.fixture
def graded(child, term, teacher, registrar):
    """The child's results this term: Art 95 (A, 4 points, 2 credits) and Music 82 (B, 3
    points, 1 credit) published; Drama 40 still a draft."""
    art = graded_section(
        student=child, term=term, teacher=teacher, registrar=registrar, score=95, code="ART", credits=2
    )
    music = graded_section(student=child, term=term, teacher=teacher, registrar=registrar, score=82, code="MUS")
    drama = graded_section(
        student=child, term=term, teacher=teacher, registrar=registrar, score=40, code="DRA", publish=False
    )
    return {"art": art, "music": music, "drama": drama}


def results_url(student):
    return reverse("portal:grading-results", args=[student.pk])


def progress_url(student):
    return reverse("portal:grading-progress", args=[student.pk])


def report_card_url(student, term):
    return reverse("portal:grading-report-card", args=[student.pk, term.pk])


@pytest.fixture
def results_hold(location, child):
    """The location withholds results above a balance of 50; the child owes 120."""
    FinancePolicyFactory(location=location, block_results=True, hold_threshold=Decimal("50.00"))
    issue(child, "120.00", actor=finance_user(username="cashier"))


# --- results --------------------------------------------------------------------------------


def test_the_parent_sees_published_results_by_term_and_never_drafts(client, parent, child, graded, term):
    client.force_login(parent)
    response = client.get(results_url(child))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="result"') == 2
    assert "Course ART" in html and "Course MUS" in html
    assert "Course DRA" not in html  # the draft
    assert "95.00%" in html and "4.00 points" in html
    assert "82.00%" in html and "3.00 points" in html
    assert 'data-testid="grade">A<' in html and 'data-testid="grade">B<' in html
    # credit-weighted: (4 * 2 + 3 * 1) / 3
    assert 'data-testid="term-gpa">Term GPA <strong>3.67</strong>' in html
    assert term.name in html
    assert report_card_url(child, term) in html
    assert Result.objects.filter(student=child, state="draft").count() == 1


def test_results_are_grouped_by_term_newest_first(client, parent, child, graded, term, teacher, registrar):
    earlier = running_term(name="Summer", days_before=120)  # started before ``term``, still open
    graded_section(student=child, term=earlier, teacher=teacher, registrar=registrar, score=71, code="SWIM")
    client.force_login(parent)
    html = client.get(results_url(child)).content.decode()
    assert html.count('data-testid="term-results"') == 2
    assert html.index(term.name) < html.index("Summer") < html.index("Course SWIM")
    assert 'data-testid="term-gpa">Term GPA <strong>2.00</strong>' in html  # C in the earlier term


def test_a_child_without_published_results_is_told_so(client, parent, child, term, teacher, registrar):
    graded_section(student=child, term=term, teacher=teacher, registrar=registrar, score=60, code="X", publish=False)
    client.force_login(parent)
    html = client.get(results_url(child)).content.decode()
    assert 'data-testid="no-results"' in html
    assert 'data-testid="result"' not in html


def test_a_frozen_result_still_shows(client, parent, child, graded, term, registrar):
    term.status = "closed"
    term.save()
    services.section_freeze(section=graded["art"], actor=registrar)
    client.force_login(parent)
    html = client.get(results_url(child)).content.decode()
    assert html.count('data-testid="result"') == 2


def test_an_approved_change_shows_the_new_grade(client, parent, child, graded, teacher, registrar):
    result = Result.objects.get(student=child, section=graded["music"])
    change = services.result_change_request(result=result, new_grade="A", reason="Marking error", actor=teacher)
    client.force_login(parent)
    assert 'data-testid="grade">B<' in client.get(results_url(child)).content.decode()
    services.result_change_approve(change=change, actor=registrar)
    html = client.get(results_url(child)).content.decode()
    assert 'data-testid="grade">B<' not in html
    assert html.count('data-testid="grade">A<') == 2


def test_the_child_page_links_to_results_and_progress(client, parent, child):
    client.force_login(parent)
    html = client.get(reverse("portal:child", args=[child.pk])).content.decode()
    assert results_url(child) in html
    assert progress_url(child) in html


# --- the finance hold -------------------------------------------------------------------------


def test_under_a_results_hold_the_page_says_withheld_with_the_reason(client, parent, child, graded, results_hold):
    client.force_login(parent)
    response = client.get(results_url(child))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="results-withheld"' in html
    assert "Results withheld" in html
    # what to do about it, in plain words, with the amount owed
    reason = html.split('data-testid="hold-reason">')[1].split("</p>")[0]
    assert reason == (
        f"Results are withheld while the account has an outstanding balance of {money_format(Decimal('120.00'))}. "
        "Please settle the balance or contact the office."
    )
    assert reverse("portal:money") in html
    # no grade, no percentage, no course result, no report card
    assert 'data-testid="result"' not in html
    assert "95.00%" not in html and "Course ART" not in html
    assert 'data-testid="report-card-link"' not in html
    assert "report-card" not in html


def test_under_a_results_hold_the_report_card_is_refused(client, parent, child, graded, results_hold, term):
    client.force_login(parent)
    response = client.get(report_card_url(child, term))
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Results withheld" in html and "Please settle the balance or contact the office." in html


def test_the_hold_is_per_child_and_lifts_once_paid(client, parent, family, child, graded, results_hold, term):
    sibling = family[1][1]
    client.force_login(parent)
    assert 'data-testid="results-withheld"' not in client.get(results_url(sibling)).content.decode()
    # the balance is paid: the results show again
    payment_record(actor=finance_user(username="cashier2"), amount=Decimal("120.00"), method="cash", student=child)
    html = client.get(results_url(child)).content.decode()
    assert 'data-testid="results-withheld"' not in html
    assert html.count('data-testid="result"') == 2


def test_a_policy_that_does_not_block_results_shows_them(client, parent, child, graded, location):
    FinancePolicyFactory(location=location, block_results=False, block_transcripts=True)
    issue(child, "500.00", actor=finance_user(username="cashier"))
    client.force_login(parent)
    assert client.get(results_url(child)).content.decode().count('data-testid="result"') == 2


# --- report card ------------------------------------------------------------------------------


def test_the_report_card_is_a_pdf(client, parent, child, graded, term):
    client.force_login(parent)
    response = client.get(report_card_url(child, term))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert child.student_number in response["Content-Disposition"]


def test_a_term_without_published_results_has_no_report_card(client, parent, child, term, teacher, registrar):
    graded_section(student=child, term=term, teacher=teacher, registrar=registrar, score=60, code="X", publish=False)
    client.force_login(parent)
    assert client.get(report_card_url(child, term)).status_code == 404
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(reverse("portal:grading-report-card", args=[child.pk, unknown])).status_code == 404


# --- the permission matrix --------------------------------------------------------------------


@pytest.fixture
def pages(child, term, graded):
    return {
        "results": results_url(child),
        "report_card": report_card_url(child, term),
        "progress": progress_url(child),
    }


@pytest.mark.parametrize("page", ["results", "report_card", "progress"])
def test_another_family_gets_a_404(client, other_family, pages, page):
    client.force_login(other_family[0].portal_user)
    assert client.get(pages[page]).status_code == 404


@pytest.mark.parametrize("page", ["results", "report_card", "progress"])
def test_an_unknown_child_is_a_404(client, parent, page, term):
    unknown = "00000000-0000-0000-0000-000000000000"
    args = [unknown, term.pk] if page == "report_card" else [unknown]
    client.force_login(parent)
    name = {"results": "grading-results", "report_card": "grading-report-card", "progress": "grading-progress"}
    assert client.get(reverse(f"portal:{name[page]}", args=args)).status_code == 404


@pytest.mark.parametrize("page", ["results", "report_card", "progress"])
def test_staff_are_sent_to_the_staff_portal(client, pages, page, office, teacher, location):
    for user in (
        admin_user(username="boss"),
        office,
        finance_user(username="cashier"),
        teacher,  # even the child's own instructor: staff read results in the staff portal
        staff_user(username="elsewhere", locations=[]),
    ):
        client.force_login(user)
        response = client.get(pages[page])
        assert response.status_code == 302, user
        assert response["Location"] == "/staff/"


@pytest.mark.parametrize("page", ["results", "report_card", "progress"])
def test_anonymous_visitors_are_sent_to_the_portal_login(client, pages, page):
    response = client.get(pages[page])
    assert response.status_code == 302
    assert response["Location"] == f"{PORTAL_LOGIN}?next={pages[page]}"


@pytest.mark.parametrize("page", ["results", "report_card", "progress"])
def test_a_suspended_guardian_is_refused(client, family, parent, pages, page):
    type(family[0]).objects.filter(pk=family[0].pk).update(account_status="suspended")
    client.force_login(parent)
    assert client.get(pages[page]).status_code == 403


# --- skill progress ---------------------------------------------------------------------------


@pytest.fixture
def skills(child, section, registrar, teacher, course):
    """The child in ``section`` at Level 1 of a curriculum with Breathing, Kicking and
    Floating; Breathing rated 1, 2 then 3 (its target), Kicking 1, Floating never."""
    _curriculum, levels, areas = curriculum_with_levels(course)
    enrollment = enroll(student=child, section=section, actor=registrar)
    services.enrollment_level_advance(enrollment=enrollment, actor=registrar, level=levels[0])
    breathing, kicking, _floating = areas
    today = timezone.localdate()
    for weeks_ago, rating in ((8, 1), (4, 2), (1, 3)):
        services.skill_ratings_save(
            section=section,
            ratings=[
                services.RatingInput(
                    enrollment_id=enrollment.pk,
                    skill_area_id=breathing.pk,
                    rating=rating,
                    target=3,
                    achievement_milestones=[f"Milestone {rating}"],
                    next_goals=[f"Goal after {rating}"],
                    parent_notes=f"Note {rating}",
                )
            ],
            actor=teacher,
            assessment_date=today - datetime.timedelta(weeks=weeks_ago),
        )
    services.skill_ratings_save(
        section=section,
        ratings=[services.RatingInput(enrollment_id=enrollment.pk, skill_area_id=kicking.pk, rating=1, target=2)],
        actor=teacher,
        assessment_date=today - datetime.timedelta(weeks=6),
    )
    return {"enrollment": enrollment, "levels": levels, "areas": areas}


def test_the_parent_sees_each_skill_with_rating_target_milestones_and_goals(client, parent, child, skills):
    client.force_login(parent)
    response = client.get(progress_url(child))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="skill"') == 3
    assert "Breathing" in html and "Kicking" in html and "Floating" in html
    assert "3 of 3" in html and "1 of 3" in html and "Not assessed yet" in html
    assert "Target 3 · reached" in html and "Target 2" in html
    # the latest rating's milestones, goals and note; not the older ones
    assert "Milestone 3" in html and "Milestone 1" not in html
    assert "Goal after 3" in html and "Note 3" in html
    assert "Level 1" in html
    assert 'data-testid="ready"' not in html  # Kicking and Floating are not at target


def test_the_chart_data_is_the_ratings_over_time(client, parent, child, skills):
    client.force_login(parent)
    response = client.get(progress_url(child))
    html = response.content.decode()
    assert html.count('data-testid="progress-chart"') == 2  # Breathing and Kicking; Floating has none
    (progress,) = response.context["classes"]
    breathing = next(skill for skill in progress.skills if skill.area.name == "Breathing")
    assert [rating for _day, rating in breathing.history] == [1, 2, 3]
    chart = breathing.chart
    assert [dot["value"] for dot in chart["dots"]] == [1, 2, 3]
    ys = [dot["y"] for dot in chart["dots"]]
    assert ys[0] > ys[1] > ys[2]  # higher rating, higher on the chart
    xs = [dot["x"] for dot in chart["dots"]]
    assert xs == sorted(xs) and xs[0] == chart["left"] and xs[-1] == chart["right"]
    assert chart["target_y"] == ys[2]  # the target (3) is reached
    assert "<script" not in html.split("<main", 1)[1]  # server-side SVG


def test_the_period_limits_the_charts_not_the_current_ratings(client, parent, child, skills):
    client.force_login(parent)
    response = client.get(progress_url(child) + "?period=3m")
    # today is at most 8 weeks after the oldest rating: everything is in 3 months
    assert response.status_code == 200
    (progress,) = response.context["classes"]
    breathing = next(skill for skill in progress.skills if skill.area.name == "Breathing")
    assert len(breathing.history) == 3
    # move the two older Breathing ratings and Kicking's a year back: out of 6 months
    year_ago = timezone.localdate() - datetime.timedelta(days=400)
    SkillRating.objects.exclude(current_rating=3).update(assessment_date=year_ago)
    response = client.get(progress_url(child) + "?period=6m")
    (progress,) = response.context["classes"]
    by_name = {skill.area.name: skill for skill in progress.skills}
    assert [rating for _day, rating in by_name["Breathing"].history] == [3]
    assert by_name["Kicking"].chart is None and by_name["Kicking"].latest.current_rating == 1
    assert "1 of 3" in response.content.decode()  # still the current rating


def test_a_bad_period_is_a_400_with_the_message(client, parent, child, skills):
    client.force_login(parent)
    response = client.get(progress_url(child) + "?period=forever")
    assert response.status_code == 400
    assert 'data-testid="period-error"' in response.content.decode()
    assert "Select a valid choice" in response.content.decode()


def test_a_child_at_target_everywhere_is_ready_for_the_next_level(client, parent, child, skills, section, teacher):
    enrollment = skills["enrollment"]
    _breathing, kicking, floating = skills["areas"]
    services.skill_ratings_save(
        section=section,
        ratings=[
            services.RatingInput(enrollment_id=enrollment.pk, skill_area_id=kicking.pk, rating=2),
            services.RatingInput(enrollment_id=enrollment.pk, skill_area_id=floating.pk, rating=3),
        ],
        actor=teacher,
    )
    client.force_login(parent)
    assert 'data-testid="ready"' in client.get(progress_url(child)).content.decode()


def test_a_child_without_ratings_is_told_so(client, parent, child):
    client.force_login(parent)
    html = client.get(progress_url(child)).content.decode()
    assert 'data-testid="no-progress"' in html


def test_skills_stay_visible_under_a_results_hold(client, parent, child, skills, results_hold):
    client.force_login(parent)
    html = client.get(progress_url(child)).content.decode()
    assert html.count('data-testid="skill"') == 3


# --- query counts -----------------------------------------------------------------------------


def test_the_results_page_reads_in_a_fixed_number_of_queries(
    client, parent, child, term, teacher, registrar, django_assert_max_num_queries
):
    for code in ("A1", "A2"):
        graded_section(student=child, term=term, teacher=teacher, registrar=registrar, score=80, code=code)
    client.force_login(parent)
    url = results_url(child)
    client.get(url)
    with django_assert_max_num_queries(15) as small:
        client.get(url)
    other_term = running_term(name="Earlier", days_before=200)
    for code in ("B1", "B2"):
        graded_section(student=child, term=other_term, teacher=teacher, registrar=registrar, score=70, code=code)
    for code in ("C1", "C2"):
        graded_section(student=child, term=term, teacher=teacher, registrar=registrar, score=90, code=code)
    with django_assert_max_num_queries(len(small.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count('data-testid="result"') == 6


def test_the_progress_page_reads_in_a_fixed_number_of_queries(
    client, parent, child, skills, term, teacher, registrar, location, django_assert_max_num_queries
):
    client.force_login(parent)
    url = progress_url(child)
    client.get(url)
    with django_assert_max_num_queries(15) as small:
        client.get(url)
    # a second class with its own curriculum and more ratings
    course = CourseFactory(code="SWIM-2", title="Swimming 2")
    section = SectionFactory(course=course, term=term, location=location, code="B", instructor=teacher)
    _curriculum, levels, areas = curriculum_with_levels(course, areas=("Diving", "Turning"))
    enrollment = enroll(student=child, section=section, actor=registrar)
    services.enrollment_level_advance(enrollment=enrollment, actor=registrar, level=levels[0])
    for days_ago in (20, 10, 2):
        services.skill_ratings_save(
            section=section,
            ratings=[
                services.RatingInput(enrollment_id=enrollment.pk, skill_area_id=area.pk, rating=1) for area in areas
            ],
            actor=teacher,
            assessment_date=timezone.localdate() - datetime.timedelta(days=days_ago),
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count('data-testid="class-progress"') == 2
    assert html.count('data-testid="skill"') == 5
