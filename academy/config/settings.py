"""Settings for the academy project, read only from the environment (12-factor).

With nothing set, the project runs on SQLite under ``var/`` with Celery tasks run
eagerly in-process and a local-memory cache. ``DATABASE_URL`` and ``REDIS_URL``
switch to PostgreSQL and Redis. Production is ``DEBUG`` off with ``HTTPS`` on (the
default); it then requires ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# Behind TLS: secure cookies, HSTS and the redirect to https. On unless DEBUG.
HTTPS = env.bool("HTTPS", default=not DEBUG)
PRODUCTION = HTTPS and not DEBUG


def _secret_key() -> str:
    if "SECRET_KEY" in env:
        return env.str("SECRET_KEY")
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production (DEBUG off, HTTPS on).")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

# History keeps the whole reason a person gave (the forms allow 300 characters), not the
# first 100 of it: a text column, not simple-history's varchar(100).
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

if PRODUCTION and "ALLOWED_HOSTS" not in env:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production (DEBUG off, HTTPS on).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, not a CDN
    "simple_history",
    "django_htmx",
    # our apps, lowest layer first (see docs/rules.md, Layers)
    "academy.common",
    "academy",
    "notifications",
    "students",
    "families",
    "finance",
    "enrollment",
    "attendance",
    "grading",
    "promotion",
]

MIDDLEWARE = [
    # Content-Security-Policy and Permissions-Policy on every response (error pages included)
    "academy.common.security_headers.SecurityHeadersMiddleware",
    # /health/ for load balancers: answered before the https redirect, the host check,
    # sessions and CSRF (academy/config/health.py)
    "academy.config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "academy.login_limits.KnownClientMiddleware",
    "academy.common.middleware.StaffIdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "academy.common.audit.AuditLogMiddleware",
]

ROOT_URLCONF = "academy.config.urls"
WSGI_APPLICATION = "academy.config.wsgi.application"
ASGI_APPLICATION = "academy.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "academy.common.context_processors.academy",
            ],
        },
    },
]

# The development server (`make run`, any `manage.py runserver`) answers each request in a
# thread that ends with it: a connection kept open for later (CONN_MAX_AGE) is never used
# again and stays open on the server, one more per request, so there each request closes
# its own. Gunicorn and Celery processes keep theirs (one per process, or per thread).
RUNNING_DEV_SERVER = sys.argv[1:2] == ["runserver"]
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'academy.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once; WAL lets readers run beside it. With
    # WAL, synchronous=NORMAL syncs at checkpoints instead of at every commit: still
    # never corrupt, at worst the last commits lost if the machine itself goes down.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if RUNNING_DEV_SERVER else env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        # Parameters bound by the server, and a statement run a few times on a connection
        # prepared there: PostgreSQL then plans the same query once per connection, not
        # once per request (a payment's backend CPU 4.0 -> 2.6 ms). Set it to 0 behind a
        # pooler in transaction mode (PgBouncer before 1.21), which cannot keep them.
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": env.int("DB_PREPARE_THRESHOLD", default=5)}
        )
    if not env.bool("DB_JIT", default=False):
        # PostgreSQL compiles a query it estimates as expensive (jit_above_cost) before
        # running it. Our lists' visibility filters (EXISTS ... OR EXISTS ...) are estimated
        # far above their real cost, so the payment list spent 0.9 s of its 1 s compiling
        # a query that runs in 60 ms (13,000 payments). No query here gains from JIT.
        # Set DB_JIT=1 behind a pooler that refuses the "options" startup parameter, and
        # turn it off there with ALTER ROLE ... SET jit = off instead.
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "academy.User"
AUTHENTICATION_BACKENDS = ["academy.auth_backends.ThrottledModelBackend"]
LOGIN_URL = "staff:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en-us")
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
CURRENCY = env.str("CURRENCY", default="USD")
# The parent portal's address in links sent by e-mail from jobs (no request to take it from).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="")
ACADEMY_NAME = env.str("ACADEMY_NAME", default="Springfield Academy")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# Cache and Celery: Redis when REDIS_URL is set, otherwise in-process.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "academy.common.cache.ReusingRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Without a broker, long jobs queued through academy.common.background.task_queue (billing
# runs) run in a thread of the web process, so the page that started one answers at once
# and shows its progress; 0 runs them inside the request instead.
BACKGROUND_TASKS_IN_THREAD = env.bool("BACKGROUND_TASKS_IN_THREAD", default=True)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict = {
    "notifications-resend": {"task": "notifications.deliveries_resend", "schedule": timedelta(minutes=10)},
    "finance-mark-overdue": {"task": "finance.mark_overdue", "schedule": timedelta(hours=6)},
    "finance-late-fees": {"task": "finance.late_fees", "schedule": timedelta(hours=24)},
    "finance-billing-scheduled": {"task": "finance.billing_scheduled", "schedule": timedelta(hours=1)},
    "finance-payment-reminders": {"task": "finance.payment_reminders", "schedule": timedelta(hours=24)},
    "finance-packages-expire": {"task": "finance.packages_expire", "schedule": timedelta(hours=24)},
    "enrollment-expire-offers": {"task": "enrollment.expire_offers", "schedule": timedelta(minutes=15)},
    "attendance-expire-makeup-credits": {"task": "attendance.expire_makeup_credits", "schedule": timedelta(hours=24)},
    "academy-jobs-resume-stale": {"task": "academy.jobs_resume_stale", "schedule": timedelta(minutes=2)},
    "academy-jobs-discard-files": {"task": "academy.jobs_discard_files", "schedule": timedelta(minutes=30)},
    "academy-backup": {"task": "academy.backup", "schedule": crontab(hour=2, minute=30)},
}
# Backups (manage.py backup, nightly by beat): written into this folder, kept this many days.
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
BACKUP_KEEP_DAYS = env.int("BACKUP_KEEP_DAYS", default=7)
# Long jobs (academy.jobs): a running job that shows no progress for this many seconds is
# interrupted and resumed once (then failed); the files jobs make are kept under this folder,
# which is not served (they are downloaded through the job's page, with its permissions).
JOB_STALE_SECONDS = env.int("JOB_STALE_SECONDS", default=300)
# Documents (transcripts, certificates): their verification link is valid this long after
# issue, and the PDF file made for a download is removed after this long (made again on
# demand, stating the same).
DOCUMENT_TOKEN_HOURS = env.int("DOCUMENT_TOKEN_HOURS", default=48)
# An API token works this many days after it is issued or rotated; then 401 until a new one.
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=30)
DOCUMENT_FILE_HOURS = env.int("DOCUMENT_FILE_HOURS", default=48)
VERIFY_RATE = env.int("VERIFY_RATE", default=30)  # checks of /verify/<token>/ a minute per client
JOB_FILE_HOURS = env.int("JOB_FILE_HOURS", default=7 * 24)  # a job's file is kept this long (documents: less)
JOB_FILES_ROOT = Path(env.str("JOB_FILES_ROOT", default=str(MEDIA_ROOT / "jobs")))
# How long a freed seat is held for the first student on the waitlist.
ENROLLMENT_OFFER_HOURS = env.int("ENROLLMENT_OFFER_HOURS", default=48)
# The attendance percentage a student needs to be eligible, unless a programme or a
# location sets its own.
ATTENDANCE_ELIGIBILITY_THRESHOLD = env.float("ATTENDANCE_ELIGIBILITY_THRESHOLD", default=75.0)
SMS_BACKEND = env.str("SMS_BACKEND", default="notifications.sms.LoggingSMSBackend")

# E-mail: EMAIL_URL (smtp://user:pass@host:587/?tls=True); default writes files under var/mail.
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="academy@localhost")

# Sessions and security. Sessions end after 12 h; staff sessions after 30 min idle
# (StaffIdleTimeoutMiddleware).
SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())
STAFF_IDLE_TIMEOUT = int(timedelta(minutes=30).total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = int(timedelta(days=365).total_seconds()) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of every page (academy.common.security_headers): nothing from
# another origin, no inline script or style (a page that needs one gives it
# request.csp_nonce, which the header then lists), no framing, forms post to the site only.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}
# Send it as Content-Security-Policy-Report-Only (browsers report, block nothing) to try a change.
CONTENT_SECURITY_POLICY_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)
CONTENT_SECURITY_POLICY_REPORT_URI = env.str("CSP_REPORT_URI", default="")  # where browsers report violations
# Browser features no page uses, switched off for the site and anything it could embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# The audit log of write requests is kept this many days (manage.py audit_prune).
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=7 * 366)
# Idempotency-Key records (academy.common.idempotency) are kept this many days: a retry
# later than that is a new request (manage.py audit_prune deletes them too).
IDEMPOTENCY_RETENTION_DAYS = env.int("IDEMPOTENCY_RETENTION_DAYS", default=30)

# Failed logins (academy.login_limits): over an hour, after this many failures a client
# waits before its next try, 2 s, 4 s, 8 s ... up to LOGIN_MAX_DELAY seconds: per account
# and client, per client whatever the account, and per account whatever the client (not
# for a browser the account signed in from before). No account is ever locked.
LOGIN_FREE_FAILURES = env.int("LOGIN_FREE_FAILURES", default=5)
LOGIN_CLIENT_FREE_FAILURES = env.int("LOGIN_CLIENT_FREE_FAILURES", default=30)
LOGIN_ACCOUNT_FREE_FAILURES = env.int("LOGIN_ACCOUNT_FREE_FAILURES", default=20)
LOGIN_MAX_DELAY = env.int("LOGIN_MAX_DELAY", default=15 * 60)
LOGIN_FAILURE_WINDOW = 3600
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
# Keys of login limits and API throttles are prefixed with this (tests isolate themselves).
RATE_LIMIT_NAMESPACE = ""
# API requests a minute (academy.common.throttles; 429 with Retry-After past them): per token
# (or session user), per client address whatever the caller, and per client for anonymous
# calls (the token login).
API_THROTTLE_RATES = {
    "user": env.str("API_THROTTLE_USER", default="600/min"),
    "client": env.str("API_THROTTLE_CLIENT", default="1200/min"),
    "anon": env.str("API_THROTTLE_ANON", default="60/min"),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "academy.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["academy.common.permissions.RolePermission"],
    "DEFAULT_THROTTLE_CLASSES": [
        "academy.common.throttles.UserThrottle",
        "academy.common.throttles.ClientThrottle",
        "academy.common.throttles.AnonThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "academy.common.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "academy.common.exceptions.api_exception_handler",
    # an unknown ?format= is a 400 on format (academy.common.negotiation)
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "academy.common.negotiation.ContentNegotiation",
    # OPTIONS: name, description, media types; the fields are in the OpenAPI schema
    "DEFAULT_METADATA_CLASS": "academy.common.metadata.ApiMetadata",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Academy API",
    "DESCRIPTION": "REST API of the academy management system (see docs/api.md).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {},
    # Swagger UI's files from drf-spectacular-sidecar (our static files): the docs page loads
    # nothing from another origin (Content-Security-Policy).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
