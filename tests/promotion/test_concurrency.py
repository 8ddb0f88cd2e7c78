"""Promotion runs against concurrent writers (PostgreSQL: row locks; each writer a thread
with its own database connection, as in tests/finance/test_guarantees.py):

- two starts of one approved run at the same moment, through the service and through
  the API (without a key, with two keys, with the same ``Idempotency-Key``): one job,
  the other start refused (409 ``run_not_approved``) or answered with the same job;
- a payment for a student arriving while the run carries that student's balance, in
  both orders: nothing lost or counted twice.

The interleavings are made, not hoped for: a third session holds a row the writers need
(the run's row, or a number series, which an invoice or a receipt takes its number from
inside its transaction) until each writer is seen waiting in ``pg_stat_activity``, so
every run of a test takes the same path.

And a draft's bad input (which runs on SQLite too): a 400 naming the field, nothing written.
"""

import threading
import time
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from academy.common.exceptions import Conflict
from academy.common.models import IdempotencyRecord, NumberSequence
from academy.common.numbering import INVOICE_NUMBERS, RECEIPT_NUMBERS
from academy.models import Job
from finance.models import Invoice, Payment, PaymentAllocation
from finance.services import payment_record
from promotion import services
from promotion.models import PromotionProposal, PromotionRecord, PromotionRun
from tests.factories.academy import LocationFactory, admin_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue
from tests.promotion import invariants

V1 = "/api/v1"
WAIT = 60  # seconds a wait may take before the test fails (a deadlock, not a slow machine)

# --- sessions -------------------------------------------------------------------------------


class Session:
    """``work()`` run in a thread of its own (its own database connection). ``pid`` is its
    PostgreSQL backend; ``result`` / ``error`` what ``work`` answered or raised."""

    def __init__(self, name: str, work):
        self.pid = None
        self.result = None
        self.error = None
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self.thread.start()
        assert self._started.wait(WAIT)

    def _run(self, work):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self._started.set()
            self.result = work()
        except BaseException as error:  # surfaced by the test
            self.error = error
        finally:
            self._started.set()
            connections.close_all()

    def join(self):
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), f"{self.thread.name} still running after {WAIT} s"
        return self


class RowLock(Session):
    """A session holding ``SELECT ... FOR UPDATE`` on rows of ``queryset`` until ``release()``."""

    def __init__(self, queryset):
        self._release = threading.Event()
        self._held = threading.Event()

        def hold():
            with transaction.atomic():
                assert list(queryset.select_for_update().values_list("pk", flat=True)), "nothing to lock"
                self._held.set()
                self._release.wait(WAIT * 2)

        super().__init__(f"lock {queryset.model.__name__}", hold)
        assert self._held.wait(WAIT) and self.error is None, self.error

    def release(self):
        self._release.set()
        self.join()
        assert self.error is None, self.error


@pytest.fixture
def row_lock():
    """``row_lock(queryset)``: a ``RowLock`` released when the test ends, whatever happens."""
    held: list[RowLock] = []

    def lock(queryset) -> RowLock:
        held.append(RowLock(queryset))
        return held[-1]

    yield lock
    for lock_ in held:
        lock_._release.set()
        lock_.thread.join(WAIT)


def blocking(pid: int) -> list[int]:
    """The sessions ``pid`` waits for."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_blocking_pids(%s)", [pid])
        return list(cursor.fetchone()[0])


def sessions_waiting() -> int:
    """Sessions of this database waiting for a lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until(what: str, probe, *sessions: Session):
    """Poll ``probe`` until it answers something true; fail if a session ended meanwhile
    (it did not wait where the test meant it to) or after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not (value := probe()):
        for session in sessions:
            assert session.thread.is_alive(), (
                f"{session.thread.name} ended before {what}: {session.error or session.result}"
            )
        assert time.monotonic() < deadline, f"no {what} after {WAIT} s"
        time.sleep(0.01)
    return value


def series_row(series):
    """The number series row an invoice or a receipt numbered today takes its number from."""
    return NumberSequence.objects.filter(key=series.key(timezone.localdate().year))


# --- the school -----------------------------------------------------------------------------


@pytest.fixture
def principal(db):
    return admin_user(username="principal")


@pytest.fixture
def cashier(db):
    return admin_user(username="cashier")


@pytest.fixture
def pupils(location, years, grades):
    """Five students of Grade 1 in the year promoted from."""
    old, _new = years
    return [StudentFactory(location=location, grade_level=grades[0], academic_year=old) for _ in range(5)]


def approved_run(location, years, clerk, principal, **options) -> PromotionRun:
    old, new = years
    run = services.run_create(location=location, from_year=old, to_year=new, actor=clerk, **options)
    run = services.run_preview(run=run, actor=clerk)
    return services.run_approve(run=run, actor=principal)


def run_jobs(run) -> list[Job]:
    return list(Job.objects.filter(kind=services.RUN_JOB, params__run=str(run.pk)))


# --- two starts at once ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_starts_at_once_start_the_run_once(location, years, clerk, principal, pupils, row_lock):
    run = approved_run(location, years, clerk, principal)
    # given the run's row held by a third session, two starts that both wait for it
    held = row_lock(PromotionRun.objects.filter(pk=run.pk))
    starts = [Session(f"start {n}", lambda: services.run_start(run=run, actor=clerk)) for n in range(2)]
    # (the first waits for the third session, the second for the first or the third)
    wait_until("both starts waiting", lambda: all(blocking(s.pid) for s in starts), *starts)
    # when the row is let go
    held.release()
    for start in starts:
        start.join()
    # then one started it (and its job ran the run), the other was refused
    won = [s for s in starts if s.error is None]
    lost = [s for s in starts if s.error is not None]
    assert len(won) == 1 and len(lost) == 1, [s.error for s in starts]
    assert isinstance(lost[0].error, Conflict) and lost[0].error.code == "run_not_approved"
    jobs = run_jobs(run)
    assert [job.pk for job in jobs] == [won[0].result.pk]
    assert jobs[0].state == "completed" and jobs[0].attempts == 1
    run.refresh_from_db()
    assert run.state == "completed"
    invariants.assert_promoted_once([p.pk for p in pupils], years[0])


def api_client(user) -> APIClient:
    """A client sending ``user``'s token (one client per thread)."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "keys", [(None, None), ("start-a", "start-b"), ("start-1", "start-1")], ids=["no key", "two keys", "same key"]
)
def test_two_posts_of_start_at_once_make_one_job(location, years, clerk, principal, pupils, row_lock, keys):
    run = approved_run(location, years, clerk, principal)
    url = f"{V1}/promotion-runs/{run.pk}/start/"
    clients = [api_client(clerk) for _key in keys]

    def post(client, key):
        return client.post(url, **({"HTTP_IDEMPOTENCY_KEY": key} if key else {}))

    # given the run's row held by a third session, two POSTs that both wait (for it, or
    # for the first with the same key)
    held = row_lock(PromotionRun.objects.filter(pk=run.pk))
    posts = [
        Session(f"POST {n}", lambda client=client, key=key: post(client, key))
        for n, (client, key) in enumerate(zip(clients, keys, strict=True))
    ]
    wait_until("both requests waiting", lambda: sessions_waiting() >= 2, *posts)
    # when the row is let go
    held.release()
    answers = [post_.join().result for post_ in posts]
    assert all(post_.error is None for post_ in posts), [p.error for p in posts]
    codes = sorted(a.status_code for a in answers)
    jobs = run_jobs(run)
    assert len(jobs) == 1
    if keys[0] == keys[1] is not None:
        # then the same key: both answered with the one job, the second a replay
        assert codes == [202, 202]
        assert {a.json()["id"] for a in answers} == {str(jobs[0].pk)}
        assert sorted(a.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
        assert IdempotencyRecord.objects.count() == 1
    else:
        # then one 202 with the job, one 409 run_not_approved (and its key not kept)
        assert codes == [202, 409], [a.content for a in answers]
        accepted, refused = sorted(answers, key=lambda a: a.status_code)
        assert accepted.json()["id"] == str(jobs[0].pk)
        assert refused.json()["code"] == "run_not_approved"
        assert IdempotencyRecord.objects.count() == (1 if keys[0] else 0)
    run.refresh_from_db()
    assert run.state == "completed" and jobs[0].state == "completed"
    invariants.assert_promoted_once([p.pk for p in pupils], years[0])


# --- a payment while the balance is carried --------------------------------------------------


@pytest.fixture
def owing(location, years, grades, cashier):
    """A student of Grade 1 owing 100.00 on one invoice (30.00 of 130.00 paid: the
    receipt series exists), and a classmate owing nothing."""
    old, _new = years
    student = StudentFactory(location=location, grade_level=grades[0], academic_year=old)
    invoice = issue(student, "130.00", actor=cashier, academic_year=old)
    payment_record(actor=cashier, amount=Decimal("30.00"), method="cash", student=student)
    classmate = StudentFactory(location=location, grade_level=grades[0], academic_year=old)
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("100.00")
    return student, invoice, classmate


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_during_the_carry_goes_to_the_carried_invoice(
    location, years, clerk, principal, cashier, owing, row_lock
):
    """The run has locked the student's account and is carrying the balance (it waits for
    the new invoice's number); the payment waits for the account, then finds the old
    invoice carried and pays the new one."""
    student, old_invoice, classmate = owing
    run = approved_run(location, years, clerk, principal)
    before = invariants.money_before()
    # given the invoice numbers held by a third session
    numbers = row_lock(series_row(INVOICE_NUMBERS))
    # when the run starts (its job runs in the same thread, after the start commits) and
    # stops inside the carry, waiting for a number
    promotion = Session("promotion", lambda: services.run_start(run=run, actor=clerk))
    wait_until("the carry waiting for a number", lambda: numbers.pid in blocking(promotion.pid), promotion)
    # and a payment for the student arrives: it waits for the run
    payment = Session(
        "payment",
        lambda: payment_record(actor=cashier, amount=Decimal("40.00"), method="cash", student=student),
    )
    wait_until("the payment waiting for the carry", lambda: promotion.pid in blocking(payment.pid), payment)
    numbers.release()
    promotion.join()
    payment.join()

    # then both went through
    assert promotion.error is None and payment.error is None, (promotion.error, payment.error)
    job = Job.objects.get(pk=promotion.result.pk)
    assert (job.state, job.failed_count) == ("completed", 0), (job.message, job.errors)
    # the whole 100.00 was carried, once, and the payment paid the invoice carrying it
    old_invoice.refresh_from_db()
    new_invoice = Invoice.objects.get(carried_from=old_invoice)
    assert old_invoice.status == "carried_forward" and new_invoice.total == Decimal("100.00")
    received = Payment.objects.get(amount=Decimal("40.00"))
    assert [(a.invoice_id, a.amount) for a in PaymentAllocation.objects.filter(payment=received)] == [
        (new_invoice.pk, Decimal("40.00"))
    ]
    assert (new_invoice.amount_paid, new_invoice.status) == (Decimal("40.00"), "partial")
    record = PromotionRecord.objects.get(student=student)
    assert (record.carried_amount, record.carry_status) == (Decimal("100.00"), "carried_forward")
    invariants.assert_promoted_once([student.pk, classmate.pk], years[0])
    invariants.assert_carried_once(before)
    # and the family owes 40.00 less: nothing lost, nothing counted twice
    invariants.assert_money_kept(before, paid={student.pk: Decimal("40.00")})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_before_the_carry_makes_the_carried_amount_smaller(
    location, years, clerk, principal, cashier, owing, row_lock
):
    """The payment has locked the student's account and paid the old invoice (it waits
    for its receipt number); the run then reaches the student and waits for the account;
    once the payment commits, the run carries what is left."""
    student, old_invoice, classmate = owing
    run = approved_run(location, years, clerk, principal)
    before = invariants.money_before()
    # given the receipt numbers held by a third session
    receipts = row_lock(series_row(RECEIPT_NUMBERS))
    # when a payment for the student arrives and stops before its receipt number
    payment = Session(
        "payment",
        lambda: payment_record(actor=cashier, amount=Decimal("40.00"), method="cash", student=student),
    )
    wait_until("the payment waiting for a receipt number", lambda: receipts.pid in blocking(payment.pid), payment)
    # and the run starts and reaches the student: it waits for the payment
    promotion = Session("promotion", lambda: services.run_start(run=run, actor=clerk))
    wait_until("the carry waiting for the payment", lambda: payment.pid in blocking(promotion.pid), promotion)
    receipts.release()
    payment.join()
    promotion.join()

    # then both went through
    assert payment.error is None, f"the payment failed: {payment.error!r}"
    assert promotion.error is None, f"the run's start failed: {promotion.error!r}"
    job = Job.objects.get(pk=promotion.result.pk)
    assert (job.state, job.failed_count) == ("completed", 0), (job.message, job.errors)
    # the payment paid the old invoice, and what was left of it (60.00) was carried, once
    received = Payment.objects.get(amount=Decimal("40.00"))
    assert [(a.invoice_id, a.amount) for a in PaymentAllocation.objects.filter(payment=received)] == [
        (old_invoice.pk, Decimal("40.00"))
    ]
    old_invoice.refresh_from_db()
    new_invoice = Invoice.objects.get(carried_from=old_invoice)
    assert (old_invoice.status, old_invoice.amount_paid) == ("carried_forward", Decimal("70.00"))
    assert (new_invoice.total, new_invoice.amount_paid) == (Decimal("60.00"), Decimal("0.00"))
    record = PromotionRecord.objects.get(student=student)
    assert record.carried_amount == Decimal("60.00")
    invariants.assert_promoted_once([student.pk, classmate.pk], years[0])
    invariants.assert_carried_once(before, paid_before_carry={old_invoice.pk: Decimal("40.00")})
    # and the family owes 40.00 less: nothing lost, nothing counted twice
    invariants.assert_money_kept(before, paid={student.pk: Decimal("40.00")})


# --- a draft's bad input --------------------------------------------------------------------


def written() -> tuple:
    """Every row a draft (or a start) may write."""
    return (
        PromotionRun.objects.count(),
        PromotionRun.history.count(),
        PromotionProposal.objects.count(),
        PromotionRecord.objects.count(),
        Job.objects.count(),
        IdempotencyRecord.objects.count(),
    )


BAD_DRAFTS = [
    # (what is wrong, the field named, the arguments changed)
    ("into the year before", "to_year", lambda w: {"from_year": w.new, "to_year": w.old}),
    ("into the same year", "to_year", lambda w: {"to_year": w.old}),
    ("an unknown grade promoted from", "grade_map", lambda w: {"grade_map": {str(uuid.uuid4()): str(w.grades[1].pk)}}),
    ("an unknown grade promoted into", "grade_map", lambda w: {"grade_map": {str(w.grades[0].pk): str(uuid.uuid4())}}),
    ("a grade that is not an id", "grade_map", lambda w: {"grade_map": {"Grade 1": str(w.grades[1].pk)}}),
    ("an unknown grade to limit to", "grades", lambda w: {"grades": [str(uuid.uuid4())]}),
    ("another location's student", "students", lambda w: {"students": [w.elsewhere.pk]}),
]


@pytest.fixture
def w(location, years, grades):
    old, new = years
    elsewhere = StudentFactory(location=LocationFactory(code="FAR", name="Far campus"))
    return SimpleNamespace(old=old, new=new, grades=grades, elsewhere=elsewhere)


def as_json(value):
    """A service argument as the API takes it: rows by their id."""
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return value
    return str(getattr(value, "pk", value))


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "field", "change"), BAD_DRAFTS, ids=[c[0] for c in BAD_DRAFTS])
def test_a_bad_draft_names_the_field_and_writes_nothing(w, location, clerk, case, field, change):
    arguments = {"location": location, "from_year": w.old, "to_year": w.new, "actor": clerk, **change(w)}
    before = written()
    with pytest.raises(ValidationError) as error:
        services.run_create(**arguments)
    assert field in error.value.message_dict, error.value.message_dict
    assert all(error.value.message_dict[field])
    assert written() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "field", "change"), BAD_DRAFTS, ids=[c[0] for c in BAD_DRAFTS])
def test_a_bad_draft_through_the_api_is_400_on_the_field(w, location, clerk, case, field, change):
    body = {"location": str(location.pk), "from_year": str(w.old.pk), "to_year": str(w.new.pk)}
    body.update({name: as_json(value) for name, value in change(w).items()})
    client = api_client(clerk)
    before = written()
    response = client.post(f"{V1}/promotion-runs/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert all(isinstance(messages, list) and messages for messages in response.json().values())
    assert written() == before
