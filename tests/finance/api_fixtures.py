"""Fixtures of the finance API tests (made available by ``tests/finance/conftest.py``).

Actors: ``finance`` (the cashier, finance role, every location), ``approver`` (another
finance user), ``office`` (office staff of the main location), ``other_office`` (office
staff of the north location), ``admin``, ``parent`` (the guardian of ``children``),
``other_parent`` (another family's guardian, same location) and ``anonymous``.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from finance import services
from finance.models import (
    Adjustment,
    BillingRun,
    FeeStructure,
    FeeType,
    Invoice,
    LedgerEntry,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PaymentVerification,
)
from tests.factories.academy import instructor_user, roles_ensure
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory, issue
from tests.shared import share_per_module

V1 = "/api/v1"
ACTORS = ("finance", "office", "other_office", "admin", "instructor", "parent", "other_parent", "anonymous")
MONEY_MODELS = (
    FeeType,
    FeeStructure,
    Invoice,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PaymentVerification,
    Adjustment,
    BillingRun,
    LedgerEntry,
)


def money_rows() -> dict[str, int]:
    """Row counts of every finance table an API write may touch ("nothing written")."""
    return {model.__name__: model.objects.count() for model in MONEY_MODELS}


@pytest.fixture
def roles(db):
    """The role groups with their permissions, as ``migrate`` leaves them (see tests/api)."""
    roles_ensure()


@pytest.fixture
def client_for(roles):
    """``client_for(user)``: an API client sending ``user``'s token (``None``: anonymous)."""

    def make(user):
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def money(
    roles, location, other_location, office, other_office, academy_admin, family, other_family, cashier, approver
):
    """A small academy with money on it.

    - ``child`` (the parent's first child) has ``invoice`` (150.00) with 40.00 paid by
      ``payment`` and a requested 10.00 discount (``adjustment``);
    - ``other_child`` (another family, same location) has ``other_invoice`` (80.00);
    - ``north_child`` (north location) has ``north_invoice`` (60.00) and ``north_payment``.
    """
    guardian, children = family
    other_guardian, other_children = other_family
    north_child = StudentFactory(location=other_location)
    fee_type = FeeTypeFactory(code="TUITION")
    structure = FeeStructureFactory(location=location, fee_type=fee_type, amount=Decimal("150.00"))
    north_structure = FeeStructureFactory(location=other_location, fee_type=fee_type, amount=Decimal("120.00"))
    invoice = issue(children[0], "100.00", "50.00", actor=cashier)
    other_invoice = issue(other_children[0], "80.00", actor=cashier)
    north_invoice = issue(north_child, "60.00", actor=cashier)
    payment = services.payment_record(actor=cashier, student=children[0], amount="40.00", method="cash").payment
    north_payment = services.payment_record(actor=cashier, student=north_child, amount="10.00", method="cash").payment
    adjustment = services.adjustment_request(
        invoice=invoice, kind="discount", amount=Decimal("10.00"), reason="Sibling discount", actor=cashier
    )
    run = services.billing_run_start(location=location, period="2030-01", issue_date=invoice.issue_date, actor=cashier)
    # an instructor who teaches the child: they see the student, never the family's money
    teacher = instructor_user(username="teacher", locations=[location])
    EnrollmentFactory(student=children[0], section__instructor=teacher)
    return SimpleNamespace(
        location=location,
        other_location=other_location,
        guardian=guardian,
        children=children,
        child=children[0],
        other_guardian=other_guardian,
        other_child=other_children[0],
        north_child=north_child,
        fee_type=fee_type,
        structure=structure,
        north_structure=north_structure,
        invoice=invoice,
        other_invoice=other_invoice,
        north_invoice=north_invoice,
        payment=payment,
        north_payment=north_payment,
        adjustment=adjustment,
        run=run,
        users={
            "finance": cashier,
            "approver": approver,
            "office": office,
            "other_office": other_office,
            "admin": academy_admin,
            "instructor": teacher,
            "parent": guardian.portal_user,
            "other_parent": other_guardian.portal_user,
            "anonymous": None,
        },
    )


@pytest.fixture
def as_user(money, client_for):
    """``as_user("office")``: a client for one of the actors."""
    return lambda actor: client_for(money.users[actor])


def share_money(namespace: dict, *more) -> None:
    """Build ``money`` (and ``more``, fixtures built on it) once for the module whose
    ``globals()`` is ``namespace``, each test getting its own copy (``tests/shared.py``)."""
    from tests.conftest import two_campuses
    from tests.finance.conftest import approver, cashier

    share_per_module(
        namespace,
        roles,
        *two_campuses(),
        cashier,
        approver,
        money,
        *more,
    )
