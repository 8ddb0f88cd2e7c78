"""Money in templates: ``{{ amount|money }}`` shows "USD 1,234.50" (two decimals and the
installation's currency, ``settings.CURRENCY``)."""

from django import template

from academy.common.money import money_format

register = template.Library()


@register.filter(name="money")
def money_filter(value) -> str:
    if value is None or value == "":
        return ""
    return money_format(value)


@register.filter(name="money_abs")
def money_abs_filter(value) -> str:
    """The amount without its sign, for a label that already says "credit" or "due"."""
    if value is None or value == "":
        return ""
    return money_format(abs(value))
