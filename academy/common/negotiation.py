"""The API's content negotiation (the ``DEFAULT_CONTENT_NEGOTIATION_CLASS``).

Its own module, not ``academy.api``: DRF reads the setting while ``rest_framework.views``
is imported, which ``academy.api`` itself imports.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with an unknown ``?format=`` a 400 on ``format`` (DRF answers
    404 "Not found."). A view that builds files itself names them in ``file_formats``
    (``("csv",)``; else ``default_file_formats``): for those the renderer stays JSON (for
    its errors and JSON answers)."""

    default_file_formats: tuple[str, ...] = ()

    def select_renderer(self, request, renderers, format_suffix=None):
        requested = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if requested:
            view = (getattr(request, "parser_context", None) or {}).get("view")
            file_formats = tuple(getattr(view, "file_formats", self.default_file_formats))
            if requested in file_formats:
                return renderers[0], renderers[0].media_type
            known = [renderer.format for renderer in renderers]
            if requested not in known:
                offered = ", ".join(dict.fromkeys(["json", *file_formats]))
                raise ValidationError({"format": [f"Unknown format {requested!r}: use {offered}."]})
        return super().select_renderer(request, renderers, format_suffix)
