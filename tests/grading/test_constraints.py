"""The grading rules of one row are database constraints, and the guard on published and
frozen results is a trigger: the database refuses a raw write that breaks them (no
service, no ``full_clean``): ``objects.create`` and ``QuerySet.update`` straight to the
table, on SQLite and on PostgreSQL alike."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from grading.models import GradeBand, GradeScale, Result, ResultChange, Score, SkillRating
from tests.factories.academy import LocationFactory, ProgramFactory, SectionFactory, staff_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.grading import AssessmentFactory, curriculum_with_levels
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db

D = Decimal

# the constraint a refusal names: PostgreSQL names every constraint; SQLite names a check
# constraint, the columns of a unique constraint and the index of a partial one
ONE_SCORE = "score_one_per_student_and_assessment|grading_score.assessment_id, grading_score.student_id"
ONE_RESULT = "result_one_per_student_and_section|grading_result.student_id, grading_result.section_id"
ONE_TITLE = "assessment_title_unique_per_section|grading_assessment.section_id, grading_assessment.title"
BAND_LETTER = "grade_band_letter_unique|grading_gradeband.scale_id, grading_gradeband.letter"
BAND_FLOOR = "grade_band_floor_unique|grading_gradeband.scale_id, grading_gradeband.min_percentage"
ONE_DEFAULT = "one_default_grade_scale|grading_gradescale.is_default"
ONE_PER_PROGRAM = "grade_scale_unique_per_program|grading_gradescale.program_id"
ONE_PER_LOCATION = "grade_scale_unique_per_location|grading_gradescale.location_id"
ONE_PENDING = "result_change_one_pending_per_result|grading_resultchange.result_id"
SCALE_PROGRAM_LOCATION = (
    "grade_scale_unique_per_program_location|grading_gradescale.program_id, grading_gradescale.location_id"
)
# the result guard's own words (the trigger's message on both databases)
PUBLISHED = "result_published"
FROZEN = "result_frozen"
NEVER_DELETED = "never deleted"


def refused(queryset, constraint, **changes):
    """``queryset.update(**changes)`` fails on ``constraint``."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        queryset.update(**changes)


def refused_create(model, constraint, **fields):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        model.objects.create(**fields)


@pytest.fixture
def assessment(location):
    return AssessmentFactory(section=SectionFactory(location=location), max_score=D("50"), weight=D("40"))


@pytest.fixture
def student(location):
    return StudentFactory(location=location)


@pytest.fixture
def score(assessment, student):
    return Score.objects.create(assessment=assessment, student=student, score=D("40"), max_score=D("50"))


def rows(obj):
    return type(obj).objects.filter(pk=obj.pk)


class TestScoreConstraints:
    def test_a_sane_row_is_accepted(self, score):
        assert rows(score).filter(status="scored", score=D("40")).exists()
        rows(score).update(score=F("max_score"))
        rows(score).update(score=D("0"))
        rows(score).update(status="excused", score=None)
        rows(score).update(status="missing")

    def test_a_score_above_the_maximum(self, score):
        refused(rows(score), "score_between_0_and_max", score=D("50.01"))
        refused(rows(score), "score_between_0_and_max", score=F("max_score") + 1)
        refused(rows(score), "score_between_0_and_max", max_score=D("39.99"))

    def test_a_negative_score(self, score):
        refused(rows(score), "score_between_0_and_max", score=D("-0.01"))

    def test_a_scored_score_has_a_number_and_the_others_none(self, score):
        refused(rows(score), "score_between_0_and_max", score=None)
        refused(rows(score), "score_between_0_and_max", status="excused")
        refused(rows(score), "score_between_0_and_max", status="missing")
        refused(rows(score), "score_between_0_and_max", status="late", score=D("1"))

    def test_one_score_per_student_and_assessment(self, score, assessment, student):
        refused_create(Score, ONE_SCORE, assessment=assessment, student=student, score=D("1"), max_score=D("50"))
        assert Score.objects.count() == 1


class TestAssessmentConstraints:
    def test_weight_max_score_type_and_title(self, assessment):
        refused(rows(assessment), "assessment_weight_percent", weight=D("0"))
        refused(rows(assessment), "assessment_weight_percent", weight=D("100.01"))
        refused(rows(assessment), "assessment_max_score_positive", max_score=D("0"))
        refused(rows(assessment), "assessment_type_valid", type="exam")
        refused_create(
            type(assessment),
            ONE_TITLE,
            section=assessment.section,
            type="quiz",
            title=assessment.title,
            weight=D("10"),
            max_score=D("10"),
        )
        rows(assessment).update(weight=D("100"), type="final")


class TestSkillRatingConstraints:
    @pytest.fixture
    def rating(self, location):
        enrollment = EnrollmentFactory(student__location=location)
        _, levels, areas = curriculum_with_levels(enrollment.section.course, levels=1)
        return SkillRating.objects.create(
            student=enrollment.student,
            enrollment=enrollment,
            skill_area=areas[0],
            level=levels[0],
            previous_rating=1,
            current_rating=2,
            target_rating=2,
            assessment_date=timezone.localdate(),
        )

    def test_ratings_are_0_to_3(self, rating):
        refused(rows(rating), "skill_rating_current_0_3", current_rating=4, target_rating=3)
        refused(rows(rating), "skill_rating_target_0_3", target_rating=4)
        refused(rows(rating), "skill_rating_previous_0_3", previous_rating=4, correction_reason="Corrected")
        rows(rating).update(previous_rating=None)

    def test_the_rating_is_at_most_the_target(self, rating):
        refused(rows(rating), "skill_rating_current_at_most_target", current_rating=3)
        refused(rows(rating), "skill_rating_current_at_most_target", target_rating=1)

    def test_a_drop_below_the_previous_needs_a_reason(self, rating):
        refused(rows(rating), "skill_rating_no_drop_without_reason", current_rating=0)
        rows(rating).update(current_rating=0, correction_reason="Rated too high last week")
        refused(rows(rating), "skill_rating_no_drop_without_reason", correction_reason="")


class TestGradeScaleConstraints:
    def test_one_default_scale(self):
        assert GradeScale.objects.filter(is_default=True).count() == 1  # the seeded A-F
        refused_create(GradeScale, ONE_DEFAULT, name="Another default", is_default=True)

    def test_one_scale_per_programme_per_location_per_both(self, location):
        program = ProgramFactory()
        GradeScale.objects.create(name="P", program=program)
        GradeScale.objects.create(name="L", location=location)
        GradeScale.objects.create(name="PL", program=program, location=location)
        refused_create(GradeScale, ONE_PER_PROGRAM, name="P2", program=program)
        refused_create(GradeScale, ONE_PER_LOCATION, name="L2", location=location)
        refused_create(GradeScale, SCALE_PROGRAM_LOCATION, name="PL2", program=program, location=location)
        GradeScale.objects.create(name="P elsewhere", program=program, location=LocationFactory(code="EAST"))

    def test_bands(self):
        scale = GradeScale.objects.create(name="Stars")
        band = GradeBand.objects.create(scale=scale, letter="***", min_percentage=D("80"), grade_points=D("3"))
        refused(rows(band), "grade_band_floor_percent", min_percentage=D("100.01"))
        refused(rows(band), "grade_band_floor_percent", min_percentage=D("-1"))
        refused(rows(band), "grade_band_points_non_negative", grade_points=D("-0.01"))
        refused_create(GradeBand, BAND_LETTER, scale=scale, letter="***", min_percentage=D("50"))
        refused_create(GradeBand, BAND_FLOOR, scale=scale, letter="**", min_percentage=D("80"))


@pytest.fixture
def people(db):
    return staff_user(username="asker"), staff_user(username="approver")


@pytest.fixture
def result(assessment, student):
    return Result.objects.create(student=student, section=assessment.section, percentage=D("80"), letter_grade="B")


def publish(result) -> Result:
    rows(result).update(state="published", published_at=timezone.now())
    result.refresh_from_db()
    return result


class TestResultConstraints:
    def test_one_result_per_student_and_section(self, result):
        refused_create(Result, ONE_RESULT, student=result.student, section=result.section)

    def test_state_percentage_and_dates(self, result):
        refused(rows(result), "result_state_valid", state="final", published_at=timezone.now())
        refused(rows(result), "result_percentage_0_100", percentage=D("100.01"))
        refused(rows(result), "result_percentage_0_100", percentage=D("-1"))
        refused(rows(result), "result_published_has_date", state="published")
        refused(rows(result), "result_frozen_has_date", state="frozen", published_at=timezone.now())
        rows(result).update(percentage=D("100"), letter_grade="A")  # a draft is free


class TestResultChangeConstraints:
    @pytest.fixture
    def change(self, result, people):
        asker, _ = people
        return ResultChange.objects.create(
            result=publish(result), old_grade="B", new_grade="A", reason="Re-marked", requested_by=asker
        )

    def test_the_approver_is_never_the_requester(self, change, people):
        asker, approver = people
        refused(
            rows(change),
            "result_change_approver_is_not_requester",
            status="approved",
            approved_by=asker,
            resolved_at=timezone.now(),
        )
        refused(
            rows(change),
            "result_change_approver_is_not_requester",
            status="rejected",
            approved_by=asker,
            resolved_at=timezone.now(),
        )
        rows(change).update(status="approved", approved_by=approver, resolved_at=timezone.now())

    def test_a_resolution_is_complete(self, change, people):
        _, approver = people
        refused(rows(change), "result_change_resolution_complete", status="approved")
        refused(rows(change), "result_change_resolution_complete", status="rejected", approved_by=approver)
        refused(rows(change), "result_change_resolution_complete", approved_by=approver, resolved_at=timezone.now())
        refused(
            rows(change),
            "result_change_status_valid",
            status="withdrawn",
            approved_by=approver,
            resolved_at=timezone.now(),
        )

    def test_one_pending_request_per_result(self, change, people):
        _, approver = people
        refused_create(
            ResultChange,
            ONE_PENDING,
            result=change.result,
            new_grade="C",
            reason="Other",
            requested_by=approver,
        )
        rows(change).update(status="rejected", approved_by=approver, resolved_at=timezone.now())
        ResultChange.objects.create(result=change.result, new_grade="C", reason="Other", requested_by=approver)


class TestResultGuard:
    """The trigger: a published result's grade changes only with ``last_change`` naming an
    approved request for this result and this letter; a frozen one never changes; neither
    is deleted."""

    def approved(self, result, people, grade="A") -> ResultChange:
        asker, approver = people
        return ResultChange.objects.create(
            result=result,
            old_grade=result.letter_grade,
            new_grade=grade,
            reason="Re-marked",
            requested_by=asker,
            status="approved",
            approved_by=approver,
            resolved_at=timezone.now(),
        )

    def test_a_draft_changes_and_goes_freely(self, result):
        rows(result).update(letter_grade="A", percentage=D("95"))
        rows(result).delete()
        assert not Result.objects.exists()

    def test_a_published_grade_changes_only_through_an_approved_request(self, result, people, assessment):
        publish(result)
        for change in ({"letter_grade": "A"}, {"percentage": D("95")}, {"grade_points": D("4")}, {"passed": False}):
            refused(rows(result), PUBLISHED, **change)
        refused(rows(result), PUBLISHED, state="draft")
        pending = ResultChange.objects.create(result=result, new_grade="A", reason="x", requested_by=people[0])
        refused(rows(result), PUBLISHED, letter_grade="A", last_change=pending)
        rows(pending).update(status="rejected", approved_by=people[1], resolved_at=timezone.now())
        refused(rows(result), PUBLISHED, letter_grade="A", last_change=pending)
        approved = self.approved(result, people, grade="A")
        refused(rows(result), PUBLISHED, letter_grade="C", last_change=approved)  # not the approved letter
        other = Result.objects.create(student=StudentFactory(location=result.student.location), section=result.section)
        foreign = self.approved(publish(other), people, grade="A")
        refused(rows(result), PUBLISHED, letter_grade="A", last_change=foreign)  # another result's request
        rows(result).update(letter_grade="A", grade_points=D("4"), last_change=approved)
        result.refresh_from_db()
        assert (result.letter_grade, result.last_change) == ("A", approved)
        # the same request does not open the door twice
        refused(rows(result), PUBLISHED, letter_grade="C", grade_points=D("2"))
        # what is not the grade may still change (the comment is the services' rule)
        rows(result).update(comments="Well done")

    def test_a_published_result_is_never_deleted(self, result):
        publish(result)
        with pytest.raises(IntegrityError, match=NEVER_DELETED), transaction.atomic():
            rows(result).delete()
        assert Result.objects.filter(pk=result.pk).exists()

    def test_a_frozen_result_never_changes_and_is_never_deleted(self, result, people):
        publish(result)
        rows(result).update(state="frozen", frozen_at=timezone.now())
        with pytest.raises(IntegrityError, match=NEVER_DELETED), transaction.atomic():
            rows(result).delete()
        approved = self.approved(result, people, grade="A")
        for change in (
            {"letter_grade": "A", "last_change": approved},
            {"comments": "x"},
            {"state": "published"},
            {"frozen_at": None},
        ):
            refused(rows(result), FROZEN, **change)
        result.refresh_from_db()
        assert (result.state, result.letter_grade, result.comments) == ("frozen", "B", "")
