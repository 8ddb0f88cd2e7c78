"""A model's check constraints validate in one query (academy.common.constraints), with
the outcome of Django's own validation: the same errors in the same order, the same
constraints skipped for excluded fields, NULL passing."""

import copy
import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from finance import services
from finance.models import Invoice, Payment
from tests.factories.academy import finance_user
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db


def errors_of(validate, instance, exclude=None):
    try:
        validate(instance, exclude=exclude)
    except ValidationError as error:
        return error.message_dict
    return None


def djangos(instance, exclude=None):
    models.Model.validate_constraints(instance, exclude=exclude)


def ours(instance, exclude=None):
    instance.validate_constraints(exclude=exclude)


def broken_copies(instance):
    """The instance with one value at a time set to something a check may refuse."""
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        if isinstance(field, models.DecimalField | models.IntegerField):
            values = [Decimal("-1"), Decimal("1000000")] if isinstance(field, models.DecimalField) else [-1, 10**6]
        elif isinstance(field, models.DateField):
            values = [datetime.date(2000, 1, 1), datetime.date(2100, 1, 1)]
        elif field.choices:
            values = ["not-a-choice", *[choice for choice, _label in field.flatchoices]]
        elif isinstance(field, models.CharField):
            values = ["", "X"]
        else:
            continue
        if field.null:
            values.append(None)
        for value in values:
            changed = copy.copy(instance)
            setattr(changed, field.attname, value)
            yield field.name, changed


@pytest.fixture
def records(family):
    _guardian, children = family
    cashier = finance_user(username="cashier")
    invoice = issue(children[0], "100.00", "20.00", actor=cashier)
    payment = services.payment_record(actor=cashier, student=children[0], amount="30.00", method="cash").payment
    return [Invoice.objects.get(pk=invoice.pk), Payment.objects.get(pk=payment.pk)]


def test_the_errors_are_djangos_for_every_value_a_check_may_refuse(records):
    compared = refused = 0
    for record in records:
        assert errors_of(ours, record) is None
        for name, changed in broken_copies(record):
            expected = errors_of(djangos, changed)
            assert errors_of(ours, changed) == expected, (type(record).__name__, name, getattr(changed, name))
            # a check over an excluded field is skipped, as Django skips it
            assert errors_of(ours, changed, exclude={name}) == errors_of(djangos, changed, exclude={name})
            compared += 1
            refused += expected is not None
    # the comparison met refusals, not only values every check accepts
    assert compared > 40 and refused > 10


def test_an_invoices_checks_are_one_query(records):
    invoice = records[0]
    checks = sum(isinstance(c, models.CheckConstraint) for c in Invoice._meta.constraints)
    assert checks >= 5
    with CaptureQueriesContext(connection) as django_queries:
        djangos(invoice)
    with CaptureQueriesContext(connection) as our_queries:
        ours(invoice)
    # Django: a savepoint, a query and a release per constraint; here the checks share one
    assert len(django_queries) - len(our_queries) == 3 * (checks - 1)
