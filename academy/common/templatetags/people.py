"""People on every staff page and document (``{% load people %}``):
``{{ payment.collected_by|person }}`` shows the
user's full name ("Frank Chen"), their username only when they have no name, and
``default`` (an em dash unless given) when there is nobody:
``{{ adjustment.requested_by|person:"System" }}``."""

from django import template

register = template.Library()


@register.filter(name="person")
def person(user, default: str = "—") -> str:
    if user is None or user == "":
        return default
    full_name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full_name or (user.get_username() if hasattr(user, "get_username") else str(user))
