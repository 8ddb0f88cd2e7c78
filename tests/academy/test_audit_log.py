import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
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


def _old_entry(summary: str, days: int) -> None:
    """An audit row written ``days`` ago (the log refuses a changed date: inserted so)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO academy_auditlog (created_at, actor_username, interface, method, path, view_name, "
            "status_code, summary, request_data) VALUES (%s, '', 'api', 'POST', '/x', '', 201, %s, '{}')",
            [timezone.now() - timedelta(days=days), summary],
        )


def test_audit_prune_deletes_only_rows_past_retention(capsys):
    _old_entry("old", 8 * 365)
    _old_entry("last month", 40)
    AuditLog.objects.create(interface="api", method="POST", path="/y", status_code=201, summary="recent")
    call_command("audit_prune", "--dry-run")
    assert "would delete 1" in capsys.readouterr().out
    assert AuditLog.objects.count() == 3
    call_command("audit_prune")
    assert sorted(AuditLog.objects.values_list("summary", flat=True)) == ["last month", "recent"]
    call_command("audit_prune", "--older-than", "30")
    assert list(AuditLog.objects.values_list("summary", flat=True)) == ["recent"]


def test_audit_prune_never_deletes_rows_younger_than_the_floor():
    AuditLog.objects.create(interface="api", method="POST", path="/y", status_code=201, summary="recent")
    with pytest.raises(CommandError, match="at least 30 days"):
        call_command("audit_prune", "--older-than", "0")
    assert AuditLog.objects.count() == 1


def test_the_database_refuses_to_change_an_audit_row():
    entry = AuditLog.objects.create(interface="api", method="POST", path="/y", status_code=201, summary="recent")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).update(summary="nothing happened")
    assert AuditLog.objects.get(pk=entry.pk).summary == "recent"


@pytest.mark.postgres
def test_the_database_refuses_to_delete_a_young_audit_row_or_truncate_the_log():
    from django.db import connection

    entry = AuditLog.objects.create(interface="api", method="POST", path="/y", status_code=201, summary="recent")
    with pytest.raises(DatabaseError, match="keeps every row"), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="TRUNCATE"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL academy.allow_truncate = off")
        cursor.execute("TRUNCATE academy_auditlog")
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_deleting_a_user_keeps_their_audit_rows_with_the_username(client):
    clerk = staff_user(username="gone-clerk")
    entry = AuditLog.objects.create(
        actor=clerk,
        actor_username="gone-clerk",
        interface="staff",
        method="POST",
        path="/y",
        status_code=200,
        summary="s",
    )
    clerk.delete()
    entry = AuditLog.objects.get(pk=entry.pk)
    assert entry.actor_id is None and entry.actor_username == "gone-clerk"


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
