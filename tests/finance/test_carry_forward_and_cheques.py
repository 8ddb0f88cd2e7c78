"""Carrying an invoice's balance forward (once), the invoice transition map, a cheque's
explicit allocations kept until it clears, and who money notices reach."""

import contextlib
import datetime
from decimal import Decimal as D

import pytest

from academy.common.exceptions import Conflict
from finance import services
from finance.models import FeeType, Invoice, LedgerEntry, Payment, PaymentAllocation
from finance.notices import payment_reminders_send
from finance.selectors import account_balance, ledger_verify
from notifications.models import Delivery
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


@pytest.fixture(autouse=True)
def _ledger_proves_itself():
    yield
    assert ledger_verify().problems == []


class TestCarryForward:
    def test_the_open_balance_moves_into_a_new_invoice_and_the_account_does_not_move(self, student, cashier):
        # given an invoice of 100.00 with 40.00 paid
        old = issue(student, "100.00", actor=cashier)
        services.payment_record(actor=cashier, student=student, amount="40.00", method="cash")
        balance_before = account_balance(student=student)
        # when its balance is carried forward into the new year
        new = services.invoice_carry_forward(
            invoice=old, actor=cashier, issue_date=TODAY, due_date=TODAY + datetime.timedelta(days=30)
        )
        # then the old invoice is closed as carried forward, the new one bills the 60.00
        old.refresh_from_db()
        assert old.status == Invoice.Status.CARRIED_FORWARD and old.balance == 0 and old.amount_paid == D("40.00")
        assert new.carried_from_id == old.pk and new.total == D("60.00") and new.status == Invoice.Status.PENDING
        assert new.billed_to_id == old.billed_to_id
        line = new.lines.get()
        assert line.fee_type.code == "CARRY_FORWARD" and old.invoice_number in line.description
        # and the ledger shows both sides, leaving the balance where it was
        entries = LedgerEntry.objects.filter(account_id=student.pk, kind=LedgerEntry.Kind.CARRY_FORWARD)
        assert sorted(e.amount for e in entries) == [D("-60.00"), D("60.00")]
        assert account_balance(student=student) == balance_before == D("60.00")

    def test_a_balance_is_carried_forward_only_once(self, student, cashier):
        old = issue(student, "100.00", actor=cashier)
        services.invoice_carry_forward(invoice=old, actor=cashier)
        invoices, entries = Invoice.objects.count(), LedgerEntry.objects.count()

        with pytest.raises(Conflict) as error:
            services.invoice_carry_forward(invoice=old, actor=cashier)

        assert error.value.code == "already_carried_forward"
        assert (Invoice.objects.count(), LedgerEntry.objects.count()) == (invoices, entries)

    def test_the_database_refuses_a_second_invoice_carrying_the_same_balance(self, student, cashier):
        from django.db import IntegrityError, transaction

        old = issue(student, "100.00", actor=cashier)
        new = services.invoice_carry_forward(invoice=old, actor=cashier)
        with pytest.raises(IntegrityError), transaction.atomic():
            Invoice.objects.filter(pk=issue(student, "5.00").pk).update(carried_from=old)
        assert Invoice.objects.get(carried_from=old) == new

    @pytest.mark.parametrize("state", ["paid", "cancelled"])
    def test_a_closed_invoice_cannot_be_carried_forward(self, student, cashier, state):
        invoice = issue(student, "100.00", actor=cashier)
        if state == "paid":
            services.payment_record(actor=cashier, student=student, amount="100.00", method="cash")
        else:
            services.invoice_cancel(invoice=invoice, actor=cashier, reason="Billed by mistake")
        entries = LedgerEntry.objects.count()

        with pytest.raises(Conflict) as error:
            services.invoice_carry_forward(invoice=invoice, actor=cashier)

        assert error.value.code == "invoice_not_open"
        assert LedgerEntry.objects.count() == entries

    def test_a_carried_forward_invoice_cannot_be_cancelled_or_take_money(self, student, cashier):
        old = issue(student, "100.00", actor=cashier)
        new = services.invoice_carry_forward(invoice=old, actor=cashier)
        with pytest.raises(Conflict) as error:
            services.invoice_cancel(invoice=old, actor=cashier, reason="Too late")
        assert error.value.code == "invoice_not_open"
        # a payment goes to the new invoice, never to the old one
        services.payment_record(actor=cashier, student=student, amount="100.00", method="cash")
        old.refresh_from_db()
        new.refresh_from_db()
        assert old.amount_paid == 0 and new.status == Invoice.Status.PAID

    def test_a_payment_on_a_carried_forward_invoice_is_not_reversed_behind_its_back(self, student, cashier):
        old = issue(student, "100.00", actor=cashier)
        payment = services.payment_record(actor=cashier, student=student, amount="30.00", method="cash").payment
        services.invoice_carry_forward(invoice=old, actor=cashier)

        with pytest.raises(Conflict) as error:
            services.payment_reverse(payment=payment, actor=cashier, reason="Entered twice")

        assert error.value.code == "invoice_carried_forward"
        assert not PaymentAllocation.objects.filter(kind=PaymentAllocation.Kind.REVERSAL).exists()


class TestTransitionMap:
    def test_the_map_names_every_status_and_closed_ones_go_nowhere(self):
        assert set(Invoice.TRANSITIONS) == set(Invoice.Status.values)
        assert Invoice.TRANSITIONS["cancelled"] == set() and Invoice.TRANSITIONS["carried_forward"] == set()
        assert set(Invoice.statuses_that_can_become("overdue")) == {"pending", "partial", "paid"}  # paid: a reversal
        assert not Invoice(status="cancelled").can_become("paid")

    def test_overdue_marking_follows_the_map(self, student, cashier):
        past = TODAY - datetime.timedelta(days=20)
        due = issue(student, "10.00", issue_date=past, due_date=past + datetime.timedelta(days=5))
        Invoice.objects.filter(pk=due.pk).update(status=Invoice.Status.PENDING)  # as before the nightly job
        carried = issue(student, "20.00", issue_date=past, due_date=past + datetime.timedelta(days=5))
        services.invoice_carry_forward(invoice=carried, actor=cashier)

        services.invoices_mark_overdue()

        assert Invoice.objects.get(pk=due.pk).status == Invoice.Status.OVERDUE
        assert Invoice.objects.get(pk=carried.pk).status == Invoice.Status.CARRIED_FORWARD


class TestChequeAllocations:
    def test_a_cheque_keeps_its_explicit_allocation_until_it_clears(self, student, cashier, approver):
        # given two open invoices, the older due first
        older = issue(student, "100.00", due_date=TODAY + datetime.timedelta(days=5))
        newer = issue(student, "100.00", due_date=TODAY + datetime.timedelta(days=30))
        # when a cheque is recorded for the newer one only
        payment = services.payment_record(
            actor=cashier, student=student, amount="80.00", method="cheque", allocations=[(newer, "80.00")]
        ).payment
        # then nothing moves until it clears
        assert not PaymentAllocation.objects.filter(payment=payment).exists()
        assert Payment.objects.get(pk=payment.pk).planned_allocations == [{"invoice": str(newer.pk), "amount": "80.00"}]
        services.payment_verify(payment=payment, actor=approver, cleared=True)
        # and when it clears, the money goes where the family said, not oldest first
        older.refresh_from_db()
        newer.refresh_from_db()
        assert older.amount_paid == 0 and newer.amount_paid == D("80.00")

    def test_a_cheque_clearing_after_its_invoice_was_paid_keeps_the_rest_as_credit(self, student, cashier, approver):
        invoice = issue(student, "100.00")
        cheque = services.payment_record(
            actor=cashier, student=student, amount="100.00", method="cheque", allocations=[(invoice, "100.00")]
        ).payment
        services.payment_record(actor=cashier, student=student, amount="70.00", method="cash")  # meanwhile

        services.payment_verify(payment=cheque, actor=approver, cleared=True)

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID and invoice.amount_paid == D("100.00")
        credit = PaymentAllocation.objects.filter(payment=cheque, invoice__isnull=True).get()
        assert credit.amount == D("70.00")
        assert account_balance(student=student) == D("-70.00")

    def test_a_cheque_without_allocations_still_goes_oldest_due_first(self, student, cashier, approver):
        older = issue(student, "50.00", due_date=TODAY + datetime.timedelta(days=5))
        issue(student, "50.00", due_date=TODAY + datetime.timedelta(days=30))
        cheque = services.payment_record(actor=cashier, student=student, amount="50.00", method="cheque").payment
        assert Payment.objects.get(pk=cheque.pk).planned_allocations is None
        services.payment_verify(payment=cheque, actor=approver, cleared=True)
        older.refresh_from_db()
        assert older.status == Invoice.Status.PAID


class TestNoticesHonourPreferences:
    def _opt_out(self, student):
        link = student.guardian_links.get()
        link.receives_communications = False
        link.save(update_fields=["receives_communications"])
        guardian = link.guardian
        guardian.email = "parent@example.org"
        guardian.preferred_communication = "email"
        guardian.save(update_fields=["email", "preferred_communication"])
        return guardian

    def test_a_reminder_to_a_guardian_who_receives_no_communications_sends_no_email(self, student):
        guardian = self._opt_out(student)
        issue(student, "10.00", due_date=TODAY + datetime.timedelta(days=3))

        payment_reminders_send(today=TODAY)

        assert not Delivery.objects.filter(address=guardian.email).exists()

    def test_a_reminder_reaches_a_guardian_who_receives_communications_by_email(self, student):
        guardian = student.guardian_links.get().guardian
        guardian.email = "parent@example.org"
        guardian.preferred_communication = "email"
        guardian.save(update_fields=["email", "preferred_communication"])
        issue(student, "10.00", due_date=TODAY + datetime.timedelta(days=3))

        result = payment_reminders_send(today=TODAY)

        assert result.due_soon == 1
        assert Delivery.objects.filter(address="parent@example.org", channel="email").count() == 1

    def test_a_receipt_to_a_guardian_who_receives_no_communications_sends_no_email(self, student, cashier):
        guardian = self._opt_out(student)
        issue(student, "10.00")

        services.payment_record(actor=cashier, student=student, amount="10.00", method="cash")

        assert not Delivery.objects.filter(address=guardian.email).exists()


def test_the_carry_forward_fee_type_is_reference_data():
    from django.core.management import call_command

    call_command("seed", "--env", "prod", verbosity=0)
    assert FeeType.objects.filter(code="CARRY_FORWARD").exists()


class TestVerifyInstall:
    """``verify_install`` tries the append-only rules (rolled back) and proves the number
    series have no gaps."""

    def _lines(self):
        from io import StringIO

        from django.core.management import CommandError, call_command

        out = StringIO()
        with contextlib.suppress(CommandError):
            call_command("verify_install", stdout=out)
        return {
            line.split("  ", 1)[1].split(":", 1)[0]: line
            for line in out.getvalue().splitlines()
            if line.startswith(("PASS", "FAIL"))
        }

    def test_append_only_is_tried_on_real_rows_and_nothing_changes(self, student, cashier):
        issue(student, "10.00")
        payment = services.payment_record(actor=cashier, student=student, amount="10.00", method="cash").payment
        line = self._lines()["money tables are append-only (no UPDATE/DELETE)"]
        assert line.startswith("PASS") and "tried on the 3 with rows" in line
        assert Payment.objects.get(pk=payment.pk).amount == D("10.00")

    def test_a_missing_trigger_is_found_by_trying(self, student, cashier):
        from django.db import connection

        from finance import install_checks

        issue(student, "10.00")
        services.payment_record(actor=cashier, student=student, amount="10.00", method="cash")
        # given the payment table's UPDATE trigger gone (dropped in this test's transaction)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("DROP TRIGGER finance_payment_append_only ON finance_payment")
            else:
                cursor.execute("DROP TRIGGER finance_payment_no_update")
        # when the rules are tried, then exactly that gap shows (and DELETE on PostgreSQL,
        # where one trigger guards both)
        allowed, tried = install_checks._append_only_probe()
        on_postgres = connection.vendor == "postgresql"
        expected = ["UPDATE finance_payment"] + (["DELETE finance_payment"] if on_postgres else [])
        assert allowed == expected and tried == 3

    def test_numbers_without_gaps_pass_and_a_gap_fails(self, student, cashier):
        from academy.common.models import NumberSequence

        issue(student, "10.00")
        issue(student, "20.00")
        services.payment_record(actor=cashier, student=student, amount="5.00", method="cash")
        assert self._lines()["invoice and receipt numbers have no gaps"].startswith("PASS")

        # a number handed out and never stored (as a write outside the services would leave)
        NumberSequence.objects.filter(key=f"INV-{TODAY.year}").update(last_value=3)

        line = self._lines()["invoice and receipt numbers have no gaps"]
        assert line.startswith("FAIL") and f"INV-{TODAY.year}: the series handed out 3, the highest stored is 2" in line
