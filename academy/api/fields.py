"""Input fields the API shares.

``MoneyField`` is the one money input of every API serializer: a decimal string with at
most two places (``"150.00"``, ``"1000.5"``, ``"1000"``; a JSON integer is taken too).
Exponent notation (``"1e3"``), ``"NaN"``, ``"Infinity"``, thousands separators
(``"1,000"``), a third decimal place and JSON floats (``1000.5``, ``1e3``: the parsed
number no longer says how it was written) are 400 field errors saying what to send.
The rules are ``academy.common.money.money_parse``, the same as the staff forms'.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from academy.common.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, money_parse


class MoneyField(serializers.DecimalField):
    """A money input: plain decimals only (see the module docstring); answers a
    ``Decimal`` with two places."""

    def __init__(self, *, max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs):
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)

    def to_internal_value(self, data):
        try:
            value = money_parse(data, max_digits=self.max_digits, decimal_places=self.decimal_places)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages, code=error.code) from None
        return self.quantize(value)
