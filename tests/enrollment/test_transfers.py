"""Location transfers (``enrollment.transfers``) against the database: request with its
impact assessment, approval by another person, apply (withdraw or move the enrollments,
settle the unused sessions through finance, move the student with history), reject, the
database constraints, and nothing written on any refusal."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.models import NumberSequence
from enrollment import services, transfers
from enrollment.models import Enrollment
from enrollment.transfer_selectors import transfer_impact, transfer_list
from finance.models import Adjustment, Invoice, LedgerEntry
from finance.selectors import account_balance
from finance.services import payment_record
from students.models import LocationTransfer, Student
from tests.factories.academy import (
    AcademicYearFactory,
    ClassSessionFactory,
    LocationFactory,
    SectionFactory,
    TermFactory,
    staff_user,
)
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FinancePolicyFactory

pytestmark = pytest.mark.django_db

EFFECTIVE = datetime.date(2025, 10, 1)


@pytest.fixture(autouse=True)
def _roles(roles):
    """The role groups with their permissions (tests/api's fixture)."""


@pytest.fixture
def student(make_student):
    return make_student()


@pytest.fixture
def north_section(make_section, other_location):
    return make_section(capacity=5, location=other_location)


def request(student, to_location, actor, **kwargs):
    kwargs.setdefault("transfer_type", "standard")
    kwargs.setdefault("reason", "The family moved north")
    kwargs.setdefault("effective_date", EFFECTIVE)
    return transfers.transfer_request(student=student, to_location=to_location, actor=actor, **kwargs)


def approved(student, to_location, office, admin, **kwargs):
    transfer = request(student, to_location, office, **kwargs)
    return transfers.transfer_approve(transfer=transfer, actor=admin)


def snapshot(student) -> dict:
    """What an apply writes: compared before and after a refused one."""
    student = Student.all_objects.get(pk=student.pk)
    return {
        "location": student.location_id,
        "student history": student.history.count(),
        "transfers": list(LocationTransfer.objects.values_list("pk", "status", "applied_at")),
        "transfer history": LocationTransfer.history.count(),
        "enrollments": sorted(Enrollment.objects.values_list("pk", "status", "end_date", "sessions_remaining")),
        "enrollment history": Enrollment.history.count(),
        "adjustments": Adjustment.objects.count(),
        "ledger": LedgerEntry.objects.count(),
    }


# --- request ------------------------------------------------------------------------------


class TestRequest:
    def test_stores_the_impact_at_the_old_location(self, student, section, make_section, other_location, office):
        # given two active enrollments at the old location (one paused), an ended one and
        # sessions before and after the effective date, one of them cancelled
        paused_section = make_section(capacity=5)
        EnrollmentFactory(student=student, section=section, sessions_allocated=10, session_rate=Decimal("12.50"))
        EnrollmentFactory(
            student=student,
            section=paused_section,
            status="paused",
            sessions_allocated=6,
            sessions_completed=2,
            session_rate=Decimal("10.00"),
        )
        EnrollmentFactory(
            student=student,
            section=make_section(capacity=5),
            status="withdrawn",
            end_date=datetime.date(2025, 9, 20),
            session_rate=Decimal("99.00"),
        )
        ClassSessionFactory(section=section, date=datetime.date(2025, 9, 24))  # before: not affected
        ClassSessionFactory(section=section, date=EFFECTIVE)
        ClassSessionFactory(section=section, date=datetime.date(2025, 10, 8))
        ClassSessionFactory(section=section, date=datetime.date(2025, 10, 15), is_cancelled=True)
        ClassSessionFactory(section=paused_section, date=datetime.date(2025, 10, 2))
        # when the office requests the transfer
        transfer = request(student, other_location, office, notes="Moving house")
        # then the impact is stored with the request
        transfer.refresh_from_db()
        assert transfer.status == "requested"
        assert transfer.transfer_number == f"TRF-{timezone.localdate().year}-0001"
        assert transfer.from_location == student.location and transfer.to_location == other_location
        assert transfer.affected_enrollments == 2
        assert transfer.affected_sessions == 3
        assert transfer.financial_impact == Decimal("165.00")  # 10 x 12.50 + 4 x 10.00
        assert transfer.account_balance == Decimal("0.00")
        assert {item["section_code"] for item in transfer.impact_details} == {
            f"{section.course.code}-{section.code}",
            f"{paused_section.course.code}-{paused_section.code}",
        }
        assert transfer.requested_by == office and transfer.requested_at is not None
        assert transfer.notes == "Moving house"
        assert transfer.history.get().history_user == office

    def test_the_balance_comes_from_finance(self, student, section, other_location, office, fee_types):
        services.enroll(
            student=student, section=section, actor=office, enrollment_fee=0, sessions_allocated=4, session_rate=25
        )
        transfer = request(student, other_location, office)
        assert transfer.account_balance == Decimal("100.00") == account_balance(student=student)
        assert transfer.financial_impact == Decimal("100.00")

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"reason": "  "}, "reason"),
            ({"transfer_type": "sideways"}, "transfer_type"),
            ({"transfer_type": "temporary"}, "end_date"),
            ({"transfer_type": "temporary", "end_date": datetime.date(2025, 9, 30)}, "end_date"),
            ({"end_date": datetime.date(2025, 12, 1)}, "end_date"),
            ({"effective_date": None}, "effective_date"),
            ({"reason": "x" * 301}, "reason"),
        ],
    )
    def test_bad_input_is_a_field_error_and_writes_nothing(self, student, other_location, office, changes, field):
        with pytest.raises(ValidationError) as excinfo:
            request(student, other_location, office, **changes)
        assert field in excinfo.value.message_dict
        assert not LocationTransfer.objects.exists()
        assert not NumberSequence.objects.filter(key__startswith="TRF").exists()

    def test_the_same_location_is_refused(self, student, office):
        with pytest.raises(ValidationError) as excinfo:
            request(student, student.location, office)
        assert "to_location" in excinfo.value.message_dict
        assert not LocationTransfer.objects.exists()

    def test_an_inactive_location_is_refused(self, student, office):
        closed = LocationFactory(code="OLD", is_active=False)
        with pytest.raises(ValidationError) as excinfo:
            request(student, closed, office)
        assert "to_location" in excinfo.value.message_dict

    def test_a_temporary_transfer_keeps_its_end_date(self, student, other_location, office):
        transfer = request(student, other_location, office, transfer_type="temporary", end_date=EFFECTIVE)
        assert (transfer.transfer_type, transfer.end_date) == ("temporary", EFFECTIVE)

    def test_a_student_who_is_not_active_cannot_be_transferred(self, student, other_location, office):
        Student.objects.filter(pk=student.pk).update(status="inactive")
        with pytest.raises(Conflict) as excinfo:
            request(student, other_location, office)
        assert excinfo.value.code == "student_not_active"

    def test_one_open_transfer_per_student(self, student, other_location, office, academy_admin):
        first = request(student, other_location, office)
        with pytest.raises(Conflict) as excinfo:
            request(student, LocationFactory(code="WEST"), office)
        assert excinfo.value.code == "transfer_open"
        # still refused once approved, allowed again once rejected
        transfers.transfer_approve(transfer=first, actor=academy_admin)
        with pytest.raises(Conflict):
            request(student, other_location, office)
        transfers.transfer_reject(transfer=first, actor=academy_admin, reason="Family stays")
        second = request(student, other_location, office)
        assert second.transfer_number.endswith("-0002")
        assert LocationTransfer.objects.count() == 2


# --- approve and reject -------------------------------------------------------------------


class TestApprove:
    def test_another_person_approves(self, student, other_location, office, academy_admin):
        transfer = request(student, other_location, office)
        transfers.transfer_approve(transfer=transfer, actor=academy_admin, notes="Fine")
        transfer.refresh_from_db()
        assert transfer.status == "approved"
        assert transfer.approved_by == academy_admin and transfer.approved_at >= transfer.requested_at
        assert transfer.approval_notes == "Fine"
        assert transfer.history.latest().history_change_reason == "Approved"

    def test_the_requester_cannot_approve(self, student, other_location, academy_admin):
        transfer = request(student, other_location, academy_admin)
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_approve(transfer=transfer, actor=academy_admin)
        assert excinfo.value.code == "same_approver"
        transfer.refresh_from_db()
        assert transfer.status == "requested" and transfer.approved_by is None
        assert transfer.history.count() == 1

    def test_only_a_requested_transfer_is_approved(self, student, other_location, office, academy_admin):
        transfer = approved(student, other_location, office, academy_admin)
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_approve(transfer=transfer, actor=staff_user(username="second-admin"))
        assert excinfo.value.code == "invalid_status_change"

    def test_a_student_moved_meanwhile_cannot_be_approved(self, student, other_location, office, academy_admin):
        transfer = request(student, other_location, office)
        Student.objects.filter(pk=student.pk).update(location=LocationFactory(code="WEST"))
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_approve(transfer=transfer, actor=academy_admin)
        assert excinfo.value.code == "location_changed"


class TestReject:
    def test_rejects_with_a_reason(self, student, other_location, office, academy_admin):
        transfer = request(student, other_location, office)
        transfers.transfer_reject(transfer=transfer, actor=academy_admin, reason="No seats up north")
        transfer.refresh_from_db()
        assert transfer.status == "rejected" and transfer.rejected_by == academy_admin
        assert transfer.rejection_reason == "No seats up north" and transfer.rejected_at is not None

    def test_a_reason_is_required(self, student, other_location, office, academy_admin):
        transfer = request(student, other_location, office)
        with pytest.raises(ValidationError) as excinfo:
            transfers.transfer_reject(transfer=transfer, actor=academy_admin, reason=" ")
        assert "reason" in excinfo.value.message_dict
        transfer.refresh_from_db()
        assert transfer.status == "requested"

    def test_an_applied_transfer_cannot_be_rejected(self, student, other_location, office, academy_admin):
        transfer = approved(student, other_location, office, academy_admin)
        transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_reject(transfer=transfer, actor=academy_admin, reason="Too late")
        assert excinfo.value.code == "invalid_status_change"


# --- apply --------------------------------------------------------------------------------


class TestApply:
    def test_withdraws_the_enrollments_and_moves_the_student_with_history(
        self, student, section, make_section, other_location, office, academy_admin
    ):
        # given an approved transfer, and an enrollment at the old location added after the request
        first = EnrollmentFactory(student=student, section=section)
        transfer = approved(student, other_location, office, academy_admin)
        later = EnrollmentFactory(student=student, section=make_section(capacity=5))
        elsewhere = EnrollmentFactory(student=student, section=make_section(capacity=5, location=other_location))
        # when the admin applies it
        transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        # then both enrollments at the old location are withdrawn the day before the effective date
        for enrollment in (first, later):
            enrollment.refresh_from_db()
            assert enrollment.status == "withdrawn"
            assert enrollment.end_date == datetime.date(2025, 9, 30)
            assert enrollment.status_reason == f"Location transfer {transfer.transfer_number}"
        elsewhere.refresh_from_db()
        assert elsewhere.status == "enrolled"
        # and the student is at the new location, the old one kept, the change in the history
        student = Student.objects.get(pk=student.pk)
        assert student.location == other_location and student.previous_location == transfer.from_location
        change = student.history.latest()
        assert change.history_change_reason == f"Location transfer {transfer.transfer_number}"
        assert change.history_user == academy_admin
        # and the transfer is applied with the impact assessed again
        transfer.refresh_from_db()
        assert transfer.status == "applied" and transfer.applied_by == academy_admin and transfer.applied_at
        assert transfer.affected_enrollments == 2
        assert {item["action"] for item in transfer.impact_details} == {"withdrawn"}

    def test_apply_twice_is_refused_and_changes_nothing(self, student, section, other_location, office, academy_admin):
        EnrollmentFactory(student=student, section=section)
        transfer = approved(student, other_location, office, academy_admin)
        transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        before = snapshot(student)
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        assert excinfo.value.code == "invalid_status_change"
        assert snapshot(student) == before

    def test_a_requested_transfer_cannot_be_applied(self, student, other_location, office, academy_admin):
        transfer = request(student, other_location, office)
        before = snapshot(student)
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        assert excinfo.value.code == "invalid_status_change"
        assert snapshot(student) == before

    def test_moves_an_enrollment_into_a_section_of_the_new_location(
        self, student, section, make_section, north_section, other_location, office, academy_admin
    ):
        moving = EnrollmentFactory(student=student, section=section, sessions_allocated=10, sessions_completed=3)
        leaving = EnrollmentFactory(student=student, section=make_section(capacity=5))
        transfer = approved(student, other_location, office, academy_admin)
        transfers.transfer_apply(transfer=transfer, actor=academy_admin, moves={moving.pk: north_section})
        moving.refresh_from_db()
        leaving.refresh_from_db()
        assert moving.status == "withdrawn" and leaving.status == "withdrawn"
        moved = Enrollment.objects.active().get(student=student)
        assert moved.section == north_section and moved.sessions_remaining == 7
        transfer.refresh_from_db()
        actions = {item["enrollment"]: item for item in transfer.impact_details}
        assert actions[str(moving.pk)]["action"] == "moved"
        assert actions[str(moving.pk)]["new_enrollment"] == str(moved.pk)
        assert actions[str(leaving.pk)]["action"] == "withdrawn"

    def test_a_move_to_a_section_at_another_location_is_a_field_error_and_writes_nothing(
        self, student, section, make_section, other_location, office, academy_admin
    ):
        enrollment = EnrollmentFactory(student=student, section=section)
        transfer = approved(student, other_location, office, academy_admin)
        before = snapshot(student)
        with pytest.raises(ValidationError) as excinfo:
            transfers.transfer_apply(
                transfer=transfer, actor=academy_admin, moves={enrollment.pk: make_section(capacity=5)}
            )
        assert "moves" in excinfo.value.message_dict
        assert snapshot(student) == before

    def test_a_move_of_an_enrollment_the_transfer_does_not_affect_is_a_field_error(
        self, student, north_section, other_location, office, academy_admin
    ):
        other = EnrollmentFactory(student=StudentFactory(location=student.location))
        transfer = approved(student, other_location, office, academy_admin)
        with pytest.raises(ValidationError) as excinfo:
            transfers.transfer_apply(transfer=transfer, actor=academy_admin, moves={other.pk: north_section})
        assert "moves" in excinfo.value.message_dict

    def test_a_full_target_section_refuses_the_whole_apply(
        self, student, section, make_section, other_location, office, academy_admin
    ):
        # given a transfer whose move goes into a full section, after another enrollment
        # would already have been withdrawn and the student moved
        EnrollmentFactory(student=student, section=make_section(capacity=5))
        moving = EnrollmentFactory(student=student, section=section)
        full = make_section(capacity=1, location=other_location)
        EnrollmentFactory(student=StudentFactory(location=other_location), section=full)
        transfer = approved(student, other_location, office, academy_admin)
        before = snapshot(student)
        # when it is applied, then it is refused and nothing at all is written
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_apply(transfer=transfer, actor=academy_admin, moves={moving.pk: full})
        assert excinfo.value.code == "section_full"
        assert snapshot(student) == before
        assert Student.objects.get(pk=student.pk).location == transfer.from_location

    def test_a_student_moved_meanwhile_cannot_be_applied(self, student, other_location, office, academy_admin):
        transfer = approved(student, other_location, office, academy_admin)
        Student.objects.filter(pk=student.pk).update(location=LocationFactory(code="WEST"))
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        assert excinfo.value.code == "location_changed"

    def test_a_closed_destination_cannot_be_applied(self, student, other_location, office, academy_admin):
        transfer = approved(student, other_location, office, academy_admin)
        type(other_location).objects.filter(pk=other_location.pk).update(is_active=False)
        with pytest.raises(Conflict) as excinfo:
            transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        assert excinfo.value.code == "location_inactive"


class TestApplySettlesMoney:
    @pytest.fixture
    def billed(self, student, section, office, fee_types):
        """8 sessions at 10.00 billed on one invoice (80.00)."""
        return services.enroll(
            student=student, section=section, actor=office, enrollment_fee=0, sessions_allocated=8, session_rate=10
        )

    def test_above_the_threshold_the_credit_waits_for_another_person(
        self, student, billed, other_location, office, academy_admin
    ):
        # given no finance policy: every adjustment needs a second person
        transfer = approved(student, other_location, office, academy_admin)
        ledger_before = LedgerEntry.objects.count()
        transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        adjustment = Adjustment.objects.get(invoice=billed.invoice)
        assert (adjustment.kind, adjustment.amount, adjustment.status) == ("waiver", Decimal("80.00"), "requested")
        assert adjustment.requested_by == academy_admin
        assert LedgerEntry.objects.count() == ledger_before  # not approved: nothing reaches the ledger
        transfer.refresh_from_db()
        assert transfer.financial_impact == Decimal("80.00")
        assert billed.invoice.invoice_number in transfer.financial_notes
        assert "another person must approve" in transfer.financial_notes
        assert transfer.impact_details[0]["adjustment"]["status"] == "requested"

    def test_within_the_threshold_the_credit_is_approved_at_once(
        self, student, billed, location, other_location, office, academy_admin
    ):
        FinancePolicyFactory(location=location, adjustment_approval_threshold=Decimal("100.00"))
        transfer = approved(student, other_location, office, academy_admin)
        transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        adjustment = Adjustment.objects.get(invoice=billed.invoice)
        assert adjustment.status == "approved" and adjustment.decided_by == academy_admin
        invoice = Invoice.objects.get(pk=billed.invoice_id)
        assert invoice.balance == Decimal("0.00")
        assert account_balance(student=student) == Decimal("0.00")
        assert LedgerEntry.objects.filter(adjustment=adjustment, amount=Decimal("-80.00")).exists()

    def test_what_was_paid_is_listed_for_a_refund(
        self, student, billed, location, other_location, office, academy_admin
    ):
        FinancePolicyFactory(location=location, adjustment_approval_threshold=Decimal("100.00"))
        payment_record(
            actor=office, amount=Decimal("50.00"), method="cash", student=student, allocations=[(billed.invoice, 50)]
        )
        transfer = approved(student, other_location, office, academy_admin)
        transfers.transfer_apply(transfer=transfer, actor=academy_admin)
        adjustment = Adjustment.objects.get(invoice=billed.invoice)
        assert adjustment.amount == Decimal("30.00") and adjustment.status == "approved"
        transfer.refresh_from_db()
        assert transfer.impact_details[0]["to_refund"] == "50.00"
        assert "50.00" in transfer.financial_notes and "refund" in transfer.financial_notes

    def test_moved_enrollments_keep_their_sessions_and_owe_no_credit(
        self, student, billed, north_section, other_location, office, academy_admin
    ):
        transfer = approved(student, other_location, office, academy_admin)
        transfers.transfer_apply(transfer=transfer, actor=academy_admin, moves={billed.pk: north_section})
        assert not Adjustment.objects.exists()
        assert Enrollment.objects.active().get(student=student).sessions_remaining == 8


# --- reads and the database's own guarantees --------------------------------------------------


class TestScope:
    def test_staff_see_the_transfers_from_or_to_their_locations(
        self, student, other_location, office, other_office, academy_admin
    ):
        west = LocationFactory(code="WEST")
        to_north = request(student, other_location, office)
        to_west = request(StudentFactory(location=student.location), west, office)
        west_office = staff_user(username="office-west", locations=[west])
        assert set(transfer_list(user=office)) == {to_north, to_west}
        assert set(transfer_list(user=other_office)) == {to_north}
        assert set(transfer_list(user=west_office)) == {to_west}
        assert set(transfer_list(user=academy_admin)) == {to_north, to_west}

    def test_parents_see_none(self, family, other_location, office):
        guardian, children = family
        request(children[0], other_location, office)
        assert not transfer_list(user=guardian.portal_user).exists()

    def test_the_impact_selector_costs_a_fixed_number_of_queries(
        self, student, section, make_section, django_assert_max_num_queries
    ):
        for _ in range(4):
            EnrollmentFactory(student=student, section=make_section(capacity=5))
        with django_assert_max_num_queries(3):
            impact = transfer_impact(student=student, from_location=student.location, effective_date=EFFECTIVE)
        assert impact.affected_enrollments == 4


class TestConstraints:
    def base(self, student, office, **kwargs):
        values = {
            "transfer_number": "TRF-2025-9999",
            "student": student,
            "from_location": student.location,
            "to_location": LocationFactory(code="WEST"),
            "reason": "Test",
            "effective_date": EFFECTIVE,
            "requested_by": office,
            "requested_at": timezone.now(),
        }
        return values | kwargs

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param(lambda s, o, a: {"to_location": s.location}, id="same-location"),
            pytest.param(lambda s, o, a: {"status": "lost"}, id="status"),
            pytest.param(lambda s, o, a: {"transfer_type": "sideways"}, id="type"),
            pytest.param(lambda s, o, a: {"reason": ""}, id="reason"),
            pytest.param(
                lambda s, o, a: {"status": "approved", "approved_by": o, "approved_at": timezone.now()},
                id="approver-is-requester",
            ),
            pytest.param(lambda s, o, a: {"status": "approved"}, id="approved-without-approver"),
            pytest.param(
                lambda s, o, a: {"status": "applied", "approved_by": a, "approved_at": timezone.now()},
                id="applied-without-time",
            ),
            pytest.param(lambda s, o, a: {"status": "rejected"}, id="rejected-without-time"),
            pytest.param(lambda s, o, a: {"transfer_type": "temporary"}, id="temporary-without-end"),
            pytest.param(lambda s, o, a: {"end_date": datetime.date(2025, 9, 1)}, id="end-before-effective"),
            pytest.param(
                lambda s, o, a: {"approved_by": a, "approved_at": timezone.now() - datetime.timedelta(days=2)},
                id="approved-before-requested",
            ),
        ],
    )
    def test_the_database_refuses(self, student, office, academy_admin, changes):
        with pytest.raises(IntegrityError), transaction.atomic():
            LocationTransfer.objects.create(**self.base(student, office, **changes(student, office, academy_admin)))

    def test_one_open_transfer_per_student_in_the_database(self, student, office):
        LocationTransfer.objects.create(**self.base(student, office))
        with pytest.raises(IntegrityError), transaction.atomic():
            LocationTransfer.objects.create(**self.base(student, office, transfer_number="TRF-2025-9998"))
        LocationTransfer.objects.create(
            **self.base(student, office, transfer_number="TRF-2025-9997", status="rejected", rejected_at=timezone.now())
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_applies_run_once():
    """Two threads apply the same approved transfer at once: the row lock lets one in; the
    other waits, then finds it applied (409 invalid_status_change)."""
    main, north = LocationFactory(code="MAIN"), LocationFactory(code="NORTH")
    office, admin = staff_user(username="office"), staff_user(username="approver")
    student = StudentFactory(location=main)
    section = SectionFactory(location=main, term=TermFactory(academic_year=AcademicYearFactory(), name="Autumn"))
    enrollment = EnrollmentFactory(student=student, section=section)
    transfer = transfers.transfer_request(
        student=student,
        to_location=north,
        transfer_type="standard",
        reason="Moved",
        effective_date=EFFECTIVE,
        actor=office,
    )
    transfers.transfer_approve(transfer=transfer, actor=admin)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def apply() -> None:
        try:
            barrier.wait(timeout=30)
            try:
                transfers.transfer_apply(transfer=transfer, actor=admin)
                outcome = "applied"
            except Conflict as conflict:
                outcome = conflict.code
            with lock:
                outcomes.append(outcome)
        except BaseException as error:
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(outcomes) == ["applied", "invalid_status_change"]
    enrollment.refresh_from_db()
    assert enrollment.status == "withdrawn"
    assert Enrollment.history.filter(id=enrollment.pk, status="withdrawn").count() == 1
    assert Student.objects.get(pk=student.pk).history.filter(location_id=north.pk).count() == 1
