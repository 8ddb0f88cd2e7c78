"""``GET /health/`` for load balancers: anonymous, no cookies, only ok/failing per check."""

import datetime
import os
import time

import pytest
from django.db import DatabaseError
from django.utils import timezone

from academy.config import health
from notifications.models import Delivery, Notification

CHECK_NAMES = {"database", "cache", "broker", "deliveries", "backup"}


@pytest.fixture
def backup_dir(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    return tmp_path


def backup_file(folder, hours_old: float):
    path = folder / "academy-postgresql-20260101T023000Z.dump"
    path.write_bytes(b"backup")
    stamp = time.time() - hours_old * 3600
    os.utime(path, (stamp, stamp))
    return path


@pytest.mark.django_db
def test_anonymous_get_answers_ok_with_only_the_checks(client, backup_dir):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"status", "checks"}
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECK_NAMES
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"] == "ok"
    assert body["checks"]["broker"] in {"ok", "not configured"}
    assert body["checks"]["deliveries"] == "ok"
    assert body["checks"]["backup"] == "none"
    assert response.cookies == {} and client.cookies == {}  # no session, no CSRF cookie


@pytest.mark.django_db
def test_a_load_balancer_over_plain_http_by_ip_address_is_answered(client, settings, backup_dir):
    """Production settings: https redirect on, a Host header not in ALLOWED_HOSTS."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["academy.example.org"]
    response = client.get("/health/", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert client.get("/staff/", HTTP_HOST="10.0.0.7:8000").status_code == 400  # the rest still checks
    assert client.head("/health/", HTTP_HOST="10.0.0.7").status_code == 200


@pytest.mark.django_db
def test_writes_are_refused(client, backup_dir):
    assert client.post("/health/").status_code == 405


@pytest.mark.django_db
def test_a_failing_essential_check_answers_503_without_its_error(client, monkeypatch, backup_dir):
    def broken_database():
        raise DatabaseError("could not connect to server at db-primary.internal (10.1.2.3) as academy")

    monkeypatch.setitem(health.CHECKS, "database", health.Check(broken_database, essential=True))
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "status": "failing",
        "checks": {**body["checks"], "database": "failing"},
    }
    assert set(body["checks"]) == CHECK_NAMES
    assert b"db-primary" not in response.content and b"10.1.2.3" not in response.content


@pytest.mark.django_db
def test_a_failing_check_that_is_not_essential_keeps_200(client, monkeypatch, backup_dir):
    def broken_backup_folder():
        raise PermissionError(f"{backup_dir} is not readable")

    monkeypatch.setitem(health.CHECKS, "backup", health.Check(broken_backup_folder, essential=False))
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"]["backup"] == "failing"
    assert str(backup_dir).encode() not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(("hours_old", "state"), [(1, "ok"), (25.5, "ok"), (27, "stale"), (24 * 9, "stale")])
def test_backup_age(client, backup_dir, hours_old, state):
    backup_file(backup_dir, hours_old)
    (backup_dir / "notes.txt").write_text("not a backup")
    assert client.get("/health/").json()["checks"]["backup"] == state


@pytest.mark.django_db
def test_backup_none_when_the_folder_has_no_backup(client, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "missing"
    assert client.get("/health/").json()["checks"]["backup"] == "none"
    (tmp_path / "missing").mkdir()
    (tmp_path / "missing" / ".academy-sqlite-20260101T023000Z.sqlite3.partial").write_bytes(b"half")
    assert client.get("/health/").json()["checks"]["backup"] == "none"


def _pending_deliveries(count: int, minutes_old: int) -> None:
    notification = Notification.objects.create(kind="test", title="Hello", message="Hello")
    created = Delivery.objects.bulk_create(
        Delivery(notification=notification, channel="email", address="a@example.org", dedupe_key=f"health-{i}")
        for i in range(count)
    )
    Delivery.objects.filter(pk__in=[d.pk for d in created]).update(
        created_at=timezone.now() - datetime.timedelta(minutes=minutes_old)
    )


@pytest.mark.django_db
def test_deliveries_backlog_is_reported_but_keeps_200(client, backup_dir):
    _pending_deliveries(health.DELIVERY_BACKLOG_COUNT, minutes_old=5)  # recent: normal
    assert client.get("/health/").json()["checks"]["deliveries"] == "ok"
    Delivery.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=health.DELIVERY_BACKLOG_MINUTES + 5))
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"]["deliveries"] == "backlog"


@pytest.mark.django_db
def test_a_fixed_small_number_of_queries(client, backup_dir, django_assert_max_num_queries):
    _pending_deliveries(3, minutes_old=120)
    with django_assert_max_num_queries(2):
        assert client.get("/health/").status_code == 200
