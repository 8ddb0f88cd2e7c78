from decimal import Decimal

import factory
from django.utils import timezone

from finance.models import FeeStructure, FeeType, FinancePolicy, SessionPackage
from finance.services import LineSpec, invoice_issue
from finance.services.packages import package_sell


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


class SessionPackageFactory(factory.django.DjangoModelFactory):
    """A package sold through ``package_sell`` (so it has its invoice). A past
    ``expires_on`` is set after the sale, as for a package bought long ago."""

    class Meta:
        model = SessionPackage

    student = factory.SubFactory("tests.factories.families.StudentFactory")
    sessions = 10
    price = Decimal("100.00")

    @classmethod
    def _create(cls, model_class, *, student, sessions, price, actor=None, expires_on=None, **kwargs):
        FeeTypeFactory()
        expired = expires_on is not None and expires_on < timezone.localdate()
        package = package_sell(
            student=student,
            sessions=sessions,
            price=price,
            actor=actor,
            expires_on=None if expired else expires_on,
            **kwargs,
        )
        if expired:
            model_class.objects.filter(pk=package.pk).update(expires_on=expires_on)
            package.refresh_from_db()
        return package
