"""Grading in Django admin: every model's pages, history included; grade scales with their
bands edited by admins; assessments and scores saved through ``grading.services`` (a
refusal is an error message on the same page and nothing is written, never a 500);
results, change requests and skill ratings read-only; deciding a change request needs
``grading.approve_resultchange`` and never the requester."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from enrollment.models import Enrollment
from grading import services
from grading.models import Assessment, GradeBand, GradeScale, Result, ResultChange, Score, SkillRating
from tests.factories.academy import UserFactory
from tests.factories.grading import curriculum_with_levels
from tests.grading.conftest import share_grading

share_grading(globals())

MODELS = (GradeScale, GradeBand, Assessment, Score, Result, ResultChange, SkillRating)
WRITABLE = (GradeScale, GradeBand, Assessment, Score)
READ_ONLY = (Result, ResultChange, SkillRating)


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def admin_staff(username: str, *permissions: str):
    """A user who may sign in to the admin and holds exactly ``permissions``."""
    user = UserFactory(username=username, is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def url(model, view: str, *args) -> str:
    return reverse(f"admin:grading_{model._meta.model_name}_{view}", args=args)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def scored(section, students, assessments, cell, teacher):
    """Every student scored on every assessment: drafts for all four."""
    cells = [cell(a, pupil, 70 + i) for i, pupil in enumerate(students) for a in assessments]
    services.gradebook_save(section=section, cells=cells, actor=teacher)
    return Score.objects.filter(assessment__section=section)


@pytest.fixture
def published(scored, section, teacher):
    services.section_publish(section=section, actor=teacher)
    return Result.objects.filter(section=section)


@pytest.fixture
def change(published, students, teacher):
    result = published.get(student=students[0])
    return services.result_change_request(result=result, new_grade="A", reason="Marking error", actor=teacher)


@pytest.fixture
def rating(section, students, course, teacher):
    _curriculum, levels, areas = curriculum_with_levels(course)
    enrollment = Enrollment.objects.get(section=section, student=students[0])
    services.enrollment_level_advance(enrollment=enrollment, actor=teacher, level=levels[0])
    (saved,) = services.skill_ratings_save(
        section=section,
        ratings=[services.RatingInput(enrollment_id=enrollment.pk, skill_area_id=areas[0].pk, rating=2)],
        actor=teacher,
    )
    return saved


@pytest.fixture
def world(change, rating):
    """One row of every grading model."""
    return {
        GradeScale: GradeScale.objects.get(is_default=True),
        GradeBand: GradeBand.objects.filter(scale__is_default=True).first(),
        Assessment: Assessment.objects.first(),
        Score: Score.objects.first(),
        Result: change.result,
        ResultChange: change,
        SkillRating: rating,
    }


# --- pages ------------------------------------------------------------------------------------


def test_every_grading_page_loads_for_an_admin(client, root, world):
    client.force_login(root)
    for model, row in world.items():
        assert client.get(url(model, "changelist")).status_code == 200, model
        assert client.get(url(model, "change", row.pk)).status_code == 200, model
        if model is not SkillRating:  # ratings are rows kept for ever: no separate history
            assert client.get(url(model, "history", row.pk)).status_code == 200, model
    for model in WRITABLE:
        assert client.get(url(model, "add")).status_code == 200, model


def test_the_lists_search_and_filter(client, root, world, students):
    client.force_login(root)
    surname = students[0].last_name
    for model in (Score, Result, ResultChange, SkillRating):
        response = client.get(url(model, "changelist"), {"q": surname})
        assert response.status_code == 200 and response.context["cl"].result_count >= 1, model
    response = client.get(url(Result, "changelist"), {"state__exact": "published"})
    assert response.context["cl"].result_count == 4


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_results_changes_and_ratings_are_read_only(client, root, world, model):
    row = world[model]
    before = model.objects.values().get(pk=row.pk)
    client.force_login(root)

    page = client.get(url(model, "change", row.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(url(model, "add")).status_code == 403
    assert client.post(url(model, "add"), {}).status_code == 403
    assert client.post(url(model, "change", row.pk), {"state": "draft", "status": "approved"}).status_code == 403
    assert client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403

    assert model.objects.values().get(pk=row.pk) == before


# --- grade scales: edited here, bands inline ------------------------------------------------


def test_an_admin_adds_a_grade_scale_with_its_bands(client, root, course):
    client.force_login(root)
    bands = [("Merit", "75", "3.00", "on"), ("Pass", "50", "2.00", "on"), ("Fail", "0", "0", "")]
    data = {
        "name": "Swim awards",
        "program": course.program_id,
        "bands-TOTAL_FORMS": len(bands),
        "bands-INITIAL_FORMS": 0,
        "bands-MIN_NUM_FORMS": 0,
        "bands-MAX_NUM_FORMS": 1000,
    }
    for index, (letter, floor, points, passed) in enumerate(bands):
        data |= {
            f"bands-{index}-letter": letter,
            f"bands-{index}-min_percentage": floor,
            f"bands-{index}-grade_points": points,
        }
        if passed:
            data[f"bands-{index}-passed"] = passed

    response = client.post(url(GradeScale, "add"), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    scale = GradeScale.objects.get(name="Swim awards")
    assert list(scale.bands.values_list("letter", "passed")) == [("Merit", True), ("Pass", True), ("Fail", False)]
    assert scale.program == course.program and scale.history.get().history_user == root


def test_a_second_default_scale_is_a_form_error(client, root):
    client.force_login(root)
    data = {"name": "Another", "is_default": "on", "bands-TOTAL_FORMS": 0, "bands-INITIAL_FORMS": 0}

    response = client.post(url(GradeScale, "add"), data)

    assert response.status_code == 200
    assert "already the default" in str(response.context["adminform"].form.errors)
    assert not GradeScale.objects.filter(name="Another").exists()


# --- assessments and scores: through the services ---------------------------------------------


def test_an_assessment_added_in_the_admin_goes_through_the_service(client, root, section):
    client.force_login(root)
    data = {"section": section.pk, "type": "quiz", "title": "Quiz 9", "weight": "15", "max_score": "20"}

    response = client.post(url(Assessment, "add"), data)

    assert response.status_code == 302
    assessment = Assessment.objects.get(title="Quiz 9")
    assert (assessment.section, assessment.weight, assessment.created_by) == (section, Decimal("15"), root)
    assert assessment.history.get().history_change_reason == "Created"


def test_weights_past_100_are_a_message_and_nothing_is_written(client, root, section, assessments):
    client.force_login(root)
    add = url(Assessment, "add")

    response = client.post(
        add, {"section": section.pk, "type": "quiz", "title": "Extra", "weight": "5", "max_score": "100"}
    )

    assert response.status_code == 302 and response["Location"] == add
    assert any("at most 100" in message for message in messages_of(response))
    assert Assessment.objects.filter(section=section).count() == 3


def test_an_assessment_edit_moves_the_drafts_and_a_published_section_refuses_it(
    client, root, section, assessments, scored, teacher
):
    quiz = assessments[0]
    client.force_login(root)
    change = url(Assessment, "change", quiz.pk)
    data = {"type": "quiz", "title": "Quiz 1", "weight": "20", "max_score": "200"}

    # a draft section: the change goes through, and the drafts follow
    before = Result.objects.get(section=section, student=scored.first().student).percentage
    assert client.post(change, data).status_code == 302
    quiz.refresh_from_db()
    assert quiz.max_score == Decimal("200") and quiz.updated_by == root
    assert Result.objects.get(section=section, student=scored.first().student).percentage < before

    # published: refused with the reason, nothing written
    services.section_publish(section=section, actor=teacher)
    response = client.post(change, data | {"max_score": "100"})
    assert response.status_code == 302 and response["Location"] == change
    assert any("published" in message for message in messages_of(response))
    quiz.refresh_from_db()
    assert quiz.max_score == Decimal("200")


def test_deleting_an_assessment_of_a_published_section_is_refused(client, root, section, assessments, published):
    client.force_login(root)
    quiz = assessments[0]

    response = client.post(url(Assessment, "delete", quiz.pk), {"post": "yes"})

    assert response.status_code == 302 and response["Location"] == url(Assessment, "change", quiz.pk)
    assert any("Nothing was deleted" in message for message in messages_of(response))
    assert Assessment.objects.filter(pk=quiz.pk).exists()
    assert Score.objects.filter(assessment=quiz).count() == 4


def test_deleting_a_draft_sections_assessment_goes_through_the_service(client, root, section, assessments, scored):
    client.force_login(root)
    quiz = assessments[0]

    response = client.post(url(Assessment, "delete", quiz.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Assessment.objects.filter(pk=quiz.pk).exists()
    assert Assessment.history.filter(id=quiz.pk, history_type="-").get().history_user == root


def test_no_bulk_delete_of_assessments_or_scores(client, root, world):
    client.force_login(root)
    for model in (Assessment, Score):
        page = client.get(url(model, "changelist"))
        assert 'value="delete_selected"' not in page.content.decode()


def test_a_score_saved_in_the_admin_recomputes_the_draft(client, root, section, students, assessments, scored):
    client.force_login(root)
    score = Score.objects.get(assessment=assessments[2], student=students[0])
    draft = Result.objects.get(section=section, student=students[0])

    response = client.post(url(Score, "change", score.pk), {"status": "excused", "score": "", "comment": "Ill"})

    assert response.status_code == 302
    score.refresh_from_db()
    assert (score.status, score.score, score.comment, score.updated_by) == ("excused", None, "Ill", root)
    assert score.history.first().history_change_reason == "Score changed"
    draft.refresh_from_db()
    assert draft.percentage == Decimal("70.00")  # 70% of quiz and midterm, the final excused


def test_a_score_added_in_the_admin_copies_the_maximum(client, root, section, students, assessments):
    client.force_login(root)
    data = {"assessment": assessments[0].pk, "student": students[1].pk, "status": "scored", "score": "55"}

    response = client.post(url(Score, "add"), data)

    assert response.status_code == 302
    score = Score.objects.get(assessment=assessments[0], student=students[1])
    assert (score.score, score.max_score, score.created_by) == (Decimal("55"), Decimal("100"), root)


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"status": "scored", "score": "150"}, "A score is from 0 to 100"),
        ({"status": "scored", "score": ""}, "Enter a score"),
    ],
)
def test_a_bad_score_is_a_message_and_nothing_is_written(client, root, students, assessments, data, expected):
    client.force_login(root)
    add = url(Score, "add")

    response = client.post(add, {"assessment": assessments[0].pk, "student": students[0].pk, **data})

    assert response.status_code == 302 and response["Location"] == add
    assert any(expected in message for message in messages_of(response))
    assert not Score.objects.exists() and not Result.objects.exists()


def test_a_score_for_someone_not_in_the_section_is_refused(client, root, assessments, location):
    from tests.factories.families import StudentFactory

    outsider = StudentFactory(location=location)
    client.force_login(root)

    response = client.post(
        url(Score, "add"), {"assessment": assessments[0].pk, "student": outsider.pk, "status": "scored", "score": "5"}
    )

    assert response.status_code == 302
    assert any("not enrolled in the section" in message for message in messages_of(response))
    assert not Score.objects.exists()


def test_a_score_of_a_published_result_is_refused_with_a_message(client, root, students, assessments, published):
    score = Score.objects.get(assessment=assessments[0], student=students[0])
    client.force_login(root)
    change = url(Score, "change", score.pk)

    response = client.post(change, {"status": "scored", "score": "100"})

    assert response.status_code == 302 and response["Location"] == change
    assert any("Nothing was saved" in m and "published" in m for m in messages_of(response))
    assert Score.objects.get(pk=score.pk).score == score.score
    assert not client.get(change).context["has_delete_permission"]


# --- deciding change requests ------------------------------------------------------------------


def test_an_approver_approves_a_change_request_from_the_admin(client, change, registrar):
    approver = admin_staff("approver", "grading.view_resultchange", "grading.approve_resultchange")
    client.force_login(approver)
    changelist = url(ResultChange, "changelist")
    assert 'value="approve"' in client.get(changelist).content.decode()

    response = client.post(changelist, {"action": "approve", "_selected_action": [str(change.pk)]})

    assert response.status_code == 302
    change.refresh_from_db()
    assert (change.status, change.approved_by) == ("approved", approver)
    assert Result.objects.get(pk=change.result_id).letter_grade == "A"


def test_the_requester_cannot_approve_their_own_request_in_the_admin(client, change, teacher):
    # given the requester could sign in to the admin and decide requests
    teacher.is_staff = True
    teacher.save()
    teacher.user_permissions.add(
        Permission.objects.get(content_type__app_label="grading", codename="approve_resultchange")
    )
    client.force_login(teacher)

    response = client.post(url(ResultChange, "changelist"), {"action": "approve", "_selected_action": [str(change.pk)]})

    assert response.status_code == 302
    assert any("other than the requester" in message for message in messages_of(response))
    change.refresh_from_db()
    assert change.status == "pending"


def test_rejecting_from_the_admin(client, change, root):
    client.force_login(root)

    client.post(url(ResultChange, "changelist"), {"action": "reject", "_selected_action": [str(change.pk)]})

    change.refresh_from_db()
    assert (change.status, change.resolution_note) == ("rejected", "Rejected in admin")


# --- a view-only user --------------------------------------------------------------------------


def test_a_view_only_user_reads_but_changes_nothing(client, world):
    viewer = admin_staff("viewer", *(f"grading.view_{model._meta.model_name}" for model in MODELS))
    client.force_login(viewer)
    before = {model: model.objects.values().get(pk=row.pk) for model, row in world.items()}

    for model, row in world.items():
        assert client.get(url(model, "changelist")).status_code == 200, model
        page = client.get(url(model, "change", row.pk))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode(), model
        assert client.get(url(model, "add")).status_code == 403, model
        assert client.post(url(model, "change", row.pk), {"title": "x", "weight": "1"}).status_code == 403, model
        assert client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403, model

    # nor may they decide a change request: no action offered, and posting it does nothing
    changelist = url(ResultChange, "changelist")
    assert 'value="approve"' not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "approve", "_selected_action": [str(world[ResultChange].pk)]})
    assert {model: model.objects.values().get(pk=row.pk) for model, row in world.items()} == before


def test_someone_without_grading_permissions_sees_no_grading_pages(client, world):
    client.force_login(admin_staff("stranger"))
    for model, row in world.items():
        assert client.get(url(model, "changelist")).status_code == 403, model
        assert client.get(url(model, "change", row.pk)).status_code == 403, model
