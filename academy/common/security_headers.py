"""Content-Security-Policy and Permissions-Policy on every response.

The policy comes from the ``CONTENT_SECURITY_POLICY`` setting (directive -> sources) and
allows nothing from another origin: scripts, styles, images, fonts and requests come
from the site itself, no page may be framed, forms post only to the site. Pages carry no
inline script, inline style, ``style=`` or ``on*=`` attribute; behaviour lives in
``static/js/`` and looks in ``static/css/``.

A page that cannot avoid an inline ``<script>`` or ``<style>`` (the API docs' Swagger UI
start-up script, which holds the schema URL and the CSRF token; the code highlighting
rules of DRF's browsable API) gives it
``nonce="{{ request.csp_nonce }}"``. The nonce is made only when a template asks for it,
and only then does the header list it in ``script-src`` and ``style-src``.

``CONTENT_SECURITY_POLICY_REPORT_ONLY`` sends the policy as
``Content-Security-Policy-Report-Only`` (to try a change without breaking a page) and
``CONTENT_SECURITY_POLICY_REPORT_URI`` adds where browsers report violations.
``PERMISSIONS_POLICY`` (feature -> allowed origins, empty for none) switches off browser
features no page uses (camera, microphone, geolocation, payment, ...).
"""

import secrets

from django.conf import settings
from rest_framework.renderers import BrowsableAPIRenderer

# DRF's browsable API (an API URL opened in a browser) writes layout in ``style=``
# attributes (its templates float the format menu and the pagination). Allowing inline
# style *attributes* there, and nowhere else, keeps it laid out; scripts stay 'self' only,
# and a style attribute cannot load anything (img-src and font-src stay 'self').
BROWSABLE_API_POLICY = {"style-src-attr": ["'unsafe-inline'"]}

# Django's own error pages under DEBUG (the technical 404 and 500 pages: a failing URL or
# view while developing) are styled and scripted inline. With DEBUG on, and for those two
# statuses only, inline code may run there; never in production (DEBUG off).
DEBUG_ERROR_POLICY = {"script-src": ["'unsafe-inline'"], "style-src": ["'unsafe-inline'"]}


class CspNonce:
    """A per-request nonce made on first use (``str(nonce)``, ``{{ request.csp_nonce }}``)."""

    def __init__(self):
        self._value: str | None = None

    def __str__(self) -> str:
        if self._value is None:
            self._value = secrets.token_urlsafe(18)
        return self._value

    def __html__(self) -> str:  # safe in a template: base64url characters only
        return str(self)

    @property
    def used(self) -> bool:
        return self._value is not None


def content_security_policy(
    policy: dict[str, list[str]], *, nonce: str | None = None, report_uri: str = "", extra: dict | None = None
) -> str:
    """The header value: ``policy`` plus ``extra``'s sources, the nonce in the script and
    style directives when given, and ``report-uri`` when set."""
    directives = {name: list(sources) for name, sources in policy.items()}
    for name, sources in (extra or {}).items():
        directives.setdefault(name, [])
        directives[name] += [source for source in sources if source not in directives[name]]
    if nonce:
        for name in ("script-src", "style-src"):
            if name in directives:
                directives[name].append(f"'nonce-{nonce}'")
    if report_uri:
        directives["report-uri"] = [report_uri]
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def permissions_policy(features: dict[str, list[str]]) -> str:
    """``camera=(), geolocation=(self)``: each feature with the origins allowed to use it."""
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in features.items())


class SecurityHeadersMiddleware:
    """Adds ``Content-Security-Policy`` (or its report-only twin) and
    ``Permissions-Policy`` to every response that does not set its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = CspNonce()
        response = self.get_response(request)
        header = (
            "Content-Security-Policy-Report-Only"
            if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False)
            else "Content-Security-Policy"
        )
        if header not in response:
            response[header] = content_security_policy(
                settings.CONTENT_SECURITY_POLICY,
                nonce=str(request.csp_nonce) if request.csp_nonce.used else None,
                report_uri=getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_URI", ""),
                extra=self._relaxation(response),
            )
        features = getattr(settings, "PERMISSIONS_POLICY", {})
        if features and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = permissions_policy(features)
        return response

    @staticmethod
    def _relaxation(response) -> dict | None:
        if isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer):
            return BROWSABLE_API_POLICY
        if settings.DEBUG and response.status_code in (404, 500):
            return DEBUG_ERROR_POLICY
        return None
