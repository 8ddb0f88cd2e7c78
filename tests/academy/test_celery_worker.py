"""A real Celery worker process against Redis and the test database (CI runs it on PostgreSQL)."""

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from academy import celery_app
from academy.tasks import health_check
from tests.celery_workers import ROOT
from tests.celery_workers import database_url as _database_url
from tests.factories.academy import LocationFactory


@pytest.fixture
def worker(transactional_db):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("the worker process must share the test database (PostgreSQL) and a broker (Redis)")
    celery_app.conf.task_always_eager = False
    env = {**os.environ, "DATABASE_URL": _database_url(), "HTTPS": "0", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "academy",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process
    celery_app.conf.task_always_eager = True
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.celery_worker
@pytest.mark.postgres
def test_a_worker_process_runs_a_task_against_the_database(worker):
    # given two committed locations and a worker consuming from Redis
    LocationFactory(code="A1")
    LocationFactory(code="B1")
    # when a task is queued through the broker
    started = time.monotonic()
    result = health_check.delay()
    # then the worker answers with what it read from the same database
    answer = result.get(timeout=60)
    assert answer == {"database": "postgresql", "locations": 2}
    assert time.monotonic() - started < 60


def test_tasks_run_in_process_when_no_broker_is_configured(db):
    # The embedded default (no REDIS_URL) and the test suite run tasks eagerly.
    assert celery_app.conf.task_always_eager
    LocationFactory(code="C1")
    assert health_check.delay().get() == {"database": connection.vendor, "locations": 1}
