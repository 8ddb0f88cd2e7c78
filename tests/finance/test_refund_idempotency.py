"""A refund's idempotency key is the refund service's (as a payment's is the payment
service's): the same key and refund answer the first refund and refund nothing more;
the same key with another refund is a 409; a refused refund leaves the key free."""

from decimal import Decimal as D

import pytest

from academy.common.exceptions import Conflict
from academy.common.models import IdempotencyRecord
from finance import services
from finance.models import Refund
from finance.services.ledger import credit_available
from tests.finance.api_fixtures import share_money

share_money(globals())

pytestmark = pytest.mark.django_db


@pytest.fixture
def credit(money):
    """The child pays 150.00 on 110.00 owed: 40.00 of account credit."""
    services.payment_record(
        actor=money.users["finance"], student=money.child, amount="150.00", method="cash", confirm_overpayment=True
    )
    return money


def _refund(money, amount="15.00", **extra):
    return services.refund_record(
        student=money.child, amount=amount, method="cash", reason="Moved", actor=money.users["finance"], **extra
    )


def test_the_same_key_refunds_once(credit):
    first = _refund(credit, idempotency_key="form-1")
    again = _refund(credit, idempotency_key="form-1")
    assert first.created and not again.created
    assert again.refund == first.refund
    assert Refund.objects.count() == 1 and credit_available(credit.child.pk) == D("25.00")


def test_the_same_key_with_another_refund_is_a_conflict(credit):
    _refund(credit, idempotency_key="form-1")
    with pytest.raises(Conflict) as conflict:
        _refund(credit, amount="16.00", idempotency_key="form-1")
    assert conflict.value.code == "idempotency_key_reused"
    assert Refund.objects.count() == 1


def test_a_refused_refund_leaves_the_key_unclaimed(credit):
    with pytest.raises(Conflict):
        _refund(credit, amount="40.01", idempotency_key="form-2")  # more than the credit
    assert not IdempotencyRecord.objects.filter(key="form-2").exists()
    assert _refund(credit, amount="40.00", idempotency_key="form-2").created


def test_without_a_key_every_call_refunds(credit):
    _refund(credit)
    _refund(credit)
    assert Refund.objects.count() == 2 and credit_available(credit.child.pk) == D("10.00")
