"""What must hold after any promotion run, however it was run (in one go, killed and
resumed, beside concurrent payments): the checks the promotion tests share.

- ``money_before()`` is taken before the run: every account's balance, what each family
  owes, and each open invoice's balance;
- ``assert_promoted_once``: exactly one record per student for the year;
- ``assert_money_kept``: every account's balance and each family's outstanding total
  unchanged (beyond the payments named), the ledger proven (``ledger_verify`` and the
  ``verify_ledger`` command);
- ``assert_carried_once``: every carried invoice is CARRIED_FORWARD with exactly one
  successor carrying its balance, no balance carried twice, and only for students who
  stay on;
- ``assert_told_at_most_once``: no guardian was told twice about one student.
"""

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO

from django.core.management import call_command

from families.models import StudentGuardian
from finance.models import Invoice, StudentAccount
from finance.selectors import ledger_verify
from notifications.models import Notification
from promotion.models import CONTINUING, PromotionRecord

ZERO = Decimal("0.00")


def balances() -> dict:
    """Every account's cached balance (what each student owes), by student id."""
    return {str(pk): balance for pk, balance in StudentAccount.objects.values_list("pk", "balance")}


def family_outstanding() -> dict:
    """What each family owes: the balances of its primary guardian's children, by guardian id."""
    owed = balances()
    families: dict = {}
    for student_id, guardian_id in StudentGuardian.objects.filter(relationship_type="primary").values_list(
        "student_id", "guardian_id"
    ):
        families[guardian_id] = families.get(guardian_id, ZERO) + owed.get(str(student_id), ZERO)
    return families


def open_balances() -> dict:
    """Each open invoice's balance (what a carry would move), by invoice id."""
    return {
        invoice.pk: invoice.balance
        for invoice in Invoice.objects.filter(status__in=Invoice.OPEN_STATUSES).only(
            "id", "status", "total", "amount_adjusted", "amount_paid"
        )
        if invoice.balance > 0
    }


@dataclass(frozen=True)
class MoneyBefore:
    balances: dict
    families: dict
    open_invoices: dict  # invoice id -> balance
    owner: dict  # invoice id -> student id


def money_before() -> MoneyBefore:
    open_invoices = open_balances()
    owner = dict(Invoice.objects.filter(pk__in=list(open_invoices)).values_list("pk", "student_id"))
    return MoneyBefore(balances(), family_outstanding(), open_invoices, owner)


def assert_promoted_once(student_ids, from_year) -> None:
    """Each of ``student_ids`` has exactly one record from ``from_year`` (and nobody else one)."""
    counts = Counter(
        PromotionRecord.objects.filter(from_year=from_year, corrects__isnull=True).values_list("student_id", flat=True)
    )
    missing = [pk for pk in student_ids if counts.get(pk, 0) == 0]
    twice = {pk: n for pk, n in counts.items() if n > 1}
    strangers = set(counts) - set(student_ids)
    assert (missing, twice, strangers) == ([], {}, set()), (
        f"{len(missing)} student(s) without a record, {len(twice)} with more than one, "
        f"{len(strangers)} record(s) of students not in the run"
    )


def assert_ledger_clean() -> None:
    report = ledger_verify()
    assert report.ok, report.problems[:20]
    call_command("verify_ledger", stdout=StringIO())  # raises CommandError on any discrepancy


def assert_money_kept(before: MoneyBefore, *, paid: dict | None = None) -> None:
    """Every account's balance and each family's outstanding total is what it was, less
    ``paid`` (student id -> amount received since ``before``), and the ledger is proven."""
    paid = {str(pk): amount for pk, amount in (paid or {}).items()}
    expected = {pk: balance - paid.get(pk, ZERO) for pk, balance in before.balances.items()}
    now = balances()
    changed = {pk: (expected.get(pk, ZERO), now.get(pk, ZERO)) for pk in set(expected) | set(now)}
    changed = {pk: pair for pk, pair in changed.items() if pair[0] != pair[1]}
    assert changed == {}, f"{len(changed)} account(s) moved (expected, now): {list(changed.items())[:5]}"
    primary = {
        str(student_id): guardian_id
        for student_id, guardian_id in StudentGuardian.objects.filter(relationship_type="primary").values_list(
            "student_id", "guardian_id"
        )
    }
    families = dict(before.families)
    for student_id, amount in paid.items():
        families[primary[student_id]] -= amount
    assert family_outstanding() == families
    assert_ledger_clean()


def assert_carried_once(before: MoneyBefore, *, paid_before_carry: dict | None = None) -> None:
    """Each invoice carried is CARRIED_FORWARD with exactly one successor, which bills its
    balance at the time (its balance before the run less ``paid_before_carry``, invoice id
    -> amount paid on it meanwhile), is open and was not carried again; only students who
    stay on (promoted, detained) carried, and each record's carried amount is the sum of
    its student's successors."""
    paid_before_carry = paid_before_carry or {}
    carried = list(Invoice.objects.filter(status=Invoice.Status.CARRIED_FORWARD))
    successors = {invoice.carried_from_id: invoice for invoice in Invoice.objects.filter(carried_from__isnull=False)}
    counts = Counter(Invoice.objects.filter(carried_from__isnull=False).values_list("carried_from_id", flat=True))
    assert all(n == 1 for n in counts.values()), "an invoice was carried forward more than once"
    assert {i.pk for i in carried} == set(successors), "carried invoices and successors do not pair up"
    for old in carried:
        new = successors[old.pk]
        assert old.pk in before.open_invoices, f"{old.invoice_number} was not open before the run"
        assert new.total == before.open_invoices[old.pk] - paid_before_carry.get(old.pk, ZERO), old.invoice_number
        assert new.student_id == old.student_id
        assert new.status != Invoice.Status.CARRIED_FORWARD, f"{new.invoice_number} was carried again"
    records = {
        r.student_id: r
        for r in PromotionRecord.objects.filter(student_id__in={i.student_id for i in carried}, corrects__isnull=True)
    }
    carried_by_student: dict = {}
    for old in carried:
        carried_by_student[old.student_id] = carried_by_student.get(old.student_id, ZERO) + successors[old.pk].total
    for student_id, amount in carried_by_student.items():
        record = records.get(student_id)
        assert record is not None, f"student {student_id} carried a balance without a promotion record"
        assert record.outcome in CONTINUING, f"a {record.outcome} student carried a balance"
        assert (record.carried_amount, record.carry_status) == (amount, "carried_forward")


def assert_each_continuing_student_carried_everything(before: MoneyBefore, from_year) -> None:
    """Every open balance of a student who stays on was carried (none left behind in the
    year promoted from), and nobody else's was."""
    outcomes = dict(
        PromotionRecord.objects.filter(from_year=from_year, corrects__isnull=True).values_list("student_id", "outcome")
    )
    status = dict(Invoice.objects.filter(pk__in=list(before.open_invoices)).values_list("pk", "status"))
    for invoice_id, student_id in before.owner.items():
        staying = outcomes.get(student_id) in CONTINUING
        assert (status[invoice_id] == Invoice.Status.CARRIED_FORWARD) == staying, (invoice_id, outcomes.get(student_id))


def assert_told_at_most_once(student_ids) -> None:
    """No guardian was told twice that one student was promoted (the dedupe key)."""
    told = Counter(
        (n.recipient_key, n.metadata.get("student"))
        for n in Notification.objects.filter(kind="student_promoted").only("recipient_key", "metadata")
    )
    twice = {pair: n for pair, n in told.items() if n > 1}
    assert twice == {}, f"told more than once: {list(twice.items())[:5]}"
    students = {str(pk) for pk in student_ids}
    assert {student for _key, student in told} <= students
