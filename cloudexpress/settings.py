"""
Settings for the CloudExpress Compliance Portal, read from the environment here
and nowhere else.

Two modes:

* the embedded default (no environment at all): SQLite in ``var/``, a file
  cache, Celery on kombu's filesystem transport, e-mail written to files and
  an explicit development secret;
* production (``DJANGO_ENV=production``): PostgreSQL from ``DATABASE_URL``,
  Redis from ``REDIS_URL``, secrets from the environment with no default.

A missing or weak production secret stops the process at start with one line
that names the variable.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

# Shown in the embedded default only; production refuses it by value.
DEVELOPMENT_SECRET_KEY = "embedded-development-secret-never-valid-in-production-0123456789"


def _fail(message: str) -> None:
    sys.stderr.write(f"configuration error: {message}\n")
    raise SystemExit(2)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if not raw:
        return default
    return raw.lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        _fail(f"{name} must be a whole number, got {raw!r}")
        raise  # unreachable, keeps type checkers content


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


DJANGO_ENV = _env("DJANGO_ENV", "embedded").lower()
if DJANGO_ENV not in {"embedded", "production", "test"}:
    _fail(f"DJANGO_ENV must be embedded, production or test, got {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test"

DATA_DIR = Path(_env("CLOUDEXPRESS_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# --- Secrets --------------------------------------------------------------

SECRET_KEY = _env("SECRET_KEY")
if PRODUCTION:
    if not SECRET_KEY:
        _fail("SECRET_KEY is required in production")
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        _fail("SECRET_KEY is the embedded development secret; set a real one")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        _fail("SECRET_KEY is too weak: use at least 50 random characters")
elif not SECRET_KEY:
    SECRET_KEY = DEVELOPMENT_SECRET_KEY

# Field encryption (cloudexpress.keyring): "k2:base64key,k1:base64key", the
# first encrypts, all decrypt. Required in production, like SECRET_KEY.
FIELD_ENCRYPTION_KEYS = _env("FIELD_ENCRYPTION_KEYS")
if PRODUCTION and not FIELD_ENCRYPTION_KEYS:
    _fail("FIELD_ENCRYPTION_KEYS is required in production")
if not FIELD_ENCRYPTION_KEYS:
    from cloudexpress.keyring import development_keys

    FIELD_ENCRYPTION_KEYS = development_keys(SECRET_KEY)
else:
    from cloudexpress.keyring import KeyRingError, parse_keys

    try:
        parse_keys(FIELD_ENCRYPTION_KEYS)
    except KeyRingError as exc:
        _fail(f"FIELD_ENCRYPTION_KEYS is malformed: {exc}")

DEBUG = _env_bool("DJANGO_DEBUG", default=False) and not PRODUCTION

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    _fail("ALLOWED_HOSTS is required in production")
if TESTING:
    ALLOWED_HOSTS += ["testserver"]
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

# --- Applications ---------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "auditlog",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "django_otp",
    "axes",
    "channels",
    "accounts",
    "audit",
    "compliance",
    # The project package itself: its deploy checks and the operations page.
    "cloudexpress.apps.CloudExpressConfig",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "cloudexpress.requestcontext.RequestContextMiddleware",
    "audit.detection.middleware.BlockedAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "cloudexpress.security.SecurityHeadersMiddleware",
    "cloudexpress.security.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.CredentialsMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.auth.sessions.SessionPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "cloudexpress.requestcontext.AuditActorMiddleware",
    # After the view: what an auditor read, when the view did not record it.
    "compliance.dashboard.middleware.AuditorReadsMiddleware",
    "compliance.privacy.usage.ApiUsageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # axes asks to be last: it turns a lockout flagged during the view into
    # its lockout response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "cloudexpress.urls"
WSGI_APPLICATION = "cloudexpress.wsgi.application"
ASGI_APPLICATION = "cloudexpress.asgi.application"

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
                "cloudexpress.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

DATABASE_URL = _env("DATABASE_URL")
if PRODUCTION and not DATABASE_URL:
    _fail("DATABASE_URL is required in production")
if PRODUCTION and not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    _fail("DATABASE_URL must point at PostgreSQL in production")

if DATABASE_URL:
    # Under ASGI every request may run on a fresh thread, so persistent
    # connections pile up instead of being reused (a load test ran out of
    # them): close each at the end of its request unless told otherwise.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=_env_int("DATABASE_CONN_MAX_AGE", 0)
        )
    }
    # The way Django reuses connections under ASGI: a psycopg pool per
    # process, when DATABASE_POOL_MAX_SIZE is set. Without one every request
    # opens (and PostgreSQL forks) a connection, most of a cached page's cost.
    if _env_int("DATABASE_POOL_MAX_SIZE", 0):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": _env_int("DATABASE_POOL_MAX_SIZE", 0),
            "timeout": 10,
        }
    if PRODUCTION:
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "sslmode", _env("DATABASE_SSLMODE", "verify-full")
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "cloudexpress.sqlite3"),
            # The web server, the worker and beat write at once: WAL lets
            # readers go on during a write, IMMEDIATE takes the write lock at
            # BEGIN so two writers never deadlock on an upgrade, and the
            # timeout makes a writer wait instead of failing at once.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }

if TESTING:
    # A second, SQLite database so the tests exercise the embedded default's
    # code paths in cloudexpress/dbvendor.py beside PostgreSQL.
    DATABASES["sqlite"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "test-sqlite.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 5},
        "TEST": {"NAME": str(DATA_DIR / "test-sqlite-run.sqlite3")},
    }

# How many requests one ASGI worker process runs at once; the rest wait their
# turn on the event loop, first come first served. With a connection pool it
# is the pool's size, so no request waits for a connection half-way through
# (under a sign-in load the pool's 10-second wait ran out: a 500). 0: no limit.
ASGI_REQUEST_SLOTS = _env_int(
    "ASGI_REQUEST_SLOTS",
    DATABASES["default"].get("OPTIONS", {}).get("pool", {}).get("max_size", 0),
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Redis ------------------------------------------------------

REDIS_URL = _env("REDIS_URL")
if PRODUCTION and not REDIS_URL:
    _fail("REDIS_URL is required in production")

# Production reaches PostgreSQL over TLS that verifies the server's name and
# certificate, and Redis over TLS with a password. INTERNAL_TLS_OPTIONAL=1
# lifts this for `make security`, whose private servers listen on loopback
# without certificates; `manage.py check --deploy` then warns
# (cloudexpress.W001, cloudexpress/security.py).
INTERNAL_TLS_OPTIONAL = PRODUCTION and _env_bool("INTERNAL_TLS_OPTIONAL", default=False)


def internal_tls_problems(database: dict[str, object], redis_url: str) -> list[str]:
    """What keeps the links to PostgreSQL and Redis from being verified TLS."""
    from urllib.parse import urlsplit

    problems = []
    sslmode = dict(database.get("OPTIONS") or {}).get("sslmode", "")  # type: ignore[call-overload]
    if sslmode not in {"verify-full", "verify-ca"}:
        problems.append(f"PostgreSQL sslmode is {sslmode or 'unset'}, not verify-full")
    url = urlsplit(redis_url)
    if url.scheme != "rediss":
        problems.append("REDIS_URL does not use TLS (rediss://)")
    if not url.password:
        problems.append("REDIS_URL carries no password")
    return problems


if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _env("CACHE_KEY_PREFIX", "cx"),
            "OPTIONS": {"pool_class": "cloudexpress.rediscache.SharedConnectionPool"},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Channels (the dashboard's live updates) ------------------------------

# Redis carries group messages between the web processes and the workers that
# finish runs and raise alerts. The embedded default has no Redis: its layer
# keeps each process's sockets in memory and relays group messages between the
# web server, the worker and beat through a directory beside the database
# (cloudexpress/channellayers.py), so a worker's alert still arrives live.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": _env("CHANNELS_PREFIX", "cx-channels"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "cloudexpress.channellayers.InMemoryRelayChannelLayer",
            "CONFIG": {"directory": str(DATA_DIR / "broadcasts")},
        }
    }

# --- Celery ---------------------------------------------------------------

CELERY_QUEUE_DIR = DATA_DIR / "queue"
if REDIS_URL:
    CELERY_BROKER_URL = _env("CELERY_BROKER_URL") or REDIS_URL
    CELERY_RESULT_BACKEND = _env("CELERY_RESULT_BACKEND") or REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than the longest task's hard limit (the restore test's 4 h
        # 5 min), so Redis never hands a running task to a second worker;
        # tests/cloudexpress/test_celery_settings.py compares the two. The
        # kill-the-worker tests shorten it so a dead worker's task comes back
        # within seconds; production refuses a value under the longest limit.
        "visibility_timeout": _env_int("CELERY_VISIBILITY_TIMEOUT", 5 * 3600),
        # Sweep for a dead worker's messages every few seconds instead of
        # every 100 s (kombu's 10 s interval times its throttle of 10).
        "unacked_restore_interval": _env_int("CELERY_UNACKED_RESTORE_SECONDS", 10),
        "unacked_restore_throttle": 1,
    }
else:
    # kombu's filesystem transport needs no server; web, worker and beat share
    # one absolute folder. It does not redeliver a message whose worker died,
    # which is accepted for the embedded default only.
    for sub in ("in", "processed", "results", "control"):
        (CELERY_QUEUE_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = "file://" + str(CELERY_QUEUE_DIR / "results")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "in"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "in"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        "store_processed": False,
        # kombu's default is "control" in the working directory: the
        # exchange tables belong with the queue, not in the checkout.
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
    }
if PRODUCTION and REDIS_URL:
    # The restore test's hard limit (4 h 5 min) is the longest of any task.
    if int(str(CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])) <= 4 * 3600 + 300:
        _fail("CELERY_VISIBILITY_TIMEOUT must be longer than the longest task (4 h 5 min)")
    if not INTERNAL_TLS_OPTIONAL:
        broker = str(CELERY_BROKER_URL)
        for url in dict.fromkeys([REDIS_URL, broker, str(CELERY_RESULT_BACKEND)]):
            for problem in internal_tls_problems(DATABASES["default"], url):
                _fail(problem)
CELERY_TASK_ALWAYS_EAGER = _env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILE = str(DATA_DIR / "celerybeat-schedule")
HEARTBEAT_SECONDS = _env_int("HEARTBEAT_SECONDS", 60)
# Beat holds this Redis lock (renewed every tick) so that a second beat
# process stands by and schedules nothing (cloudexpress/beat.py).
BEAT_LOCK_SECONDS = _env_int("BEAT_LOCK_SECONDS", 60)

# Rows per retention batch (compliance/privacy/retention.py). The defaults
# keep a batch short; the kill-the-worker tests set tiny batches so that a
# run is many batches long and can be interrupted between two of them.
RETENTION_BATCH_SIZE = _env_int("RETENTION_BATCH_SIZE", 50_000)
RETENTION_ARCHIVE_BATCH_SIZE = _env_int("RETENTION_ARCHIVE_BATCH_SIZE", 5_000)

# What the operations page and the capacity check hold the system to; the
# Prometheus rules in deploy/prometheus/alerts.yml use the same numbers.
CAPACITY_THRESHOLDS: dict[str, float] = {
    "queue_depth_max": 500,
    "request_p95_seconds_max": 0.5,
    "error_rate_max": 0.02,
}

# --- Authentication -------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
# Permission checks, Django admin's included, are answered by the accounts
# authorization service alone: User.has_perm asks only AuthorizationBackend,
# which authenticates nobody (see the authentication block for the others).
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
# Messages live in the session: no separate cookie to secure (drheader found
# the messages cookie deleted without the Secure flag).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
LOGOUT_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# axes first: it refuses a locked-out account or address before any backend
# checks the password (and so before the password's cost is paid). allauth's
# backend alone after it (it extends ModelBackend and reads email= and
# username=): with ModelBackend beside it a wrong password would be hashed
# twice, and its cost would differ from an unknown account's.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "accounts.authorization.AuthorizationBackend",
]

# Password policy (accounts.auth.passwords): "compliance" follows the
# company's compliance document (composition rules and 90-day expiry, a
# documented deviation from NIST SP 800-63B); "nist" follows SP 800-63B-4.
PASSWORD_POLICY_PROFILE = _env("PASSWORD_POLICY_PROFILE", "compliance").lower()
if PASSWORD_POLICY_PROFILE not in {"compliance", "nist"}:
    _fail(f"PASSWORD_POLICY_PROFILE must be compliance or nist, got {PASSWORD_POLICY_PROFILE!r}")
PASSWORD_HISTORY_COUNT = 5
PASSWORD_EXPIRY_DAYS = _env_int("PASSWORD_EXPIRY_DAYS", 90)
PASSWORD_BREACHED_LIST = BASE_DIR / "accounts" / "auth" / "data" / "common-passwords.txt.gz"
_POLICY = "accounts.auth.passwords."
AUTH_PASSWORD_VALIDATORS: list[dict[str, object]] = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": _POLICY + "PasswordHistoryValidator", "OPTIONS": {"count": PASSWORD_HISTORY_COUNT}},
]
if PASSWORD_POLICY_PROFILE == "compliance":
    AUTH_PASSWORD_VALIDATORS += [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 12},
        },
        {"NAME": _POLICY + "CompositionValidator"},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    ]
else:
    AUTH_PASSWORD_VALIDATORS += [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 15},
        },
        {
            "NAME": "django.contrib.auth.password_validation.CommonPasswordValidator",
            "OPTIONS": {"password_list_path": PASSWORD_BREACHED_LIST},
        },
    ]

# django-allauth: e-mail only, verification before first use, the same
# answer whether or not an address has an account.
ACCOUNT_ADAPTER = "accounts.auth.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.auth.adapter.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_GET = False
# The current session stays; every other one ends (accounts.auth.passwords).
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[CloudExpress] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
# Failed sign-ins are counted by axes, per account and per address; allauth's
# own failure limit would hide whether axes works, so it is off. The page
# limits per address stay (and read the one client-IP function).
ACCOUNT_RATE_LIMITS = {
    "login_failed": False,
    "login": _env("RATE_LIMIT_SIGN_IN", "30/m/ip"),
    "signup": _env("RATE_LIMIT_SIGN_UP", "20/m/ip"),
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_LOGIN_ON_GET = False
# Nothing calls GitHub after the sign-in: its access token is not kept.
SOCIALACCOUNT_STORE_TOKENS = False
GITHUB_URL = _env("GITHUB_URL")
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {
    "github": {
        "SCOPE": ["read:user", "user:email"],
        **({"GITHUB_URL": GITHUB_URL} if GITHUB_URL else {}),
        **(
            {
                "APPS": [
                    {
                        "client_id": _env("GITHUB_CLIENT_ID"),
                        "secret": _env("GITHUB_CLIENT_SECRET"),
                    }
                ]
            }
            if _env("GITHUB_CLIENT_ID")
            else {}
        ),
    }
}

# django-axes: lock after N failures per account and, separately, per address.
AXES_ENABLED = True
AXES_FAILURE_LIMIT = _env_int("AUTH_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("AUTH_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# A fixed cool-off: refused attempts during a lockout do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_CLIENT_IP_CALLABLE = "cloudexpress.clientip.client_ip_for_axes"
AXES_USERNAME_CALLABLE = "accounts.auth.lockout.axes_username"
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2", "otp", "otp_token", "code"]
AXES_VERBOSE = False

# django-otp and the second factor.
OTP_TOTP_ISSUER = "CloudExpress"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
MFA_BACKUP_CODE_COUNT = 10

# JWT (djangorestframework-simplejwt) with families and a version claim
# (accounts.auth.jwt); the blacklist is the RefreshRecord table.
JWT_ACCESS_LIFETIME = timedelta(minutes=_env_int("JWT_ACCESS_MINUTES", 5))
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": JWT_ACCESS_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=_env_int("JWT_REFRESH_HOURS", 24)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": False,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "USER_ID_FIELD": "public_id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# API keys: last use written at most this often per key.
API_KEY_TOUCH_SECONDS = 60
API_KEY_MAX_OVERLAP_HOURS = 72

# IP allowlists and geography: the country database is a local file
# (a CSV of "start,end,country" ranges); none configured means no lookup.
GEOIP_DATABASE_PATH = _env("GEOIP_DATABASE_PATH")

# --- Sessions and cookies -------------------------------------------------

SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = _env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600)
SESSION_IDLE_SECONDS = _env_int("SESSION_IDLE_SECONDS", 30 * 60)
# The idle clock is written to the session at most this often.
SESSION_TOUCH_SECONDS = 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
if PRODUCTION:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# --- Transport security and headers ---------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_SSL_REDIRECT = PRODUCTION and _env_bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 63072000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Request size limits: bodies over these sizes are refused with 400/413
# before any view reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = _env_int("MAX_REQUEST_BYTES", 2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Whole request bodies, file uploads (evidence, attestations) included.
MAX_UPLOAD_BYTES = _env_int("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# django-csp 4: no inline script or style anywhere, so every page is built to
# work under it from the first one.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Client IP ------------------------------------------------------------

# How many reverse proxies in front of the app append to X-Forwarded-For.
# Zero means the app is reached directly and the header is ignored.
TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)

# --- API ------------------------------------------------------------------

REST_FRAMEWORK = {
    # JWT first: its 401 carries the Bearer challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.api.JWTAuthentication",
        "accounts.auth.api.ApiKeyAuthentication",
        "accounts.auth.api.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.auth.throttles.UserEndpointThrottle",
        "accounts.auth.throttles.AnonEndpointThrottle",
        "cloudexpress.quotas.OrganizationDailyQuota",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user_endpoint": _env("RATE_LIMIT_API_USER", "600/min"),
        "anon_endpoint": _env("RATE_LIMIT_API_ANON", "60/min"),
        "token": _env("RATE_LIMIT_API_TOKEN", "30/min"),
    },
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.auth.api.ApiKeyScopePermission",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cloudexpress.api.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# API calls per organization and UTC day (cloudexpress/quotas.py); 0 is off.
# Off by default under test so other suites' query counts stay exact; the
# quota's own tests turn it on.
ORG_API_DAILY_QUOTA = _env_int("ORG_API_DAILY_QUOTA", 0 if TESTING else 100_000)
# Mount the planted, injectable test view (tests/support/planted.py) outside
# the test settings, for `scripts/security.sh --planted` only.
PLANTED_FLAW = _env_bool("PLANTED_FLAW", default=False)
# PEM certificates tracked for expiry and the backup public keys whose pins
# are published (cloudexpress/certificates.py).
TLS_CERTIFICATES = _env_list("TLS_CERTIFICATES")
TLS_BACKUP_PUBLIC_KEYS = _env_list("TLS_BACKUP_PUBLIC_KEYS")
SPECTACULAR_SETTINGS = {
    "TITLE": "CloudExpress Compliance Portal API",
    "DESCRIPTION": "SOC 2 controls proven from the live system. See /api/docs/ for guidelines.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # Governance registers: several models share field names ("kind",
    # "status") with different choices; name each set after its model.
    "ENUM_NAME_OVERRIDES": {
        f"{model}{field.title()}Enum": f"compliance.models.governance.{model}.{field.title()}"
        for model, field in (
            ("Policy", "kind"),
            ("TrainingModule", "kind"),
            ("VendorComplianceReport", "kind"),
            ("VendorAgreement", "kind"),
            ("DisasterRecoveryTest", "kind"),
            ("InternalAudit", "kind"),
            ("Vendor", "status"),
            ("Risk", "status"),
            ("ChangeRequest", "status"),
            ("InternalAudit", "status"),
            ("Walkthrough", "status"),
        )
    }
    | {"RiskRatingEnum": "compliance.models.governance.RiskRating"},
}

# --- Audit trail ----------------------------------------------------------

AUDITLOG_LOGENTRY_MODEL = "audit.AuditLogEntry"
# auditlog's own migrations create its LogEntry table even when the model is
# swapped out; without migrations the swapped model gets no table at all,
# and nothing holds a foreign key to a table nobody writes.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_CID_GETTER = "cloudexpress.requestcontext.current_request_id"
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_REMOTE_ADDR = False

# --- Metrics and health ---------------------------------------------------

METRICS_TOKEN = _env("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = _env_list("METRICS_ALLOWED_NETWORKS")
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- E-mail ---------------------------------------------------------------

DEFAULT_FROM_EMAIL = _env("DEFAULT_FROM_EMAIL", "CloudExpress Portal <no-reply@cloudexpress.test>")
if TESTING:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
elif _env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _env("EMAIL_HOST")
    EMAIL_PORT = _env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = _env("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = _env("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", default=True)
elif PRODUCTION:
    _fail("EMAIL_HOST is required in production")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")

# --- Contacts (shown on /contacts) ----------------------------------------

PORTAL_CONTACTS = {
    "compliance_officer": _env("CONTACT_COMPLIANCE_OFFICER", "compliance@cloudexpress.test"),
    "security_team": _env("CONTACT_SECURITY_TEAM", "security@cloudexpress.test"),
    "data_protection_officer": _env("CONTACT_DPO", "dpo@cloudexpress.test"),
}
# Links in e-mails (invitations, reminders) start with this.
_EMBEDDED_BASE_URL = f"http://127.0.0.1:{_env('PORTAL_PORT', '8000')}"
PORTAL_BASE_URL = _env("PORTAL_BASE_URL", "" if PRODUCTION else _EMBEDDED_BASE_URL).rstrip("/")
if PRODUCTION and not PORTAL_BASE_URL:
    _fail("PORTAL_BASE_URL is required in production")
OPERATOR_ORGANIZATION_SLUG = _env("OPERATOR_ORGANIZATION_SLUG", "cloudexpress")

# --- Reports --------------------------------------------------------------

# The function that turns the engine's stored results into report data.
REPORTS_DATA_PROVIDER = _env("REPORTS_DATA_PROVIDER", "compliance.reports.data.engine_report_data")
# A pack expected to be longer than this is built by the Celery task: the
# report API answers 202 with the pack's status URL instead of the PDF.
REPORTS_SYNC_MAX_PAGES = _env_int("REPORTS_SYNC_MAX_PAGES", 40)
# HMAC key of exported packs; empty means derived from SECRET_KEY with HKDF.
REPORT_SIGNING_KEY = _env("REPORT_SIGNING_KEY")

# --- Static files ---------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Privacy: archives and backups ----------------------------------------

# Folders by default; any django-storages backend can replace a storage in
# STORAGES below. Keys: 64 hex characters (the embedded and test modes
# derive them from SECRET_KEY).
ARCHIVE_ROOT = Path(_env("ARCHIVE_ROOT") or DATA_DIR / "archive")
BACKUP_ROOT = Path(_env("BACKUP_ROOT") or DATA_DIR / "backups")
BACKUP_COPY_ROOT = Path(_env("BACKUP_COPY_ROOT") or DATA_DIR / "backups-copy")
# Each is a key ring ("id:base64key,...", newest first; cloudexpress.keyring)
# or one key as 64 hex characters. Production refuses to start without them:
# an archive or backup written without its key could never be read back.
ARCHIVE_ENCRYPTION_KEY = _env("ARCHIVE_ENCRYPTION_KEY")
BACKUP_ENCRYPTION_KEY = _env("BACKUP_ENCRYPTION_KEY")


def _check_purpose_keys(name: str, value: str, purpose: str) -> None:
    from cloudexpress.keyring import KeyRingError, parse_purpose_keys

    if not value:
        if PRODUCTION:
            _fail(f"{name} is required in production")
        return
    try:
        parse_purpose_keys(value, purpose=purpose)
    except KeyRingError as exc:
        _fail(f"{name} is malformed: {exc}")


_check_purpose_keys("ARCHIVE_ENCRYPTION_KEY", ARCHIVE_ENCRYPTION_KEY, "archive")
_check_purpose_keys("BACKUP_ENCRYPTION_KEY", BACKUP_ENCRYPTION_KEY, "backup")
STORAGES["privacy_archive"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(ARCHIVE_ROOT)},
}
STORAGES["backups"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(BACKUP_ROOT)},
}
STORAGES["backups_copy"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(BACKUP_COPY_ROOT)},
}

# --- Internationalisation -------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging --------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "cloudexpress.logging.RequestContextFilter"},
    },
    "formatters": {
        "json": {"()": "cloudexpress.logging.JsonFormatter"},
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": "json" if PRODUCTION else "plain",
        },
    },
    "root": {"handlers": ["console"], "level": _env("LOG_LEVEL", "INFO")},
    "loggers": {
        # The request log line carries the full path with its query string;
        # our own access logger writes the path only.
        "django.server": {"level": "WARNING"},
        # One record per laid-out page: kept out of the console (propagate
        # off, no handler), read by the pack builder for its progress bar.
        "weasyprint.progress": {"level": "INFO", "propagate": False},
    },
}

JWT_ACCESS_LIFETIME = timedelta(minutes=_env_int("JWT_ACCESS_MINUTES", 5))

# --- Detection and response -------------------------------------------------

# One entry per rule in audit/detection/rules.py. Windows are in minutes;
# "correlation_minutes" is how long a quiet spell may last before the same
# subject opens a new alert instead of extending the old one.
DETECTION_RULES: dict[str, dict[str, object]] = {
    "brute_force_ip": {"threshold": 10, "window_minutes": 10, "severity": "high"},
    "brute_force_account": {"threshold": 10, "window_minutes": 10, "severity": "high"},
    "password_spraying": {"accounts": 5, "window_minutes": 30, "severity": "high"},
    "new_network_sensitive_action": {"window_minutes": 60, "severity": "high"},
    "impossible_travel": {
        "max_speed_kmh": 900,
        "min_distance_km": 500,
        "lookback_minutes": 12 * 60,
        "severity": "high",
    },
    "privilege_escalation_export": {"window_minutes": 60, "severity": "critical"},
    "api_key_new_network": {"lookback_minutes": 0, "severity": "medium"},
    "mass_export": {"threshold": 5, "rows": 50_000, "window_minutes": 60, "severity": "high"},
    "permission_denials": {"threshold": 10, "window_minutes": 10, "severity": "medium"},
    "threat_intel_match": {"lookback_minutes": 0, "severity": "high"},
}
DETECTION_CORRELATION_MINUTES = _env_int("DETECTION_CORRELATION_MINUTES", 24 * 60)
DETECTION_RISK: dict[str, object] = {
    "alpha": 1.0,
    "min_history": 3,
    "points_per_bit": 6.0,
    "max_anomaly_points": 60,
    "threat_points": 40,
}
DETECTION_CONTAINMENT: dict[str, object] = {
    "enabled": _env_bool("DETECTION_CONTAINMENT", default=True),
    "block_minutes": _env_int("DETECTION_BLOCK_MINUTES", 24 * 60),
    # Alerts about activity older than this (an imported old log) are not
    # contained: blocking or locking now would answer nothing.
    "max_age_minutes": 24 * 60,
}
NOTIFICATION_RETENTION_DAYS = 90
