"""The staff promotion pages (promotion.staff_views): who may open each page and press
each button, a new run's bad input (nothing written), the preview made as a job and
shown with its summary, filters, overrides and CSV at a fixed number of queries, the
approval refused to the creator, the run started and its records as the final report."""

import csv
import io

import pytest
from django.urls import reverse

from academy.jobs import job_run
from academy.models import Job
from promotion import services
from promotion.models import PromotionProposal, PromotionRecord, PromotionRun
from students.models import Student
from tests.factories.academy import admin_user, finance_user, instructor_user
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def principal(db):
    return admin_user(username="principal")


@pytest.fixture
def school(location, years, grades):
    old, _new = years
    first, _second, third = grades

    def pupil(name, grade, **extra):
        return StudentFactory(location=location, last_name=name, grade_level=grade, academic_year=old, **extra)

    return {
        "able": pupil("Able", first),
        "baker": pupil("Baker", third),
        "cole": pupil("Cole", first, status=Student.Status.WITHDRAWN),
    }


@pytest.fixture
def run(location, years, office, school):
    old, new = years
    return services.run_create(location=location, from_year=old, to_year=new, actor=office)


@pytest.fixture
def previewed(run, office):
    return services.run_preview(run=run, actor=office)


def page(name, *args):
    return reverse(f"staff:{name}", args=args)


def rows_of(response, testid):
    return response.content.decode().count(f'data-testid="{testid}"')


# --- permissions ----------------------------------------------------------------------------


def _pages(run):
    proposal = PromotionProposal.objects.filter(run=run).first()
    return [
        ("get", page("promotion-runs")),
        ("get", page("promotion-run-new")),
        ("get", page("promotion-run", run.pk)),
        ("get", page("promotion-run-preview-csv", run.pk)),
        ("get", page("promotion-run-records-csv", run.pk)),
        ("get", page("promotion-proposal-override", run.pk, proposal.pk)),
        ("post", page("promotion-run-preview", run.pk)),
        ("post", page("promotion-run-approve", run.pk)),
        ("post", page("promotion-run-start", run.pk)),
        ("post", page("promotion-run-cancel", run.pk)),
    ]


def test_anonymous_users_go_to_the_staff_login(client, previewed):
    for method, url in _pages(previewed):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login")), url


def test_a_parent_goes_to_the_portal(client, previewed, family):
    guardian, _children = family
    client.force_login(guardian.portal_user)
    for method, url in _pages(previewed):
        response = getattr(client, method)(url)
        assert (response.status_code, response["Location"]) == (302, reverse("portal:dashboard")), url


@pytest.mark.parametrize("make_user", [instructor_user, finance_user])
def test_instructors_and_finance_staff_are_refused(client, previewed, location, make_user):
    client.force_login(make_user(username="other", locations=[location]))
    for method, url in _pages(previewed):
        assert getattr(client, method)(url).status_code == 403, url
    assert PromotionRun.objects.get(pk=previewed.pk).state == PromotionRun.State.PREVIEWED


def test_office_of_another_location_sees_no_such_run(client, previewed, other_office):
    client.force_login(other_office)
    response = client.get(page("promotion-runs"))
    assert response.status_code == 200 and rows_of(response, "run-row") == 0
    assert client.get(page("promotion-run-new")).status_code == 200
    for method, url in _pages(previewed)[2:]:
        if "approve" in url or "start" in url:
            continue  # office staff may not approve anywhere: 403 before the lookup
        assert getattr(client, method)(url).status_code == 404, url
    assert PromotionRun.objects.get(pk=previewed.pk).state == PromotionRun.State.PREVIEWED


def test_office_of_the_location_reads_and_edits_but_does_not_approve(client, previewed, office):
    client.force_login(office)
    for method, url in _pages(previewed)[:6]:
        assert client.get(url).status_code == 200, url
    assert client.post(page("promotion-run-approve", previewed.pk)).status_code == 403
    assert client.post(page("promotion-run-start", previewed.pk)).status_code == 403
    assert PromotionRun.objects.get(pk=previewed.pk).state == PromotionRun.State.PREVIEWED


def test_the_admin_opens_every_page(client, previewed, academy_admin):
    client.force_login(academy_admin)
    for _method, url in _pages(previewed)[:6]:
        assert client.get(url).status_code == 200, url


def test_the_menu_links_promotion_for_those_who_may_see_it(client, office, location):
    client.force_login(office)
    assert f'href="{page("promotion-runs")}"' in client.get(reverse("staff:dashboard")).content.decode()
    client.force_login(finance_user(username="cashier", locations=[location]))
    assert f'href="{page("promotion-runs")}"' not in client.get(reverse("staff:dashboard")).content.decode()


def test_the_list_offers_new_run_only_with_the_permission(client, run, office, location):
    client.force_login(office)
    response = client.get(page("promotion-runs"))
    assert rows_of(response, "run-row") == 1 and rows_of(response, "new-run") == 1


# --- a new run ------------------------------------------------------------------------------


def _form(where, years, **changes):
    old, new = years
    data = {
        "location": where.pk,
        "from_year": old.pk,
        "to_year": new.pk,
        "min_attendance": "75",
        "max_failed_results": "1",
        "carry_forward": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_office_creates_a_draft_run(client, office, location, years, grades):
    client.force_login(office)
    response = client.post(page("promotion-run-new"), _form(location, years, grades=[grades[0].pk, grades[1].pk]))
    run = PromotionRun.objects.get()
    assert response.status_code == 302 and response["Location"] == page("promotion-run", run.pk)
    assert run.state == PromotionRun.State.DRAFT and run.created_by == office
    assert run.grade_ids == [str(grades[0].pk), str(grades[1].pk)] and str(run.min_attendance) == "75.00"
    assert run.max_failed_results == 1 and run.carry_forward and not run.hold_detains
    detail = client.get(response["Location"])
    assert "Grade 1, Grade 2" in detail.content.decode() and rows_of(detail, "preview") == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"to_year": "swap"}, "to_year"),  # into a year that starts earlier: the service refuses
        ({"to_year": "same"}, "to_year"),
        ({"to_year": None}, "to_year"),
        ({"min_attendance": "150"}, "min_attendance"),
        ({"max_failed_results": "-1"}, "max_failed_results"),
        ({"grades": ["00000000-0000-0000-0000-000000000000"]}, "grades"),
        ({"location": "other"}, "location"),
    ],
)
def test_bad_input_writes_nothing(client, office, location, other_location, years, changes, field):
    old, new = years
    if changes.get("to_year") == "swap":
        changes = {"from_year": new.pk, "to_year": old.pk}
    elif changes.get("to_year") == "same":
        changes = {"to_year": old.pk}
    elif changes.get("location") == "other":
        changes = {"location": other_location.pk}
    client.force_login(office)
    response = client.post(page("promotion-run-new"), _form(location, years, **changes))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not PromotionRun.objects.exists()


# --- preview, overrides, approval, start ----------------------------------------------------


def test_preview_runs_as_a_job_and_shows_the_outcomes(client, run, office, school):
    client.force_login(office)
    response = client.post(page("promotion-run-preview", run.pk))
    assert response["Location"] == page("promotion-run", run.pk)
    job = Job.objects.get(kind=services.PREVIEW_JOB)
    waiting = client.get(page("promotion-run", run.pk))
    assert rows_of(waiting, "job-progress") == 1 and rows_of(waiting, "preview-table") == 0
    job_run(job.pk)
    shown = client.get(page("promotion-run", run.pk))
    assert shown.context["run"].state == PromotionRun.State.PREVIEWED
    assert rows_of(shown, "proposal-row") == 3 and rows_of(shown, "summary-row") == 2
    outcomes = {row.student.last_name: row.final_outcome for row in shown.context["page"].object_list}
    assert outcomes == {"Able": "promoted", "Baker": "graduated", "Cole": "left"}
    summary = {row["grade"]: row["counts"] for row in shown.context["summary"]}
    assert summary["Grade 1"][:4] == [1, 0, 0, 1] and summary["Grade 3"][:4] == [0, 0, 1, 0]


def test_the_preview_filters_by_outcome_and_grade(client, previewed, office, grades):
    client.force_login(office)
    url = page("promotion-run", previewed.pk)
    assert rows_of(client.get(url, {"outcome": "left"}), "proposal-row") == 1
    assert rows_of(client.get(url, {"grade": grades[0].pk}), "proposal-row") == 2
    assert rows_of(client.get(url, {"grade": grades[0].pk, "outcome": "graduated"}), "proposal-row") == 0
    assert client.get(url, {"outcome": "vanished"}).status_code == 400
    assert client.get(url, {"grade": "nope"}).status_code == 400


def test_an_override_needs_a_reason_and_is_shown(client, previewed, office, school):
    client.force_login(office)
    proposal = PromotionProposal.objects.get(run=previewed, student=school["able"])
    url = page("promotion-proposal-override", previewed.pk, proposal.pk)
    response = client.post(url, {"outcome": "detained", "reason": "  "})
    assert response.status_code == 400 and "reason" in response.context["form"].errors
    assert client.post(url, {"outcome": "expelled", "reason": "x"}).status_code == 400
    proposal.refresh_from_db()
    assert proposal.override_outcome == ""

    response = client.post(url, {"outcome": "detained", "reason": "Parents asked to repeat the year"})
    assert response["Location"] == page("promotion-run", previewed.pk)
    proposal.refresh_from_db()
    assert (proposal.override_outcome, proposal.overridden_by) == ("detained", office)
    shown = client.get(page("promotion-run", previewed.pk), {"outcome": "detained"})
    assert rows_of(shown, "proposal-row") == 1 and rows_of(shown, "override") == 1
    assert "Parents asked to repeat the year" in shown.content.decode()


def test_the_service_refusal_of_an_override_is_a_form_error(client, previewed, office, school):
    client.force_login(office)
    proposal = PromotionProposal.objects.get(run=previewed, student=school["baker"])  # final grade
    response = client.post(
        page("promotion-proposal-override", previewed.pk, proposal.pk), {"outcome": "promoted", "reason": "Why not"}
    )
    assert response.status_code == 400 and "outcome" in response.context["form"].errors


def test_a_proposal_of_another_run_is_not_found(client, previewed, office, location, years):
    old, new = years
    other = services.run_preview(
        run=services.run_create(location=location, from_year=old, to_year=new, actor=office), actor=office
    )
    client.force_login(office)
    proposal = PromotionProposal.objects.filter(run=other).first()
    assert client.get(page("promotion-proposal-override", previewed.pk, proposal.pk)).status_code == 404


def test_the_creator_cannot_approve_and_is_told_why(client, location, years, principal, school):
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=principal)
    services.run_preview(run=run, actor=principal)
    client.force_login(principal)
    response = client.post(page("promotion-run-approve", run.pk), follow=True)
    assert "Someone other than the run&#x27;s creator approves it." in response.content.decode()
    assert PromotionRun.objects.get(pk=run.pk).state == PromotionRun.State.PREVIEWED


def test_approving_a_draft_is_refused_with_a_message(client, run, principal):
    client.force_login(principal)
    response = client.post(page("promotion-run-approve", run.pk), follow=True)
    assert "Only a previewed run is approved" in response.content.decode()
    assert PromotionRun.objects.get(pk=run.pk).state == PromotionRun.State.DRAFT


def test_approve_start_and_the_final_report(client, previewed, office, principal, school):
    client.force_login(principal)
    client.post(page("promotion-run-approve", previewed.pk))
    assert PromotionRun.objects.get(pk=previewed.pk).state == PromotionRun.State.APPROVED
    client.force_login(office)
    proposal = PromotionProposal.objects.filter(run=previewed).first()
    response = client.post(
        page("promotion-proposal-override", previewed.pk, proposal.pk), {"outcome": "left", "reason": "Moved"}
    )
    assert response.status_code == 302 and PromotionProposal.objects.get(pk=proposal.pk).override_outcome == ""
    assert client.post(page("promotion-run-preview", previewed.pk)).status_code == 302
    assert not Job.objects.filter(kind=services.PREVIEW_JOB).exists()

    client.force_login(principal)
    response = client.post(page("promotion-run-start", previewed.pk))
    assert response["Location"] == page("promotion-run", previewed.pk)
    job = Job.objects.get(kind=services.RUN_JOB)
    job_run(job.pk)
    shown = client.get(page("promotion-run", previewed.pk))
    assert shown.context["run"].state == PromotionRun.State.COMPLETED
    assert rows_of(shown, "record-row") == 3 and rows_of(shown, "job-progress") == 1
    again = client.post(page("promotion-run-start", previewed.pk), follow=True)
    assert "Only an approved run starts" in again.content.decode()

    report = client.get(page("promotion-run-records-csv", previewed.pk))
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert lines[0][0] == "Student number" and len(lines) == 4
    assert {line[1]: line[5] for line in lines[1:]} == {"Able": "promoted", "Baker": "graduated", "Cole": "left"}
    assert PromotionRecord.objects.filter(run=previewed).count() == 3


def test_cancel_a_run(client, previewed, office):
    client.force_login(office)
    client.post(page("promotion-run-cancel", previewed.pk))
    assert PromotionRun.objects.get(pk=previewed.pk).state == PromotionRun.State.CANCELLED
    response = client.post(page("promotion-run-cancel", previewed.pk), follow=True)
    assert "is not cancelled" in response.content.decode()


def test_the_preview_csv(client, previewed, office, school):
    proposal = PromotionProposal.objects.get(run=previewed, student=school["able"])
    services.proposal_override(proposal=proposal, outcome="detained", reason="=SUM(A1)", actor=office)
    client.force_login(office)
    response = client.get(page("promotion-run-preview-csv", previewed.pk))
    assert response["Content-Disposition"].startswith("attachment")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(lines) == 4
    able = next(line for line in lines if line[1] == "Able")
    assert (able[5], able[6], able[7], able[9]) == ("promoted", "detained", "detained", "'=SUM(A1)")


# --- query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 30])
def test_the_run_page_reads_a_fixed_number_of_queries(
    client, location, years, grades, office, principal, size, django_assert_max_num_queries
):
    old, new = years
    for i in range(size):
        StudentFactory(location=location, last_name=f"S{i:03}", grade_level=grades[i % 3], academic_year=old)
    run = services.run_create(location=location, from_year=old, to_year=new, actor=office)
    run = services.run_preview(run=run, actor=office)
    for proposal in PromotionProposal.objects.filter(run=run)[:2]:
        services.proposal_override(proposal=proposal, outcome="left", reason="Moved away", actor=office)
    client.force_login(office)
    with django_assert_max_num_queries(16):
        response = client.get(page("promotion-run", run.pk))
    assert rows_of(response, "proposal-row") == size
    with django_assert_max_num_queries(6):
        assert client.get(page("promotion-runs")).status_code == 200
    services.run_approve(run=run, actor=principal)
    services.run_start(run=run, actor=principal)
    job_run(Job.objects.get(kind=services.RUN_JOB).pk)
    with django_assert_max_num_queries(16):
        response = client.get(page("promotion-run", run.pk))
    assert rows_of(response, "record-row") == size
