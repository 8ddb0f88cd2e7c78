"""The public verification page of issued documents (``/verify/<token>/``, no login):
genuine, expired or invalid, from the register (``grading.documents.document_verify``).

It shows what the document states and its digest, nothing else: no link to any other
record, no id. ``Accept: application/json`` gets the same answer as JSON. Each client
(by a hash of its address) may ask ``VERIFY_RATE`` times a minute, then gets 429; every
visit is logged (``DocumentVisit``)."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from academy.common.clients import client_address
from grading.documents import Verification, document_verify, token_hours
from grading.models import DocumentVisit

WINDOW_SECONDS = 60


def verify_rate() -> int:
    return int(getattr(settings, "VERIFY_RATE", 30))


def client_key(request: HttpRequest) -> str:
    """A hash of the client's address (and the secret key): the log never holds the address."""
    address = client_address(request)
    return hashlib.sha256(f"{settings.SECRET_KEY}:{address}".encode()).hexdigest()


def over_rate(client: str) -> bool:
    """Count this visit of ``client`` in the current minute; true past ``VERIFY_RATE``."""
    key = f"verify-rate:{client}"
    if cache.add(key, 1, timeout=WINDOW_SECONDS):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, timeout=WINDOW_SECONDS)
        return False
    return count > verify_rate()


def verification_data(verification: Verification) -> dict:
    """The answer as data: for a genuine document, what it states and its digest."""
    data: dict = {"status": verification.outcome}
    document = verification.document
    if verification.outcome == "expired":
        data["expired_at"] = verification.expires_at.isoformat()
        data["detail"] = (
            f"Verification links are valid for {token_hours()} hours after issue. "
            "Ask the holder to request a new copy of the document from the academy's office."
        )
    elif verification.genuine:
        data.update(
            document_type=document.get_type_display(),
            issued_on=document.content.get("issued_on"),
            valid_until=verification.expires_at.isoformat(),
            digest=document.digest,
            content=document.content,
        )
    else:
        data["detail"] = "This link does not name a document the academy issued, or it was altered."
    return data


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


@never_cache
@require_GET
def verify(request: HttpRequest, token: str) -> HttpResponse:
    client = client_key(request)
    if over_rate(client):
        DocumentVisit.objects.create(outcome=DocumentVisit.Outcome.LIMITED, client=client)
        message = "Too many checks from this address: wait a minute and try again."
        if _wants_json(request):
            response = JsonResponse({"status": "limited", "detail": message}, status=429)
        else:
            response = render(request, "grading/verify.html", {"limited": True, "message": message}, status=429)
        response["Retry-After"] = str(WINDOW_SECONDS)
        return response
    verification = document_verify(token)
    DocumentVisit.objects.create(outcome=verification.outcome, document=verification.document, client=client)
    data = verification_data(verification)
    if _wants_json(request):
        return JsonResponse(data, status=200 if verification.outcome != "invalid" else 404)
    return render(
        request,
        "grading/verify.html",
        {"verification": verification, "data": data, "content": data.get("content")},
        status=200 if verification.outcome != "invalid" else 404,
    )
