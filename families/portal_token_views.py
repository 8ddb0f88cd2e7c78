"""The parent's own API token in the portal: the staff page's twin
(``academy.token_views``), behind the portal's guard."""

from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from academy.token_views import token_action, token_page_context
from families.portal_shell import parent_required, portal_render


@require_http_methods(["GET", "POST"])
@parent_required
def api_token(request):
    new_key = ""
    if request.method == "POST":
        new_key = token_action(request)
        if not new_key:
            return redirect("portal:api-token")
    context = {**token_page_context(request.user, new_key=new_key), "nav": "details"}
    return portal_render(request, "account/portal_api_token.html", context)
