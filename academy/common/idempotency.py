"""``Idempotency-Key`` for any write (docs/api.md): the same key with the same request answers
what the first request answered and writes nothing; the same key with another request
is a 409 ``idempotency_key_reused``.

The key is claimed by inserting an ``IdempotencyRecord`` in the write's own transaction:
a concurrent request with the same key waits on the unique index until the first one
commits (then replays its answer) or rolls back (then does the write itself). Payments
keep their own key on the payment row (``finance.services.payment_record``).
"""

import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from academy.common.exceptions import Conflict
from academy.common.models import IdempotencyRecord

KEY_MAX = 100
HEADER = "Idempotency-Key"


def request_fingerprint(data) -> str:
    """A digest of a request's data (payments store it beside their own key)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def idempotency_claim(*, user, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Claim ``key`` inside the caller's transaction. ``None``: claimed now, go on and
    write (then ``idempotency_answer``); a record: the key was used before with the same
    request, answer what it says. 409 ``idempotency_key_reused`` for another request."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("idempotency_claim must run inside the write's transaction")
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(user=user, scope=scope, key=key, fingerprint=fingerprint)
        return None
    except IntegrityError:
        earlier = IdempotencyRecord.objects.get(user=user, scope=scope, key=key)
    if earlier.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was used for a different request.", code="idempotency_key_reused")
    return earlier


def idempotency_answer(*, user, scope: str, key: str, status_code: int, body) -> None:
    """Store the answer of the write that claimed ``key`` (JSON-ready: UUIDs, decimals and
    dates as the API renders them)."""
    IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).update(
        status_code=status_code, body=json.loads(json.dumps(body, cls=JSONEncoder))
    )


def idempotency_prune(*, before, dry_run: bool = False) -> int:
    """Delete the key records written before ``before``; a key older than the retention
    period (``IDEMPOTENCY_RETENTION_DAYS``) may then be sent again as a new request.
    Payments keep their key on the payment row, which is never deleted."""
    old = IdempotencyRecord.objects.filter(created_at__lt=before)
    if dry_run:
        return old.count()
    deleted, _ = old.delete()
    return deleted


def idempotent(create):
    """Decorate an API view's ``create``: with an ``Idempotency-Key`` header the write and
    its record are one transaction, and a repeat answers the stored response (header
    ``Idempotent-Replayed: true``)."""

    @functools.wraps(create)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return create(self, request, *args, **kwargs)
        if len(key) > KEY_MAX:
            raise ValidationError({HEADER: [f"Use at most {KEY_MAX} characters."]})
        scope = f"{request.method} {request.path}"
        with transaction.atomic():
            earlier = idempotency_claim(
                user=request.user, scope=scope, key=key, fingerprint=request_fingerprint(request.data)
            )
            if earlier is not None:
                response = Response(earlier.body, status=earlier.status_code)
                response["Idempotent-Replayed"] = "true"
                return response
            response = create(self, request, *args, **kwargs)
            idempotency_answer(
                user=request.user, scope=scope, key=key, status_code=response.status_code, body=response.data
            )
        return response

    return wrapper
