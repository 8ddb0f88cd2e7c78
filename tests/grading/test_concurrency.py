"""Grading under concurrent requests (PostgreSQL, real threads and connections): the
section row lock keeps a section's weights at most 100, and the result and request locks
apply an approved change once."""

import threading
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection

from academy.common.exceptions import Conflict
from enrollment.services import enroll
from grading import selectors, services
from grading.migrations._default_scales import create as create_default_scales
from grading.models import Assessment, Result, ResultChange
from tests.factories.academy import CourseFactory, LocationFactory, SectionFactory, running_term, staff_user
from tests.factories.families import StudentFactory

D = Decimal


def run_threads(count, work) -> list:
    """Run ``work(index)`` in ``count`` threads released together; returns what each
    returned or the ``Conflict``/``ValidationError`` it raised (anything else fails)."""
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index):
        try:
            barrier.wait(timeout=60)
            try:
                outcomes[index] = work(index)
            except (Conflict, ValidationError) as refusal:
                outcomes[index] = refusal
        except BaseException as error:  # reported by the main thread
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    return outcomes


def seed_default_scales() -> None:
    """A transactional test starts from a flushed database: put back the scales the
    migration seeds (its own function, idempotent)."""
    create_default_scales(django_apps, None)


@pytest.fixture
def world(db):
    seed_default_scales()
    location = LocationFactory(code="MAIN")
    section = SectionFactory(
        location=location, term=running_term(name="Autumn"), course=CourseFactory(code="MATH"), capacity=20
    )
    return {
        "section": section,
        "teacher": staff_user(username="teacher"),
        "registrar": staff_user(username="registrar"),
        "registrar2": staff_user(username="registrar2"),
        "registrar3": staff_user(username="registrar3"),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("threads", "weight", "fits"), [(4, "40", 2), (12, "15", 6), (8, "100", 1)])
def test_concurrent_assessments_never_push_a_section_past_100(world, threads, weight, fits):
    section, teacher = world["section"], world["teacher"]

    def add(index):
        return services.assessment_create(
            section=section, actor=teacher, type="quiz", title=f"Quiz {index}", weight=D(weight)
        )

    outcomes = run_threads(threads, add)
    created = [o for o in outcomes if isinstance(o, Assessment)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(created) == fits and len(refused) == threads - fits
    assert all("weight" in r.message_dict for r in refused)
    assert selectors.weights_total(section) == D(weight) * fits <= D("100")
    assert Assessment.objects.filter(section=section).count() == fits


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_weight_updates_never_push_a_section_past_100(world):
    """Two assessments of 30 and 30; four threads raise them to 60 at once, two threads
    each: whichever is raised first keeps its 60 (raising it again changes nothing), the
    other stays at 30."""
    section, teacher = world["section"], world["teacher"]
    first, second = (
        services.assessment_create(section=section, actor=teacher, type="quiz", title=title, weight=D("30"))
        for title in ("A", "B")
    )

    def raise_weight(index):
        target = first if index % 2 == 0 else second
        return services.assessment_update(assessment=target, actor=teacher, data={"weight": D("60")})

    outcomes = run_threads(4, raise_weight)
    refused = [i for i, o in enumerate(outcomes) if isinstance(o, ValidationError)]
    assert len(refused) == 2 and refused[0] % 2 == refused[1] % 2  # both raises of the same one
    assert selectors.weights_total(section) == D("90")
    assert sorted(Assessment.objects.filter(section=section).values_list("weight", flat=True)) == [D("30"), D("60")]


@pytest.fixture
def pending_change(world):
    """A published section of three and a pending request on the first student's B."""
    section, teacher = world["section"], world["teacher"]
    students = [StudentFactory(location=section.location) for _ in range(3)]
    for pupil in students:
        enroll(student=pupil, section=section, actor=world["registrar"])
    final = services.assessment_create(section=section, actor=teacher, type="final", title="Final", weight=D("100"))
    services.gradebook_save(
        section=section,
        cells=[
            services.Cell(assessment_id=final.pk, student_id=pupil.pk, score=85 - i) for i, pupil in enumerate(students)
        ],
        actor=teacher,
    )
    services.section_publish(section=section, actor=teacher)
    result = Result.objects.get(student=students[0], section=section)
    assert (result.state, result.letter_grade) == ("published", "B")
    return services.result_change_request(result=result, new_grade="A", reason="Marking error", actor=teacher)


def grade_history(result_id) -> list:
    """The letters a result has carried since it was published, oldest first."""
    return list(
        Result.history.filter(id=result_id)
        .exclude(state="draft")
        .order_by("history_date")
        .values_list("letter_grade", flat=True)
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvals_of_one_request_apply_it_once(world, pending_change):
    approvers = [world["registrar"], world["registrar2"]]

    def approve(index):
        return services.result_change_approve(change=pending_change, actor=approvers[index], note=f"Approver {index}")

    outcomes = run_threads(2, approve)
    applied = [o for o in outcomes if isinstance(o, ResultChange)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(applied) == 1 and [r.code for r in refused] == ["change_resolved"]
    change = ResultChange.objects.get(pk=pending_change.pk)
    assert change.status == "approved" and change.approved_by_id == applied[0].approved_by_id
    result = Result.objects.get(pk=change.result_id)
    assert (result.letter_grade, result.grade_points, result.last_change_id) == ("A", D("4.00"), change.pk)
    assert grade_history(result.pk) == ["B", "A"]  # one change, applied once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_deciders_at_once_resolve_a_request_once(world, pending_change):
    """Three staff decide the same request at once, two approving and one rejecting:
    exactly one decision stands and the grade moved at most once."""
    deciders = [world["registrar"], world["registrar2"], world["registrar3"]]

    def decide(index):
        if index == 2:
            return services.result_change_reject(change=pending_change, actor=deciders[index], note="Marked right")
        return services.result_change_approve(change=pending_change, actor=deciders[index])

    outcomes = run_threads(3, decide)
    decided = [o for o in outcomes if isinstance(o, ResultChange)]
    assert len(decided) == 1
    assert sorted(o.code for o in outcomes if isinstance(o, Conflict)) == ["change_resolved", "change_resolved"]
    change = ResultChange.objects.get(pk=pending_change.pk)
    result = Result.objects.get(pk=change.result_id)
    if change.status == "approved":
        assert grade_history(result.pk) == ["B", "A"] and result.last_change_id == change.pk
    else:
        assert change.status == "rejected"
        assert grade_history(result.pk) == ["B"] and result.last_change_id is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_on_one_result_leave_one_pending(world, pending_change):
    """With the first request rejected, four staff ask for a new grade at once: one
    request is pending, the others are told one is (409 change_pending)."""
    services.result_change_reject(change=pending_change, actor=world["registrar"], note="No")
    result = Result.objects.get(pk=pending_change.result_id)
    askers = [world["teacher"], world["registrar"], world["registrar2"], world["registrar3"]]

    def ask(index):
        return services.result_change_request(result=result, new_grade="C", reason=f"Ask {index}", actor=askers[index])

    outcomes = run_threads(4, ask)
    assert sum(isinstance(o, ResultChange) for o in outcomes) == 1
    assert [o.code for o in outcomes if isinstance(o, Conflict)] == ["change_pending"] * 3
    assert ResultChange.objects.filter(result=result, status="pending").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_and_a_freeze_at_once_never_leave_a_frozen_result_pending(world, pending_change):
    """With the term closed and the first request rejected, a new request and a freeze
    race: either the request comes first and the freeze is refused (change_pending), or
    the freeze does and the request is refused (result_frozen)."""
    section = world["section"]
    services.result_change_reject(change=pending_change, actor=world["registrar"], note="No")
    section.term.status = "closed"
    section.term.save()
    result = Result.objects.get(pk=pending_change.result_id)

    def work(index):
        if index == 0:
            return services.result_change_request(result=result, new_grade="C", reason="Appeal", actor=world["teacher"])
        return services.section_freeze(section=section, actor=world["registrar"])

    request, freeze = run_threads(2, work)
    if isinstance(request, ResultChange):
        assert isinstance(freeze, Conflict) and freeze.code == "change_pending"
        assert not Result.objects.filter(section=section, state="frozen").exists()
    else:
        assert isinstance(request, Conflict) and request.code == "result_frozen"
        assert freeze == 3
        assert not ResultChange.objects.filter(status="pending").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_scores_saved_while_publishing_are_in_the_result_or_refused(world):
    """Four threads save scores while a fifth publishes: each save lands before the
    publication (and counts in the published result) or is refused (result_published);
    every published result equals the recomputation from the scores that stayed."""
    section, teacher = world["section"], world["teacher"]
    students = [StudentFactory(location=section.location) for _ in range(4)]
    for pupil in students:
        enroll(student=pupil, section=section, actor=world["registrar"])
    final = services.assessment_create(section=section, actor=teacher, type="final", title="Final", weight=D("100"))

    def work(index):
        if index == 4:
            return services.section_publish(section=section, actor=teacher)
        cell = services.Cell(assessment_id=final.pk, student_id=students[index].pk, score=60 + 10 * index)
        return services.gradebook_save(section=section, cells=[cell], actor=teacher)

    outcomes = run_threads(5, work)
    assert outcomes[4].published == 4
    for index in range(4):
        if isinstance(outcomes[index], Conflict):
            assert outcomes[index].code == "result_published"
    scale = selectors.scale_for(section)
    for result in Result.objects.filter(section=section):
        assert result.state == "published"
        scores = {s.assessment_id: s for s in final.scores.filter(student_id=result.student_id)}
        expected = selectors.grade_for(selectors.weighted_percentage([final], scores, final=True), scale)
        assert (result.percentage, result.letter_grade) == (expected.percentage, expected.letter)
