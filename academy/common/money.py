"""Money is Decimal with two places, one currency per installation."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

CENT = Decimal("0.01")


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_format(value) -> str:
    return f"{settings.CURRENCY} {money(value):,.2f}"
