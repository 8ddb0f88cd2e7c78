import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from academy.common.audit import redact
from academy.common.idempotency import idempotency_claim
from academy.common.models import IdempotencyRecord
from academy.models import AuditLog
from tests.factories.academy import PASSWORD, staff_user

pytestmark = pytest.mark.django_db


def test_a_write_request_is_logged_with_secrets_removed(client):
    staff_user(username="clerk")
    client.post("/admin/login/", {"username": "clerk", "password": PASSWORD})
    entry = AuditLog.objects.get()
    assert entry.method == "POST" and entry.path == "/admin/login/" and entry.interface == "admin"
    assert entry.request_data["username"] == "clerk"
    assert entry.request_data["password"] == "[removed]"
    assert PASSWORD not in json.dumps(entry.request_data)


def test_json_bodies_are_redacted_recursively_and_the_actor_is_recorded(client):
    user = staff_user(username="clerk")
    client.force_login(user)
    body = {"name": "x", "nested": {"api_key": "abc", "items": [{"token": "t", "ok": 1}]}}
    response = client.post("/api/v1/no-such-thing/", body, content_type="application/json")
    entry = AuditLog.objects.get()
    assert entry.actor == user and entry.actor_username == "clerk"
    assert entry.status_code == response.status_code
    assert entry.request_data == {
        "name": "x",
        "nested": {"api_key": "[removed]", "items": [{"token": "[removed]", "ok": 1}]},
    }
    assert entry.interface == "api"


def test_reads_are_not_logged(client):
    client.get("/admin/login/")
    assert not AuditLog.objects.exists()


def test_redact_keeps_ordinary_values_and_truncates_long_ones():
    assert redact({"first_name": "Emma", "note": "x" * 600})["note"].endswith("…")
    assert redact({"Authorization": "Token abc"}) == {"Authorization": "[removed]"}


def test_audit_prune_deletes_only_rows_past_retention(capsys):
    old = AuditLog.objects.create(interface="api", method="POST", path="/x", status_code=201, summary="old")
    AuditLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8 * 365))
    AuditLog.objects.create(interface="api", method="POST", path="/y", status_code=201, summary="recent")
    call_command("audit_prune", "--dry-run")
    assert "would delete 1" in capsys.readouterr().out
    assert AuditLog.objects.count() == 2
    call_command("audit_prune")
    assert list(AuditLog.objects.values_list("summary", flat=True)) == ["recent"]
    call_command("audit_prune", "--older-than", "0")
    assert not AuditLog.objects.exists()


def test_audit_prune_deletes_idempotency_records_past_their_retention(capsys):
    user = staff_user()
    old = IdempotencyRecord.objects.create(user=user, scope="POST /x", key="old", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    IdempotencyRecord.objects.create(user=user, scope="POST /x", key="recent", fingerprint="f")
    call_command("audit_prune", "--dry-run")
    assert "would delete 1 Idempotency-Key records" in capsys.readouterr().out
    assert IdempotencyRecord.objects.count() == 2
    call_command("audit_prune")
    assert "deleted 1 Idempotency-Key records" in capsys.readouterr().out
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    # the pruned key is a new request again; the kept one still answers its first request
    with transaction.atomic():
        assert idempotency_claim(user=user, scope="POST /x", key="old", fingerprint="other") is None
        assert idempotency_claim(user=user, scope="POST /x", key="recent", fingerprint="f") is not None
