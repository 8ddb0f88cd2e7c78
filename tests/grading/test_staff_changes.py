"""Grade change requests from the staff portal: an instructor asks from a published result,
someone else approves or rejects in the queue; one's own request cannot be decided by
oneself (409 ``same_approver``, and no buttons for it); instructors never decide."""

from decimal import Decimal

import pytest
from django.urls import reverse

from grading import services
from grading.models import Result, ResultChange
from tests.factories.academy import finance_user, instructor_user
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(section, students, assessments, teacher):
    cells = [
        services.Cell(assessment_id=a.pk, student_id=s.pk, score=v)
        for s in students
        for a, v in zip(assessments, (80, 70, 90), strict=True)
    ]
    services.gradebook_save(section=section, cells=cells, actor=teacher)
    services.section_publish(section=section, actor=teacher)
    return Result.objects.get(section=section, student=students[0])  # 82.00, B


def request_url(result) -> str:
    return reverse("staff:grading-change-request", args=[result.pk])


def approve_url(change) -> str:
    return reverse("staff:grading-change-approve", args=[change.pk])


def reject_url(change) -> str:
    return reverse("staff:grading-change-reject", args=[change.pk])


def queue() -> str:
    return reverse("staff:grading-changes")


def test_an_instructor_requests_and_a_registrar_approves(client, published, teacher, registrar):
    # given the instructor on the published result's request page
    client.force_login(teacher)
    page = client.get(request_url(published)).content.decode()
    assert '<option value="A">A (from 90%)</option>' in page
    assert '<option value="B">' not in page  # the current grade
    # when they ask for an A with a reason
    response = client.post(request_url(published), {"new_grade": "A", "reason": "Final exam re-marked: 95"})
    assert response.status_code == 302 and response["Location"] == queue()
    change = ResultChange.objects.get()
    assert (change.status, change.old_grade, change.new_grade, change.requested_by) == ("pending", "B", "A", teacher)
    # then the instructor sees it in the queue without decision buttons
    page = client.get(queue()).content.decode()
    assert 'data-testid="change-row"' in page and 'data-testid="approve"' not in page
    assert client.post(approve_url(change)).status_code == 403
    # and the registrar approves it: the grade changes at once
    client.force_login(registrar)
    page = client.get(queue()).content.decode()
    assert 'data-testid="approve"' in page and 'data-testid="reject"' in page
    response = client.post(approve_url(change), {"note": "Checked the paper"})
    assert response.status_code == 302
    published.refresh_from_db()
    change.refresh_from_db()
    assert (published.letter_grade, published.grade_points, published.last_change) == ("A", Decimal("4.00"), change)
    assert (change.status, change.approved_by, change.resolution_note) == ("approved", registrar, "Checked the paper")
    page = client.get(queue()).content.decode()
    assert "B -&gt; A approved: the grade is changed." in page


def test_ones_own_request_has_no_buttons_and_approving_it_is_a_409(client, published, registrar):
    client.force_login(registrar)
    client.post(request_url(published), {"new_grade": "C", "reason": "Late work counted"})
    change = ResultChange.objects.get()
    page = client.get(queue()).content.decode()
    assert 'data-testid="own-request"' in page and 'data-testid="approve"' not in page
    for url in (approve_url(change), reject_url(change)):
        response = client.post(url, {"note": "Fine by me"})
        assert response.status_code == 409
        assert "The approver must be someone other than the requester." in response.content.decode()
    change.refresh_from_db()
    published.refresh_from_db()
    assert change.status == "pending" and published.letter_grade == "B"


def test_a_rejection_needs_a_note(client, published, teacher, registrar):
    change = services.result_change_request(result=published, new_grade="A", reason="Recount", actor=teacher)
    client.force_login(registrar)
    response = client.post(reject_url(change), {"note": ""})
    assert response.status_code == 400 and "Say why the request is rejected." in response.content.decode()
    assert client.post(reject_url(change), {"note": "The paper was marked right"}).status_code == 302
    change.refresh_from_db()
    published.refresh_from_db()
    assert (change.status, published.letter_grade) == ("rejected", "B")
    # deciding it again: already resolved
    assert client.post(approve_url(change)).status_code == 409


def test_bad_requests_are_form_errors_and_nothing_is_written(client, published, section, students, teacher):
    client.force_login(teacher)
    response = client.post(request_url(published), {"new_grade": "Z", "reason": "x"})
    assert response.status_code == 400
    response = client.post(request_url(published), {"new_grade": "A", "reason": ""})
    assert response.status_code == 400
    assert not ResultChange.objects.exists()
    # a second request while one is pending
    services.result_change_request(result=published, new_grade="A", reason="Recount", actor=teacher)
    response = client.post(request_url(published), {"new_grade": "C", "reason": "Other"})
    assert response.status_code == 409 and "already waiting for a decision" in response.content.decode()
    assert ResultChange.objects.count() == 1


def test_a_draft_result_is_changed_through_its_scores(client, section, students, assessments, teacher):
    services.score_save(assessment=assessments[0], student=students[0], actor=teacher, score=50)
    draft = Result.objects.get(student=students[0])
    client.force_login(teacher)
    assert "change the scores in the" in client.get(request_url(draft)).content.decode()
    response = client.post(request_url(draft), {"new_grade": "A", "reason": "x"})
    assert response.status_code == 409 and "The result is a draft: change the scores" in response.content.decode()
    assert not ResultChange.objects.exists()


@pytest.mark.parametrize(
    ("actor", "request_status", "approve_status"),
    [
        ("teacher", 302, 403),  # asks, never decides
        ("other_teacher", 404, 403),
        ("finance", 403, 403),
        ("other_office", 404, 404),
        ("admin", 302, 302),
    ],
)
def test_who_may_request_and_decide(
    client, published, teacher, academy_admin, other_office, registrar, actor, request_status, approve_status
):
    users = {
        "teacher": teacher,
        "other_teacher": instructor_user(username="other-teacher"),
        "finance": finance_user(username="cashier"),
        "other_office": other_office,
        "admin": academy_admin,
    }
    client.force_login(users[actor])
    response = client.post(request_url(published), {"new_grade": "A", "reason": "Recount"})
    assert response.status_code == request_status
    assert ResultChange.objects.exists() == (request_status == 302)
    ResultChange.objects.all().delete()
    change = services.result_change_request(result=published, new_grade="C", reason="Recount", actor=registrar)
    response = client.post(approve_url(change))
    assert response.status_code == approve_status
    change.refresh_from_db()
    assert change.status == ("approved" if approve_status == 302 else "pending")


def test_instructors_see_only_their_sections_requests(client, published, registrar):
    services.result_change_request(result=published, new_grade="A", reason="Recount", actor=registrar)
    client.force_login(instructor_user(username="other-teacher"))
    page = client.get(queue()).content.decode()
    assert 'data-testid="change-row"' not in page and "0 requests" in page


def test_the_queue_shows_pending_first_and_filters(client, published, section, students, teacher, registrar):
    others = Result.objects.filter(section=section).exclude(pk=published.pk).order_by("student__last_name")
    old = services.result_change_request(result=others[0], new_grade="C", reason="Old one", actor=teacher)
    services.result_change_reject(change=old, actor=registrar, note="No")
    services.result_change_request(result=published, new_grade="A", reason="New one", actor=teacher)
    client.force_login(registrar)
    page = client.get(queue()).content.decode()
    assert page.index("New one") < page.index("Old one")
    only_rejected = client.get(queue(), {"status": "rejected"}).content.decode()
    assert "Old one" in only_rejected and "New one" not in only_rejected
    assert client.get(queue(), {"status": "maybe"}).status_code == 400
