"""A promotion run whose Celery worker is killed (SIGKILL) in the middle, then resumed
the documented way (``academy.jobs.jobs_resume_stale`` re-queues a running job whose
heartbeat stopped) and finished by a fresh worker: a real worker process over Redis
against the test database (PostgreSQL), as in tests/academy/test_celery_worker.py.

The kill lands mid-run without a race: once the job reports its first chunk done,
another session locks every student of the run (``FOR UPDATE``, in id order, the order
the run locks them in), so the worker stops at the next student it would promote, inside
that student's (or chunk's) transaction; it is killed while it waits there, as a worker
lost with its machine would be. The school has at least three chunks of students
(``promotion.services.CHUNK``), so there is always work done and work left.

Killed, the run is part-done and every student is either wholly promoted or untouched.
Resumed and finished: one record per student, every account's balance and each family's
outstanding total unchanged, the ledger proven, every carried invoice CARRIED_FORWARD
with exactly one successor billing its balance, nothing carried twice, each guardian told
once about each child.
"""

import datetime
import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from academy.common.numbering import GUARDIAN_NUMBERS, STUDENT_NUMBERS, number_block
from academy.jobs import jobs_resume_stale
from academy.models import Job
from families.models import Guardian, StudentGuardian
from finance.models import Invoice, StudentAccount
from finance.services import payment_record
from finance.services.billing import billing_run_start
from notifications.models import Notification
from promotion import services
from promotion.models import PromotionProposal, PromotionRecord
from students.models import Student
from tests.celery_workers import (  # the worker, its broker and the waits
    WAIT,
    session_exists,
    sessions_blocked_by,
    wait_for,
)
from tests.factories.academy import GradeLevelFactory, admin_user
from tests.factories.finance import FeeStructureFactory
from tests.promotion import invariants

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres]

# at least three chunks: the kill always finds work done and work left
STUDENTS = max(600, 2 * services.CHUNK + 150)
GRADES = 6  # the sixth is final: its students graduate


class StudentLocks:
    """Another session (a thread with its own connection) holding ``FOR UPDATE`` locks
    on students, in id order, until ``release()`` (at the latest when the test ends)."""

    def __init__(self, student_ids):
        self.ids = list(student_ids)
        self.pid = None
        self.error = None
        self.held = threading.Event()
        self._release = threading.Event()
        self.thread = threading.Thread(target=self._hold, name="student locks", daemon=True)
        self.thread.start()

    def _hold(self):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    self.pid = cursor.fetchone()[0]
                list(Student.objects.select_for_update().filter(pk__in=self.ids).order_by("pk").values_list("pk"))
                self.held.set()
                self._release.wait(WAIT * 2)
        except Exception as error:  # surfaced by the test
            self.error = error
            self.held.set()
        finally:
            connections.close_all()

    def release(self):
        self._release.set()
        self.thread.join(WAIT)
        assert self.error is None, self.error


@pytest.fixture
def lock_students():
    """``lock_students(ids)``: ``StudentLocks`` released when the test ends, whatever happens."""
    held: list[StudentLocks] = []

    def lock(ids) -> StudentLocks:
        held.append(StudentLocks(ids))
        return held[-1]

    yield lock
    for locks in held:
        locks._release.set()
        locks.thread.join(WAIT)


def build_school(location, old_year, cashier):
    """STUDENTS students over GRADES grades of ``old_year``, in families of one to three
    children sharing their primary guardian (one family in eight asked to be written to,
    by e-mail: those are told of the promotion). Two billing runs (the finance service, so the ledger is real) bill the
    second and the final grade for May and the second grade again for June: about a third
    of the students owe one or two invoices; a third of those paid part of one. Answers
    (students, final grade)."""
    rng = random.Random(20260731)
    final = GradeLevelFactory(name=f"Kill grade {GRADES}", order=GRADES)
    grades = [final]
    for order in range(GRADES - 1, 0, -1):
        grades.insert(0, GradeLevelFactory(name=f"Kill grade {order}", order=order, next_grade=grades[0]))
    enrolled = datetime.date(2025, 9, 1)
    with transaction.atomic():
        families = []
        remaining = STUDENTS
        while remaining:
            children = min(remaining, rng.choice((1, 1, 2, 2, 3)))
            families.append(children)
            remaining -= children
        guardian_numbers = number_block(GUARDIAN_NUMBERS, len(families), on=enrolled)
        student_numbers = iter(number_block(STUDENT_NUMBERS, STUDENTS, on=enrolled))
        guardians, students, links = [], [], []
        for index, children in enumerate(families):
            guardian = Guardian(
                guardian_number=guardian_numbers[index],
                first_name=f"Parent{index}",
                last_name=f"Family{index}",
                email=f"family{index}@example.org",
                phone=f"555-{index:04d}",
            )
            guardians.append(guardian)
            for child in range(children):
                student = Student(
                    student_number=next(student_numbers),
                    first_name=f"Child{child}",
                    last_name=f"Family{index}",
                    date_of_birth=datetime.date(2015, 3, 15),
                    enrollment_date=enrolled,
                    location=location,
                    grade_level=grades[rng.randrange(GRADES)],
                    academic_year=old_year,
                    homeroom="A",
                )
                students.append(student)
                links.append(
                    StudentGuardian(
                        student=student,
                        guardian=guardian,
                        relationship_type="primary",
                        relation="Parent",
                        can_authorize_medical=True,
                        is_financially_responsible=True,
                        receives_communications=index % 8 == 0,
                    )
                )
        Guardian.objects.bulk_create(guardians, batch_size=1000)
        Student.objects.bulk_create(students, batch_size=1000)
        StudentGuardian.objects.bulk_create(links, batch_size=1000)
    tuition = FeeStructureFactory(location=location, grade_level=grades[1], amount=Decimal("125.50"))
    exams = FeeStructureFactory(location=location, grade_level=final, amount=Decimal("300.00"), name="Final exams")
    for period, issued in (("2026-05", datetime.date(2026, 5, 1)), ("2026-06", datetime.date(2026, 6, 1))):
        billed = billing_run_start(
            location=location, period=period, issue_date=issued, actor=cashier, academic_year=old_year
        )  # runs here, in-process (the broker is not in use yet)
        billed.refresh_from_db()
        assert billed.status == "completed" and billed.invoices_created > 0, billed.error
        exams.is_active = False
        exams.save(update_fields=["is_active"])
    assert tuition.is_active
    by_pk = {s.pk: s for s in students}
    owing = sorted(set(Invoice.objects.values_list("student_id", flat=True)))
    for student_id in owing[::3]:  # partly paid: the oldest invoice first
        payment_record(actor=cashier, amount=Decimal("30.00"), method="cash", student=by_pk[student_id])
    return students, final


def test_a_run_killed_mid_way_resumes_and_promotes_everyone_once(broker, lock_students, location, years, clerk):
    old, new = years
    principal = admin_user(username="principal")
    cashier = admin_user(username="cashier")
    students, final = build_school(location, old, cashier)
    ids = [s.pk for s in students]
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk)
    run = services.run_preview(run=run, actor=clerk)
    # a few office decisions: some repeat the year, one leaves
    proposals = list(PromotionProposal.objects.filter(run=run).exclude(from_grade=final).order_by("pk")[:6])
    for proposal in proposals[:5]:
        services.proposal_override(proposal=proposal, outcome="detained", reason="Repeats the year", actor=clerk)
    services.proposal_override(proposal=proposals[5], outcome="left", reason="Moves abroad", actor=clerk)
    run = services.run_approve(run=run, actor=principal)
    assert run.total == STUDENTS
    before = invariants.money_before()
    owing = len(set(before.owner.values()))
    assert STUDENTS * 0.2 < owing < len(before.open_invoices)  # about a third owe, some of them twice
    entries_before = dict(StudentAccount.objects.values_list("pk", "entry_count"))

    # when the run starts on a real worker (over Redis)
    first = broker.start()
    job = services.run_start(run=run, actor=clerk)

    def progressed():
        job.refresh_from_db()
        return job.done > 0 or job.state in Job.FINISHED

    wait_for("first chunk done", progressed, first)
    assert job.state == Job.State.RUNNING, (job.state, job.message, first.tail())
    # another session takes every student of the run: the worker stops at the next one
    locks = lock_students(ids)
    assert locks.held.wait(WAIT) and locks.error is None, locks.error

    def worker_waiting():
        job.refresh_from_db()
        assert job.state == Job.State.RUNNING, f"the run ended before the kill ({job.state}, {job.done}/{job.total})"
        return sessions_blocked_by(locks.pid)

    orphan = wait_for("worker waiting on a student", worker_waiting, first)[0]
    # and the worker is killed there, in the middle of its transaction
    first.kill()

    # then the run is part-done: the job still "running" with some students done, no more
    job.refresh_from_db()
    run.refresh_from_db()
    assert (job.state, run.state, job.attempts) == ("running", "running", 1)
    assert 0 < job.done < job.total == STUDENTS
    records_before_kill = dict(PromotionRecord.objects.filter(run=run).values_list("student_id", "pk"))
    done_ids = set(records_before_kill)
    assert job.done <= len(done_ids) < STUDENTS
    # and each student is either wholly promoted or untouched: the killed transaction left nothing
    pupils = {s.pk: s for s in Student.objects.filter(pk__in=ids)}
    untouched = [pk for pk in ids if pk not in done_ids]
    assert all(pupils[pk].academic_year_id == old.pk and pupils[pk].status == "active" for pk in untouched)
    moved = {pk for pk in done_ids if pupils[pk].academic_year_id == new.pk or pupils[pk].status == "graduated"}
    assert done_ids - moved <= {proposals[5].student_id}  # who left stays where they were
    assert not Invoice.objects.filter(student_id__in=untouched, status="carried_forward").exists()
    assert not Invoice.objects.filter(student_id__in=untouched, academic_year=new).exists()
    entries_now = dict(StudentAccount.objects.filter(pk__in=untouched).values_list("pk", "entry_count"))
    assert all(entries_now[pk] == entries_before[pk] for pk in entries_now)
    invariants.assert_money_kept(before)  # mid-run too: balances unchanged, the ledger proven

    # the other session lets go; the killed worker's session ends, its transaction rolled back
    locks.release()
    wait_for("the killed worker's session to end", lambda: not session_exists(orphan))
    assert dict(PromotionRecord.objects.filter(run=run).values_list("student_id", "pk")) == records_before_kill

    # when the beat finds the job stale: it is interrupted and queued again, once
    later = timezone.now() + timedelta(seconds=settings.JOB_STALE_SECONDS + 60)
    outcome = jobs_resume_stale(now=later)
    assert outcome["interrupted"] == [job.pk] and outcome["failed"] == []
    job.refresh_from_db()
    assert job.state == Job.State.INTERRUPTED
    # and a fresh worker takes it
    second = broker.start()

    def finished():
        job.refresh_from_db()
        return job.state in Job.FINISHED

    wait_for("the resumed run to finish", finished, second, interval=0.1)

    # then the run completed, resumed once, with no student failing
    run.refresh_from_db()
    assert (job.state, job.attempts, job.failed_count, job.errors) == ("completed", 2, 0, []), job.message
    assert (run.state, run.done, run.failed_count) == ("completed", STUDENTS, 0)
    # exactly one record per student, the ones done before the kill untouched by the resume
    invariants.assert_promoted_once(ids, old)
    assert PromotionRecord.objects.filter(run=run).count() == STUDENTS
    kept = PromotionRecord.objects.filter(student_id__in=list(records_before_kill)).values_list("student_id", "pk")
    assert dict(kept) == records_before_kill
    outcomes = dict(PromotionRecord.objects.filter(run=run).values_list("student_id", "outcome"))
    assert outcomes[proposals[0].student_id] == "detained" and outcomes[proposals[5].student_id] == "left"
    assert sum(1 for o in outcomes.values() if o == "graduated") == sum(1 for s in students if s.grade_level == final)
    # every balance and family total unchanged, the ledger proven
    invariants.assert_money_kept(before)
    # each open balance of who stays on carried once, into one successor billing it
    invariants.assert_carried_once(before)
    invariants.assert_each_continuing_student_carried_everything(before, old)
    assert (
        Invoice.objects.filter(academic_year=new, carried_from__isnull=False).count()
        == Invoice.objects.filter(status="carried_forward").count()
    )

    # and each guardian who asked to be written to is told once about each child: those
    # promoted before the kill by the first worker, the others by the second
    links = StudentGuardian.objects.filter(receives_communications=True).values_list("student", "guardian")
    expected = {(f"families.guardian:{guardian}", str(student)) for student, guardian in links}
    assert len(expected) > STUDENTS / 20

    def everyone_told():
        told = set(
            Notification.objects.filter(kind="student_promoted").values_list("recipient_key", "metadata__student")
        )
        return told >= expected

    wait_for("every guardian told", everyone_told, second, interval=0.1)
    invariants.assert_told_at_most_once(ids)
    assert Notification.objects.filter(kind="student_promoted").count() == len(expected)
