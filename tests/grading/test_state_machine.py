"""The grading invariants hold after any sequence of grading service calls (issue 13,
"Tests and figures").

A hypothesis state machine enters and edits scores (scored, excused, missing, and bad
cells in the same request), moves weight between assessments, edits comments, publishes,
requests changes of grade and approves or rejects them (including a second decision on
a resolved request and the requester deciding their own), closes the term and freezes
(per section or per term), and tries raw writes on published and frozen results. Calls
the services refuse (``GradebookError`` / ``ValidationError`` / ``Conflict`` /
``IntegrityError``) must change nothing. After every step, for the example's section:

- the scores are exactly what the accepted calls wrote;
- each draft result equals a recomputation from its scores and scale
  (``grading.selectors.weighted_percentage`` / ``grade_for``, missing scores dropped);
- each published result without an approved change equals the recomputation with missing
  scores as 0 (``final=True``) made when it was published, and still equals it now;
- a published result's grade changed only through approved requests: its letter is the
  last approved request's, its percentage the published one, and its history has one row
  for publishing, one per approved request and one for freezing;
- a frozen result never changes afterwards (every column);
- a result has at most one pending request; no request is decided by its requester.
"""

import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from academy.common.exceptions import Conflict
from academy.models import Term
from grading import selectors, services
from grading.models import Assessment, Result, ResultChange, Score
from grading.services import GradebookError
from tests.factories.academy import CourseFactory, SectionFactory, instructor_user, running_term, staff_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.grading.conftest import share_grading

share_grading(globals())

D = Decimal
_serial = itertools.count(1)

STUDENTS = 3
# title, type, weight, maximum
ASSESSMENTS = (("Quiz", "quiz", "20", "20"), ("Midterm", "midterm", "30", "50"), ("Final", "final", "50", "100"))
LETTERS = ["A", "B", "C", "D", "F", "Z"]  # Z: not on the scale

student_index = st.integers(0, STUDENTS - 1)
assessment_index = st.integers(0, len(ASSESSMENTS) - 1)
# tenths of the maximum (-1 and 11 are out of range), a status, or a number with three decimals
mark = st.one_of(st.integers(-1, 11), st.sampled_from(["excused", "missing", "1.005"]))
GRADE_COLUMNS = ("percentage", "letter_grade", "grade_points", "passed")
ROW_COLUMNS = (
    "state",
    *GRADE_COLUMNS,
    "scale_id",
    "comments",
    "published_at",
    "published_by_id",
    "frozen_at",
    "frozen_by_id",
    "last_change_id",
    "updated_at",
)


def grade_tuple(grade: selectors.Grade) -> tuple:
    return grade.percentage, grade.letter, grade.points, grade.passed


def grading_machine(location, course):
    teacher = instructor_user(username=f"teacher-{next(_serial)}")
    registrar = staff_user(username=f"registrar-{next(_serial)}")
    approver = staff_user(username=f"approver-{next(_serial)}")
    people = {"teacher": teacher, "registrar": registrar, "approver": approver}
    # the same three children are enrolled in each example's new section (rows written
    # directly: enrolling is not under test here, and each example stays cheap)
    children = [StudentFactory(location=location, last_name="Machine") for _ in range(STUDENTS)]

    class GradingMachine(RuleBasedStateMachine):
        """One section of three students, a quiz (20 % of 20 points), a midterm (30 % of
        50) and a final (50 % of 100), in a term of its own."""

        def __init__(self):
            super().__init__()
            self.scores: dict = {}  # (student id, assessment id) -> (status, score): what was accepted
            self.published: dict = {}  # result id -> the grade it was published with
            self.letter: dict = {}  # result id -> the letter it must carry (published or frozen)
            self.approved: dict = {}  # result id -> approved request ids, in order
            self.frozen: dict = {}  # result id -> every column when it was frozen
            self.change_ids: list = []
            self.refusals = 0

        # --- set-up and helpers --------------------------------------------------------

        @initialize(
            early=st.one_of(
                st.none(),
                st.lists(
                    st.integers(0, 10), min_size=STUDENTS * len(ASSESSMENTS), max_size=STUDENTS * len(ASSESSMENTS)
                ),
            )
        )
        def world(self, early):
            """A fresh section; with ``early`` marks (tenths of the maximum), every cell
            is scored and the section published at once, so that about half the
            examples spend their steps on published results."""
            n = next(_serial)
            self.term = running_term(name=f"Machine {n}")
            self.section = SectionFactory(course=course, term=self.term, location=location, code=f"M{n}", capacity=10)
            self.students = children
            for pupil in self.students:
                EnrollmentFactory(
                    student=pupil,
                    section=self.section,
                    enrollment_date=self.term.start_date,
                    start_date=self.term.start_date,
                )
            self.scale = selectors.scale_for(self.section)
            self.assessments = [
                services.assessment_create(
                    section=self.section, actor=teacher, type=kind, title=title, weight=D(weight), max_score=D(top)
                )
                for title, kind, weight, top in ASSESSMENTS
            ]
            if early is not None:
                self.enter_scores(
                    [(i, j, early[i * len(ASSESSMENTS) + j]) for i in range(STUDENTS) for j in range(len(ASSESSMENTS))]
                )
                self.publish()

        def results(self) -> dict:
            """student id -> Result of the section."""
            return {r.student_id: r for r in Result.objects.filter(section=self.section)}

        def result(self, i) -> Result | None:
            return self.results().get(self.students[i].pk)

        def snapshot(self) -> tuple:
            results = Result.objects.filter(section=self.section)
            return (
                sorted(
                    Score.objects.filter(assessment__section=self.section).values_list(
                        "pk", "status", "score", "comment", "max_score"
                    )
                ),
                sorted(results.values_list("pk", *ROW_COLUMNS)),
                sorted(
                    ResultChange.objects.filter(result__section=self.section).values_list(
                        "pk", "status", "approved_by_id", "resolved_at"
                    )
                ),
                sorted(Assessment.objects.filter(section=self.section).values_list("pk", "weight")),
                Result.history.filter(section_id=self.section.pk).count(),
                Score.history.filter(assessment_id__in=[a.pk for a in self.assessments]).count(),
                self.term.status,
            )

        def refused(self, call, *errors):
            """Run ``call``; if it is refused, nothing may have changed."""
            before = self.snapshot()
            try:
                outcome = call()
            except errors as error:
                assert self.snapshot() == before, f"a refused call changed something: {error!r}"
                self.refusals += 1
                return error
            return outcome

        def non_draft_code(self, student_ids=None) -> str | None:
            states = {
                r.state
                for sid, r in self.results().items()
                if r.state != Result.State.DRAFT and (student_ids is None or sid in student_ids)
            }
            if not states:
                return None
            return "result_frozen" if Result.State.FROZEN in states else "result_published"

        # --- scores --------------------------------------------------------------------

        @rule(cells=st.lists(st.tuples(student_index, assessment_index, mark), min_size=1, max_size=6))
        def enter_scores(self, cells):
            """A gradebook request: new scores, edits, excusals, missing, bad cells."""
            request, bad, seen, first_state = [], set(), set(), None
            results = self.results()
            for index, (i, j, value) in enumerate(cells):
                student, assessment = self.students[i], self.assessments[j]
                if isinstance(value, int):
                    number = assessment.max_score * value / 10
                    cell = services.Cell(assessment_id=assessment.pk, student_id=student.pk, score=number)
                    if not 0 <= number <= assessment.max_score:
                        bad.add(index)
                elif value == "1.005":
                    cell = services.Cell(assessment_id=assessment.pk, student_id=student.pk, score=value)
                    bad.add(index)
                else:
                    cell = services.Cell(assessment_id=assessment.pk, student_id=student.pk, status=value)
                key = (student.pk, assessment.pk)
                if index not in bad and key in seen:
                    bad.add(index)
                seen.add(key)
                if index not in bad and first_state is None:
                    result = results.get(student.pk)
                    if result is not None and result.state != Result.State.DRAFT:
                        first_state = result.state
                request.append(cell)
            outcome = self.refused(
                lambda: services.gradebook_save(section=self.section, cells=request, actor=teacher),
                GradebookError,
                Conflict,
            )
            if isinstance(outcome, GradebookError):
                assert set(outcome.cells) == bad, (outcome.cells, bad)
                return
            assert not bad, f"accepted bad cells {bad}"
            if isinstance(outcome, Conflict):
                assert first_state is not None
                assert outcome.code == ("result_frozen" if first_state == "frozen" else "result_published")
                return
            assert first_state is None, "changed the scores of a published result"
            for cell in request:
                score = None if cell.status != "scored" else D(cell.score)
                self.scores[(cell.student_id, cell.assessment_id)] = (cell.status, score)

        @rule(shift=st.integers(-12, 12).filter(bool))
        def reweigh(self, shift):
            """Move weight between the quiz and the midterm: the one that loses goes first
            (the total stays at most 100 in between and is 100 again after)."""
            quiz, midterm = (Assessment.objects.get(pk=a.pk) for a in self.assessments[:2])
            losing, gaining = (quiz, midterm) if shift < 0 else (midterm, quiz)
            code = self.non_draft_code()
            outcome = self.refused(
                lambda: services.assessment_update(
                    assessment=losing, actor=teacher, data={"weight": losing.weight - abs(shift)}
                ),
                Conflict,
                ValidationError,
            )
            if isinstance(outcome, Conflict):
                assert outcome.code == code
                return
            assert code is None
            if isinstance(outcome, ValidationError):
                assert losing.weight - abs(shift) <= 0
                return
            services.assessment_update(assessment=gaining, actor=teacher, data={"weight": gaining.weight + abs(shift)})
            assert selectors.weights_total(self.section) == D("100")

        @rule(i=student_index, text=st.sampled_from(["Works hard.", ""]))
        def comment(self, i, text):
            result = self.result(i)
            if result is None:
                return
            outcome = self.refused(
                lambda: services.result_update(result=result, actor=teacher, data={"comments": text}), Conflict
            )
            if isinstance(outcome, Conflict):
                assert result.state != Result.State.DRAFT
                assert outcome.code == f"result_{result.state}"
            else:
                assert result.state == Result.State.DRAFT

        # --- publishing ----------------------------------------------------------------

        @rule()
        def publish(self):
            before = self.results()
            outcome = services.section_publish(section=self.section, actor=teacher)
            after = self.results()
            assert set(after) == {s.pk for s in self.students}  # every graded student has a result
            newly = [r for sid, r in after.items() if sid not in before or before[sid].state == Result.State.DRAFT]
            assert outcome.published == len(newly)
            assert outcome.already == len(after) - len(newly)
            for result in newly:
                assert result.state == Result.State.PUBLISHED and result.published_by_id == teacher.pk
                expected = grade_tuple(self.recompute(result.student_id, final=True))
                assert tuple(getattr(result, c) for c in GRADE_COLUMNS) == expected
                self.published[result.pk] = expected
                self.letter[result.pk] = result.letter_grade
            for sid, result in before.items():
                if result.state != Result.State.DRAFT:
                    assert after[sid].updated_at == result.updated_at, "publishing again touched a result"

        # --- change requests -----------------------------------------------------------

        @precondition(lambda self: self.published)
        @rule(
            i=student_index,
            letter=st.sampled_from(LETTERS),
            who=st.sampled_from(["teacher", "registrar"]),
            then=st.sampled_from([None, "teacher", "registrar", "approver"]),
        )
        def request_change(self, i, letter, who, then):
            """``then``: someone tries to approve the new request straight away."""
            result = self.result(i)
            if result is None:
                return
            pending = ResultChange.objects.filter(result=result, status="pending").exists()
            outcome = self.refused(
                lambda: services.result_change_request(
                    result=result, new_grade=letter, reason="Re-marked", actor=people[who]
                ),
                Conflict,
                ValidationError,
            )
            if result.state == Result.State.FROZEN:
                assert isinstance(outcome, Conflict) and outcome.code == "result_frozen"
            elif result.state == Result.State.DRAFT:
                assert isinstance(outcome, Conflict) and outcome.code == "result_draft"
            elif letter == "Z" or letter == result.letter_grade:
                assert isinstance(outcome, ValidationError) and "new_grade" in outcome.message_dict
            elif pending:
                assert isinstance(outcome, Conflict) and outcome.code == "change_pending"
            else:
                assert isinstance(outcome, ResultChange), outcome
                assert (outcome.old_grade, outcome.new_grade, outcome.status) == (
                    result.letter_grade,
                    letter,
                    "pending",
                )
                self.change_ids.append(outcome.pk)
                if then is not None:
                    self.decide_one(outcome.pk, True, people[then], "")

        @precondition(lambda self: self.change_ids)
        @rule(
            k=st.integers(0, 50),
            approve=st.booleans(),
            who=st.sampled_from(["teacher", "registrar", "approver"]),
            note=st.sampled_from(["Checked", " "]),
        )
        def decide(self, k, approve, who, note):
            """Any request, pending or not (a second decision is refused)."""
            self.decide_one(self.change_ids[k % len(self.change_ids)], approve, people[who], note)

        @precondition(lambda self: self.change_ids)
        @rule(k=st.integers(0, 50), who=st.sampled_from(["teacher", "registrar", "approver"]))
        def approve_pending(self, k, who):
            """A pending request, if any, approved by someone (the requester is refused)."""
            pending = list(
                ResultChange.objects.filter(pk__in=self.change_ids, status="pending").values_list("pk", flat=True)
            )
            if pending:
                self.decide_one(sorted(pending, key=self.change_ids.index)[k % len(pending)], True, people[who], "")

        def decide_one(self, pk, approve, actor, note):
            change = ResultChange.objects.get(pk=pk)
            if approve:
                call = lambda: services.result_change_approve(change=change, actor=actor, note=note)  # noqa: E731
            else:
                call = lambda: services.result_change_reject(change=change, actor=actor, note=note)  # noqa: E731
            outcome = self.refused(call, Conflict, ValidationError)
            if change.status != ResultChange.Status.PENDING:
                assert isinstance(outcome, Conflict) and outcome.code == "change_resolved"
            elif change.requested_by_id == actor.pk:
                assert isinstance(outcome, Conflict) and outcome.code == "same_approver"
            elif not approve and not note.strip():
                assert isinstance(outcome, ValidationError) and "note" in outcome.message_dict
            else:
                assert isinstance(outcome, ResultChange), outcome
                assert outcome.status == ("approved" if approve else "rejected")
                assert outcome.approved_by_id == actor.pk
                if approve:
                    self.approved.setdefault(change.result_id, []).append(change.pk)
                    self.letter[change.result_id] = change.new_grade

        # --- freezing ------------------------------------------------------------------

        @precondition(lambda self: self.term.status == Term.Status.OPEN)
        @rule()
        def close_term(self):
            self.term.status = Term.Status.CLOSED
            self.term.save()

        @rule(per_term=st.booleans())
        def freeze(self, per_term):
            results = self.results()
            pending = ResultChange.objects.filter(result__section=self.section, status="pending").exists()
            if per_term:
                call = lambda: services.term_freeze(term=self.term, actor=registrar)  # noqa: E731
            else:
                call = lambda: services.section_freeze(section=self.section, actor=registrar)  # noqa: E731
            outcome = self.refused(call, Conflict)
            if self.term.status == Term.Status.OPEN:
                assert isinstance(outcome, Conflict) and outcome.code == "term_open"
                return
            if pending:
                assert isinstance(outcome, Conflict) and outcome.code == "change_pending"
                return
            published = [r for r in results.values() if r.state == Result.State.PUBLISHED]
            assert outcome == len(published)
            for result in Result.objects.filter(pk__in=[r.pk for r in published]):
                assert result.state == Result.State.FROZEN and result.frozen_by_id == registrar.pk
                self.frozen[result.pk] = tuple(getattr(result, c) for c in ROW_COLUMNS)

        # --- the database guard --------------------------------------------------------

        @precondition(lambda self: self.published)
        @rule(i=student_index, letter=st.sampled_from(LETTERS[:5]), delete=st.booleans())
        def tamper(self, i, letter, delete):
            """A raw write past the services: refused for a published or frozen result."""
            result = self.result(i)
            if result is None or result.state == Result.State.DRAFT:
                return
            rows = Result.objects.filter(pk=result.pk)

            def write():
                with transaction.atomic():
                    if delete:
                        rows.delete()
                    else:
                        rows.update(letter_grade=letter, percentage=D("99.99"))

            outcome = self.refused(write, IntegrityError, ProtectedError)
            # the guard; or, for a result a request names, the protected foreign key first
            assert isinstance(outcome, IntegrityError) or (delete and isinstance(outcome, ProtectedError))

        # --- invariants ----------------------------------------------------------------

        def recompute(self, student_id, *, final: bool, assessments=None, scores=None, scale=None):
            assessments = assessments if assessments is not None else list(self.section.assessments.all())
            if scores is None:
                scores = {
                    s.assessment_id: s
                    for s in Score.objects.filter(student_id=student_id, assessment__section=self.section)
                }
            scale = scale if scale is not None else self.scale
            return selectors.grade_for(selectors.weighted_percentage(assessments, scores, final=final), scale)

        @invariant()
        def results_follow_the_rules(self):
            if not hasattr(self, "section"):
                return
            # the scores are exactly what the accepted calls wrote
            by_student: dict = {}
            stored = {}
            for score in Score.objects.filter(assessment__section=self.section):
                stored[(score.student_id, score.assessment_id)] = (score.status, score.score)
                by_student.setdefault(score.student_id, {})[score.assessment_id] = score
            assert stored == self.scores
            assessments = list(Assessment.objects.filter(section=self.section))
            scale = self.scale
            results = self.results()
            assert set(by_student) <= set(results), "a scored student has no result"
            history = dict(
                Result.history.filter(section_id=self.section.pk)
                .exclude(state=Result.State.DRAFT)
                .values("id")
                .annotate(rows=Count("history_id"))
                .values_list("id", "rows")
            )
            changes = {c.pk: c for c in ResultChange.objects.filter(result__section=self.section)}
            for sid, result in results.items():
                grade = tuple(getattr(result, c) for c in GRADE_COLUMNS)
                scores = by_student.get(sid, {})
                if result.state == Result.State.DRAFT:
                    # a draft equals a recomputation from its scores and scale
                    assert result.pk not in self.published
                    expected = self.recompute(sid, final=False, assessments=assessments, scores=scores, scale=scale)
                    assert grade == grade_tuple(expected), (result, grade)
                    continue
                assert result.pk in self.published, "a result was published outside a publish call"
                approved = self.approved.get(result.pk, [])
                assert result.letter_grade == self.letter[result.pk]
                if not approved:
                    # as published, which is what the scores give with missing ones as 0
                    assert result.last_change_id is None
                    assert grade == self.published[result.pk]
                    expected = self.recompute(sid, final=True, assessments=assessments, scores=scores, scale=scale)
                    assert grade == grade_tuple(expected)
                else:
                    # changed only through approved requests
                    assert result.last_change_id == approved[-1]
                    last = changes[result.last_change_id]
                    assert last.status == "approved" and last.new_grade == result.letter_grade
                    band = selectors.band_by_letter(scale, result.letter_grade)
                    assert (result.grade_points, result.passed) == (band.grade_points, band.passed)
                    assert result.percentage == self.published[result.pk][0]  # the scores did not change
                # one history row on publishing, one per approved request, one on freezing
                assert history.get(result.pk) == 1 + len(approved) + (result.state == Result.State.FROZEN)
                if result.pk in self.frozen:
                    # a frozen result never changes afterwards
                    assert tuple(getattr(result, c) for c in ROW_COLUMNS) == self.frozen[result.pk]
                else:
                    assert result.state == Result.State.PUBLISHED
            # at most one pending request per result; none decided by its requester
            pending = [c.result_id for c in changes.values() if c.status == "pending"]
            assert len(pending) == len(set(pending))
            approved_ids = {pk for ids in self.approved.values() for pk in ids}
            for change in changes.values():
                assert change.approved_by_id is None or change.approved_by_id != change.requested_by_id
                assert (change.status == "approved") == (change.pk in approved_ids)

    return GradingMachine


SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.django_db
def test_no_sequence_of_grading_calls_breaks_the_results(location):
    """Each call its own savepoint in the test's transaction (a committed run would end
    with a flush the result guard refuses on SQLite: a published result is never deleted)."""
    course = CourseFactory(code="MATH-M", title="Mathematics")
    machine = grading_machine(location, course)
    run_state_machine_as_test(machine, settings=SETTINGS)
    # the machine really ran: results were published and changes requested (which other
    # rules ran varies from run to run: hypothesis leaves some rules out of an example)
    assert Result.objects.exclude(state="draft").exists()
    assert ResultChange.objects.exists()
