"""Errors a service raises, and the one API exception handler that maps them (docs/api.md).

- ``django.core.exceptions.ValidationError`` -> 400 with ``{field: [messages]}``
- ``Conflict`` (a valid request the current state forbids) -> 409 ``{detail, code}``
- ``IntegrityError`` that slipped past a service -> 409 ``integrity_error``, never a 500
- ``ProtectedError`` (a row others still refer to) -> 409 ``protected``
- ``DataError`` (a value the column cannot hold) -> 400
- ``Http404`` / ``ObjectDoesNotExist`` -> 404
- a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` -> 413 ``{detail, code: "request_too_large"}``
- every 400 has one shape, ``{field: [messages]}``: a body that is not JSON (DRF's
  ``ParseError``), an error without a field and nested errors are put in it
  (``non_field_errors``, dotted keys)
"""

from django.conf import settings
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ObjectDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler


class Conflict(Exception):
    """The request is well formed but the current state of the data forbids it."""

    def __init__(self, detail: str, code: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.extra = extra  # more to say, by name (the amount of a finance hold)


class ConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The current state forbids this request."
    default_code = "conflict"


def too_large_body() -> dict[str, str]:
    """The 413 of a request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return {
        "detail": f"The request body is larger than the {limit // 1024} KiB the API accepts.",
        "code": "request_too_large",
    }


def validation_error_dict(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): [str(m) for m in messages]
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": [str(m) for m in error.messages]}


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = DRFValidationError(detail=validation_error_dict(exc))
    elif isinstance(exc, Conflict):
        return Response({**exc.extra, "detail": exc.detail, "code": exc.code}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, IntegrityError):
        return Response(
            {"detail": "The change conflicts with existing data.", "code": "integrity_error"},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, ProtectedError):
        return Response(
            {"detail": "Other records still refer to this one.", "code": "protected"},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, DataError):
        exc = DRFValidationError(detail={"non_field_errors": ["A value is too long or out of range."]})
    elif isinstance(exc, ObjectDoesNotExist):
        exc = Http404()
    elif isinstance(exc, RequestDataTooBig):
        return Response(too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = DRFValidationError(detail={"non_field_errors": [str(exc)]})
    elif isinstance(exc, ParseError):
        exc = DRFValidationError(detail={"non_field_errors": [str(exc.detail)]})
    response = exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_400_BAD_REQUEST:
        response.data = field_errors(response.data)
    return response


def field_errors(data) -> dict[str, list[str]]:
    """Any 400 body as ``{field: [messages]}``: a bare list or message under
    ``non_field_errors``, nested errors with dotted keys (``lines[0].amount``)."""
    if isinstance(data, dict) and all(
        isinstance(messages, list) and all(isinstance(message, str) for message in messages)
        for messages in data.values()
    ):
        return data
    from academy.api import flatten_errors  # the API kit builds on this module

    return flatten_errors(data)


# --- Django's error views: JSON under /api/ ---------------------------------------------
# Errors raised before a DRF view runs (a path that matches no URL, an id that is not a
# UUID, a body too large for the middleware that reads it, a crash) answer the API's JSON
# error shape under /api/ and the site's HTML pages elsewhere (academy.config.urls).


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception, template_name="400.html"):
    if not _is_api(request):
        return defaults.bad_request(request, exception, template_name)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return JsonResponse({"non_field_errors": ["The request is not valid."]}, status=status.HTTP_400_BAD_REQUEST)


def page_not_found(request, exception, template_name="404.html"):
    if not _is_api(request):
        return defaults.page_not_found(request, exception, template_name)
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


def server_error(request, template_name="500.html"):
    if not _is_api(request):
        return defaults.server_error(request, template_name)
    return JsonResponse({"detail": "Server error: it has been logged."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
