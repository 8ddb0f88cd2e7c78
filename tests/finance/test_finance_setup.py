"""Finance's part of seeding and verify_install."""

from io import StringIO

import pytest
from django.core.management import call_command

from finance.install_checks import REFERENCE_FEE_TYPES, check_append_only, check_fee_types, check_ledger
from finance.models import FeeStructure, FeeType, Invoice, Payment
from finance.seeds import seed_fee_types

pytestmark = pytest.mark.django_db


def test_prod_seed_loads_fee_types_but_never_money():
    call_command("seed", env="prod", stdout=StringIO())
    assert set(FeeType.objects.values_list("code", flat=True)) >= {"TUITION", "LATE_FEE"}
    assert not FeeStructure.objects.exists()
    assert not Invoice.objects.exists() and not Payment.objects.exists()


def test_fee_types_seed_is_idempotent():
    seed_fee_types("prod", lambda message: None)
    seed_fee_types("prod", lambda message: None)
    assert FeeType.objects.count() == len(REFERENCE_FEE_TYPES)


def test_install_checks_pass_on_a_migrated_database_and_fail_without_fee_types():
    assert check_append_only()[0]
    assert check_ledger()[0]
    ok, message = check_fee_types()
    assert not ok and "TUITION" in message
    seed_fee_types("prod", lambda message: None)
    assert check_fee_types()[0]
