"""Onehand settings: one module, configured by environment variables with safe defaults.

With no environment at all Onehand runs embedded: SQLite under var/, Celery tasks run
in-process, email is written to files under var/mail/. Production switches live behind
DJANGO_DEBUG=0.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ONEHAND_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
_DEV_SECRET = "onehand-development-only-secret-key-do-not-use-in-production-0123456789"  # noqa: S105 - only used with DJANGO_DEBUG on
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Absolute base for links that leave the browser (calendar entries, emails, feeds).
SITE_URL = os.environ.get("ONEHAND_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "availability",
    "incidents",
    "rotation",
    "planning",
    "notifications",
]

MIDDLEWARE = [
    # First: refuses an oversized or length-less body before anything reads it.
    "onehand.limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A token's poll of the on-call answer, answered from the cache before the session, CSRF,
    # authentication and the rest, which it does not need (the full path behind it otherwise).
    "rotation.middleware.KeptOnCallResponseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Signed-in answers say "private, no-store" unless they set their own caching.
    "onehand.privacy.PrivateResponsesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "rotation.middleware.PersonTimezoneMiddleware",
    "onehand.errors.DomainErrorMiddleware",
    # Last, as django-axes asks: it turns a lockout into a clear page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failed logins and locks out guessing (django-axes) before the normal backend.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the user's profile with them (one query per request).
    "onehand.auth_backends.ModelBackendWithProfile",
]
AXES_FAILURE_LIMIT = int(os.environ.get("ONEHAND_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ONEHAND_LOGIN_COOLOFF_MINUTES", "15")))
# Failures count per username *and real client address*: a guesser locks only themselves.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client address behind the reverse proxy (README "Configuration"): how many proxies append
# to X-Forwarded-For, and optionally their own addresses. 0 trusts no header.
ONEHAND_TRUSTED_PROXY_COUNT = int(os.environ.get("ONEHAND_TRUSTED_PROXY_COUNT", "0"))
ONEHAND_TRUSTED_PROXIES = env_list("ONEHAND_TRUSTED_PROXIES")
AXES_CLIENT_IP_CALLABLE = "onehand.login_guard.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Scripts only from our own static files: no inline script anywhere. htmx injects a small
# <style> for its indicators, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

ROOT_URLCONF = "onehand.urls"
WSGI_APPLICATION = "onehand.wsgi.application"

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
                "rotation.context_processors.navigation",
                # After Django's csrf processor: a page rendered to be remembered gets a
                # placeholder token, replaced by the reader's own when served.
                "onehand.remembered_pages.csrf_placeholder",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'onehand.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Wait for a writer instead of failing at once when the worker and the web share the file.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Redis: Celery broker/results and the cache -------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # A Redis that accepts connections but does not answer must not hold a request for
    # redis-py's default 5 s per call (every cache use falls back to the database on error):
    # loopback or a LAN answers in well under a millisecond (red-team finding).
    REDIS_CACHE_TIMEOUT = float(os.environ.get("ONEHAND_REDIS_CACHE_TIMEOUT", "1.0"))
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CACHE_TIMEOUT,
                "socket_timeout": REDIS_CACHE_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions stay in the database only. Read from Redis (cached_db) they saved a query per page,
# but an instance that could not reach Redis then failed every signed-in request, and a logout
# whose cache delete failed would come back to life when Redis did (red-team finding).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Embedded mode runs every task in-process so `make run` needs no broker or worker.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
# A worker killed mid-task leaves the message unacknowledged, so another worker redoes it;
# tasks are idempotent, so redoing is safe and nothing is lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task: a new
# PostgreSQL backend (fork, authentication, session set-up) for every chunk of 50 deliveries.
# With this it closes them only every 1000 tasks; in between each task starts and ends the way
# a web request does (onehand/celery.py): a connection past DATABASE_CONN_MAX_AGE, or broken,
# is closed, and a kept one is health-checked before its first query.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that accepts connections but never answers (paused, half-open after a failover)
# would hold a publish forever, and with it the web request that queued the task: give up
# after ONEHAND_BROKER_TIMEOUT seconds, retry once, then the caller says so.
ONEHAND_BROKER_TIMEOUT = float(os.environ.get("ONEHAND_BROKER_TIMEOUT", "3"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": ONEHAND_BROKER_TIMEOUT,
    "socket_connect_timeout": ONEHAND_BROKER_TIMEOUT,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "onehand")
CELERY_TIMEZONE = "UTC"


def beat_seconds(name: str, default: float) -> float:
    """A beat interval, overridable by ONEHAND_BEAT_<NAME>_SECONDS (tests use short ones)."""
    return float(os.environ.get(f"ONEHAND_BEAT_{name}_SECONDS", default))


# Every entry is described in the README ("Worker and beat").
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "rotation.tasks.beat_heartbeat",
        "schedule": beat_seconds("HEARTBEAT", 30),
    },
    "availability-refresh-calendars": {
        "task": "availability.tasks.refresh_calendar_sources",
        "schedule": beat_seconds("CALENDARS", 3600),
    },
    # Re-queue deliveries whose message was lost (broker down at publish, worker killed).
    "notifications-sweep": {
        "task": "notifications.tasks.sweep_deliveries",
        "schedule": beat_seconds("SWEEP", 60),
    },
    # Reminders before shifts and handoff notes at each handoff.
    "notifications-notes": {
        "task": "notifications.tasks.queue_notes",
        "schedule": beat_seconds("NOTES", 300),
    },
    # Swaps never stall: expire unanswered offers, ask the next people, tell the managers.
    "planning-swap-deadlines": {
        "task": "planning.tasks.sweep_swap_deadlines",
        "schedule": beat_seconds("SWAPS", 300),
    },
    # A manager's draft never waits silently: fail jobs whose worker stopped.
    "planning-stuck-drafts": {
        "task": "planning.tasks.fail_stuck_draft_jobs",
        "schedule": beat_seconds("DRAFTS", 60),
    },
    # E-mail the managers once about each shift at risk within the horizon.
    "notifications-at-risk": {
        "task": "notifications.tasks.watch_at_risk",
        "schedule": beat_seconds("AT_RISK", 900),
    },
}
# A draft job queued or running with no progress for this long is failed by beat (seconds).
ONEHAND_DRAFT_STUCK_SECONDS = float(os.environ.get("ONEHAND_DRAFT_STUCK_SECONDS", "600"))
# How old the beat heartbeat may be before /healthz reports the worker unhealthy.
ONEHAND_HEARTBEAT_MAX_AGE = int(os.environ.get("ONEHAND_HEARTBEAT_MAX_AGE", "120"))
# Each web process checks the broker for /healthz at most this often (seconds; 0: every time).
ONEHAND_HEALTH_BROKER_SECONDS = float(os.environ.get("ONEHAND_HEALTH_BROKER_SECONDS", "2"))
# Plan pages remembered under the plan stamp (planning/plan_stamp.py): unset means only with a
# cache every process shares (Redis); 0 or 1 forces it.
ONEHAND_PLAN_REMEMBER = (
    env_bool("ONEHAND_PLAN_REMEMBER", False) if os.environ.get("ONEHAND_PLAN_REMEMBER") else None
)

# Whole signed-in pages remembered per reader under the page stamp (onehand/remembered_pages.py):
# unset follows ONEHAND_PLAN_REMEMBER; 0 switches only the whole pages off, 1 forces them on.
ONEHAND_PAGE_REMEMBER = (
    env_bool("ONEHAND_PAGE_REMEMBER", False) if os.environ.get("ONEHAND_PAGE_REMEMBER") else None
)

# The on-call answer's fast path (rotation/middleware.py): unset follows ONEHAND_PLAN_REMEMBER;
# 0 switches it off, 1 forces it on.
ONEHAND_ONCALL_REMEMBER = (
    env_bool("ONEHAND_ONCALL_REMEMBER", False)
    if os.environ.get("ONEHAND_ONCALL_REMEMBER")
    else None
)

# Rendered feed bodies are cached under their ETag for this long.
ONEHAND_FEED_CACHE_SECONDS = int(os.environ.get("ONEHAND_FEED_CACHE_SECONDS", "86400"))

# Teams: only staff create them unless self-service is switched on. Either way, a person added
# to a team is invited and shares nothing with it until they accept.
ONEHAND_SELF_SERVICE_TEAMS = env_bool("ONEHAND_SELF_SERVICE_TEAMS", False)

# Calendar import may fetch loopback/private addresses only when this is on (tests, dev).
ONEHAND_ICS_ALLOW_PRIVATE = env_bool("ONEHAND_ICS_ALLOW_PRIVATE", False)
# Request bodies: anything declaring more is refused (413) before it is read; bodies
# without a Content-Length (chunked) are refused (411). Below that one limit a body is read
# (a JSON body has to be, whole): Django's own cap matches it, so a body between two caps never
# gets Django's HTML 400 page instead of the API's JSON 413. In-memory uploads stay small; a
# larger upload is spooled to a temporary file up to the limit.
ONEHAND_MAX_REQUEST_BYTES = int(os.environ.get("ONEHAND_MAX_REQUEST_BYTES", str(10 * 2**20)))
DATA_UPLOAD_MAX_MEMORY_SIZE = ONEHAND_MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 2**20)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 10
# Calendar parsing in web processes: at most this many at once per process (more: 503).
ONEHAND_ICS_PARSES_PER_PROCESS = int(os.environ.get("ONEHAND_ICS_PARSES_PER_PROCESS", "2"))

# --- Email ------------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
# /dev/mail/ shows every team's mail with working signed links: off unless switched on, and
# then for superusers only.
ONEHAND_DEV_MAIL_VIEWER = env_bool("ONEHAND_DEV_MAIL_VIEWER", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Onehand <onehand@localhost>")

# --- Deliveries, feeds, CalDAV (notifications) --------------------------------------------------
# Fernet key(s) for secrets at rest (CalDAV passwords); comma-separated, first one encrypts.
# Empty derives a key from SECRET_KEY.
ONEHAND_FIELD_KEY = os.environ.get("ONEHAND_FIELD_KEY", "")
# A delivery that keeps failing transiently is marked failed (and shown to managers) after
# this many tries.
ONEHAND_DELIVERY_MAX_ATTEMPTS = int(os.environ.get("ONEHAND_DELIVERY_MAX_ATTEMPTS", "6"))
# First retry after this many seconds, doubling each time (capped at one hour).
ONEHAND_DELIVERY_RETRY_BASE = float(os.environ.get("ONEHAND_DELIVERY_RETRY_BASE", "30"))
# How long a claimed delivery may stay "sending" before the sweeper sends it again (seconds).
ONEHAND_DELIVERY_LEASE = float(os.environ.get("ONEHAND_DELIVERY_LEASE", "120"))
# A pending delivery not picked up this long after it was due is queued again by the sweeper.
ONEHAND_DELIVERY_SWEEP_GRACE = float(os.environ.get("ONEHAND_DELIVERY_SWEEP_GRACE", "60"))
# Feeds: past shifts kept for this many days; removed ones shown as cancelled for this many.
ONEHAND_FEED_PAST_DAYS = int(os.environ.get("ONEHAND_FEED_PAST_DAYS", "90"))
ONEHAND_FEED_CANCELLED_DAYS = int(os.environ.get("ONEHAND_FEED_CANCELLED_DAYS", "30"))
# CalDAV URLs on loopback/private networks and plain http (for development and tests only).
ONEHAND_CALDAV_ALLOW_PRIVATE = env_bool("ONEHAND_CALDAV_ALLOW_PRIVATE", DEBUG)

# Shifts starting within this many hours that may go uncovered are "at risk" (pages, e-mail).
ONEHAND_AT_RISK_HOURS = float(os.environ.get("ONEHAND_AT_RISK_HOURS", "72"))
# An open swap older than this (or whose managers were told) counts as stalled in /metrics.
ONEHAND_SWAP_STALLED_HOURS = float(os.environ.get("ONEHAND_SWAP_STALLED_HOURS", "24"))
# /metrics needs "Authorization: Bearer <this>"; when empty, /metrics answers loopback only.
ONEHAND_METRICS_TOKEN = os.environ.get("ONEHAND_METRICS_TOKEN", "")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "onehand.pagination.BoundedLimitOffsetPagination",
    "EXCEPTION_HANDLER": "onehand.errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "onehand.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Onehand API",
    "DESCRIPTION": "On-call rotations, rosters, shifts and who is on call now.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "onehand.schema.document_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task is noise in embedded mode, where tasks run inside requests.
        "celery.app.trace": {"level": "INFO" if REDIS_URL else "WARNING"},
    },
}

# --- Production switches ------------------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    X_FRAME_OPTIONS = "DENY"
