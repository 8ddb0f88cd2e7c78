"""Money is Decimal with two places, one currency per installation."""

import re
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

CENT = Decimal("0.01")


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_format(value) -> str:
    return f"{settings.CURRENCY} {money(value):,.2f}"


# --- money typed in: plain decimals only -------------------------------------------------
#
# "1e3", "NaN", "Infinity", "1,000" and "10.001" are all numbers Python's Decimal (or a
# browser) would take, and each has been recorded as money somewhere. Every money
# input (staff and portal forms, the admin, the API) parses through ``money_parse``:
# digits, at most one decimal point and two decimal places, an optional leading minus.

MONEY_MAX_DIGITS = 12
MONEY_DECIMAL_PLACES = 2
_PLAIN_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_NOT_A_NUMBER = re.compile(r"[+-]?(?:s?nan|inf|infinity)", re.IGNORECASE)
_EXPONENT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)e[+-]?\d+", re.IGNORECASE)
_SEPARATORS = re.compile(r"\d[,'_\s\u00a0\u2009\u202f]+\d")

MONEY_MESSAGES = {
    "invalid": "Enter an amount such as 150.00.",
    "not_a_number": "Enter an amount in figures, such as 150.00.",
    "exponent": "Write the amount out in full, such as 1000.00: exponent notation (1e3) is not accepted.",
    "thousands_separator": (
        "Enter the amount without thousands separators or spaces, such as 1000.00 (a point before the cents)."
    ),
    "decimal_places": "Use at most {places} decimal places.",
    "max_digits": "The amount is too large: at most {digits} digits before the decimal point.",
    "float": 'Send the amount as a string such as "150.00" (a JSON number may not keep its exact value).',
}


def _money_error(code: str, **params) -> ValidationError:
    return ValidationError(MONEY_MESSAGES[code].format(**params), code=code)


def money_parse(value, *, max_digits: int = MONEY_MAX_DIGITS, decimal_places: int = MONEY_DECIMAL_PLACES) -> Decimal:
    """Money as typed (text, an int or a Decimal) -> ``Decimal``; a ``ValidationError``
    with a message saying what to type instead (codes ``invalid``, ``not_a_number``,
    ``exponent``, ``thousands_separator``, ``decimal_places``, ``max_digits``, ``float``).
    The value keeps the places it was typed with (``"1000.5"`` -> ``Decimal("1000.5")``)."""
    if isinstance(value, bool):
        raise _money_error("invalid")
    if isinstance(value, float):
        raise _money_error("float")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal | str):
        text = str(value).strip()
    else:
        raise _money_error("invalid")
    if _PLAIN_DECIMAL.fullmatch(text) is None:
        if _NOT_A_NUMBER.fullmatch(text):
            raise _money_error("not_a_number")
        if _EXPONENT.fullmatch(text):
            raise _money_error("exponent")
        if _SEPARATORS.search(text):
            raise _money_error("thousands_separator")
        raise _money_error("invalid")
    whole, _point, fraction = text.lstrip("-").partition(".")
    if len(fraction) > decimal_places:
        raise _money_error("decimal_places", places=decimal_places)
    if len(whole.lstrip("0")) > max_digits - decimal_places:
        raise _money_error("max_digits", digits=max_digits - decimal_places)
    return Decimal(text)


class MoneyFormField(forms.DecimalField):
    """The one money input of every Django form (staff, portal, admin): plain decimals
    only (``money_parse``), shown as a text box with the decimal keypad on phones
    (a ``type=number`` box would take "1e3" itself)."""

    widget = forms.TextInput

    def __init__(self, *, max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs):
        kwargs.pop("localize", None)  # always the plain form: a point before the cents
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        return money_parse(value, max_digits=self.max_digits, decimal_places=self.decimal_places)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.setdefault("inputmode", "decimal")
        attrs.setdefault("autocomplete", "off")
        return attrs


class MoneyModelField(models.DecimalField):
    """A money column: a ``DecimalField`` whose form field (admin, model forms) is
    ``MoneyFormField``. Migrations see a plain ``DecimalField``."""

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": MoneyFormField, **kwargs})

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs
