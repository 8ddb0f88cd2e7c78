"""Settings for the test suite: the project's settings, served over plain http.

Everything else (DATABASE_URL, REDIS_URL) comes from the environment as usual, so
``make test`` runs on SQLite and ``DATABASE_URL=postgres://... make test`` on PostgreSQL.
"""

import os

os.environ.setdefault("HTTPS", "0")

from academy.config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Between transactional tests the suite's backend (tests/backends/postgresql) deletes the
# rows of the tables that have any; Django's TRUNCATE of every table remains its fallback,
# allowed for the append-only tables in this throw-away database only.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    DATABASES["default"]["ENGINE"] = "tests.backends.postgresql"  # noqa: F405
    _options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
    _options["options"] = f"{_options.get('options', '')} -c academy.allow_truncate=on".strip()

# Tasks run in-process in tests; tests marked celery_worker switch to the real broker.
CELERY_TASK_ALWAYS_EAGER = True
# ...and inline, not in a background thread (academy.common.background): a test sees the
# finished job; tests of the thread turn this on (tests/finance/test_billing_run_background.py).
BACKGROUND_TASKS_IN_THREAD = False

# A test makes many API calls a second as one user from one address: throttles are out of
# the way, except in the tests of them (tests/api/test_throttles.py sets its own rates).
API_THROTTLE_RATES = {"user": "1000000/min", "client": "1000000/min", "anon": "1000000/min"}
