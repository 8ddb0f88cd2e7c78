"""The grading services against the database, one class per rule (issue 13, "Tests and
figures"): weights, score entry, excused and missing scores, who may be scored, final-exam
eligibility, drafts, publishing, direct edits, change requests, freezing, skill ratings and
level advance, and which grade scale a section uses.

Every refusal is checked to write nothing: a ``GradebookError`` names the bad cells, a
state conflict is a ``Conflict`` with its code, and the database refuses what a service
would (a raw ORM write raises ``IntegrityError``)."""

import uuid
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.models import Section, Term
from attendance import services as attendance_services
from enrollment.models import Enrollment
from enrollment.services import enroll, enrollment_update, enrollment_withdraw
from grading import selectors, services
from grading.models import Assessment, GradeBand, GradeScale, Result, ResultChange, Score, SkillRating
from grading.services import GradebookError, RatingInput
from notifications.models import Notification
from tests.factories.academy import (
    ClassSessionFactory,
    LocationFactory,
    ProgramFactory,
    SectionFactory,
    running_term,
)
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory
from tests.factories.grading import curriculum_with_levels
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db

D = Decimal


# --- helpers ------------------------------------------------------------------------------


def result_of(student, section) -> Result:
    return Result.objects.get(student=student, section=section)


def grade_of(result: Result) -> tuple:
    result.refresh_from_db()
    return result.percentage, result.letter_grade, result.grade_points, result.passed


def score_everyone(section, assessments, students, cell, actor, marks=(80, 70, 90)):
    """Every student scored on every assessment: ``marks`` less the student's index."""
    cells = [
        cell(assessment, pupil, mark - i)
        for i, pupil in enumerate(students)
        for assessment, mark in zip(assessments, marks, strict=True)
    ]
    return services.gradebook_save(section=section, cells=cells, actor=actor)


def written() -> tuple:
    """What a refused call must leave as it was."""
    return (
        sorted(Score.objects.values_list("pk", "status", "score", "comment", "eligibility_override_reason")),
        sorted(
            Result.objects.values_list(
                "pk", "state", "percentage", "letter_grade", "grade_points", "passed", "comments", "last_change_id"
            )
        ),
        sorted(ResultChange.objects.values_list("pk", "status", "approved_by_id")),
        Result.history.count(),
        Score.history.count(),
    )


def close(term: Term) -> None:
    term.status = Term.Status.CLOSED
    term.save()


@pytest.fixture
def published(section, students, assessments, cell, teacher):
    """Every student scored (student 0: 82.00 B) and the section published."""
    score_everyone(section, assessments, students, cell, teacher)
    services.section_publish(section=section, actor=teacher)
    return {pupil.pk: result_of(pupil, section) for pupil in students}


# --- assessments and weights --------------------------------------------------------------


class TestWeights:
    def test_a_sections_weights_total_at_most_100_on_create(self, section, teacher):
        services.assessment_create(section=section, actor=teacher, type="quiz", title="Quiz", weight=D("60"))
        services.assessment_create(section=section, actor=teacher, type="final", title="Final", weight=D("40"))
        with pytest.raises(ValidationError) as error:
            services.assessment_create(section=section, actor=teacher, type="quiz", title="Extra", weight=D("0.01"))
        assert "weight" in error.value.message_dict
        assert selectors.weights_total(section) == D("100")
        assert Assessment.objects.filter(section=section).count() == 2

    def test_a_weight_is_more_than_0_and_at_most_100(self, section, teacher):
        for weight in ("0", "-5", "100.01"):
            with pytest.raises(ValidationError) as error:
                services.assessment_create(section=section, actor=teacher, type="quiz", title="Q", weight=D(weight))
            # on the field, in the words of the model's check constraint
            assert error.value.message_dict == {"weight": ["A weight is more than 0 and at most 100."]}
        assert not Assessment.objects.exists()

    def test_a_maximum_score_is_more_than_0(self, section, teacher):
        for max_score in ("0", "-1"):
            with pytest.raises(ValidationError) as error:
                services.assessment_create(
                    section=section, actor=teacher, type="quiz", title="Q", weight=D("10"), max_score=D(max_score)
                )
            assert error.value.message_dict == {"max_score": ["The maximum score must be more than 0."]}
        assert not Assessment.objects.exists()

    def test_an_update_to_a_weight_or_maximum_out_of_range_is_refused_on_the_field(self, section, assessments, teacher):
        quiz = assessments[0]
        for data, field in (
            ({"weight": D("0")}, "weight"),
            ({"weight": D("-1")}, "weight"),
            ({"weight": D("101")}, "weight"),
            ({"max_score": D("0")}, "max_score"),
        ):
            with pytest.raises(ValidationError) as error:
                services.assessment_update(assessment=quiz, actor=teacher, data=data)
            assert list(error.value.message_dict) == [field]
        quiz.refresh_from_db()
        assert (quiz.weight, quiz.max_score) == (D("20"), D("100"))

    def test_an_update_cannot_push_the_total_past_100(self, section, assessments, teacher):
        quiz, midterm, _final = assessments
        with pytest.raises(ValidationError) as error:
            services.assessment_update(assessment=quiz, actor=teacher, data={"weight": D("20.5")})
        assert "weight" in error.value.message_dict
        quiz.refresh_from_db()
        assert quiz.weight == D("20")
        services.assessment_update(assessment=quiz, actor=teacher, data={"weight": D("10")})
        assert selectors.weights_total(section) == D("90")
        services.assessment_update(assessment=midterm, actor=teacher, data={"weight": D("40")})
        assert selectors.weights_total(section) == D("100")

    def test_the_weights_of_other_sections_do_not_count(self, section, assessments, teacher, term, course, location):
        other = SectionFactory(course=course, term=term, location=location, code="B")
        services.assessment_create(section=other, actor=teacher, type="final", title="Final", weight=D("100"))
        assert selectors.weights_total(other) == D("100")

    def test_publishing_needs_exactly_100(self, section, students, teacher, cell):
        quiz = services.assessment_create(section=section, actor=teacher, type="quiz", title="Quiz", weight=D("60"))
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 50)], actor=teacher)
        before = written()
        with pytest.raises(Conflict) as error:
            services.section_publish(section=section, actor=teacher)
        assert error.value.code == "weights_incomplete"
        assert written() == before
        assert not Result.objects.exclude(state="draft").exists()

    def test_a_section_without_students_has_nothing_to_publish(self, section, teacher):
        empty = SectionFactory(
            course=section.course, term=section.term, location=section.location, code="EMPTY", instructor=teacher
        )
        services.assessment_create(section=empty, actor=teacher, type="final", title="Final", weight=Decimal("100"))
        with pytest.raises(Conflict) as error:
            services.section_publish(section=empty, actor=teacher)
        assert error.value.code == "no_students"

    def test_assessments_no_longer_change_once_results_are_published(self, section, published, assessments, teacher):
        quiz = assessments[0]
        attempts = [
            lambda: services.assessment_create(section=section, actor=teacher, type="quiz", title="Q2", weight=D("1")),
            lambda: services.assessment_update(assessment=quiz, actor=teacher, data={"title": "Renamed"}),
            lambda: services.assessment_delete(assessment=quiz, actor=teacher),
        ]
        for attempt in attempts:
            with pytest.raises(Conflict) as error:
                attempt()
            assert error.value.code == "result_published"
        assert Assessment.objects.filter(section=section).count() == 3

    def test_lowering_the_maximum_below_a_score_is_refused(self, section, students, assessments, cell, teacher):
        quiz = assessments[0]
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 80)], actor=teacher)
        with pytest.raises(ValidationError) as error:
            services.assessment_update(assessment=quiz, actor=teacher, data={"max_score": D("50")})
        assert "max_score" in error.value.message_dict
        services.assessment_update(assessment=quiz, actor=teacher, data={"max_score": D("160")})
        assert Score.objects.get().max_score == D("160")
        assert result_of(students[0], section).percentage == D("50.00")  # 80 of 160


# --- scores -------------------------------------------------------------------------------


class TestScoreRange:
    @pytest.mark.parametrize("value", [-1, "100.01", "abc", "1.005", "NaN", "Infinity", None, ""])
    def test_a_score_outside_0_to_the_maximum_is_a_cell_error(
        self, section, students, assessments, cell, teacher, value
    ):
        before = written()
        with pytest.raises(GradebookError) as error:
            services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], value)], actor=teacher)
        assert list(error.value.cells) == [0]
        assert "score" in error.value.cells[0]
        assert written() == before

    def test_0_and_the_maximum_are_scores(self, section, students, assessments, cell, teacher):
        quiz = assessments[0]
        services.gradebook_save(
            section=section, cells=[cell(quiz, students[0], 0), cell(quiz, students[1], "100.00")], actor=teacher
        )
        assert sorted(Score.objects.values_list("score", flat=True)) == [D("0"), D("100")]

    def test_the_maximum_is_the_assessments(self, section, students, teacher, cell):
        quiz = services.assessment_create(
            section=section, actor=teacher, type="quiz", title="Quiz", weight=D("20"), max_score=D("20")
        )
        with pytest.raises(GradebookError) as error:
            services.gradebook_save(section=section, cells=[cell(quiz, students[0], "20.5")], actor=teacher)
        assert "20" in error.value.cells[0]["score"][0]
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 20)], actor=teacher)
        assert Score.objects.get().max_score == D("20")

    def test_the_database_refuses_a_score_above_the_maximum(self, section, students, assessments, cell, teacher):
        services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], 90)], actor=teacher)
        score = Score.objects.get()
        with pytest.raises(IntegrityError), transaction.atomic():
            Score.objects.filter(pk=score.pk).update(score=F("max_score") + 1)
        with pytest.raises(IntegrityError), transaction.atomic():
            Score.objects.filter(pk=score.pk).update(score=D("-0.01"))
        with pytest.raises(IntegrityError), transaction.atomic():
            Score.objects.filter(pk=score.pk).update(status="excused")  # an excused score has no number
        score.refresh_from_db()
        assert score.score == D("90")


class TestOneScorePerStudentAndAssessment:
    def test_saving_again_changes_the_one_score(self, section, students, assessments, cell, teacher):
        quiz = assessments[0]
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 50)], actor=teacher)
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 60, comment="Retake")], actor=teacher)
        score = Score.objects.get()
        assert (score.score, score.comment) == (D("60"), "Retake")
        assert [h.history_change_reason for h in score.history.order_by("history_date")] == [
            "Scored",
            "Score changed",
        ]

    def test_an_unchanged_cell_writes_nothing(self, section, students, assessments, cell, teacher):
        quiz = assessments[0]
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 50)], actor=teacher)
        before = written()
        assert services.gradebook_save(section=section, cells=[cell(quiz, students[0], "50.00")], actor=teacher) == []
        assert written() == before

    def test_one_cell_twice_in_a_request_is_a_cell_error(self, section, students, assessments, cell, teacher):
        quiz = assessments[0]
        with pytest.raises(GradebookError) as error:
            services.gradebook_save(
                section=section, cells=[cell(quiz, students[0], 50), cell(quiz, students[0], 60)], actor=teacher
            )
        assert list(error.value.cells) == [1]
        assert not Score.objects.exists()

    def test_the_database_keeps_one_score_per_student_and_assessment(
        self, section, students, assessments, cell, teacher
    ):
        quiz = assessments[0]
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 50)], actor=teacher)
        with pytest.raises(IntegrityError), transaction.atomic():
            Score.objects.create(assessment=quiz, student=students[0], score=D("60"), max_score=quiz.max_score)
        assert Score.objects.count() == 1


class TestExcusedAndMissing:
    def test_an_excused_scores_weight_is_spread_over_the_rest(self, section, students, assessments, cell, teacher):
        quiz, midterm, final = assessments
        pupil = students[0]
        services.gradebook_save(
            section=section,
            cells=[cell(quiz, pupil, status="excused"), cell(midterm, pupil, 60), cell(final, pupil, 80)],
            actor=teacher,
        )
        # (60 * 30 + 80 * 50) / 80
        assert grade_of(result_of(pupil, section)) == (D("72.50"), "C", D("2.00"), True)
        services.section_publish(section=section, actor=teacher)
        assert grade_of(result_of(pupil, section)) == (D("72.50"), "C", D("2.00"), True)

    def test_a_missing_score_drops_out_of_a_draft_and_counts_0_once_published(
        self, section, students, assessments, cell, teacher
    ):
        quiz, midterm, final = assessments
        pupil = students[0]
        services.gradebook_save(
            section=section,
            cells=[cell(quiz, pupil, status="missing"), cell(midterm, pupil, 60), cell(final, pupil, 80)],
            actor=teacher,
        )
        assert grade_of(result_of(pupil, section)) == (D("72.50"), "C", D("2.00"), True)
        services.section_publish(section=section, actor=teacher)
        # (0 * 20 + 60 * 30 + 80 * 50) / 100
        assert grade_of(result_of(pupil, section)) == (D("58.00"), "F", D("0.00"), False)

    def test_no_score_at_all_is_missing(self, section, students, assessments, cell, teacher):
        services.gradebook_save(section=section, cells=[cell(assessments[2], students[0], 100)], actor=teacher)
        assert grade_of(result_of(students[0], section)) == (D("100.00"), "A", D("4.00"), True)
        services.section_publish(section=section, actor=teacher)
        assert grade_of(result_of(students[0], section)) == (D("50.00"), "F", D("0.00"), False)
        assert grade_of(result_of(students[1], section)) == (D("0.00"), "F", D("0.00"), False)

    def test_excused_and_missing_carry_no_number(self, section, students, assessments, cell, teacher):
        services.gradebook_save(
            section=section,
            cells=[
                cell(assessments[0], students[0], 12, status="excused"),
                cell(assessments[1], students[0], 5, "missing"),
            ],
            actor=teacher,
        )
        assert set(Score.objects.values_list("status", "score")) == {("excused", None), ("missing", None)}

    def test_an_unknown_status_is_a_cell_error(self, section, students, assessments, cell, teacher):
        with pytest.raises(GradebookError) as error:
            services.gradebook_save(
                section=section, cells=[cell(assessments[0], students[0], 5, "absent")], actor=teacher
            )
        assert "status" in error.value.cells[0]
        assert not Score.objects.exists()


class TestOnlyEnrolledStudents:
    def test_withdrawn_other_section_and_unknown_students_are_cell_errors(
        self, section, students, assessments, cell, teacher, registrar, term, course, location
    ):
        quiz = assessments[0]
        withdrawn = Enrollment.objects.get(student=students[3], section=section)
        enrollment_withdraw(enrollment=withdrawn, actor=registrar, reason="Moved away")
        elsewhere = StudentFactory(location=location)
        enroll(student=elsewhere, section=SectionFactory(course=course, term=term, location=location), actor=registrar)
        stranger = StudentFactory(location=location)
        cells = [
            cell(quiz, students[0], 50),
            cell(quiz, students[3], 50),
            cell(quiz, elsewhere, 50),
            cell(quiz, stranger, 50),
            services.Cell(assessment_id=quiz.pk, student_id=uuid.uuid4(), score=50),
            services.Cell(assessment_id=quiz.pk, student_id="not-a-uuid", score=50),
            cell(quiz, students[1], 50),
        ]
        before = written()
        with pytest.raises(GradebookError) as error:
            services.gradebook_save(section=section, cells=cells, actor=teacher)
        assert sorted(error.value.cells) == [1, 2, 3, 4, 5]
        assert all(set(error.value.cells[i]) == {"student"} for i in range(1, 6))
        assert "Cell 2" in error.value.messages[0]
        assert written() == before
        assert not Score.objects.exists()

    def test_an_assessment_of_another_section_is_a_cell_error(
        self, section, students, assessments, cell, teacher, term, course, location
    ):
        other = SectionFactory(course=course, term=term, location=location, code="B")
        foreign = services.assessment_create(section=other, actor=teacher, type="quiz", title="Q", weight=D("10"))
        with pytest.raises(GradebookError) as error:
            services.gradebook_save(section=section, cells=[cell(foreign, students[0], 5)], actor=teacher)
        assert set(error.value.cells[0]) == {"assessment"}
        assert not Score.objects.exists()

    def test_a_paused_student_is_still_graded(self, section, students, assessments, cell, teacher, registrar):
        from enrollment.services import enrollment_pause

        enrollment_pause(enrollment=Enrollment.objects.get(student=students[0], section=section), actor=registrar)
        services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], 5)], actor=teacher)
        assert Score.objects.count() == 1


class TestAllOrNothing:
    def test_a_gradebook_with_one_bad_cell_writes_nothing(self, section, students, assessments, cell, teacher):
        cells = [cell(a, pupil, 70) for pupil in students for a in assessments]
        cells[7] = cell(assessments[1], students[2], 101)
        before = written()
        with pytest.raises(GradebookError) as error:
            services.gradebook_save(section=section, cells=cells, actor=teacher)
        assert list(error.value.cells) == [7]
        assert written() == before
        assert not Score.objects.exists() and not Result.objects.exists()

    def test_a_conflict_in_one_cell_writes_nothing(self, section, students, assessments, cell, teacher, published):
        # a late enrolment has no result yet; the others are published
        newcomer = StudentFactory(location=section.location)
        enroll(student=newcomer, section=section, actor=teacher)
        before = written()
        with pytest.raises(Conflict) as error:
            services.gradebook_save(
                section=section,
                cells=[cell(assessments[0], newcomer, 50), cell(assessments[0], students[0], 50)],
                actor=teacher,
            )
        assert error.value.code == "result_published"
        assert written() == before

    def test_a_good_gradebook_is_saved_whole(self, section, students, assessments, cell, teacher):
        saved = score_everyone(section, assessments, students, cell, teacher)
        assert len(saved) == 12 == Score.objects.count()
        assert Result.objects.filter(section=section, state="draft").count() == 4


# --- final exam eligibility ---------------------------------------------------------------


@pytest.fixture
def attendance(section, teacher):
    """``attendance(student, present, absent)``: marks in past sessions of today, through
    the attendance service (the percentage is what the eligibility rule reads)."""
    slots = iter(range(24 * 4))

    def mark(student, present: int, absent: int):
        for status in ["present"] * present + ["absent"] * absent:
            slot = next(slots)
            session = ClassSessionFactory(
                section=section,
                date=timezone.localdate(),
                start_time=time(slot // 4, (slot % 4) * 15),
                end_time=time(slot // 4, (slot % 4) * 15 + 10),
            )
            attendance_services.attendance_mark(class_session=session, student=student, status=status, actor=teacher)

    return mark


class TestFinalExamEligibility:
    def test_a_final_score_below_the_threshold_is_refused(
        self, section, students, assessments, cell, teacher, attendance
    ):
        attendance(students[0], present=1, absent=1)  # 50 %
        assert selectors.ineligible_students(section) == {students[0].pk: D("50.00")}
        quiz, _, final = assessments
        before = written()
        with pytest.raises(Conflict) as error:
            services.gradebook_save(
                section=section, cells=[cell(quiz, students[0], 10), cell(final, students[0], 70)], actor=teacher
            )
        assert error.value.code == "not_eligible"
        assert written() == before
        # other assessments and other students are fine
        services.gradebook_save(
            section=section, cells=[cell(quiz, students[0], 10), cell(final, students[1], 70)], actor=teacher
        )
        assert Score.objects.count() == 2

    def test_at_the_threshold_is_eligible(self, section, students, assessments, cell, teacher, attendance):
        attendance(students[0], present=3, absent=1)  # 75 %
        services.gradebook_save(section=section, cells=[cell(assessments[2], students[0], 70)], actor=teacher)
        assert Score.objects.get().score == D("70")

    def test_no_marks_yet_is_eligible(self, section, students, assessments, cell, teacher):
        services.gradebook_save(section=section, cells=[cell(assessments[2], students[0], 70)], actor=teacher)
        assert Score.objects.count() == 1

    def test_the_programme_threshold_applies(self, section, students, assessments, cell, teacher, attendance):
        program = section.course.program
        program.attendance_threshold = D("50")
        program.save()
        attendance(students[0], present=1, absent=1)
        services.gradebook_save(section=section, cells=[cell(assessments[2], students[0], 70)], actor=teacher)
        assert Score.objects.count() == 1

    def test_an_ineligible_student_may_be_marked_excused_or_missing(
        self, section, students, assessments, cell, teacher, attendance
    ):
        attendance(students[0], present=0, absent=2)
        services.gradebook_save(
            section=section, cells=[cell(assessments[2], students[0], status="missing")], actor=teacher
        )
        assert Score.objects.get().status == "missing"

    def test_an_override_with_a_reason_counts(self, section, students, assessments, cell, registrar, attendance):
        attendance(students[0], present=1, absent=2)
        final = assessments[2]
        services.gradebook_save(
            section=section,
            cells=[cell(final, students[0], 70, override_reason="Medical leave, documented")],
            actor=registrar,
        )
        score = Score.objects.get()
        assert (score.score, score.eligibility_override_reason) == (D("70"), "Medical leave, documented")
        # later edits keep the override without repeating the reason
        services.gradebook_save(section=section, cells=[cell(final, students[0], 75)], actor=registrar)
        score.refresh_from_db()
        assert (score.score, score.eligibility_override_reason) == (D("75"), "Medical leave, documented")

    def test_an_override_without_a_reason_is_refused(self, section, students, assessments, cell, registrar, attendance):
        attendance(students[0], present=1, absent=2)
        with pytest.raises(Conflict) as error:
            services.gradebook_save(
                section=section, cells=[cell(assessments[2], students[0], 70, override_reason="  ")], actor=registrar
            )
        assert error.value.code == "not_eligible"
        assert "reason" in error.value.detail
        assert not Score.objects.exists()

    def test_without_the_permission_a_reason_does_not_override(
        self, section, students, assessments, cell, teacher, attendance
    ):
        assert not teacher.has_perm("grading.override_eligibility")
        attendance(students[0], present=1, absent=2)
        with pytest.raises(Conflict) as error:
            services.gradebook_save(
                section=section, cells=[cell(assessments[2], students[0], 70, override_reason="Please")], actor=teacher
            )
        assert error.value.code == "not_eligible"
        assert not Score.objects.exists()


# --- drafts -------------------------------------------------------------------------------


class TestDrafts:
    def test_a_draft_follows_the_scores(self, section, students, assessments, cell, teacher):
        quiz, _midterm, final = assessments
        pupil = students[0]
        services.gradebook_save(section=section, cells=[cell(quiz, pupil, 50)], actor=teacher)
        result = result_of(pupil, section)
        assert (result.state, grade_of(result)) == ("draft", (D("50.00"), "F", D("0.00"), False))
        services.gradebook_save(section=section, cells=[cell(quiz, pupil, 95), cell(final, pupil, 85)], actor=teacher)
        assert grade_of(result) == (D("87.86"), "B", D("3.00"), True)  # (95*20 + 85*50) / 70
        services.gradebook_save(section=section, cells=[cell(final, pupil, status="excused")], actor=teacher)
        assert grade_of(result) == (D("95.00"), "A", D("4.00"), True)
        assert result.scale == GradeScale.objects.get(is_default=True)

    def test_a_draft_follows_a_new_weight_and_a_deleted_assessment(self, section, students, assessments, cell, teacher):
        quiz, _midterm, final = assessments
        pupil = students[0]
        services.gradebook_save(section=section, cells=[cell(quiz, pupil, 100), cell(final, pupil, 50)], actor=teacher)
        result = result_of(pupil, section)
        assert grade_of(result)[0] == D("64.29")  # (100*20 + 50*50) / 70
        services.assessment_update(assessment=quiz, actor=teacher, data={"weight": D("10")})
        assert grade_of(result)[0] == D("58.33")  # (100*10 + 50*50) / 60
        services.assessment_delete(assessment=quiz, actor=teacher)
        assert grade_of(result)[0] == D("50.00")
        assert not Score.objects.filter(assessment_id=quiz.pk).exists()

    def test_a_drafts_comment_is_edited_directly_but_not_its_grade(self, section, students, assessments, cell, teacher):
        services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], 50)], actor=teacher)
        result = result_of(students[0], section)
        services.result_update(result=result, actor=teacher, data={"comments": "Works hard."})
        result.refresh_from_db()
        assert result.comments == "Works hard."
        with pytest.raises(ValidationError) as error:
            services.result_update(result=result, actor=teacher, data={"letter_grade": "A", "comments": "Top"})
        # on the field, not a crash (the API's 400)
        assert error.value.message_dict == {"letter_grade": ["This field cannot be changed."]}
        assert grade_of(result)[1] == "F"
        result.refresh_from_db()
        assert result.comments == "Works hard."

    def test_results_recompute_repairs_a_stale_draft(self, section, students, assessments, cell, teacher):
        services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], 50)], actor=teacher)
        Result.objects.filter(section=section).update(letter_grade="A", percentage=D("99"))
        services.results_recompute(section=section)
        assert grade_of(result_of(students[0], section)) == (D("50.00"), "F", D("0.00"), False)


# --- publishing ---------------------------------------------------------------------------


class TestPublish:
    def test_every_graded_student_gets_a_published_result(self, section, students, assessments, cell, teacher):
        services.gradebook_save(section=section, cells=[cell(a, students[0], 80) for a in assessments], actor=teacher)
        outcome = services.section_publish(section=section, actor=teacher)
        assert (outcome.published, outcome.already) == (4, 0)
        results = Result.objects.filter(section=section)
        assert {r.student_id for r in results} == {s.pk for s in students}
        for result in results:
            assert result.state == "published" and result.published_by == teacher and result.published_at
        assert grade_of(result_of(students[0], section)) == (D("80.00"), "B", D("3.00"), True)
        assert grade_of(result_of(students[1], section)) == (D("0.00"), "F", D("0.00"), False)

    def test_a_student_who_left_gets_no_result(self, section, students, assessments, cell, teacher, registrar):
        score_everyone(section, assessments, students, cell, teacher)
        enrollment_withdraw(enrollment=Enrollment.objects.get(student=students[3], section=section), actor=registrar)
        assert services.section_publish(section=section, actor=teacher).published == 3
        assert not Result.objects.filter(student=students[3]).exists()  # the draft went
        assert Score.objects.filter(student=students[3]).count() == 3  # the scores stay

    def test_results_already_published_are_left_as_they_are(self, section, students, published, teacher, registrar):
        first = {pk: (r.published_at, r.published_by_id, grade_of(r)) for pk, r in published.items()}
        history = Result.history.count()
        outcome = services.section_publish(section=section, actor=registrar)
        assert (outcome.published, outcome.already) == (0, 4)
        assert Result.history.count() == history
        newcomer = StudentFactory(location=section.location)
        enroll(student=newcomer, section=section, actor=registrar)
        outcome = services.section_publish(section=section, actor=registrar)
        assert (outcome.published, outcome.already) == (1, 4)
        for pk, result in published.items():
            result.refresh_from_db()
            assert (result.published_at, result.published_by_id, grade_of(result)) == first[pk]
        assert result_of(newcomer, section).published_by == registrar

    def test_guardians_who_receive_communications_are_told(
        self, section, students, assessments, cell, teacher, django_capture_on_commit_callbacks
    ):
        quiet = GuardianFactory(last_name="Quiet")
        StudentGuardianFactory(student=students[0], guardian=quiet, receives_communications=False)
        second = GuardianFactory(last_name="Second")
        StudentGuardianFactory(student=students[1], guardian=second)
        score_everyone(section, assessments, students, cell, teacher)
        with django_capture_on_commit_callbacks(execute=True):
            services.section_publish(section=section, actor=teacher)
        told = Notification.objects.filter(kind="result_published")
        assert told.count() == 5  # a primary guardian each, and the second guardian of student 1
        names = set(told.values_list("recipient_name", flat=True))
        assert second.full_name in names and quiet.full_name not in names
        assert {n.metadata["student"] for n in told} == {str(s.pk) for s in students}
        # publishing again tells nobody again
        with django_capture_on_commit_callbacks(execute=True):
            services.section_publish(section=section, actor=teacher)
        assert told.count() == 5

    def test_term_publish_publishes_every_section_with_assessments(
        self, section, students, assessments, cell, teacher, registrar, term, course, location
    ):
        empty = SectionFactory(course=course, term=term, location=location, code="B")
        enroll(student=StudentFactory(location=location), section=empty, actor=registrar)
        score_everyone(section, assessments, students, cell, teacher)
        outcomes = services.term_publish(term=term, actor=registrar)
        assert [(o.section.pk, o.published) for o in outcomes] == [(section.pk, 4)]
        assert not Result.objects.filter(section=empty).exists()

    def test_term_publish_of_chosen_sections_keeps_to_the_term(
        self, section, students, assessments, cell, teacher, registrar, term, course, location
    ):
        """``sections``: the caller's sections (a location-limited office); one of another
        term among them is not the term's to publish."""
        score_everyone(section, assessments, students, cell, teacher)
        other = SectionFactory(course=course, location=location, code="X", term=running_term(name="Spring"))
        enroll(student=StudentFactory(location=location), section=other, actor=registrar)
        services.assessment_create(section=other, actor=teacher, type="final", title="Final", weight=D("100"))
        outcomes = services.term_publish(
            term=term,
            actor=registrar,
            sections=Section.objects.filter(pk__in=[section.pk, other.pk]),
        )
        assert [o.section.pk for o in outcomes] == [section.pk]
        assert not Result.objects.filter(section=other).exists()

    def test_term_publish_is_all_or_nothing(
        self, section, students, assessments, cell, teacher, registrar, term, course, location
    ):
        incomplete = SectionFactory(course=course, term=term, location=location, code="B")
        enroll(student=StudentFactory(location=location), section=incomplete, actor=registrar)
        services.assessment_create(section=incomplete, actor=teacher, type="quiz", title="Q", weight=D("40"))
        score_everyone(section, assessments, students, cell, teacher)
        before = written()
        with pytest.raises(Conflict) as error:
            services.term_publish(term=term, actor=registrar)
        assert error.value.code == "weights_incomplete"
        assert written() == before


class TestDirectEdits:
    def test_a_published_result_is_not_edited_directly(self, section, students, assessments, cell, teacher, published):
        result = published[students[0].pk]
        before = written()
        with pytest.raises(Conflict) as error:
            services.result_update(result=result, actor=teacher, data={"comments": "Changed my mind"})
        assert error.value.code == "result_published"
        with pytest.raises(Conflict) as error:
            services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], 1)], actor=teacher)
        assert error.value.code == "result_published"
        assert written() == before

    def test_the_database_refuses_a_published_grade_change_without_an_approved_request(
        self, students, published, teacher, registrar
    ):
        result = published[students[0].pk]
        rows = Result.objects.filter(pk=result.pk)
        for change in ({"letter_grade": "A"}, {"percentage": D("99")}, {"passed": False}, {"state": "draft"}):
            with pytest.raises(IntegrityError), transaction.atomic():
                rows.update(**change)
        request = services.result_change_request(result=result, new_grade="A", reason="Re-marked", actor=teacher)
        with pytest.raises(IntegrityError), transaction.atomic():  # still pending
            rows.update(letter_grade="A", last_change=request)
        services.result_change_reject(change=request, actor=registrar, note="No")
        with pytest.raises(IntegrityError), transaction.atomic():  # rejected
            rows.update(letter_grade="A", last_change=request)
        assert grade_of(result) == (D("82.00"), "B", D("3.00"), True)

    def test_the_database_refuses_to_delete_a_published_result(self, students, published):
        with pytest.raises(IntegrityError), transaction.atomic():
            Result.objects.filter(pk=published[students[0].pk].pk).delete()
        assert Result.objects.count() == 4


# --- change requests ----------------------------------------------------------------------


class TestChangeRequests:
    def test_only_a_published_result_takes_a_change_request(self, section, students, assessments, cell, teacher):
        services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], 50)], actor=teacher)
        with pytest.raises(Conflict) as error:
            services.result_change_request(
                result=result_of(students[0], section), new_grade="A", reason="Why not", actor=teacher
            )
        assert error.value.code == "result_draft"
        assert not ResultChange.objects.exists()

    @pytest.mark.parametrize("grade", ["Z", "", "a", "Pass", "B"])
    def test_the_new_grade_is_another_grade_of_the_scale(self, students, published, teacher, grade):
        with pytest.raises(ValidationError) as error:
            services.result_change_request(
                result=published[students[0].pk], new_grade=grade, reason="Re-marked", actor=teacher
            )
        assert "new_grade" in error.value.message_dict
        assert not ResultChange.objects.exists()

    @pytest.mark.parametrize("reason", ["", "   ", None])
    def test_a_reason_is_required(self, students, published, teacher, reason):
        with pytest.raises(ValidationError) as error:
            services.result_change_request(
                result=published[students[0].pk], new_grade="A", reason=reason, actor=teacher
            )
        assert "reason" in error.value.message_dict
        assert not ResultChange.objects.exists()

    def test_one_pending_request_per_result(self, students, published, teacher, registrar):
        result = published[students[0].pk]
        services.result_change_request(result=result, new_grade="A", reason="Re-marked", actor=teacher)
        with pytest.raises(Conflict) as error:
            services.result_change_request(result=result, new_grade="C", reason="Other", actor=registrar)
        assert error.value.code == "change_pending"
        assert ResultChange.objects.count() == 1
        # another student's result is unaffected
        services.result_change_request(result=published[students[1].pk], new_grade="A", reason="x", actor=teacher)
        assert ResultChange.objects.count() == 2

    def test_approval_applies_the_change_once_with_history(
        self, students, published, teacher, registrar, second_registrar, django_capture_on_commit_callbacks
    ):
        result = published[students[0].pk]
        change = services.result_change_request(result=result, new_grade="A", reason="Marking error", actor=teacher)
        assert (change.status, change.old_grade, change.new_grade, change.requested_by) == (
            "pending",
            "B",
            "A",
            teacher,
        )
        told = Notification.objects.filter(kind="result_published")
        before = told.count()
        with django_capture_on_commit_callbacks(execute=True):
            services.result_change_approve(change=change, actor=registrar, note="Checked the paper")
        change.refresh_from_db()
        assert (change.status, change.approved_by, change.resolution_note) == (
            "approved",
            registrar,
            "Checked the paper",
        )
        assert change.resolved_at is not None
        result.refresh_from_db()
        assert (result.letter_grade, result.grade_points, result.passed) == ("A", D("4.00"), True)
        assert result.percentage == D("82.00")  # the scores did not change, the grade did
        assert result.last_change == change and result.state == "published"
        latest = result.history.latest("history_date")
        assert latest.history_user == registrar
        assert "B -> A" in latest.history_change_reason
        assert teacher.username in latest.history_change_reason and registrar.username in latest.history_change_reason
        assert [h.letter_grade for h in result.history.order_by("history_date")][-2:] == ["B", "A"]
        assert told.count() == before + 1  # the guardian is told of the new grade
        history = result.history.count()
        with pytest.raises(Conflict) as error:
            services.result_change_approve(change=change, actor=second_registrar)
        assert error.value.code == "change_resolved"
        with pytest.raises(Conflict) as error:
            services.result_change_reject(change=change, actor=second_registrar, note="Too late")
        assert error.value.code == "change_resolved"
        assert result.history.count() == history
        assert ResultChange.objects.get().status == "approved"

    def test_a_second_change_after_an_approved_one(self, students, published, teacher, registrar):
        result = published[students[0].pk]
        first = services.result_change_request(result=result, new_grade="A", reason="Re-marked", actor=teacher)
        services.result_change_approve(change=first, actor=registrar)
        second = services.result_change_request(result=result, new_grade="C", reason="Appeal lost", actor=registrar)
        assert second.old_grade == "A"
        services.result_change_approve(change=second, actor=teacher)  # anyone but the requester
        result.refresh_from_db()
        assert (result.letter_grade, result.last_change_id) == ("C", second.pk)

    def test_the_requester_never_approves_or_rejects(self, students, published, teacher):
        result = published[students[0].pk]
        change = services.result_change_request(result=result, new_grade="A", reason="Re-marked", actor=teacher)
        before = written()
        for decide in (
            lambda: services.result_change_approve(change=change, actor=teacher),
            lambda: services.result_change_reject(change=change, actor=teacher, note="Withdrawn"),
        ):
            with pytest.raises(Conflict) as error:
                decide()
            assert error.value.code == "same_approver"
        assert written() == before

    def test_a_rejection_needs_a_note_and_leaves_the_grade(self, students, published, teacher, registrar):
        result = published[students[0].pk]
        change = services.result_change_request(result=result, new_grade="A", reason="Re-marked", actor=teacher)
        with pytest.raises(ValidationError) as error:
            services.result_change_reject(change=change, actor=registrar, note=" ")
        assert "note" in error.value.message_dict
        change.refresh_from_db()
        assert change.status == "pending"
        services.result_change_reject(change=change, actor=registrar, note="The paper was marked right")
        change.refresh_from_db()
        assert (change.status, change.approved_by, change.resolution_note) == (
            "rejected",
            registrar,
            "The paper was marked right",
        )
        assert grade_of(result) == (D("82.00"), "B", D("3.00"), True)
        assert result.last_change_id is None
        # a new request may follow
        services.result_change_request(result=result, new_grade="A", reason="New evidence", actor=teacher)
        assert ResultChange.objects.filter(status="pending").count() == 1


# --- freezing -----------------------------------------------------------------------------


class TestFreeze:
    def test_freezing_waits_for_the_term_to_close(self, section, term, published, registrar):
        before = written()
        for freeze in (
            lambda: services.section_freeze(section=section, actor=registrar),
            lambda: services.term_freeze(term=term, actor=registrar),
        ):
            with pytest.raises(Conflict) as error:
                freeze()
            assert error.value.code == "term_open"
        assert written() == before

    def test_a_pending_change_stops_a_freeze(self, section, term, students, published, teacher, registrar):
        change = services.result_change_request(
            result=published[students[0].pk], new_grade="A", reason="Re-marked", actor=teacher
        )
        close(term)
        before = written()
        for freeze in (
            lambda: services.section_freeze(section=section, actor=registrar),
            lambda: services.term_freeze(term=term, actor=registrar),
        ):
            with pytest.raises(Conflict) as error:
                freeze()
            assert error.value.code == "change_pending"
        assert written() == before
        services.result_change_reject(change=change, actor=registrar, note="No")
        assert services.section_freeze(section=section, actor=registrar) == 4

    def test_a_section_freezes_its_published_results_only(
        self, section, term, students, assessments, cell, published, teacher, registrar
    ):
        latecomer = StudentFactory(location=section.location)
        enroll(student=latecomer, section=section, actor=registrar)
        services.gradebook_save(section=section, cells=[cell(assessments[0], latecomer, 50)], actor=teacher)
        close(term)
        assert services.section_freeze(section=section, actor=registrar) == 4
        frozen = Result.objects.filter(section=section, state="frozen")
        assert frozen.count() == 4
        assert all(r.frozen_by == registrar and r.frozen_at for r in frozen)
        assert result_of(latecomer, section).state == "draft"
        assert services.section_freeze(section=section, actor=registrar) == 0

    def test_a_term_freezes_all_its_sections(
        self, section, term, students, assessments, cell, teacher, registrar, course, location
    ):
        other = SectionFactory(course=course, term=term, location=location, code="B")
        pupil = StudentFactory(location=location)
        enroll(student=pupil, section=other, actor=registrar)
        services.assessment_create(section=other, actor=teacher, type="final", title="Final", weight=D("100"))
        score_everyone(section, assessments, students, cell, teacher)
        services.term_publish(term=term, actor=registrar)
        elsewhere = SectionFactory(course=course, location=location, code="C", term=running_term(name="Spring"))
        enroll(student=StudentFactory(location=location), section=elsewhere, actor=registrar)
        services.assessment_create(section=elsewhere, actor=teacher, type="final", title="Final", weight=D("100"))
        services.section_publish(section=elsewhere, actor=teacher)
        close(term)
        assert services.term_freeze(term=term, actor=registrar) == 5
        assert set(Result.objects.filter(state="frozen").values_list("section_id", flat=True)) == {section.pk, other.pk}
        assert Result.objects.get(section=elsewhere).state == "published"

    def test_a_frozen_result_never_changes(
        self, section, term, students, assessments, cell, published, teacher, registrar
    ):
        close(term)
        services.section_freeze(section=section, actor=registrar)
        result = published[students[0].pk]
        before = written()
        attempts = {
            "result_update": lambda: services.result_update(result=result, actor=teacher, data={"comments": "x"}),
            "gradebook": lambda: services.gradebook_save(
                section=section, cells=[cell(assessments[0], students[0], 1)], actor=teacher
            ),
            "request": lambda: services.result_change_request(result=result, new_grade="A", reason="x", actor=teacher),
            "assessment": lambda: services.assessment_update(
                assessment=assessments[0], actor=teacher, data={"title": "New"}
            ),
        }
        for name, attempt in attempts.items():
            with pytest.raises(Conflict) as error:
                attempt()
            assert error.value.code == "result_frozen", name
        rows = Result.objects.filter(pk=result.pk)
        for change in (
            {"comments": "x"},
            {"letter_grade": "A"},
            {"state": "published"},
            {"updated_at": timezone.now()},
        ):
            with pytest.raises(IntegrityError), transaction.atomic():
                rows.update(**change)
        with pytest.raises(IntegrityError), transaction.atomic():
            rows.delete()
        with pytest.raises(IntegrityError), transaction.atomic():
            Result.objects.filter(section=section).delete()
        assert written() == before

    def test_a_published_results_comment_may_still_be_written_by_the_database(self, students, published):
        # the guard protects the grade and the state; the comment is the service's rule
        Result.objects.filter(pk=published[students[0].pk].pk).update(comments="Printed on the card")
        assert Result.objects.get(pk=published[students[0].pk].pk).comments == "Printed on the card"


# --- skill ratings ------------------------------------------------------------------------


@pytest.fixture
def curriculum(course):
    """Two levels, three skill areas assessed at every level and one at level 1 only."""
    curriculum, levels, areas = curriculum_with_levels(course, levels=2)
    from academy.models import SkillArea

    diving = SkillArea.objects.create(curriculum=curriculum, name="Diving", level=levels[0])
    return curriculum, levels, [*areas, diving]


@pytest.fixture
def leveled(section, students, curriculum, registrar):
    """The students' enrollments at level 1 (module 1.1)."""
    _, levels, _ = curriculum
    enrollments = []
    for pupil in students:
        enrollment = Enrollment.objects.get(student=pupil, section=section)
        enrollments.append(
            enrollment_update(
                enrollment=enrollment,
                actor=registrar,
                data={"current_level": levels[0], "current_module": levels[0].modules.get()},
            )
        )
    return enrollments


def rate(section, actor, *items, on=None):
    return services.skill_ratings_save(section=section, ratings=list(items), actor=actor, assessment_date=on)


class TestSkillRatings:
    def test_ratings_are_new_rows_with_the_previous_rating_filled_in(self, section, leveled, curriculum, teacher):
        enrollment, area = leveled[0], curriculum[2][0]
        today = timezone.localdate()
        (first,) = rate(section, teacher, RatingInput(enrollment.pk, area.pk, 1), on=today - timedelta(days=14))
        assert (first.previous_rating, first.current_rating, first.target_rating) == (None, 1, 3)
        assert first.level_id == enrollment.current_level_id and first.module_id == enrollment.current_module_id
        assert first.instructor == section.instructor and first.created_by == teacher
        (second,) = rate(
            section, teacher, RatingInput(enrollment.pk, area.pk, 2, target=2), on=today - timedelta(days=7)
        )
        assert (second.previous_rating, second.current_rating, second.target_rating) == (1, 2, 2)
        (third,) = rate(section, teacher, RatingInput(enrollment.pk, area.pk, 2), on=today)
        assert (third.previous_rating, third.target_rating) == (2, 2)  # the target carries over
        assert SkillRating.objects.filter(enrollment=enrollment).count() == 3

    @pytest.mark.parametrize("value", [4, -1, "x", None, "2.5"])
    def test_a_rating_is_0_to_3(self, section, leveled, curriculum, teacher, value):
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(leveled[0].pk, curriculum[2][0].pk, value))
        assert "rating" in error.value.cells[0]
        assert not SkillRating.objects.exists()

    def test_a_target_is_0_to_3_and_the_rating_at_most_the_target(self, section, leveled, curriculum, teacher):
        area = curriculum[2][0]
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(leveled[0].pk, area.pk, 1, target=4))
        assert "target" in error.value.cells[0]
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(leveled[0].pk, area.pk, 3, target=2))
        assert "rating" in error.value.cells[0]
        assert not SkillRating.objects.exists()
        rate(section, teacher, RatingInput(leveled[0].pk, area.pk, 2, target=2))
        assert SkillRating.objects.get().target_rating == 2

    def test_lower_than_the_previous_needs_a_correction_reason(self, section, leveled, curriculum, teacher):
        enrollment, area = leveled[0], curriculum[2][0]
        rate(section, teacher, RatingInput(enrollment.pk, area.pk, 2))
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(enrollment.pk, area.pk, 1))
        assert "correction_reason" in error.value.cells[0]
        assert SkillRating.objects.count() == 1
        (lower,) = rate(section, teacher, RatingInput(enrollment.pk, area.pk, 1, correction_reason="Rated too high"))
        assert (lower.previous_rating, lower.current_rating, lower.correction_reason) == (2, 1, "Rated too high")

    def test_a_sections_ratings_are_saved_all_or_nothing(self, section, leveled, curriculum, teacher, location):
        areas = curriculum[2]
        _, _, foreign_areas = curriculum_with_levels(
            SectionFactory(location=location).course, levels=1, areas=("Other",)
        )
        outsider = StudentFactory(location=location)
        items = [
            RatingInput(leveled[0].pk, areas[0].pk, 2),
            RatingInput(leveled[0].pk, foreign_areas[0].pk, 2),  # another curriculum
            RatingInput(uuid.uuid4(), areas[0].pk, 2),  # not an enrollment of the section
            RatingInput(leveled[1].pk, areas[0].pk, 2),
            RatingInput(leveled[1].pk, areas[0].pk, 3),  # twice
            RatingInput(outsider.pk, areas[0].pk, 2),
        ]
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, *items)
        assert sorted(error.value.cells) == [1, 2, 4, 5]
        assert "skill_area" in error.value.cells[1] and "enrollment" in error.value.cells[2]
        assert not SkillRating.objects.exists()

    def test_a_level_specific_area_only_at_its_level(self, section, leveled, curriculum, teacher, registrar):
        diving = curriculum[2][3]
        rate(section, teacher, RatingInput(leveled[0].pk, diving.pk, 1))
        services.enrollment_level_advance(enrollment=leveled[0], actor=registrar)
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(leveled[0].pk, diving.pk, 2))
        assert "skill_area" in error.value.cells[0]

    def test_an_enrollment_without_a_level_or_ended_is_refused(self, section, students, curriculum, teacher, registrar):
        area = curriculum[2][0]
        enrollment = Enrollment.objects.get(student=students[0], section=section)
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(enrollment.pk, area.pk, 1))
        assert "enrollment" in error.value.cells[0]
        withdrawn = Enrollment.objects.get(student=students[1], section=section)
        enrollment_withdraw(enrollment=withdrawn, actor=registrar)
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(withdrawn.pk, area.pk, 1))
        assert "enrollment" in error.value.cells[0]
        assert not SkillRating.objects.exists()

    def test_notes_and_lists_are_kept(self, section, leveled, curriculum, teacher):
        (rating,) = rate(
            section,
            teacher,
            RatingInput(
                leveled[0].pk,
                curriculum[2][0].pk,
                2,
                instructor_notes=" Good ",
                parent_notes="Practise at home",
                achievement_milestones=["First length"],
                next_goals="Breathe every third stroke\n\nKeep the head down",
            ),
        )
        rating.refresh_from_db()
        assert rating.instructor_notes == "Good" and rating.parent_notes == "Practise at home"
        assert rating.achievement_milestones == ["First length"]
        assert rating.next_goals == ["Breathe every third stroke", "Keep the head down"]
        with pytest.raises(GradebookError) as error:
            rate(section, teacher, RatingInput(leveled[1].pk, curriculum[2][0].pk, 2, learning_objectives=[1, 2]))
        assert "learning_objectives" in error.value.cells[0]

    def test_the_database_refuses_what_the_service_would(self, section, leveled, curriculum, teacher):
        (rating,) = rate(section, teacher, RatingInput(leveled[0].pk, curriculum[2][0].pk, 2, target=2))
        rows = SkillRating.objects.filter(pk=rating.pk)
        for change in (
            {"current_rating": 4},
            {"target_rating": 4},
            {"previous_rating": 5},
            {"current_rating": 3},  # above the target of 2
            {"previous_rating": 3, "current_rating": 1},  # a drop without a reason
        ):
            with pytest.raises(IntegrityError), transaction.atomic():
                rows.update(**change)
        rows.update(previous_rating=3, current_rating=1, correction_reason="Rated too high")


class TestReadinessAndAdvance:
    def rate_all(self, section, enrollment, areas, teacher, value=3):
        return rate(section, teacher, *[RatingInput(enrollment.pk, area.pk, value) for area in areas])

    def test_ready_when_every_area_of_the_level_is_at_target(self, section, leveled, curriculum, teacher):
        _, levels, areas = curriculum
        assert [a.name for a in selectors.skill_areas_for_level(levels[0])] == [
            "Breathing",
            "Diving",
            "Floating",
            "Kicking",
        ]
        assert [a.name for a in selectors.skill_areas_for_level(levels[1])] == ["Breathing", "Floating", "Kicking"]
        self.rate_all(section, leveled[0], areas[:3], teacher)
        board = {row.enrollment.pk: row for row in selectors.skill_board(section)}
        assert not board[leveled[0].pk].ready  # Diving is not rated yet
        rate(section, teacher, RatingInput(leveled[0].pk, areas[3].pk, 2, target=2))  # at its own target
        board = {row.enrollment.pk: row for row in selectors.skill_board(section)}
        assert board[leveled[0].pk].ready
        assert not board[leveled[1].pk].ready
        rate(section, teacher, RatingInput(leveled[0].pk, areas[0].pk, 2, correction_reason="Slipped back"))
        board = {row.enrollment.pk: row for row in selectors.skill_board(section)}
        assert not board[leveled[0].pk].ready

    def test_advance_moves_to_the_next_level_with_history(self, section, leveled, curriculum, teacher, registrar):
        _, levels, areas = curriculum
        self.rate_all(section, leveled[0], areas, teacher)
        enrollment = services.enrollment_level_advance(enrollment=leveled[0], actor=registrar)
        assert enrollment.current_level == levels[1]
        assert enrollment.current_module == levels[1].modules.get()
        latest = enrollment.history.latest("history_date")
        assert latest.history_user == registrar and latest.current_level_id == levels[1].pk
        assert enrollment.history.order_by("-history_date")[1].current_level_id == levels[0].pk
        # at the new level nothing is rated yet: not ready
        board = {row.enrollment.pk: row for row in selectors.skill_board(section)}
        assert not board[enrollment.pk].ready
        assert {a.pk for a in board[enrollment.pk].areas} == {a.pk for a in areas[:3]}

    def test_a_new_level_starts_afresh(self, section, leveled, curriculum, teacher, registrar):
        """The first rating at a new level is not a correction of the last level's."""
        _, levels, areas = curriculum
        self.rate_all(section, leveled[0], areas, teacher)
        services.enrollment_level_advance(enrollment=leveled[0], actor=registrar)
        (rating,) = rate(section, teacher, RatingInput(leveled[0].pk, areas[0].pk, 1))
        assert (rating.level_id, rating.previous_rating, rating.current_rating) == (levels[1].pk, None, 1)

    def test_the_last_level_has_no_next(self, section, leveled, curriculum, registrar):
        services.enrollment_level_advance(enrollment=leveled[0], actor=registrar)
        with pytest.raises(Conflict) as error:
            services.enrollment_level_advance(enrollment=leveled[0], actor=registrar)
        assert error.value.code == "last_level"
        leveled[0].refresh_from_db()
        assert leveled[0].current_level == curriculum[1][1]

    def test_a_chosen_level_and_module(self, section, leveled, curriculum, registrar):
        _, levels, _ = curriculum
        with pytest.raises(ValidationError) as error:
            services.enrollment_level_advance(
                enrollment=leveled[0], actor=registrar, level=levels[1], module=levels[0].modules.get()
            )
        assert "module" in error.value.message_dict
        moved = services.enrollment_level_advance(
            enrollment=leveled[0], actor=registrar, level=levels[1], module=levels[1].modules.get()
        )
        assert moved.current_level == levels[1]

    def test_an_ended_or_unleveled_enrollment_does_not_advance(self, section, students, leveled, registrar):
        enrollment_withdraw(enrollment=leveled[0], actor=registrar)
        with pytest.raises(Conflict) as error:
            services.enrollment_level_advance(enrollment=leveled[0], actor=registrar)
        assert error.value.code == "enrollment_ended"
        bare = enrollment_update(
            enrollment=leveled[1], actor=registrar, data={"current_level": None, "current_module": None}
        )
        with pytest.raises(ValidationError) as error:
            services.enrollment_level_advance(enrollment=bare, actor=registrar)
        assert "level" in error.value.message_dict


# --- which scale ----------------------------------------------------------------------------


def make_scale(name, *, program=None, location=None):
    scale = GradeScale.objects.create(name=name, program=program, location=location)
    GradeBand.objects.create(scale=scale, letter="Hi", min_percentage=D("50"), grade_points=D("1"), passed=True)
    GradeBand.objects.create(scale=scale, letter="Lo", min_percentage=D("0"), grade_points=D("0"), passed=False)
    return scale


class TestScaleResolution:
    def test_the_most_specific_scale_wins(self, section, location, other_location):
        program = section.course.program
        default = GradeScale.objects.get(is_default=True)
        assert selectors.scale_for(section) == default
        make_scale("Another programme", program=ProgramFactory())
        make_scale("Another location", location=other_location)
        make_scale("Another programme here", program=ProgramFactory(), location=location)
        make_scale("This programme elsewhere", program=program, location=other_location)
        assert selectors.scale_for(section) == default
        by_location = make_scale("This location", location=location)
        assert selectors.scale_for(section) == by_location
        by_program = make_scale("This programme", program=program)
        assert selectors.scale_for(section) == by_program
        both = make_scale("This programme here", program=program, location=location)
        assert selectors.scale_for(section) == both

    def test_drafts_and_published_results_use_the_sections_scale(self, section, students, assessments, cell, teacher):
        pass_fail = GradeScale.objects.get(name="Pass/fail")
        pass_fail.program = section.course.program
        pass_fail.save()
        services.gradebook_save(section=section, cells=[cell(a, students[0], 60) for a in assessments], actor=teacher)
        result = result_of(students[0], section)
        assert (result.scale, grade_of(result)) == (pass_fail, (D("60.00"), "Pass", D("0.00"), True))
        services.section_publish(section=section, actor=teacher)
        assert grade_of(result_of(students[1], section)) == (D("0.00"), "Fail", D("0.00"), False)
        with pytest.raises(ValidationError):  # a letter of another scale
            services.result_change_request(result=result, new_grade="A", reason="x", actor=teacher)
        services.result_change_request(
            result=result_of(students[1], section), new_grade="Pass", reason="x", actor=teacher
        )

    def test_without_any_scale_there_is_no_letter(self, section, students, assessments, cell, teacher):
        GradeScale.objects.update(is_default=False)
        assert selectors.scale_for(section) is None
        services.gradebook_save(section=section, cells=[cell(assessments[0], students[0], 60)], actor=teacher)
        assert grade_of(result_of(students[0], section)) == (D("60.00"), "", None, None)

    def test_a_scale_of_another_location_is_ignored(self, section):
        other = SectionFactory(course=section.course, term=section.term, location=LocationFactory(code="EAST"))
        here = make_scale("Here", location=section.location)
        assert selectors.scale_for(other) == GradeScale.objects.get(is_default=True)
        assert selectors.scale_for(section) == here
