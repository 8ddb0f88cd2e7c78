"""The development server (``make run``: ``manage.py runserver``) answers each request in
a thread of its own, so a connection kept open after the request (``CONN_MAX_AGE``) would
never be used again and stay open on PostgreSQL, one more per request: there every
request closes its connection. Other processes (gunicorn, Celery, commands) keep theirs
for ``CONN_MAX_AGE`` seconds (60 unless set)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_CONN_MAX_AGE = (
    "import django; from django.conf import settings; django.setup(); "
    "print(settings.DATABASES['default']['CONN_MAX_AGE'])"
)


def conn_max_age(command: str, **env: str) -> int:
    """CONN_MAX_AGE as the settings give it to ``manage.py <command>`` on PostgreSQL."""
    child_env = {key: value for key, value in os.environ.items() if key != "CONN_MAX_AGE"}
    child_env.update(
        DJANGO_SETTINGS_MODULE="academy.config.settings",
        DATABASE_URL="postgres://academy@db.invalid:5432/academy",  # parsed, never connected to
        DEBUG="1",
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-c", PRINT_CONN_MAX_AGE, command],  # sys.argv[1] is the command, as under manage.py
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("env", "expected"), [({}, 0), ({"CONN_MAX_AGE": "600"}, 0)])
def test_the_development_server_closes_each_requests_connection(env, expected):
    assert conn_max_age("runserver", **env) == expected


@pytest.mark.parametrize(("env", "expected"), [({}, 60), ({"CONN_MAX_AGE": "600"}, 600)])
def test_other_processes_keep_their_connection(env, expected):
    assert conn_max_age("migrate", **env) == expected
