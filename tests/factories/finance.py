from decimal import Decimal

import factory

from finance.models import FeeStructure, FeeType, FinancePolicy
from finance.services import LineSpec, invoice_issue


class FeeTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeeType
        django_get_or_create = ("code",)

    code = "TUITION"
    name = factory.LazyAttribute(lambda o: o.code.title())


class FeeStructureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeeStructure

    name = "Monthly tuition"
    location = factory.SubFactory("tests.factories.academy.LocationFactory")
    fee_type = factory.SubFactory(FeeTypeFactory)
    amount = Decimal("150.00")


class FinancePolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FinancePolicy
        django_get_or_create = ("location",)


def issue(student, *amounts, actor=None, **kwargs):
    """Issue an invoice for ``student`` with one tuition line per amount."""
    fee_type = FeeTypeFactory()
    return invoice_issue(
        student=student,
        actor=actor,
        lines=[
            LineSpec(description=f"Tuition {i + 1}", unit_amount=Decimal(a), fee_type=fee_type)
            for i, a in enumerate(amounts)
        ],
        **kwargs,
    )
