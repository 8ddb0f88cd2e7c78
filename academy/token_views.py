"""A user's own API token, seen and managed in the staff portal (the parent portal has
the same page, ``families.portal_token_views``): when it was issued and when it
expires, rotate it (the new key is shown once, on the answer to the rotation) or revoke
it. Nobody sees or touches another user's token here."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from academy import services
from academy.views import staff_layout_context, staff_required


def token_page_context(user, *, new_key: str = "") -> dict:
    """What ``account/_api_token.html`` shows of ``user``'s token."""
    token = services.api_token_of(user=user)
    return {
        "token": token,
        "token_expires": services.api_token_expires(token) if token else None,
        "token_expired": services.api_token_expired(token) if token else False,
        "new_key": new_key,
        "token_days": settings.API_TOKEN_DAYS,
    }


def token_action(request) -> str:
    """Carry out the POSTed ``action`` (rotate or revoke) for the caller: the new key
    after a rotation, else ``""``."""
    action = request.POST.get("action")
    if action == "rotate":
        return services.api_token_rotate(user=request.user).key
    if action == "revoke":
        if services.api_token_revoke(user=request.user):
            messages.success(request, "Your API token was revoked: requests with it now answer 401.")
        else:
            messages.info(request, "You had no API token.")
    return ""


@require_http_methods(["GET", "POST"])
@staff_required
def api_token(request):
    new_key = ""
    if request.method == "POST":
        new_key = token_action(request)
        if not new_key:
            return redirect("staff:api-token")
    context = {**staff_layout_context(request), **token_page_context(request.user, new_key=new_key)}
    return render(request, "account/staff_api_token.html", context)
