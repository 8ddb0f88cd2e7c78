"""The grading API through the test client: the permission matrix of every operation for
every role (admin, office staff of the location and of another, finance, the section's
instructor and another section's, the child's parent and another family's, anonymous);
bad input answered with a 400 on the field and nothing written; the 409s; a parent's
view (published only, withheld under a finance hold); fixed query counts."""

import datetime
import re
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from academy.models import Section, Term
from attendance import services as attendance_services
from grading import services
from grading.models import Assessment, Result, ResultChange, Score, SkillRating
from tests.api.conftest import client_for, roles, share_world, structure, world  # noqa: F401 (fixtures)
from tests.factories.academy import SectionFactory, finance_user, instructor_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FinancePolicyFactory, issue
from tests.factories.grading import curriculum_with_levels

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ACTORS = (
    "office",
    "other_office",
    "admin",
    "finance",
    "instructor",
    "other_instructor",
    "parent",
    "other_parent",
    "anonymous",
)


def rows() -> dict:
    """Everything a grading write may touch ("nothing written")."""
    counts = {model.__name__: model.objects.count() for model in (Assessment, Score, Result, ResultChange, SkillRating)}
    counts |= {
        f"{model.__name__} history": model.history.count() for model in (Assessment, Score, Result, ResultChange)
    }
    counts["scores"] = sorted((str(s.pk), s.status, s.score, s.comment) for s in Score.objects.all())
    counts["results"] = sorted(
        (str(r.pk), r.state, r.letter_grade, r.percentage, r.comments) for r in Result.objects.all()
    )
    counts["assessments"] = sorted((str(a.pk), a.title, a.weight) for a in Assessment.objects.all())
    return counts


def _other_letter(letter: str) -> str:
    return "A" if letter != "A" else "B"


@pytest.fixture
def gw(world, location):  # noqa: F811
    """The API world plus grading:

    - ``a``: the main section (``world.s.section``), taught by ``instructor``; ``child``
      (the parent's) and ``other_child`` (another family's) enrolled at level 1 of the
      course's curriculum; quiz 20 (max 20) + midterm 30 (max 50) + final 30 = 80, so its
      results are drafts and cannot be published yet; the child's final is not scored;
      the child has one skill rating;
    - ``p``: another section of the term taught by ``instructor``, the same two students,
      quiz 50 + final 50, published; ``change``: a pending request on ``other_child``'s
      result, by ``instructor``;
    - ``o``: a section taught by ``other_instructor`` with the parent's second child.
    """
    s = world.s
    office = world.users["office"]
    instructor = instructor_user(username="instructor", locations=[location])
    other_instructor = instructor_user(username="other-instructor", locations=[location])
    Section.objects.filter(pk=s.section.pk).update(instructor=instructor)
    a = Section.objects.get(pk=s.section.pk)
    p = SectionFactory(course=s.course, term=s.term, location=location, code="P", instructor=instructor, capacity=10)
    o = SectionFactory(
        course=s.course, term=s.term, location=location, code="O", instructor=other_instructor, capacity=10
    )
    child, other_child = world.child, world.other_child
    _curriculum, levels, areas = curriculum_with_levels(s.course)
    module = levels[0].modules.first()
    enrollment = EnrollmentFactory(student=child, section=a, current_level=levels[0], current_module=module)
    other_enrollment = EnrollmentFactory(student=other_child, section=a, current_level=levels[0], current_module=module)
    for student in (child, other_child):
        EnrollmentFactory(student=student, section=p)
    EnrollmentFactory(student=world.children[1], section=o)

    def make(section, kind, title, weight, max_score):
        return services.assessment_create(
            section=section, actor=office, type=kind, title=title, weight=Decimal(weight), max_score=Decimal(max_score)
        )

    quiz, midterm, final = (
        make(a, "quiz", "Quiz", 20, 20),
        make(a, "midterm", "Midterm", 30, 50),
        make(a, "final", "Final", 30, 100),
    )
    p_quiz, p_final = make(p, "quiz", "Quiz", 50, 100), make(p, "final", "Final", 50, 100)
    cell = services.Cell
    services.gradebook_save(
        section=a,
        cells=[
            cell(quiz.pk, child.pk, score=15),
            cell(midterm.pk, child.pk, score=40),
            cell(quiz.pk, other_child.pk, score=18),
            cell(midterm.pk, other_child.pk, score=45),
            cell(final.pk, other_child.pk, score=80),
        ],
        actor=instructor,
    )
    services.gradebook_save(
        section=p,
        cells=[
            cell(p_quiz.pk, child.pk, score=90),
            cell(p_final.pk, child.pk, score=80),
            cell(p_quiz.pk, other_child.pk, score=70),
            cell(p_final.pk, other_child.pk, score=60),
        ],
        actor=instructor,
    )
    services.section_publish(section=p, actor=office)
    published = Result.objects.get(section=p, student=child)
    other_published = Result.objects.get(section=p, student=other_child)
    change = services.result_change_request(
        result=other_published,
        new_grade=_other_letter(other_published.letter_grade),
        reason="Marking error",
        actor=instructor,
    )
    rating = services.skill_ratings_save(
        section=a,
        ratings=[services.RatingInput(enrollment_id=enrollment.pk, skill_area_id=areas[0].pk, rating=1)],
        actor=instructor,
        assessment_date=timezone.localdate() - datetime.timedelta(days=14),
    )[0]
    users = dict(world.users)
    users.update(finance=finance_user(username="finance"), instructor=instructor, other_instructor=other_instructor)
    return SimpleNamespace(
        w=world,
        users=users,
        child=child,
        other_child=other_child,
        a=a,
        p=p,
        o=o,
        term=s.term,
        quiz=quiz,
        midterm=midterm,
        final=final,
        p_quiz=p_quiz,
        quiz_score=Score.objects.get(assessment=quiz, student=child),
        draft=Result.objects.get(section=a, student=child),
        published=published,
        other_published=other_published,
        change=change,
        enrollment=enrollment,
        other_enrollment=other_enrollment,
        levels=levels,
        areas=areas,
        rating=rating,
    )


share_world(globals(), gw)


@pytest.fixture
def as_actor(gw, client_for):  # noqa: F811
    return lambda actor: client_for(gw.users[actor])


def expect(office, other_office, admin, finance, instructor, other_instructor, parent, other_parent, anonymous):
    values = (office, other_office, admin, finance, instructor, other_instructor, parent, other_parent, anonymous)
    return dict(zip(ACTORS, values, strict=True))


# reads of the staff's grading lists: finance holds no grading permission, parents none of these
STAFF_LIST = expect(200, 200, 200, 403, 200, 200, 403, 403, 401)
# a record of the main section: another location's staff and another section's instructor get 404
SECTION_READ = expect(200, 404, 200, 403, 200, 404, 403, 403, 401)
SECTION_CHANGE = SECTION_READ
SECTION_DELETE = expect(204, 404, 204, 403, 204, 404, 403, 403, 401)
# a write naming the main section (or its records) in the body: out of scope is a 400 on the field
SECTION_CREATE = expect(201, 400, 201, 403, 201, 400, 403, 403, 401)
SECTION_WRITE = expect(200, 400, 200, 403, 200, 400, 403, 403, 401)
SECTION_CONFLICT = expect(409, 404, 409, 403, 409, 404, 403, 403, 401)
# parents read their own children's records
FAMILY_LIST = expect(200, 200, 200, 403, 200, 200, 200, 200, 401)
CHILD_READ = expect(200, 404, 200, 403, 200, 404, 200, 404, 401)
# deciding change requests and freezing: office staff and admins only
DECIDE = expect(200, 404, 200, 403, 403, 403, 403, 403, 401)
ALWAYS_405 = expect(*([405] * 9))


def _cells(g):
    return {
        "section": str(g.a.pk),
        "scores": [
            {"assessment": str(g.final.pk), "student": str(g.child.pk), "score": "70"},
            {"assessment": str(g.quiz.pk), "student": str(g.other_child.pk), "status": "excused"},
        ],
    }


def _new_change(g):
    return {"result": str(g.published.pk), "new_grade": _other_letter(g.published.letter_grade), "reason": "Re-marked"}


def _ratings(g):
    return {
        "section": str(g.a.pk),
        "ratings": [{"enrollment": str(g.enrollment.pk), "skill_area": str(g.areas[1].pk), "rating": 2}],
    }


CASES = [
    # --- grade scales: read-only ---
    ("scales-list", "get", lambda g: f"{V1}/grade-scales/", None, STAFF_LIST),
    ("scales-get", "get", lambda g: f"{V1}/grade-scales/{g.draft.scale_id}/", None, STAFF_LIST),
    ("scales-post", "post", lambda g: f"{V1}/grade-scales/", lambda g: {"name": "X"}, ALWAYS_405),
    ("scales-patch", "patch", lambda g: f"{V1}/grade-scales/{g.draft.scale_id}/", lambda g: {}, ALWAYS_405),
    # --- assessments ---
    ("assessments-list", "get", lambda g: f"{V1}/assessments/", None, STAFF_LIST),
    ("assessments-get", "get", lambda g: f"{V1}/assessments/{g.quiz.pk}/", None, SECTION_READ),
    (
        "assessments-post",
        "post",
        lambda g: f"{V1}/assessments/",
        lambda g: {"section": str(g.a.pk), "type": "project", "title": "Project", "weight": "20"},
        SECTION_CREATE,
    ),
    (
        "assessments-patch",
        "patch",
        lambda g: f"{V1}/assessments/{g.quiz.pk}/",
        lambda g: {"title": "Quiz one", "weight": "15"},
        SECTION_CHANGE,
    ),
    (
        "assessments-patch-published",
        "patch",
        lambda g: f"{V1}/assessments/{g.p_quiz.pk}/",
        lambda g: {"title": "Quiz one"},
        SECTION_CONFLICT,
    ),
    ("assessments-delete", "delete", lambda g: f"{V1}/assessments/{g.quiz.pk}/", None, SECTION_DELETE),
    ("assessments-put", "put", lambda g: f"{V1}/assessments/{g.quiz.pk}/", lambda g: {}, ALWAYS_405),
    # --- scores ---
    ("scores-list", "get", lambda g: f"{V1}/scores/", None, STAFF_LIST),
    ("scores-get", "get", lambda g: f"{V1}/scores/{g.quiz_score.pk}/", None, SECTION_READ),
    (
        "scores-post",
        "post",
        lambda g: f"{V1}/scores/",
        lambda g: {"assessment": str(g.final.pk), "student": str(g.child.pk), "score": "77.5"},
        SECTION_CREATE,
    ),
    (
        "scores-patch",
        "patch",
        lambda g: f"{V1}/scores/{g.quiz_score.pk}/",
        lambda g: {"score": "12", "comment": "Late"},
        SECTION_CHANGE,
    ),
    ("scores-bulk", "post", lambda g: f"{V1}/scores/bulk/", _cells, SECTION_WRITE),
    ("scores-delete", "delete", lambda g: f"{V1}/scores/{g.quiz_score.pk}/", None, ALWAYS_405),
    ("scores-put", "put", lambda g: f"{V1}/scores/{g.quiz_score.pk}/", lambda g: {}, ALWAYS_405),
    # --- results ---
    ("results-list", "get", lambda g: f"{V1}/results/", None, FAMILY_LIST),
    # a draft: never shown to a family
    (
        "results-get-draft",
        "get",
        lambda g: f"{V1}/results/{g.draft.pk}/",
        None,
        expect(200, 404, 200, 403, 200, 404, 404, 404, 401),
    ),
    ("results-get-published", "get", lambda g: f"{V1}/results/{g.published.pk}/", None, CHILD_READ),
    (
        "results-patch",
        "patch",
        lambda g: f"{V1}/results/{g.draft.pk}/",
        lambda g: {"comments": "Works hard."},
        SECTION_CHANGE,
    ),
    (
        "results-patch-published",
        "patch",
        lambda g: f"{V1}/results/{g.published.pk}/",
        lambda g: {"comments": "Works hard."},
        SECTION_CONFLICT,
    ),
    ("results-post", "post", lambda g: f"{V1}/results/", lambda g: {}, ALWAYS_405),
    ("results-delete", "delete", lambda g: f"{V1}/results/{g.draft.pk}/", None, ALWAYS_405),
    (
        # the weights of the main section total 80: 409 weights_incomplete for whoever may publish
        "results-publish",
        "post",
        lambda g: f"{V1}/results/publish/",
        lambda g: {"section": str(g.a.pk)},
        expect(409, 400, 409, 403, 409, 400, 403, 403, 401),
    ),
    (
        # the term is open: 409 term_open for whoever may freeze (instructors may not)
        "results-freeze",
        "post",
        lambda g: f"{V1}/results/freeze/",
        lambda g: {"section": str(g.p.pk)},
        expect(409, 400, 409, 403, 403, 403, 403, 403, 401),
    ),
    # --- change requests ---
    ("changes-list", "get", lambda g: f"{V1}/result-changes/", None, STAFF_LIST),
    ("changes-get", "get", lambda g: f"{V1}/result-changes/{g.change.pk}/", None, SECTION_READ),
    ("changes-post", "post", lambda g: f"{V1}/result-changes/", _new_change, SECTION_CREATE),
    ("changes-approve", "post", lambda g: f"{V1}/result-changes/{g.change.pk}/approve/", lambda g: {}, DECIDE),
    (
        "changes-reject",
        "post",
        lambda g: f"{V1}/result-changes/{g.change.pk}/reject/",
        lambda g: {"note": "The marks stand."},
        DECIDE,
    ),
    ("changes-patch", "patch", lambda g: f"{V1}/result-changes/{g.change.pk}/", lambda g: {}, ALWAYS_405),
    ("changes-delete", "delete", lambda g: f"{V1}/result-changes/{g.change.pk}/", None, ALWAYS_405),
    # --- skill ratings ---
    ("ratings-list", "get", lambda g: f"{V1}/skill-ratings/", None, FAMILY_LIST),
    ("ratings-get", "get", lambda g: f"{V1}/skill-ratings/{g.rating.pk}/", None, CHILD_READ),
    ("ratings-post", "post", lambda g: f"{V1}/skill-ratings/", _ratings, SECTION_CREATE),
    ("ratings-patch", "patch", lambda g: f"{V1}/skill-ratings/{g.rating.pk}/", lambda g: {}, ALWAYS_405),
    ("ratings-delete", "delete", lambda g: f"{V1}/skill-ratings/{g.rating.pk}/", None, ALWAYS_405),
    # --- a student's progress ---
    ("progress", "get", lambda g: f"{V1}/students/{g.child.pk}/progress/", None, CHILD_READ),
    (
        "progress-other-family",
        "get",
        lambda g: f"{V1}/students/{g.other_child.pk}/progress/",
        None,
        expect(200, 404, 200, 403, 200, 404, 404, 200, 401),
    ),
]


class _AnyRecord:
    pk = "00000000-0000-0000-0000-000000000000"
    scale_id = pk

    def __getattr__(self, name):
        return self


def grading_operations_covered() -> set[tuple[str, str]]:
    """``(method, path template)`` of every row of this matrix (for tests/api's check that
    every API operation has a permission-matrix row somewhere)."""
    return {(method, UUID.sub("{id}", path(_AnyRecord()))) for _id, method, path, _body, _expected in CASES}


@pytest.mark.parametrize(("method", "path", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_permission_matrix(gw, as_actor, method, path, body, expected):
    """Every actor calls the operation on the same world; each call runs in a savepoint
    rolled back afterwards, so the world is built once per operation, not once per actor."""
    clients = {actor: as_actor(actor) for actor in ACTORS}
    for actor in ACTORS:
        with transaction.atomic():
            # given an actor and an operation
            before = rows()
            # when the actor calls it
            kwargs = {"format": "json"} if body is not None else {}
            response = getattr(clients[actor], method)(path(gw), body(gw) if body is not None else None, **kwargs)
            # then the status is the matrix's, with an error body where it is an error
            assert response.status_code == expected[actor], (actor, response.content)
            if response.status_code >= 400:
                error = response.json()
                if response.status_code == 400:
                    assert error and all(isinstance(messages, list) for messages in error.values()), actor
                else:
                    assert "detail" in error, actor
                if response.status_code == 409:
                    assert error["code"], actor
            # and a refused write wrote nothing
            if method != "get" and response.status_code >= 400:
                assert rows() == before, actor
            transaction.set_rollback(True)


# --- scope ------------------------------------------------------------------------------------


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_an_instructor_lists_only_the_sections_they_teach(gw, as_actor):
    mine = _ids(as_actor("instructor").get(f"{V1}/assessments/"))
    assert mine == {str(a.pk) for a in Assessment.objects.filter(section__in=[gw.a, gw.p])}
    assert _ids(as_actor("other_instructor").get(f"{V1}/assessments/")) == set()
    assert _ids(as_actor("other_instructor").get(f"{V1}/scores/")) == set()
    assert _ids(as_actor("other_instructor").get(f"{V1}/results/")) == set()
    assert _ids(as_actor("other_office").get(f"{V1}/results/")) == set()


def test_a_filter_outside_the_scope_is_a_400(gw, as_actor):
    response = as_actor("other_instructor").get(f"{V1}/scores/", {"section": str(gw.a.pk)})
    assert response.status_code == 400
    assert "section" in response.json()


def test_filters_narrow_the_lists(gw, as_actor):
    client = as_actor("office")
    scores = client.get(f"{V1}/scores/", {"section": str(gw.a.pk), "student": str(gw.child.pk)}).json()
    assert {row["assessment_title"] for row in scores["results"]} == {"Quiz", "Midterm"}
    published = client.get(f"{V1}/results/", {"term": str(gw.term.pk), "state": "published"}).json()
    assert {row["id"] for row in published["results"]} == {str(gw.published.pk), str(gw.other_published.pk)}
    pending = client.get(f"{V1}/result-changes/", {"status": "pending"}).json()
    assert [row["id"] for row in pending["results"]] == [str(gw.change.pk)]


# --- assessments --------------------------------------------------------------------------------


class TestAssessments:
    def test_weights_beyond_100_are_a_400_on_weight_and_nothing_is_written(self, gw, as_actor):
        before = rows()
        response = as_actor("instructor").post(
            f"{V1}/assessments/",
            {"section": str(gw.a.pk), "type": "project", "title": "Project", "weight": "25"},
            format="json",
        )
        assert response.status_code == 400
        assert "100" in response.json()["weight"][0]
        assert rows() == before

    def test_a_weight_above_100_on_its_own_is_a_400(self, gw, as_actor):
        response = as_actor("office").patch(f"{V1}/assessments/{gw.quiz.pk}/", {"weight": "120"}, format="json")
        assert response.status_code == 400 and "weight" in response.json()

    @pytest.mark.parametrize("weight", ["0", "-5", "100.01", "120"])
    def test_a_weight_out_of_range_is_a_400_on_weight_in_the_services_words(self, gw, as_actor, weight):
        client = as_actor("office")
        before = rows()
        response = client.post(
            f"{V1}/assessments/",
            {"section": str(gw.a.pk), "type": "project", "title": "Project", "weight": weight},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {"weight": [services.WEIGHT_MESSAGE]}
        response = client.patch(f"{V1}/assessments/{gw.quiz.pk}/", {"weight": weight}, format="json")
        assert response.status_code == 400
        assert response.json() == {"weight": [services.WEIGHT_MESSAGE]}
        assert rows() == before

    @pytest.mark.parametrize("max_score", ["0", "-1"])
    def test_a_maximum_score_of_0_or_less_is_a_400_on_max_score(self, gw, as_actor, max_score):
        client = as_actor("office")
        before = rows()
        response = client.patch(f"{V1}/assessments/{gw.quiz.pk}/", {"max_score": max_score}, format="json")
        assert response.status_code == 400
        assert response.json() == {"max_score": [services.MAX_SCORE_MESSAGE]}
        assert rows() == before

    def test_a_missing_field_is_a_400(self, gw, as_actor):
        response = as_actor("office").post(f"{V1}/assessments/", {"section": str(gw.a.pk)}, format="json")
        assert response.status_code == 400
        assert {"type", "title", "weight"} <= set(response.json())

    def test_a_published_section_is_a_409_on_create_and_delete(self, gw, as_actor):
        client = as_actor("instructor")
        response = client.post(
            f"{V1}/assessments/",
            {"section": str(gw.p.pk), "type": "project", "title": "Extra", "weight": "1"},
            format="json",
        )
        assert response.status_code == 409 and response.json()["code"] == "result_published"
        response = client.delete(f"{V1}/assessments/{gw.p_quiz.pk}/")
        assert response.status_code == 409 and response.json()["code"] == "result_published"

    def test_create_answers_the_assessment(self, gw, as_actor):
        response = as_actor("instructor").post(
            f"{V1}/assessments/",
            {"section": str(gw.a.pk), "type": "project", "title": "Project", "weight": "20", "max_score": "10"},
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["weight"] == "20.00" and body["max_score"] == "10.00" and body["section_code"].endswith("-A")


# --- scores ------------------------------------------------------------------------------------


class TestScores:
    def test_a_score_above_the_maximum_is_a_400_on_score(self, gw, as_actor):
        before = rows()
        response = as_actor("instructor").post(
            f"{V1}/scores/",
            {"assessment": str(gw.quiz.pk), "student": str(gw.child.pk), "score": "21"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {"score": ["A score is from 0 to 20.00."]}
        assert rows() == before

    def test_an_unknown_student_is_a_400_on_student(self, gw, as_actor):
        response = as_actor("office").post(
            f"{V1}/scores/",
            {"assessment": str(gw.quiz.pk), "student": str(uuid.uuid4()), "score": "10"},
            format="json",
        )
        assert response.status_code == 400 and "student" in response.json()

    def test_a_student_not_in_the_section_is_a_400_on_student(self, gw, as_actor):
        before = rows()
        response = as_actor("office").post(
            f"{V1}/scores/",
            {"assessment": str(gw.quiz.pk), "student": str(gw.w.children[1].pk), "score": "10"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {"student": ["This student is not enrolled in the section."]}
        assert rows() == before

    def test_post_replaces_the_students_score_and_the_draft_follows(self, gw, as_actor):
        response = as_actor("instructor").post(
            f"{V1}/scores/",
            {"assessment": str(gw.quiz.pk), "student": str(gw.child.pk), "score": "20"},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["id"] == str(gw.quiz_score.pk) and response.json()["score"] == "20.00"
        gw.draft.refresh_from_db()
        assert gw.draft.percentage == Decimal("88.00")  # (20/20*20 + 40/50*30) / 50

    def test_patch_excuses_a_score(self, gw, as_actor):
        response = as_actor("instructor").patch(
            f"{V1}/scores/{gw.quiz_score.pk}/", {"status": "excused"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "excused" and response.json()["score"] is None

    def test_a_published_result_is_a_409(self, gw, as_actor):
        score = Score.objects.get(assessment=gw.p_quiz, student=gw.child)
        response = as_actor("instructor").patch(f"{V1}/scores/{score.pk}/", {"score": "100"}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "result_published"


class TestEligibility:
    @pytest.fixture
    def absent(self, gw):
        """The child missed the section's only session: 0% attendance, below the threshold."""
        attendance_services.attendance_mark(
            class_session=gw.w.s.session, student=gw.child, status="absent", actor=gw.users["office"]
        )

    def _final(self, gw, **extra):
        return {"assessment": str(gw.final.pk), "student": str(gw.child.pk), "score": "70", **extra}

    def test_a_final_below_the_threshold_is_a_409_not_eligible(self, gw, as_actor, absent):
        before = rows()
        response = as_actor("instructor").post(f"{V1}/scores/", self._final(gw, override_reason="x"), format="json")
        assert response.status_code == 409 and response.json()["code"] == "not_eligible"
        body = {"section": str(gw.a.pk), "scores": [self._final(gw)]}
        response = as_actor("office").post(f"{V1}/scores/bulk/", body, format="json")
        assert response.status_code == 409 and response.json()["code"] == "not_eligible"
        assert rows() == before

    def test_someone_allowed_overrides_with_a_reason(self, gw, as_actor, absent):
        response = as_actor("office").post(
            f"{V1}/scores/", self._final(gw, override_reason="Medical certificate"), format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["eligibility_override_reason"] == "Medical certificate"


class TestGradebook:
    def test_a_gradebook_is_saved_at_once_and_answers_the_results(self, gw, as_actor):
        response = as_actor("instructor").post(f"{V1}/scores/bulk/", _cells(gw), format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["saved"] == 2
        assert {(row["student"], row["status"]) for row in body["scores"]} == {
            (str(gw.child.pk), "scored"),
            (str(gw.other_child.pk), "excused"),
        }
        drafts = {row["student"]: row for row in body["results"]}
        assert drafts[str(gw.child.pk)]["percentage"] == "75.00"  # (15 + 24 + 21) / 80
        assert drafts[str(gw.child.pk)]["state"] == "draft"

    def test_one_bad_cell_is_a_400_on_that_cell_and_nothing_is_written(self, gw, as_actor):
        before = rows()
        body = _cells(gw)
        body["scores"].append({"assessment": str(gw.midterm.pk), "student": str(gw.other_child.pk), "score": "51"})
        body["scores"].append({"assessment": str(gw.midterm.pk), "student": str(uuid.uuid4()), "score": "5"})
        response = as_actor("instructor").post(f"{V1}/scores/bulk/", body, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "scores[2].score": ["A score is from 0 to 50.00."],
            "scores[3].student": ["This student is not enrolled in the section."],
        }
        assert rows() == before

    def test_a_malformed_cell_is_a_400_on_that_cell(self, gw, as_actor):
        body = _cells(gw)
        body["scores"][1] = {"assessment": str(gw.quiz.pk), "student": str(gw.other_child.pk), "score": "ten"}
        response = as_actor("instructor").post(f"{V1}/scores/bulk/", body, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["scores[1].score"]

    def test_a_scored_cell_without_a_score_is_a_400(self, gw, as_actor):
        body = {"section": str(gw.a.pk), "scores": [{"assessment": str(gw.final.pk), "student": str(gw.child.pk)}]}
        response = as_actor("instructor").post(f"{V1}/scores/bulk/", body, format="json")
        assert response.status_code == 400 and list(response.json()) == ["scores[0].score"]

    def test_an_empty_gradebook_is_a_400(self, gw, as_actor):
        response = as_actor("instructor").post(
            f"{V1}/scores/bulk/", {"section": str(gw.a.pk), "scores": []}, format="json"
        )
        assert response.status_code == 400 and "scores" in response.json()

    def test_a_published_section_is_a_409_and_nothing_is_written(self, gw, as_actor):
        before = rows()
        body = {
            "section": str(gw.p.pk),
            "scores": [{"assessment": str(gw.p_quiz.pk), "student": str(gw.child.pk), "score": "100"}],
        }
        response = as_actor("office").post(f"{V1}/scores/bulk/", body, format="json")
        assert response.status_code == 409 and response.json()["code"] == "result_published"
        assert rows() == before

    def test_another_sections_gradebook_is_a_400_on_section(self, gw, as_actor):
        response = as_actor("other_instructor").post(f"{V1}/scores/bulk/", _cells(gw), format="json")
        assert response.status_code == 400 and list(response.json()) == ["section"]


def _gradebook(office, students: int):
    """A section of ``students`` enrolled students and 6 assessments; the cells of its
    whole gradebook."""
    section = SectionFactory(code=f"G{students}", capacity=students)
    assessments = [
        services.assessment_create(
            section=section, actor=office, type="quiz", title=f"Quiz {i}", weight=Decimal(w), max_score=Decimal(100)
        )
        for i, w in enumerate(("10", "10", "10", "20", "20", "30"))
    ]
    pupils = [StudentFactory(location=section.location) for _ in range(students)]
    for pupil in pupils:
        EnrollmentFactory(student=pupil, section=section)
    cells = [
        {"assessment": str(a.pk), "student": str(p.pk), "score": str(50 + (i + j) % 50)}
        for i, p in enumerate(pupils)
        for j, a in enumerate(assessments)
    ]
    return {"section": str(section.pk), "scores": cells}


def test_a_40_by_6_gradebook_saves_at_a_fixed_query_count(
    db,
    academy_admin,
    client_for,  # noqa: F811 (a fixture)
    on_postgres,
    django_assert_max_num_queries,
):
    client = client_for(academy_admin)
    small, large = _gradebook(academy_admin, 10), _gradebook(academy_admin, 40)
    client.get(f"{V1}/grade-scales/")  # warm the caches (token, roles, content types)
    counts = []
    for body in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(f"{V1}/scores/bulk/", body, format="json")
        assert response.status_code == 200, response.content
        counts.append(len(queries))
    assert response.json()["saved"] == 240
    assert counts[1] <= 32, counts
    if on_postgres:  # SQLite splits a bulk insert into batches under its 999-variable limit
        assert counts[0] == counts[1], counts
    # and saving it again (every cell changed) costs the same bound
    for cell in large["scores"]:
        cell["score"] = str(int(cell["score"]) - 1)
    with django_assert_max_num_queries(32):
        response = client.post(f"{V1}/scores/bulk/", large, format="json")
    assert response.status_code == 200 and response.json()["saved"] == 240
    assert Score.objects.filter(assessment__section_id=large["section"]).count() == 240


# --- results -----------------------------------------------------------------------------------


class TestResults:
    def test_patch_changes_a_drafts_comment(self, gw, as_actor):
        response = as_actor("instructor").patch(
            f"{V1}/results/{gw.draft.pk}/", {"comments": "Works hard."}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["comments"] == "Works hard."

    def test_a_field_other_than_the_comment_is_a_400_on_that_field(self, gw, as_actor):
        before = rows()
        response = as_actor("instructor").patch(
            f"{V1}/results/{gw.draft.pk}/", {"comments": "Works hard.", "letter_grade": "A"}, format="json"
        )
        assert response.status_code == 400
        assert response.json() == {"letter_grade": ["This field cannot be changed."]}
        assert rows() == before

    def test_a_published_or_frozen_result_is_a_409(self, gw, as_actor):
        client = as_actor("office")
        response = client.patch(f"{V1}/results/{gw.published.pk}/", {"comments": "x"}, format="json")
        assert response.json()["code"] == "result_published"
        services.result_change_reject(change=gw.change, actor=gw.users["office"], note="No")
        Term.objects.filter(pk=gw.term.pk).update(status=Term.Status.CLOSED)
        assert client.post(f"{V1}/results/freeze/", {"section": str(gw.p.pk)}, format="json").status_code == 200
        response = client.patch(f"{V1}/results/{gw.published.pk}/", {"comments": "x"}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "result_frozen"

    def test_publish_a_section(self, gw, as_actor):
        client = as_actor("instructor")
        response = client.post(f"{V1}/results/publish/", {"section": str(gw.a.pk)}, format="json")
        assert response.json()["code"] == "weights_incomplete"
        weights = client.post(
            f"{V1}/assessments/",
            {"section": str(gw.a.pk), "type": "project", "title": "Project", "weight": "20"},
            format="json",
        )
        assert weights.status_code == 201
        response = client.post(f"{V1}/results/publish/", {"section": str(gw.a.pk)}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["published"] == 2 and response.json()["already"] == 0
        gw.draft.refresh_from_db()
        assert gw.draft.state == "published"
        assert gw.draft.percentage == Decimal("39.00")  # missing final and project count 0: (15 + 24) / 100

    def test_publish_a_term_covers_the_callers_sections(self, gw, as_actor):
        Assessment.objects.filter(pk=gw.final.pk).update(weight=Decimal("50"))
        response = as_actor("office").post(f"{V1}/results/publish/", {"term": str(gw.term.pk)}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["published"] == 2 and body["already"] == 2
        assert {row["section"] for row in body["sections"]} == {str(gw.a.pk), str(gw.p.pk)}

    def test_publish_needs_a_section_or_a_term(self, gw, as_actor):
        client = as_actor("office")
        response = client.post(f"{V1}/results/publish/", {}, format="json")
        assert response.status_code == 400 and "non_field_errors" in response.json()
        body = {"section": str(gw.a.pk), "term": str(gw.term.pk)}
        assert client.post(f"{V1}/results/publish/", body, format="json").status_code == 400

    def test_freeze_waits_for_the_closed_term_and_the_pending_changes(self, gw, as_actor):
        client = as_actor("office")
        response = client.post(f"{V1}/results/freeze/", {"term": str(gw.term.pk)}, format="json")
        assert response.json()["code"] == "term_open"
        Term.objects.filter(pk=gw.term.pk).update(status=Term.Status.CLOSED)
        response = client.post(f"{V1}/results/freeze/", {"term": str(gw.term.pk)}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "change_pending"
        assert client.post(f"{V1}/result-changes/{gw.change.pk}/approve/", {}, format="json").status_code == 200
        response = client.post(f"{V1}/results/freeze/", {"term": str(gw.term.pk)}, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {"frozen": 2}
        assert set(Result.objects.filter(section=gw.a).values_list("state", flat=True)) == {"draft"}

    def test_a_location_limited_term_freeze_leaves_other_locations_alone(self, gw, as_actor, other_location):
        north = SectionFactory(course=gw.a.course, term=gw.term, location=other_location, code="N")
        pupil = StudentFactory(location=other_location)
        EnrollmentFactory(student=pupil, section=north)
        exam = services.assessment_create(
            section=north, actor=gw.users["admin"], type="final", title="Exam", weight=Decimal("100")
        )
        services.gradebook_save(
            section=north, cells=[services.Cell(exam.pk, pupil.pk, score=90)], actor=gw.users["admin"]
        )
        services.section_publish(section=north, actor=gw.users["admin"])
        services.result_change_reject(change=gw.change, actor=gw.users["office"], note="No")
        Term.objects.filter(pk=gw.term.pk).update(status=Term.Status.CLOSED)
        response = as_actor("office").post(f"{V1}/results/freeze/", {"term": str(gw.term.pk)}, format="json")
        assert response.json() == {"frozen": 2}
        assert Result.objects.get(section=north).state == "published"


class TestChangeRequests:
    def test_request_then_approve_by_someone_else_applies_the_grade(self, gw, as_actor):
        new_grade = _other_letter(gw.published.letter_grade)
        response = as_actor("instructor").post(f"{V1}/result-changes/", _new_change(gw), format="json")
        assert response.status_code == 201, response.content
        change = response.json()
        assert change["status"] == "pending" and change["requested_by_name"] == "instructor"
        assert change["old_grade"] == gw.published.letter_grade
        response = as_actor("office").post(
            f"{V1}/result-changes/{change['id']}/approve/", {"note": "Checked"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "approved" and response.json()["approved_by_name"] == "office"
        gw.published.refresh_from_db()
        assert gw.published.letter_grade == new_grade
        # the family sees the new grade
        seen = as_actor("parent").get(f"{V1}/results/{gw.published.pk}/").json()
        assert seen["letter_grade"] == new_grade and seen["last_change"] == change["id"]

    def test_the_requester_cannot_decide_their_own_request(self, gw, as_actor):
        client = as_actor("office")
        response = client.post(f"{V1}/result-changes/", _new_change(gw), format="json")
        assert response.status_code == 201
        before = rows()
        change = response.json()["id"]
        response = client.post(f"{V1}/result-changes/{change}/approve/", {}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "same_approver"
        response = client.post(f"{V1}/result-changes/{change}/reject/", {"note": "x"}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "same_approver"
        assert rows() == before

    def test_a_decided_request_is_a_409(self, gw, as_actor):
        client = as_actor("office")
        assert client.post(f"{V1}/result-changes/{gw.change.pk}/approve/", {}, format="json").status_code == 200
        response = as_actor("admin").post(f"{V1}/result-changes/{gw.change.pk}/approve/", {}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "change_resolved"

    def test_reject_needs_a_note(self, gw, as_actor):
        response = as_actor("office").post(f"{V1}/result-changes/{gw.change.pk}/reject/", {}, format="json")
        assert response.status_code == 400 and "note" in response.json()

    def test_a_draft_a_pending_request_and_a_grade_off_the_scale(self, gw, as_actor):
        client = as_actor("instructor")
        body = {"result": str(gw.draft.pk), "new_grade": "A", "reason": "x"}
        response = client.post(f"{V1}/result-changes/", body, format="json")
        assert response.status_code == 409 and response.json()["code"] == "result_draft"
        body = {"result": str(gw.other_published.pk), "new_grade": "A", "reason": "x"}
        response = client.post(f"{V1}/result-changes/", body, format="json")
        assert response.status_code == 409 and response.json()["code"] == "change_pending"
        body = {"result": str(gw.published.pk), "new_grade": "Z", "reason": "x"}
        response = client.post(f"{V1}/result-changes/", body, format="json")
        assert response.status_code == 400 and "new_grade" in response.json()


# --- the family's view ---------------------------------------------------------------------------


class TestParents:
    def test_a_parent_sees_only_their_childs_published_results(self, gw, as_actor):
        assert _ids(as_actor("parent").get(f"{V1}/results/")) == {str(gw.published.pk)}
        assert _ids(as_actor("other_parent").get(f"{V1}/results/")) == {str(gw.other_published.pk)}
        body = as_actor("parent").get(f"{V1}/results/{gw.published.pk}/").json()
        assert body["withheld"] is False and body["letter_grade"] == gw.published.letter_grade

    def test_under_a_results_hold_the_grades_are_withheld_from_the_family_only(self, gw, as_actor, location):
        FinancePolicyFactory(location=location, block_results=True, hold_threshold=Decimal("50.00"))
        issue(gw.child, "120.00", actor=gw.users["finance"])
        body = as_actor("parent").get(f"{V1}/results/{gw.published.pk}/").json()
        assert body["withheld"] is True
        assert "120.00" in body["withheld_reason"]
        assert all(body[name] is None for name in ("percentage", "letter_grade", "grade_points", "passed", "comments"))
        listed = as_actor("parent").get(f"{V1}/results/").json()["results"]
        assert [row["withheld"] for row in listed] == [True]
        # another family's child is not held
        other = as_actor("other_parent").get(f"{V1}/results/{gw.other_published.pk}/").json()
        assert other["withheld"] is False and other["letter_grade"]
        # staff still see the grades
        staff = as_actor("office").get(f"{V1}/results/{gw.published.pk}/").json()
        assert staff["withheld"] is False and staff["letter_grade"] == gw.published.letter_grade

    def test_a_parent_reads_their_childs_skill_ratings_and_filters_by_their_section(self, gw, as_actor):
        client = as_actor("parent")
        assert _ids(client.get(f"{V1}/skill-ratings/", {"section": str(gw.a.pk)})) == {str(gw.rating.pk)}
        assert _ids(as_actor("other_parent").get(f"{V1}/skill-ratings/")) == set()
        assert client.get(f"{V1}/skill-ratings/", {"student": str(gw.other_child.pk)}).status_code == 400


# --- skill ratings and progress ------------------------------------------------------------------


class TestSkills:
    def test_a_sections_ratings_are_saved_at_once(self, gw, as_actor):
        body = _ratings(gw)
        body["assessment_date"] = timezone.localdate().isoformat()
        body["ratings"].append(
            {
                "enrollment": str(gw.enrollment.pk),
                "skill_area": str(gw.areas[0].pk),
                "rating": 3,
                "achievement_milestones": ["Floats alone"],
                "next_goals": ["Dive"],
            }
        )
        response = as_actor("instructor").post(f"{V1}/skill-ratings/", body, format="json")
        assert response.status_code == 201, response.content
        saved = {row["skill_area_name"]: row for row in response.json()}
        assert saved[gw.areas[0].name]["previous_rating"] == 1 and saved[gw.areas[0].name]["current_rating"] == 3
        assert saved[gw.areas[0].name]["next_goals"] == ["Dive"]
        assert SkillRating.objects.count() == 3

    def test_one_bad_rating_is_a_400_on_it_and_nothing_is_written(self, gw, as_actor):
        before = SkillRating.objects.count()
        body = _ratings(gw)
        body["ratings"].append({"enrollment": str(gw.enrollment.pk), "skill_area": str(gw.areas[0].pk), "rating": 0})
        body["ratings"].append(
            {"enrollment": str(gw.other_enrollment.pk), "skill_area": str(gw.areas[2].pk), "rating": 3, "target": 2}
        )
        response = as_actor("instructor").post(f"{V1}/skill-ratings/", body, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"ratings[1].correction_reason", "ratings[2].rating"}
        assert SkillRating.objects.count() == before

    def test_a_rating_out_of_range_or_a_future_date_is_a_400(self, gw, as_actor):
        body = _ratings(gw)
        body["ratings"][0]["rating"] = 4
        body["assessment_date"] = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
        response = as_actor("instructor").post(f"{V1}/skill-ratings/", body, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"ratings[0].rating", "assessment_date"}

    def test_progress_since_a_date_with_series(self, gw, as_actor):
        services.skill_ratings_save(
            section=gw.a,
            ratings=[services.RatingInput(enrollment_id=gw.enrollment.pk, skill_area_id=gw.areas[0].pk, rating=2)],
            actor=gw.users["instructor"],
            assessment_date=timezone.localdate(),
        )
        client = as_actor("parent")
        body = client.get(f"{V1}/students/{gw.child.pk}/progress/").json()
        assert [row["current_rating"] for row in body["ratings"]] == [2, 1]
        assert body["series"] == [
            {
                "skill_area": gw.areas[0].name,
                "points": [
                    {"date": (timezone.localdate() - datetime.timedelta(days=14)).isoformat(), "rating": 1},
                    {"date": timezone.localdate().isoformat(), "rating": 2},
                ],
            }
        ]
        since = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()
        body = client.get(f"{V1}/students/{gw.child.pk}/progress/", {"since": since}).json()
        assert [row["current_rating"] for row in body["ratings"]] == [2] and body["since"] == since
        response = client.get(f"{V1}/students/{gw.child.pk}/progress/", {"since": "last week"})
        assert response.status_code == 400 and "since" in response.json()

    def test_an_instructor_sees_the_progress_in_their_sections_only(self, gw, as_actor):
        # the child's rating is in the instructor's section; another section's instructor
        # teaching the child sees none of it
        EnrollmentFactory(student=gw.child, section=gw.o)
        body = as_actor("other_instructor").get(f"{V1}/students/{gw.child.pk}/progress/").json()
        assert body["ratings"] == [] and body["series"] == []
        body = as_actor("instructor").get(f"{V1}/students/{gw.child.pk}/progress/").json()
        assert len(body["ratings"]) == 1


# --- query counts --------------------------------------------------------------------------------


def _more(gw, n: int):
    """``n`` more students in both sections, scored; the published section re-published;
    each with a skill rating and a change request."""
    office, instructor = gw.users["office"], gw.users["instructor"]
    pupils = [StudentFactory(location=gw.a.location, primary_guardian=gw.w.guardian) for _ in range(n)]
    level = gw.levels[0]
    enrollments = [
        EnrollmentFactory(student=p, section=gw.a, current_level=level, current_module=level.modules.first())
        for p in pupils
    ]
    for p in pupils:
        EnrollmentFactory(student=p, section=gw.p)
    services.gradebook_save(
        section=gw.a, cells=[services.Cell(gw.quiz.pk, p.pk, score=10) for p in pupils], actor=instructor
    )
    services.section_publish(section=gw.p, actor=office)
    services.skill_ratings_save(
        section=gw.a,
        ratings=[services.RatingInput(enrollment_id=e.pk, skill_area_id=gw.areas[0].pk, rating=2) for e in enrollments],
        actor=instructor,
    )
    for p in pupils:
        result = Result.objects.get(section=gw.p, student=p)
        services.result_change_request(
            result=result, new_grade=_other_letter(result.letter_grade), reason="x", actor=instructor
        )


LISTS = [
    ("office", f"{V1}/grade-scales/"),
    ("office", f"{V1}/assessments/"),
    ("instructor", f"{V1}/scores/"),
    ("office", f"{V1}/results/"),
    ("instructor", f"{V1}/results/"),
    ("office", f"{V1}/result-changes/"),
    ("instructor", f"{V1}/skill-ratings/"),
    ("parent", f"{V1}/skill-ratings/"),
]


@pytest.mark.parametrize(("actor", "path"), LISTS)
def test_lists_read_in_a_fixed_number_of_queries(gw, as_actor, actor, path, django_assert_max_num_queries):
    """The same queries with a few rows and with many: the count and the page (token and
    roles are cached after the first request)."""
    client = as_actor(actor)
    client.get(path)  # warm the caches (token, roles, content types)
    with CaptureQueriesContext(connection) as small:
        first = client.get(path, {"page_size": 500})
    assert len(small) <= 4
    _more(gw, 12)
    with django_assert_max_num_queries(len(small)):
        large = client.get(path, {"page_size": 500})
    assert first.status_code == large.status_code == 200
    if "grade-scales" not in path and "assessments" not in path:
        assert large.json()["count"] > first.json()["count"]


def test_a_parents_results_read_in_a_fixed_number_of_queries(gw, as_actor, location, django_assert_max_num_queries):
    """Under a hold: the hold is looked up once per child, never per result."""
    FinancePolicyFactory(location=location, block_results=True, hold_threshold=Decimal("50.00"))
    issue(gw.child, "120.00", actor=gw.users["finance"])
    client = as_actor("parent")
    client.get(f"{V1}/results/")
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"{V1}/results/").json()["count"] == 1
    _more(gw, 1)  # a second child with a published result
    other_section = SectionFactory(course=gw.a.course, term=gw.term, location=location, code="Q")
    exam = services.assessment_create(
        section=other_section, actor=gw.users["office"], type="final", title="Exam", weight=Decimal("100")
    )
    EnrollmentFactory(student=gw.child, section=other_section)
    services.gradebook_save(
        section=other_section, cells=[services.Cell(exam.pk, gw.child.pk, score=90)], actor=gw.users["office"]
    )
    services.section_publish(section=other_section, actor=gw.users["office"])
    with django_assert_max_num_queries(len(small) + 3):  # the second child's hold
        response = client.get(f"{V1}/results/")
    assert response.json()["count"] == 3
    assert sum(row["withheld"] for row in response.json()["results"]) == 2


def test_progress_reads_in_a_fixed_number_of_queries(gw, as_actor, django_assert_max_num_queries):
    client = as_actor("parent")
    path = f"{V1}/students/{gw.child.pk}/progress/"
    client.get(path)
    with CaptureQueriesContext(connection) as small:
        client.get(path)
    for days in range(1, 10):
        services.skill_ratings_save(
            section=gw.a,
            ratings=[
                services.RatingInput(
                    enrollment_id=gw.enrollment.pk, skill_area_id=area.pk, rating=min(3, 1 + days // 4)
                )
                for area in gw.areas
            ],
            actor=gw.users["instructor"],
            assessment_date=timezone.localdate() - datetime.timedelta(days=14 - days),
        )
    with django_assert_max_num_queries(len(small)):
        response = client.get(path)
    assert len(response.json()["ratings"]) == 28
