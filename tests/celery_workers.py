"""A real Celery worker process for the tests that kill one mid-job (billing runs,
promotion): ``broker.start()`` starts a worker on a Redis queue of the test's own, over
the test database (PostgreSQL); ``wait_for`` polls with a deadline and reports a dead
worker's log; ``sessions_blocked_by`` and ``session_exists`` watch PostgreSQL sessions
(a worker waiting on a lock the test holds, then gone once killed)."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from academy import celery_app

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The test database, as a worker process started from a test connects to it."""
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


WAIT = 120  # seconds any one wait may take before the test fails (a hung worker, not a slow one)

# A worker of its own queue (and queueing there any task it sends itself; under the test
# settings it runs the notices in-process), so a worker another test starts at the same
# time (pytest-xdist, one Redis) never takes this test's tasks, nor this one theirs.
WORKER = """
import sys
from academy import celery_app
celery_app.conf.task_default_queue = sys.argv[1]
celery_app.worker_main([
    "worker", "--queues", sys.argv[1], "--pool=solo", "--concurrency=1", "--loglevel=WARNING",
    "--without-gossip", "--without-mingle", "--without-heartbeat",
])
"""


class Worker:
    """A Celery worker process consuming ``queue``; its output goes to ``log``."""

    def __init__(self, queue: str, log):
        env = {**os.environ, "DATABASE_URL": database_url(), "HTTPS": "0", "DJANGO_SETTINGS_MODULE": "tests.settings"}
        self.log = log
        self.output = open(log, "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, queue], cwd=ROOT, env=env, stdout=self.output, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        with open(self.log, "rb") as log:
            return log.read()[-3000:].decode(errors="replace")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT)
        self.output.close()

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


@pytest.fixture
def broker(transactional_db, tmp_path):
    """``broker.start()``: a worker on a Redis queue of this test's own, and from then on
    the tasks this process queues go there instead of running in-process. Every worker
    is stopped and the queue removed afterwards."""
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("the worker process must share the test database (PostgreSQL) and a broker (Redis)")
    queue = f"kill-{uuid.uuid4().hex[:12]}"
    started: list[Worker] = []

    class Broker:
        def start(self) -> Worker:
            """A worker on the queue; from now on this process queues tasks to it."""
            celery_app.conf.task_always_eager = False
            celery_app.conf.task_default_queue = queue
            worker = Worker(queue, tmp_path / f"worker-{len(started) + 1}.log")
            started.append(worker)
            return worker

    default_queue = celery_app.conf.task_default_queue
    yield Broker()
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_default_queue = default_queue
    for worker in started:
        worker.stop()
    forget_queue(queue)


def forget_queue(queue: str) -> None:
    """Remove what the broker keeps of this test's queue: its list, its bindings, and the
    killed worker's unacknowledged task (redelivered to nobody once its visibility timeout
    passed). The names hold the queue's own random name, so nothing else is touched."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        names = [name for name in client.scan_iter(match=f"*{queue}*") if queue.encode() in name]
        if names:
            client.delete(*names)
        for tag, payload in client.hgetall("unacked").items():
            _message, exchange, routing_key = json.loads(payload)
            if queue in (exchange, routing_key):
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def wait_for(what: str, probe, *workers: Worker, interval: float = 0.01):
    """Poll ``probe`` until it answers something true; fail when a worker died or after WAIT s."""
    deadline = time.monotonic() + WAIT
    while True:
        value = probe()
        if value:
            return value
        for worker in workers:
            assert worker.alive(), f"the worker stopped while waiting for {what}:\n{worker.tail()}"
        if time.monotonic() > deadline:
            logs = "\n".join(worker.tail() for worker in workers)
            raise AssertionError(f"no {what} after {WAIT} s\n{logs}")
        time.sleep(interval)


def sessions_blocked_by(pid: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid))",
            [pid],
        )
        return [row[0] for row in cursor.fetchall()]


def session_exists(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None
