"""Saving a gradebook from the staff portal: the whole form posts at once and is saved all
or nothing; a bad cell is shown on the cell and nothing is written; a state conflict is
a 409 with the service's message; the JSON answer (static/js/gradebook.js) gives each
row's grade or each cell's errors. And who may post."""

from decimal import Decimal

import pytest
from django.urls import reverse

from grading import services
from grading.models import Result, Score
from notifications.models import Notification
from tests.factories.academy import finance_user, instructor_user, parent_user
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db


def url(section) -> str:
    return reverse("staff:grading-gradebook", args=[section.pk])


def key(assessment, student) -> str:
    return f"cell:{assessment.pk}:{student.pk}"


def written() -> dict:
    """Everything a gradebook save may write ("nothing written")."""
    return {
        "scores": sorted(Score.objects.values_list("pk", "status", "score", "comment")),
        "score history": Score.history.count(),
        "results": sorted(Result.objects.values_list("pk", "state", "percentage", "letter_grade")),
        "result history": Result.history.count(),
        "notifications": Notification.objects.count(),
    }


def full(assessments, students, scores) -> dict:
    """Form data: ``scores[i][j]`` for student i on assessment j."""
    return {
        key(a, s): str(v)
        for s, row in zip(students, scores, strict=True)
        for a, v in zip(assessments, row, strict=True)
    }


class TestSaving:
    def test_the_instructor_saves_the_whole_gradebook_in_one_post(
        self, client, section, students, assessments, teacher
    ):
        client.force_login(teacher)
        data = full(assessments, students, [[80, 70, 90], [90, 90, 90], ["E", 50, 100], [100, "m", 60]])
        response = client.post(url(section), data)
        assert response.status_code == 302 and response["Location"] == url(section)
        results = {r.student_id: r for r in Result.objects.filter(section=section)}
        assert (results[students[0].pk].percentage, results[students[0].pk].letter_grade) == (Decimal("82.00"), "B")
        assert results[students[1].pk].percentage == Decimal("90.00")
        # excused: the quiz's 20 spread over the rest; missing drops out of a draft
        assert results[students[2].pk].percentage == Decimal("81.25")
        assert results[students[3].pk].percentage == Decimal("71.43")
        quiz, midterm, _final = assessments
        assert Score.objects.get(assessment=quiz, student=students[2]).status == "excused"
        assert Score.objects.get(assessment=midterm, student=students[3]).status == "missing"
        page = client.get(url(section)).content.decode()
        assert "Saved 12 scores." in page
        assert "82.00" in page and "81.25" in page

    def test_empty_cells_are_no_scores_and_an_emptied_score_becomes_missing(
        self, client, section, students, assessments, teacher
    ):
        quiz = assessments[0]
        client.force_login(teacher)
        client.post(url(section), {key(quiz, students[0]): "80", key(quiz, students[1]): ""})
        assert Score.objects.count() == 1
        client.post(url(section), {key(quiz, students[0]): "  ", key(quiz, students[1]): ""})
        score = Score.objects.get()
        assert (score.status, score.score) == ("missing", None)
        assert 'value="M"' in client.get(url(section)).content.decode()

    def test_nothing_changed_is_said_and_a_comment_from_the_api_is_kept(
        self, client, section, students, assessments, teacher
    ):
        quiz = assessments[0]
        services.score_save(assessment=quiz, student=students[0], actor=teacher, score=15, comment="Great effort")
        client.force_login(teacher)
        response = client.post(url(section), {key(quiz, students[0]): "15"}, follow=True)
        assert "Nothing to save: no score changed." in response.content.decode()
        client.post(url(section), {key(quiz, students[0]): "16.5"})
        score = Score.objects.get()
        assert (score.score, score.comment) == (Decimal("16.50"), "Great effort")

    def test_the_json_answer_gives_the_server_grades_and_the_saved_cells(
        self, client, section, students, assessments, teacher
    ):
        quiz, midterm, final = assessments
        client.force_login(teacher)
        response = client.post(
            url(section),
            {key(quiz, students[0]): "7", key(midterm, students[0]): "e", key(final, students[0]): "9.5"},
            HTTP_ACCEPT="application/json",
        )
        assert response.status_code == 200
        answer = response.json()
        assert answer["saved"] == 3 and answer["errors"] == {}
        # 7% of 20 and 9.5% of 50 over 70: (1.4 + 4.75) * 100 / 70 = 8.7857...
        assert answer["rows"][str(students[0].pk)] == {"percentage": "8.79", "letter": "F", "state": "draft"}
        assert answer["rows"][str(students[1].pk)] == {"percentage": None, "letter": "", "state": "draft"}
        assert answer["cells"][key(midterm, students[0])] == "E"
        assert answer["cells"][key(final, students[0])] == "9.5"


class TestBadInput:
    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            ("101", "A score is from 0 to 100.00."),
            ("-1", "A score is from 0 to 100.00."),
            ("eighty", "Enter a number."),
            ("80.125", "At most two decimal places."),
            ("NaN", "Enter a number."),
        ],
    )
    def test_a_bad_cell_is_shown_on_the_cell_and_nothing_is_written(
        self, client, section, students, assessments, teacher, bad, message
    ):
        quiz, midterm, _final = assessments
        services.score_save(assessment=quiz, student=students[1], actor=teacher, score=50)
        client.force_login(teacher)
        before = written()
        data = {key(quiz, students[0]): "80", key(midterm, students[0]): bad, key(quiz, students[1]): "55"}
        response = client.post(url(section), data)
        assert response.status_code == 400
        page = response.content.decode()
        assert 'data-testid="gradebook-errors"' in page and "Nothing was saved." in page
        assert page.count('data-testid="cell-error"') == 1
        assert message in page
        # the cell keeps what was typed, marked invalid; the good cells keep theirs too
        assert f'name="{key(midterm, students[0])}"' in page and 'aria-invalid="true"' in page
        assert f'value="{bad}"' in page and 'value="55"' in page
        assert written() == before

    def test_the_json_answer_names_the_bad_cells(self, client, section, students, assessments, teacher):
        quiz, midterm, _final = assessments
        client.force_login(teacher)
        before = written()
        response = client.post(
            url(section),
            {key(quiz, students[0]): "21x", key(midterm, students[1]): "200", key(quiz, students[2]): "5"},
            HTTP_ACCEPT="application/json",
        )
        assert response.status_code == 400
        answer = response.json()
        assert answer["errors"] == {
            key(quiz, students[0]): ["Enter a number."],
            key(midterm, students[1]): ["A score is from 0 to 100.00."],
        }
        assert "rows" not in answer
        assert written() == before

    def test_a_student_not_in_the_section_is_refused_and_nothing_is_written(
        self, client, section, students, assessments, teacher, location
    ):
        from tests.factories.families import StudentFactory

        stranger = StudentFactory(location=location)
        quiz = assessments[0]
        client.force_login(teacher)
        before = written()
        response = client.post(
            url(section), {key(quiz, students[0]): "80", key(quiz, stranger): "90", "cell:nonsense:x": "1"}
        )
        assert response.status_code == 400
        assert "no longer in this gradebook: reload the page" in response.content.decode()
        assert written() == before

    def test_a_published_students_cells_are_a_409_and_nothing_is_written(
        self, client, section, students, assessments, teacher
    ):
        data = full(assessments, students, [[80, 70, 90]] * 4)
        client.force_login(teacher)
        client.post(url(section), data)
        services.section_publish(section=section, actor=teacher)
        before = written()
        response = client.post(url(section), {**data, key(assessments[0], students[0]): "10"})  # a stale page
        assert response.status_code == 409
        assert "The result is published: its scores no longer change (request a change of grade)." in (
            response.content.decode()
        )
        assert written() == before
        answer = client.post(url(section), data, HTTP_ACCEPT="application/json")
        assert answer.status_code == 409 and answer.json()["problems"] == [
            "The result is published: its scores no longer change (request a change of grade)."
        ]
        assert written() == before

    def test_a_final_for_a_student_below_the_attendance_threshold(
        self, client, section, students, assessments, teacher, registrar
    ):
        from django.utils import timezone

        from attendance.services import attendance_mark
        from tests.factories.academy import ClassSessionFactory

        session = ClassSessionFactory(section=section, date=timezone.localdate())
        attendance_mark(class_session=session, student=students[0], status="absent", actor=registrar)
        final = assessments[2]
        client.force_login(teacher)
        page = client.get(url(section)).content.decode()
        assert 'data-testid="not-eligible"' in page and "Final counts anyway" not in page  # may not override
        before = written()
        response = client.post(url(section), {key(final, students[0]): "60"})
        assert response.status_code == 409 and "not eligible for the final exam" in response.content.decode()
        assert written() == before
        # the registrar may override, with a reason
        client.force_login(registrar)
        assert "Final counts anyway" in client.get(url(section)).content.decode()
        override = f"override:{students[0].pk}"
        assert client.post(url(section), {key(final, students[0]): "60"}).status_code == 409
        response = client.post(url(section), {key(final, students[0]): "60", override: "Medical certificate"})
        assert response.status_code == 302
        assert Score.objects.get().eligibility_override_reason == "Medical certificate"


# --- who may post ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("admin", 302),
        ("office", 302),
        ("teacher", 302),
        ("finance", 403),
        ("other_teacher", 404),
        ("other_office", 404),
    ],
)
def test_who_may_save_a_gradebook(
    client, section, students, assessments, teacher, academy_admin, office, other_office, actor, expected
):
    users = {
        "admin": academy_admin,
        "office": office,
        "teacher": teacher,
        "finance": finance_user(username="cashier"),
        "other_teacher": instructor_user(username="other-teacher"),
        "other_office": other_office,
    }
    client.force_login(users[actor])
    before = written()
    response = client.post(url(section), {key(assessments[0], students[0]): "12"})
    assert response.status_code == expected
    if expected == 302:
        assert Score.objects.get().score == Decimal("12.00")
    else:
        assert written() == before


def test_anonymous_and_parents_cannot_post(client, section, students, assessments):
    before = written()
    response = client.post(url(section), {key(assessments[0], students[0]): "12"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))
    guardian = students[0].guardian_links.get().guardian
    guardian.portal_user = parent_user(username="the-mother")
    guardian.save()
    client.force_login(guardian.portal_user)
    response = client.post(url(section), {key(assessments[0], students[0]): "12"})
    assert (response.status_code, response["Location"]) == (302, reverse("portal:dashboard"))
    assert written() == before


# --- assessments ------------------------------------------------------------------------


class TestAssessments:
    def test_add_edit_and_delete(self, client, section, students, teacher):
        client.force_login(teacher)
        new = reverse("staff:grading-assessment-new", args=[section.pk])
        response = client.post(new, {"title": "Project", "type": "project", "weight": "60", "max_score": "40"})
        assert response.status_code == 302
        project = section.assessments.get()
        assert (project.weight, project.max_score) == (Decimal("60.00"), Decimal("40.00"))
        # over 100: the service's message next to the weight, nothing written
        response = client.post(new, {"title": "Exam", "type": "final", "weight": "50", "max_score": "100"})
        assert response.status_code == 400
        assert "would total 110.00; at most 100 (already 60.00)" in response.content.decode()
        assert section.assessments.count() == 1
        # the same title twice
        response = client.post(new, {"title": "Project", "type": "quiz", "weight": "10", "max_score": "10"})
        assert response.status_code == 400 and section.assessments.count() == 1
        # a lower maximum under a score is refused
        services.score_save(assessment=project, student=students[0], actor=teacher, score=35)
        edit = reverse("staff:grading-assessment-edit", args=[project.pk])
        response = client.post(edit, {"title": "Project", "type": "project", "weight": "60", "max_score": "30"})
        assert response.status_code == 400 and "1 score(s) are above 30" in response.content.decode()
        response = client.post(edit, {"title": "Big project", "type": "project", "weight": "100", "max_score": "50"})
        assert response.status_code == 302
        project.refresh_from_db()
        assert (project.title, project.weight, project.max_score) == ("Big project", Decimal("100.00"), Decimal("50"))
        assert Result.objects.get(student=students[0]).percentage == Decimal("70.00")  # drafts follow
        delete = reverse("staff:grading-assessment-delete", args=[project.pk])
        assert "Its 1 score goes with it" in client.get(delete).content.decode()
        assert client.post(delete).status_code == 302
        assert not section.assessments.exists() and not Score.objects.exists()

    def test_bad_shape_is_a_form_error(self, client, section, teacher):
        client.force_login(teacher)
        new = reverse("staff:grading-assessment-new", args=[section.pk])
        response = client.post(new, {"title": "", "type": "essay", "weight": "abc", "max_score": "0"})
        assert response.status_code == 400
        assert not section.assessments.exists()

    def test_a_weight_or_maximum_out_of_range_is_an_error_on_its_field(self, client, section, assessments, teacher):
        client.force_login(teacher)
        new = reverse("staff:grading-assessment-new", args=[section.pk])
        edit = reverse("staff:grading-assessment-edit", args=[assessments[0].pk])
        for page in (new, edit):
            for weight in ("0", "-5", "120"):
                response = client.post(page, {"title": "Quiz 9", "type": "quiz", "weight": weight, "max_score": "10"})
                assert response.status_code == 400
                assert response.context["form"].errors == {"weight": [services.WEIGHT_MESSAGE]}
            response = client.post(page, {"title": "Quiz 9", "type": "quiz", "weight": "5", "max_score": "0"})
            assert response.status_code == 400
            assert response.context["form"].errors == {"max_score": [services.MAX_SCORE_MESSAGE]}
        assert section.assessments.count() == 3
        assessments[0].refresh_from_db()
        assert assessments[0].title == "Quiz 1"

    def test_no_assessment_changes_once_published(self, client, section, students, assessments, teacher):
        client.force_login(teacher)
        client.post(url(section), full(assessments, students, [[80, 70, 90]] * 4))
        services.section_publish(section=section, actor=teacher)
        quiz = assessments[0]
        edit = reverse("staff:grading-assessment-edit", args=[quiz.pk])
        response = client.post(edit, {"title": "Quiz 1", "type": "quiz", "weight": "20", "max_score": "50"})
        assert response.status_code == 409 and "results are published" in response.content.decode()
        response = client.post(reverse("staff:grading-assessment-delete", args=[quiz.pk]))
        assert response.status_code == 409
        new = reverse("staff:grading-assessment-new", args=[section.pk])
        assert client.post(new, {"title": "X", "type": "quiz", "weight": "1", "max_score": "1"}).status_code == 409
        quiz.refresh_from_db()
        assert quiz.max_score == Decimal("100.00") and section.assessments.count() == 3

    def test_an_instructor_cannot_touch_another_sections_assessments(self, client, assessments):
        client.force_login(instructor_user(username="other-teacher"))
        quiz = assessments[0]
        edit = reverse("staff:grading-assessment-edit", args=[quiz.pk])
        assert (
            client.post(edit, {"title": "Hacked", "type": "quiz", "weight": "20", "max_score": "100"}).status_code
            == 404
        )
        assert client.post(reverse("staff:grading-assessment-delete", args=[quiz.pk])).status_code == 404
        quiz.refresh_from_db()
        assert quiz.title == "Quiz 1"
