"""Errors a service raises, and the one API exception handler that maps them (docs/api.md).

- ``django.core.exceptions.ValidationError`` -> 400 with ``{field: [messages]}``
- ``Conflict`` (a valid request the current state forbids) -> 409 ``{detail, code}``
- ``IntegrityError`` that slipped past a service -> 409 ``integrity_error``, never a 500
- ``ProtectedError`` (a row others still refer to) -> 409 ``protected``
- ``DataError`` (a value the column cannot hold) -> 400
- ``Http404`` / ``ObjectDoesNotExist`` -> 404
"""

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException
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
    return exception_handler(exc, context)
