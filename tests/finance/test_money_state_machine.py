"""The money invariants hold after any sequence of finance service calls (issue 4,
"Tests and figures").

A hypothesis state machine issues invoices, records cash payments (student or family,
with or without explicit allocations, sometimes beyond what is open), records cheques and
clears or bounces them, reverses payments, refunds credit, requests and decides
adjustments and cancels invoices, in any order, each call its own committed transaction.
Calls the services refuse (``ValidationError`` / ``Conflict``) are rules too and must
change nothing. After every step, for every student of the example:

- the cached balance == the sum of the ledger == the figure derived from the source
  records: lines of the invoices not cancelled + approved adjustments on them - payment
  allocations (to invoices and to credit) + reversals + refunds;
- the sum over each family equals an independent running model of every call;
- ``ledger_verify()`` is clean (cache, chain, invoice totals/paid/adjusted, open
  invoices minus credit);
- no invoice is paid beyond its amount and each status matches its amounts;
- the ledger chains from zero and no money row written earlier has changed.
"""

import datetime
import itertools
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
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
from academy.common.models import NumberSequence
from finance import services
from finance.models import (
    Adjustment,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PaymentVerification,
    Refund,
    StudentAccount,
)
from finance.selectors import account_balance, ledger_verify
from tests.factories.academy import finance_user
from tests.factories.families import GuardianFactory, StudentFactory
from tests.factories.finance import FinancePolicyFactory, issue

ZERO = D("0.00")
THRESHOLD = D("20.00")  # above it, the approver of an adjustment must be someone else
_serial = itertools.count(1)

CENTS = st.integers(min_value=1, max_value=30_000).map(lambda n: D(n) / 100)
QUARTERS = st.integers(min_value=1, max_value=1_200).map(lambda n: D(n) / 4).map(lambda d: d.quantize(D("0.01")))
index = st.integers(0, 100)
CREDIT_KINDS = list(Adjustment.CREDIT_KINDS)
DEBIT_KINDS = list(Adjustment.DEBIT_KINDS)


def sum_of(queryset, field="amount") -> D:
    return queryset.aggregate(total=Sum(field))["total"] or ZERO


def expected_balance(student_id) -> D:
    """The balance derived from the source records alone (docs/rules.md, Money): what was
    invoiced and not voided, adjusted by the approved adjustments on those invoices, less
    the payment money that reached the account, plus what was reversed or refunded."""
    live = Invoice.objects.filter(student_id=student_id).exclude(status=Invoice.Status.CANCELLED)
    invoiced = sum_of(InvoiceLine.objects.filter(invoice__in=live))
    adjusted = ZERO
    for kind, amount in Adjustment.objects.filter(invoice__in=live, status="approved").values_list("kind", "amount"):
        adjusted += amount if kind in Adjustment.DEBIT_KINDS else -amount
    allocations = PaymentAllocation.objects.filter(student_id=student_id)
    paid = sum_of(allocations.filter(kind=PaymentAllocation.Kind.PAYMENT))
    reversed_ = -sum_of(allocations.filter(kind=PaymentAllocation.Kind.REVERSAL))
    refunded = sum_of(Refund.objects.filter(student_id=student_id))
    return invoiced + adjusted - paid + reversed_ + refunded


def expected_status(invoice: Invoice, today) -> str:
    if invoice.amount_paid >= invoice.amount_due:
        return Invoice.Status.PAID
    if invoice.due_date < today:
        return Invoice.Status.OVERDUE
    return Invoice.Status.PARTIAL if invoice.amount_paid > ZERO else Invoice.Status.PENDING


def snapshot() -> dict:
    """Everything a refused call must leave as it was."""
    return {
        "counts": {
            model.__name__: model.objects.count()
            for model in (
                Invoice,
                InvoiceLine,
                Payment,
                PaymentAllocation,
                PaymentVerification,
                PaymentReversal,
                Refund,
                Adjustment,
                LedgerEntry,
                StudentAccount,
            )
        },
        "accounts": sorted(StudentAccount.objects.values_list("pk", "balance", "entry_count")),
        "invoices": sorted(Invoice.objects.values_list("pk", "status", "amount_paid", "amount_adjusted", "paid_date")),
        "adjustments": sorted(Adjustment.objects.values_list("pk", "status")),
        "numbers": sorted(NumberSequence.objects.values_list("key", "last_value")),
    }


def frozen_rows() -> dict:
    """Rows of the append-only tables, as written."""
    return {
        "ledger": {
            row[0]: row
            for row in LedgerEntry.objects.values_list(
                "pk",
                "account_id",
                "seq",
                "kind",
                "amount",
                "balance_before",
                "balance_after",
                "invoice_id",
                "payment_id",
            )
        },
        "allocations": {
            row[0]: row
            for row in PaymentAllocation.objects.values_list(
                "pk", "payment_id", "student_id", "invoice_id", "amount", "kind"
            )
        },
        "payments": {
            row[0]: row for row in Payment.objects.values_list("pk", "receipt_number", "amount", "method", "student_id")
        },
        "verifications": {
            row[0]: row for row in PaymentVerification.objects.values_list("pk", "payment_id", "outcome")
        },
        "refunds": {row[0]: row for row in Refund.objects.values_list("pk", "student_id", "amount")},
    }


def money_machine(location, *, amounts, committed: bool):
    """The state machine class over ``location``, drawing money amounts from ``amounts``.
    ``committed``: each service call is its own committed transaction (PostgreSQL)."""
    FinancePolicyFactory(location=location, adjustment_approval_threshold=THRESHOLD)
    cashier = finance_user(username=f"cashier-{next(_serial)}")
    approver = finance_user(username=f"approver-{next(_serial)}")
    today = timezone.localdate()
    cents = amounts

    class MoneyMachine(RuleBasedStateMachine):
        """Two children paid for by one guardian and one child of another family, at one
        location; every service call commits on its own."""

        def __init__(self):
            super().__init__()
            self.students: list = []
            self.group_of: dict = {}  # student id -> family key
            self.model: dict = {}  # family key -> what the family owes, by the test's own reckoning
            self.invoice_ids: list = []
            self.payment_ids: list = []
            self.adjustment_ids: list = []
            self.cancelled: set = set()
            self.frozen: dict = {}
            self.refusals = 0

        # --- set-up and helpers --------------------------------------------------------

        @initialize()
        def families(self):
            n = next(_serial)
            self.guardian = GuardianFactory(last_name=f"Pays{n}")
            twins = [
                StudentFactory(location=location, last_name=f"Pays{n}", primary_guardian=self.guardian) for _ in "ab"
            ]
            single = StudentFactory(location=location, last_name=f"Alone{n}")
            self.students = [*twins, single]
            self.group_of = {twins[0].pk: "family", twins[1].pk: "family", single.pk: "single"}
            self.model = {"family": ZERO, "single": ZERO}

        def student(self, i):
            return self.students[i % len(self.students)]

        def invoice(self, i) -> Invoice:
            return Invoice.objects.get(pk=self.invoice_ids[i % len(self.invoice_ids)])

        def payment(self, i) -> Payment:
            return Payment.objects.get(pk=self.payment_ids[i % len(self.payment_ids)])

        def move(self, student_id, amount):
            self.model[self.group_of[student_id]] += amount

        def refused(self, call, *errors):
            """Run ``call``; if the service refuses it, nothing may have changed."""
            before = snapshot()
            try:
                result = call()
            except errors as error:
                assert connection.in_atomic_block != committed
                assert snapshot() == before, f"refused call {call} changed something: {error!r}"
                self.refusals += 1
                return error
            return result

        # --- invoices ------------------------------------------------------------------

        @rule(student=index, amounts=st.lists(cents, min_size=1, max_size=3), past_due=st.booleans())
        def issue_invoice(self, student, amounts, past_due):
            student = self.student(student)
            dates = (
                {"issue_date": today - datetime.timedelta(days=40), "due_date": today - datetime.timedelta(days=10)}
                if past_due
                else {"issue_date": today, "due_date": today + datetime.timedelta(days=14)}
            )
            invoice = issue(student, *[str(a) for a in amounts], actor=cashier, **dates)
            assert invoice.total == sum(amounts, ZERO)
            self.invoice_ids.append(invoice.pk)
            self.move(student.pk, invoice.total)

        @precondition(lambda self: self.invoice_ids)
        @rule(i=index, reason=st.sampled_from(["Issued in error", " "]))
        def cancel_invoice(self, i, reason):
            invoice = self.invoice(i)
            outcome = self.refused(
                lambda: services.invoice_cancel(invoice=invoice, actor=cashier, reason=reason),
                Conflict,
                ValidationError,
            )
            if isinstance(outcome, Conflict):
                assert outcome.code == "invoice_not_open" and invoice.status not in Invoice.OPEN_STATUSES
            elif isinstance(outcome, ValidationError):
                assert not reason.strip()
            else:
                assert invoice.status in Invoice.OPEN_STATUSES and reason.strip()
                self.cancelled.add(invoice.pk)
                self.move(invoice.student_id, -invoice.amount_due)

        # --- payments ------------------------------------------------------------------

        @rule(who=index, family=st.booleans(), amount=cents)
        def pay_cash(self, who, family, amount):
            """Oldest due first; anything beyond the open invoices becomes credit."""
            student = self.student(who)
            payer = self.guardian if family else None
            result = services.payment_record(
                actor=cashier,
                amount=amount,
                method="cash",
                student=None if family else student,
                payer=payer,
                confirm_overpayment=True,  # the books, not the confirmation, are tested here
            )
            assert result.created and result.payment.amount == amount
            self.payment_ids.append(result.payment.pk)
            self.model["family" if family else self.group_of[student.pk]] -= amount

        @precondition(lambda self: self.invoice_ids)
        @rule(who=index, amount=cents, picks=st.lists(st.tuples(index, cents), min_size=1, max_size=3))
        def pay_cash_allocated(self, who, amount, picks):
            """Explicit allocations: refused when they name a closed or foreign invoice, ask
            more than is open or add up to more than the payment."""
            student = self.student(who)
            allocations = [(self.invoice(i), a) for i, a in picks]
            outcome = self.refused(
                lambda: services.payment_record(
                    actor=cashier,
                    amount=amount,
                    method="cash",
                    student=student,
                    allocations=allocations,
                    confirm_overpayment=True,
                ),
                ValidationError,
            )
            wanted: dict = {}
            for invoice, a in allocations:
                wanted[invoice.pk] = wanted.get(invoice.pk, ZERO) + a
            acceptable = sum(wanted.values(), ZERO) <= amount and all(
                invoice.student_id == student.pk
                and invoice.status in Invoice.OPEN_STATUSES
                and wanted[invoice.pk] <= invoice.balance
                for invoice, _a in allocations
            )
            if isinstance(outcome, ValidationError):
                assert not acceptable, f"refused a valid allocation: {outcome}"
                return
            assert acceptable, "accepted an allocation it should refuse"
            self.payment_ids.append(outcome.payment.pk)
            self.move(student.pk, -amount)
            covered = dict(
                PaymentAllocation.objects.filter(payment=outcome.payment, invoice__isnull=False)
                .values("invoice_id")
                .annotate(total=Sum("amount"))
                .values_list("invoice_id", "total")
            )
            assert covered == wanted

        @rule(who=index, family=st.booleans(), amount=cents)
        def record_cheque(self, who, family, amount):
            student = self.student(who)
            result = services.payment_record(
                actor=cashier,
                amount=amount,
                method="cheque",
                student=None if family else student,
                payer=self.guardian if family else None,
                reference=f"CHQ-{next(_serial)}",
                confirm_overpayment=True,
            )
            assert result.payment.requires_verification
            assert not PaymentAllocation.objects.filter(payment=result.payment).exists()  # not on the ledger yet
            self.payment_ids.append(result.payment.pk)

        @precondition(lambda self: self.payment_ids)
        @rule(i=index, cleared=st.booleans(), waiting=st.booleans())
        def verify_cheque(self, i, cleared, waiting):
            """``waiting``: a cheque not yet verified, if any; else any payment."""
            pending = list(
                Payment.objects.filter(pk__in=self.payment_ids, requires_verification=True, verification__isnull=True)
                .order_by("receipt_number")
                .values_list("pk", flat=True)
            )
            payment = Payment.objects.get(pk=pending[i % len(pending)]) if waiting and pending else self.payment(i)
            already = PaymentVerification.objects.filter(payment=payment).exists()
            outcome = self.refused(
                lambda: services.payment_verify(payment=payment, actor=approver, cleared=cleared), Conflict
            )
            if isinstance(outcome, Conflict):
                assert outcome.code == (
                    "already_verified" if payment.requires_verification else "verification_not_required"
                )
                assert already or not payment.requires_verification
                return
            assert payment.requires_verification and not already
            if cleared:
                self.model["family" if payment.student_id is None else self.group_of[payment.student_id]] -= (
                    payment.amount
                )

        @precondition(lambda self: self.payment_ids)
        @rule(i=index)
        def reverse_payment(self, i):
            payment = self.payment(i)
            reached_account = (
                not payment.requires_verification
                or PaymentVerification.objects.filter(payment=payment, outcome="cleared").exists()
            )
            was_reversed = PaymentReversal.objects.filter(payment=payment).exists()
            still_covered = dict(
                PaymentAllocation.objects.filter(payment=payment)
                .values("student_id")
                .annotate(total=Sum("amount"))
                .values_list("student_id", "total")
            )
            outcome = self.refused(
                lambda: services.payment_reverse(payment=payment, actor=approver, reason="Bounced"), Conflict
            )
            if isinstance(outcome, Conflict):
                assert outcome.code in ("already_reversed", "payment_not_cleared")
                assert was_reversed or not reached_account
                return
            assert reached_account and not was_reversed
            # all that the payment still covers (what was not refunded) goes back on the account
            for student_id, amount in still_covered.items():
                self.move(student_id, amount)
            assert sum_of(PaymentAllocation.objects.filter(payment=payment)) == ZERO

        @rule(who=index, amount=cents, everything=st.booleans())
        def refund_credit(self, who, amount, everything):
            student = self.student(who)
            credit = sum_of(PaymentAllocation.objects.filter(student=student, invoice__isnull=True))
            if everything and credit > ZERO:
                amount = credit
            outcome = self.refused(
                lambda: services.refund_record(
                    student=student, amount=amount, method="cash", reason="Leaving", actor=cashier
                ),
                Conflict,
            )
            if isinstance(outcome, Conflict):
                assert outcome.code == "insufficient_credit" and amount > credit
                return
            assert amount <= credit
            self.move(student.pk, amount)

        @rule(
            who=index,
            amount=st.sampled_from(["0", "-5.00", "1.005", "abc"]),
            method=st.sampled_from(["cash", "cheque"]),
        )
        def pay_bad_amount(self, who, amount, method):
            outcome = self.refused(
                lambda: services.payment_record(actor=cashier, amount=amount, method=method, student=self.student(who)),
                ValidationError,
            )
            assert isinstance(outcome, ValidationError) and "amount" in outcome.message_dict

        # --- adjustments ---------------------------------------------------------------

        @precondition(lambda self: self.invoice_ids)
        @rule(
            i=index,
            kind=st.sampled_from(CREDIT_KINDS + DEBIT_KINDS),
            amount=st.one_of(st.sampled_from([D("5.00"), D("20.00"), D("20.25")]), cents),
            by_approver=st.booleans(),
        )
        def request_adjustment(self, i, kind, amount, by_approver):
            invoice = self.invoice(i)
            outcome = self.refused(
                lambda: services.adjustment_request(
                    invoice=invoice,
                    kind=kind,
                    amount=amount,
                    reason="Agreed",
                    actor=approver if by_approver else cashier,
                ),
                Conflict,
                ValidationError,
            )
            if isinstance(outcome, Conflict):
                assert outcome.code == "invoice_not_open" and invoice.status not in Invoice.OPEN_STATUSES
                return
            if isinstance(outcome, ValidationError):  # one late fee per invoice
                assert kind == "late_fee"
                assert invoice.adjustments.filter(kind="late_fee").exclude(status="rejected").exists()
                return
            assert invoice.status in Invoice.OPEN_STATUSES
            self.adjustment_ids.append(outcome.pk)

        @precondition(lambda self: self.adjustment_ids)
        @rule(i=index, approve=st.booleans(), by_requester=st.booleans(), undecided=st.booleans())
        def decide_adjustment(self, i, approve, by_requester, undecided):
            """``undecided``: one still waiting, if any; else any (deciding twice is refused)."""
            waiting = list(
                Adjustment.objects.filter(pk__in=self.adjustment_ids, status="requested").values_list("pk", flat=True)
            )
            ids = sorted(waiting, key=self.adjustment_ids.index) if undecided and waiting else self.adjustment_ids
            adjustment = Adjustment.objects.get(pk=ids[i % len(ids)])
            requester = cashier if adjustment.requested_by_id == cashier.pk else approver
            actor = requester if by_requester else (approver if requester == cashier else cashier)
            invoice = adjustment.invoice
            decide = services.adjustment_approve if approve else services.adjustment_reject
            outcome = self.refused(lambda: decide(adjustment=adjustment, actor=actor), Conflict, ValidationError)
            decided = adjustment.status != Adjustment.Status.REQUESTED
            if isinstance(outcome, Conflict):
                assert outcome.code in ("already_decided", "approver_must_differ", "invoice_not_open")
                if outcome.code == "approver_must_differ":
                    assert approve and by_requester and adjustment.amount > THRESHOLD
                elif outcome.code == "invoice_not_open":
                    assert approve and invoice.status not in Invoice.OPEN_STATUSES
                else:
                    assert decided
                return
            if isinstance(outcome, ValidationError):
                assert approve and adjustment.kind in Adjustment.CREDIT_KINDS and adjustment.amount > invoice.balance
                return
            assert not decided
            if approve:
                assert not (by_requester and adjustment.amount > THRESHOLD)
                self.move(adjustment.student_id, adjustment.signed_amount)

        # --- invariants ----------------------------------------------------------------

        @invariant()
        def balances_agree(self):
            assert connection.in_atomic_block != committed  # each call committed on its own
            by_group = dict.fromkeys(self.model, ZERO)
            for student in self.students:
                cached = account_balance(student=student)
                ledger = sum_of(LedgerEntry.objects.filter(account_id=student.pk))
                derived = expected_balance(student.pk)
                assert cached == ledger == derived, (student.pk, cached, ledger, derived)
                by_group[self.group_of[student.pk]] += cached
                credit = sum_of(PaymentAllocation.objects.filter(student=student, invoice__isnull=True))
                assert credit >= ZERO
            assert by_group == self.model
            report = ledger_verify()
            assert report.ok, report.problems

        @invariant()
        def invoices_match_their_amounts(self):
            for invoice in Invoice.objects.filter(student__in=self.students):
                allocated = sum_of(PaymentAllocation.objects.filter(invoice=invoice))
                assert invoice.amount_paid == allocated
                if invoice.pk in self.cancelled:
                    assert invoice.status == Invoice.Status.CANCELLED and invoice.amount_paid == ZERO
                    continue
                assert invoice.status != Invoice.Status.CANCELLED
                assert ZERO <= invoice.amount_paid <= invoice.amount_due, invoice
                assert invoice.status == expected_status(invoice, today), (
                    invoice.invoice_number,
                    invoice.status,
                    invoice.amount_paid,
                    invoice.amount_due,
                )
                assert (invoice.paid_date is not None) == (invoice.status == Invoice.Status.PAID)

        @invariant()
        def payments_stay_within_their_amounts(self):
            for payment in Payment.objects.filter(pk__in=self.payment_ids):
                allocated = sum_of(PaymentAllocation.objects.filter(payment=payment))
                assert ZERO <= allocated <= payment.amount
                if PaymentReversal.objects.filter(payment=payment).exists():
                    assert allocated == ZERO
                if (
                    payment.requires_verification
                    and not PaymentVerification.objects.filter(payment=payment, outcome="cleared").exists()
                ):
                    assert not PaymentAllocation.objects.filter(payment=payment).exists()

        @invariant()
        def the_ledger_is_append_only(self):
            for student in self.students:
                previous_after, expected_seq = ZERO, 1
                for entry in LedgerEntry.objects.filter(account_id=student.pk).order_by("seq"):
                    assert entry.seq == expected_seq and entry.balance_before == previous_after
                    assert entry.balance_after == entry.balance_before + entry.amount and entry.amount != ZERO
                    previous_after, expected_seq = entry.balance_after, expected_seq + 1
            rows = frozen_rows()
            for table, before in self.frozen.items():
                now = rows[table]
                assert {pk: now.get(pk) for pk in before} == before, f"a row of {table} changed or vanished"
            self.frozen = rows

    return MoneyMachine


SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def assert_the_machine_ran():
    """The machine really ran and wrote money (which rules ran varies from run to run)."""
    assert Invoice.objects.count() >= 5 and Payment.objects.count() >= 5 and LedgerEntry.objects.count() >= 10
    assert ledger_verify().ok


@pytest.fixture
def quiet_receipts(monkeypatch):
    """Receipts are notified on commit (tested in test_notices); here they only cost time."""
    monkeypatch.setattr("finance.services.payments.payment_receipt_notify", lambda **kwargs: False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_sequence_of_committed_money_calls_breaks_the_books(location, quiet_receipts):
    """Any cent amounts; every service call commits on its own."""
    run_state_machine_as_test(money_machine(location, amounts=CENTS, committed=True), settings=SETTINGS)
    assert_the_machine_ran()


@pytest.mark.django_db
def test_no_sequence_of_money_calls_breaks_the_books(location, quiet_receipts):
    """The same machine inside the test's transaction (on SQLite the money tables'
    append-only triggers refuse the flush a committed test ends with). SQLite keeps
    money as floating point: the database checks round to cents
    (``test_cents_add_up_in_the_database_checks``), but sums read back through SQL
    (``ledger_verify``) still carry float noise with arbitrary cents, so this variant
    draws quarters, which add up exactly. PostgreSQL runs the committed variant with
    any cents."""
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL runs the committed variant")
    run_state_machine_as_test(money_machine(location, amounts=QUARTERS, committed=False), settings=SETTINGS)
    assert_the_machine_ran()


@pytest.mark.django_db
def test_cents_add_up_in_the_database_checks(location, cashier):
    """0.06 + 0.01 is not 0.07 in binary floating point, which is how SQLite keeps these
    columns: ``ledger_balance_chain`` and ``invoice_not_overpaid`` compare with the sum
    rounded to cents, so ordinary amounts are never refused (found by the machine above)."""
    student = StudentFactory(location=location)
    issue(student, "0.06")
    invoice = issue(student, "0.01")
    services.payment_record(actor=cashier, student=student, amount="0.07", method="cash")
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert account_balance(student=student) == ZERO
    assert ledger_verify().ok
