"""Running an approved promotion (promotion.services.run_start / run_job /
student_promote): each student once, balances carried once with the family's total
unchanged, grades and years moved, the year's enrollments completed, graduates
graduated, one student's error recorded without stopping the others, a run interrupted
and run again promoting nobody twice, guardians told once."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.jobs import job_run
from academy.models import Job
from enrollment.models import Enrollment
from finance.models import Invoice, StudentAccount
from notifications.models import Notification
from promotion import services
from promotion.models import PromotionProposal, PromotionRecord, PromotionRun
from students.models import Student
from tests.factories.academy import SectionFactory, TermFactory, admin_user, parent_user
from tests.factories.enrollment import EnrollmentFactory, WaitlistEntryFactory
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def principal(db):
    return admin_user(username="principal")


@pytest.fixture
def school(location, years, grades):
    old, _new = years
    first, _second, third = grades
    guardian = GuardianFactory(portal_user=parent_user(username="parent"), last_name="Able")
    pupils = {
        "able": StudentFactory(
            location=location,
            last_name="Able",
            grade_level=first,
            academic_year=old,
            homeroom="B",
            primary_guardian=guardian,
        ),
        "baker": StudentFactory(location=location, last_name="Baker", grade_level=third, academic_year=old),
        "cole": StudentFactory(location=location, last_name="Cole", grade_level=first, academic_year=old),
    }
    cashier = admin_user(username="cashier")
    issue(pupils["able"], "100.00", actor=cashier)
    issue(pupils["able"], "40.00", actor=cashier)
    return pupils


def approved(location, years, clerk, principal, **options):
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk, **options)
    run = services.run_preview(run=run, actor=clerk)
    return services.run_approve(run=run, actor=principal)


def start_and_run(run, actor, capture):
    """Start the run (its job is queued after commit: not run here), then run the job as a
    worker would, with the notices it queues after each student's commit."""
    with capture(execute=False):
        job = services.run_start(run=run, actor=actor)
    with capture(execute=True):
        job_run(job.pk)
    return Job.objects.get(pk=job.pk)


def totals():
    return dict(StudentAccount.objects.values_list("pk", "balance"))


def test_a_run_promotes_graduates_and_carries_each_balance_once(
    location,
    years,
    grades,
    clerk,
    principal,
    school,
    django_capture_on_commit_callbacks,
):
    _old, new = years
    _first, second, _third = grades
    before = totals()
    run = approved(location, years, clerk, principal)
    job = start_and_run(run, clerk, django_capture_on_commit_callbacks)
    assert job.state == "completed" and job.done == 3 and job.failed_count == 0
    run.refresh_from_db()
    assert run.state == "completed" and run.done == 3
    able, baker = school["able"], school["baker"]
    able.refresh_from_db()
    baker.refresh_from_db()
    assert (able.grade_level, able.academic_year, able.homeroom) == (second, new, "")
    assert baker.status == Student.Status.GRADUATED
    assert totals() == before  # nobody's total owed moved
    carried = Invoice.objects.filter(student=able, status="carried_forward")
    assert carried.count() == 2
    successors = Invoice.objects.filter(carried_from__in=carried)
    assert successors.count() == 2 and all(i.academic_year == new for i in successors)
    assert all("Carried forward from Grade 1 to Grade 2" in i.description for i in successors)
    record = PromotionRecord.objects.get(student=able)
    assert (record.outcome, record.carried_amount, record.carry_status) == (
        "promoted",
        Decimal("140.00"),
        "carried_forward",
    )
    assert record.approved_by == principal and record.run == run
    assert PromotionRecord.objects.get(student=baker).outcome == "graduated"
    call_command("verify_ledger", verbosity=0)
    notices = Notification.objects.filter(kind="student_promoted", metadata__student=str(able.pk))
    assert notices.count() == 1 and "140.00" in notices.get().message


def test_two_starts_start_the_run_once(location, years, clerk, principal, school):
    run = approved(location, years, clerk, principal)
    services.run_start(run=run, actor=clerk)
    with pytest.raises(Conflict) as error:
        services.run_start(run=run, actor=clerk)
    assert error.value.code == "run_not_approved"
    assert Job.objects.filter(kind=services.RUN_JOB).count() == 1


def test_a_run_run_again_promotes_nobody_twice(
    location,
    years,
    clerk,
    principal,
    school,
    django_capture_on_commit_callbacks,
):
    run = approved(location, years, clerk, principal)
    job = start_and_run(run, clerk, django_capture_on_commit_callbacks)
    invoices = Invoice.objects.count()
    notices = Notification.objects.filter(kind="student_promoted").count()
    assert notices == 3  # one per student's guardian
    # a worker killed after the last student: the job is run once more
    Job.objects.filter(pk=job.pk).update(state="interrupted")
    PromotionRun.objects.filter(pk=run.pk).update(state="running")
    with django_capture_on_commit_callbacks(execute=True):
        job_run(job.pk)
    assert PromotionRecord.objects.count() == 3
    assert Invoice.objects.count() == invoices
    assert Notification.objects.filter(kind="student_promoted").count() == notices


def test_one_students_error_is_recorded_and_the_others_go_on(
    location,
    years,
    grades,
    clerk,
    principal,
    school,
    django_capture_on_commit_callbacks,
):
    run = approved(location, years, clerk, principal)
    # Cole moved grade after the preview
    Student.objects.filter(pk=school["cole"].pk).update(grade_level=grades[1])
    job = start_and_run(run, clerk, django_capture_on_commit_callbacks)
    assert job.state == "completed" and job.failed_count == 1
    assert "Grade 2 now" in job.errors[0]["message"]
    assert PromotionRecord.objects.count() == 2 and not PromotionRecord.objects.filter(student=school["cole"]).exists()


def test_an_override_is_what_happens(
    location,
    years,
    grades,
    clerk,
    principal,
    school,
    django_capture_on_commit_callbacks,
):
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    run = services.run_preview(run=run, actor=clerk)
    proposal = PromotionProposal.objects.get(run=run, student=school["cole"])
    services.proposal_override(proposal=proposal, outcome="detained", reason="Repeats the year", actor=clerk)
    run = services.run_approve(run=run, actor=principal)
    start_and_run(run, clerk, django_capture_on_commit_callbacks)
    cole = PromotionRecord.objects.get(student=school["cole"])
    assert (cole.outcome, cole.to_grade, cole.notes) == ("detained", grades[0], "Repeats the year")
    school["cole"].refresh_from_db()
    assert school["cole"].grade_level == grades[0] and school["cole"].academic_year == new


def test_a_student_promoted_from_the_year_cannot_be_promoted_again_by_another_run(
    location,
    years,
    clerk,
    principal,
    school,
    django_capture_on_commit_callbacks,
):
    first = approved(location, years, clerk, principal, students=[school["cole"]])
    second = approved(location, years, clerk, principal, students=[school["cole"]])
    start_and_run(first, clerk, django_capture_on_commit_callbacks)
    job = start_and_run(second, clerk, django_capture_on_commit_callbacks)
    assert job.failed_count == 1 and "already promoted" in job.errors[0]["message"]
    assert PromotionRecord.objects.filter(student=school["cole"]).count() == 1


def test_a_cancelled_run_stops(location, years, clerk, principal, school):
    run = approved(location, years, clerk, principal)
    services.run_cancel(run=run, actor=clerk)
    with pytest.raises(Conflict):
        services.run_start(run=run, actor=clerk)
    assert not PromotionRecord.objects.exists()
    school["able"].refresh_from_db()  # the run's students were left untouched
    assert school["able"].grade_level.name == "Grade 1"


def _class_of(count, location, years, grade, section):
    """``count`` students of ``grade`` enrolled in ``section``, each owing one invoice."""
    old, _new = years
    cashier = admin_user(username=f"cashier{count}")
    pupils = []
    for _ in range(count):
        pupil = StudentFactory(location=location, grade_level=grade, academic_year=old, homeroom="A")
        EnrollmentFactory(student=pupil, section=section)
        issue(pupil, "25.00", actor=cashier)
        pupils.append(pupil)
    return pupils


def _chunk_queries(run, principal, pupils):
    proposals = list(
        PromotionProposal.objects.filter(run=run, student__in=pupils).select_related("from_grade", "to_grade")
    )
    with CaptureQueriesContext(connection) as queries:
        errors = services._promote_chunk(run=run, proposals=proposals, actor=principal)
    assert errors == []
    return len(queries)


def test_a_chunk_costs_the_same_queries_for_3_students_as_for_12(location, years, grades, clerk, principal):
    """Set-based: carrying, moving, completing enrollments and recording a chunk of
    students is a fixed number of queries, not a number per student."""
    old, new = years
    first, second, _third = grades
    section = SectionFactory(location=location, term=TermFactory(academic_year=old))
    section.capacity = 40
    section.save()
    third = grades[2]
    warm = _class_of(2, location, years, first, section) + _class_of(1, location, years, third, section)
    small = _class_of(3, location, years, first, section)
    small_leaving = _class_of(1, location, years, third, section)
    large = _class_of(12, location, years, first, section)
    large_leaving = _class_of(4, location, years, third, section)
    run = approved(location, years, clerk, principal)
    _chunk_queries(run, principal, warm)  # the first creates the carry-forward fee type and the year's number series
    assert _chunk_queries(run, principal, small + small_leaving) == _chunk_queries(
        run, principal, large + large_leaving
    )
    for pupil in small_leaving + large_leaving:
        pupil.refresh_from_db()
        assert pupil.status == Student.Status.GRADUATED and pupil.grade_level == third
        assert PromotionRecord.objects.get(student=pupil).carried_amount == Decimal("0.00")
        assert Invoice.objects.get(student=pupil).status != Invoice.Status.CARRIED_FORWARD  # graduates keep theirs
        assert pupil.history.first().history_change_reason == "Graduated"
    assert not Enrollment.objects.filter(student__in=small_leaving + large_leaving).exclude(status="completed").exists()
    for pupil in small + large:
        pupil.refresh_from_db()
        assert (pupil.grade_level, pupil.academic_year, pupil.homeroom) == (second, new, "")
        record = PromotionRecord.objects.get(student=pupil, from_year=old)
        assert record.carried_amount == Decimal("25.00") and record.carry_status == "carried_forward"
        (carried,) = Invoice.objects.filter(student=pupil, carried_from__isnull=False)
        assert carried.total == Decimal("25.00") and carried.academic_year == new
        assert carried.carried_from.status == Invoice.Status.CARRIED_FORWARD
        assert "Carried forward from Grade 1 to Grade 2" in carried.description
        assert carried.history.first().history_change_reason == "Issued"
        assert carried.carried_from.history.first().history_change_reason == "Balance carried forward"
    assert not Enrollment.objects.filter(student__in=small + large).exclude(status="completed").exists()
    assert set(Enrollment.objects.filter(student__in=small).values_list("end_date", flat=True)) == {old.end_date}
    call_command("verify_ledger")


def test_a_chunk_that_fails_as_a_whole_is_done_student_by_student(
    location, years, grades, clerk, principal, django_capture_on_commit_callbacks
):
    """An enrollment that starts after the year's end fails the set-based chunk; the run
    then promotes its students one by one: that student's error is recorded, the others
    are promoted, and nothing of the failed chunk is half written."""
    old, _new = years
    first, second, _third = grades
    section = SectionFactory(location=location, term=TermFactory(academic_year=old))
    pupils = _class_of(3, location, years, first, section)
    late = Enrollment.objects.get(student=pupils[0])
    Enrollment.objects.filter(pk=late.pk).update(start_date=old.end_date + datetime.timedelta(days=3))
    run = approved(location, years, clerk, principal)
    job = start_and_run(run, clerk, django_capture_on_commit_callbacks)
    assert job.state == "completed" and job.failed_count == 1
    assert job.errors[0]["item"] == str(pupils[0].pk) and "end date" in job.errors[0]["message"]
    pupils[0].refresh_from_db()
    assert pupils[0].grade_level == first and not PromotionRecord.objects.filter(student=pupils[0]).exists()
    assert not Invoice.objects.filter(student=pupils[0], carried_from__isnull=False).exists()
    for pupil in pupils[1:]:
        pupil.refresh_from_db()
        assert pupil.grade_level == second
        assert PromotionRecord.objects.get(student=pupil).carried_amount == Decimal("25.00")
    call_command("verify_ledger")


def test_a_graduate_leaves_their_later_places_and_waitlists(
    location, years, grades, clerk, principal, django_capture_on_commit_callbacks
):
    """Graduating in a chunk has a departure's consequences: an enrollment of a term not
    yet started ends (never attended: withdrawn) and a waitlist place is removed; the year's
    own enrollment is completed on the year's last day."""
    old, new = years
    third = grades[2]
    section = SectionFactory(location=location, term=TermFactory(academic_year=old))
    (leaver,) = _class_of(1, location, years, third, section)
    soon = timezone.localdate() + datetime.timedelta(days=30)  # a term not yet started
    later = SectionFactory(
        location=location,
        term=TermFactory(academic_year=new, start_date=soon, end_date=soon + datetime.timedelta(days=90)),
    )
    place = EnrollmentFactory(student=leaver, section=later, start_date=later.term.start_date)
    full = SectionFactory(location=location, term=later.term)
    waiting = WaitlistEntryFactory(student=leaver, section=full)
    run = approved(location, years, clerk, principal)
    job = start_and_run(run, clerk, django_capture_on_commit_callbacks)
    assert job.state == "completed" and job.failed_count == 0
    leaver.refresh_from_db()
    assert leaver.status == Student.Status.GRADUATED
    year_end = Enrollment.objects.get(student=leaver, section=section)
    assert (year_end.status, year_end.end_date) == ("completed", old.end_date)
    place.refresh_from_db()
    waiting.refresh_from_db()
    assert place.status == "withdrawn"
    assert waiting.status not in ("waiting", "offered")


def test_the_money_of_a_notice_goes_only_to_who_pays(
    location, years, grades, clerk, principal, school, django_capture_on_commit_callbacks
):
    """The paying guardian's notice says what was carried; a second guardian who receives
    communications but does not pay is told the new grade without any amount. Both
    notices link to the child's year-end notices in the portal, one each."""
    able = school["able"]
    other = GuardianFactory(portal_user=parent_user(username="stepparent"), last_name="Other")
    StudentGuardianFactory(student=able, guardian=other, receives_communications=True, is_financially_responsible=False)
    run = approved(location, years, clerk, principal)
    start_and_run(run, clerk, django_capture_on_commit_callbacks)
    notices = Notification.objects.filter(kind="student_promoted", metadata__student=str(able.pk))
    paying = notices.get(recipient__username="parent")
    told = notices.get(recipient__username="stepparent")
    assert "140.00" in paying.message and "Grade 2" in paying.message
    assert "Grade 2" in told.message and "140.00" not in told.message and "INV" not in told.message
    assert paying.action_url == told.action_url == reverse("portal:child-promotions", args=[able.pk])


def test_a_run_whose_job_failed_is_started_again(
    location, years, clerk, principal, school, django_capture_on_commit_callbacks
):
    """A run left "running" by a job that failed or was stopped for good (no job of it
    alive) starts again and finishes; while its job is alive, a second start is 409."""
    run = approved(location, years, clerk, principal)
    with django_capture_on_commit_callbacks(execute=False):
        job = services.run_start(run=run, actor=clerk)
    with pytest.raises(Conflict):
        services.run_start(run=run, actor=clerk)  # its job is queued: alive
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED)
    run.refresh_from_db()
    assert run.state == "running"
    again = start_and_run(run, clerk, django_capture_on_commit_callbacks)
    assert again.pk != job.pk and again.state == "completed"
    run.refresh_from_db()
    assert run.state == "completed" and PromotionRecord.objects.filter(run=run).count() == 3
