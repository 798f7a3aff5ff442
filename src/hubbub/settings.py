"""Django settings for Hubbub, read only from the environment.

With no environment at all Hubbub runs embedded: SQLite in the data
directory, no Redis, locally generated keys. `HUBBUB_ENV=production` turns
on the deployment checks and refuses to start without real secrets.
See README.md ("Configuration") for every variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url

from hubbub import config

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = config.data_dir()

HUBBUB_ENV = config.env_str("HUBBUB_ENV", "development")
if HUBBUB_ENV not in {"development", "production"}:
    raise config.ConfigurationError("HUBBUB_ENV must be development or production")
PRODUCTION = HUBBUB_ENV == "production"

DEBUG = config.env_bool("HUBBUB_DEBUG", default=False)
SECRET_KEY = config.secret_key(production=PRODUCTION, directory=DATA_DIR)
HUBBUB_ENCRYPTION_KEYS = config.encryption_keys(production=PRODUCTION, directory=DATA_DIR)
HUBBUB_BASE_URL = config.env_str("HUBBUB_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
HUBBUB_REDIS_URL = config.env_str("HUBBUB_REDIS_URL")
HUBBUB_SSE_HEARTBEAT_SECONDS = config.env_int("HUBBUB_SSE_HEARTBEAT_SECONDS", default=15, minimum=1)
# How long a listener's claim on a source lasts without renewal: after a
# listener dies, another takes its sources over within this time.
HUBBUB_SOURCE_LEASE_SECONDS = config.env_int("HUBBUB_SOURCE_LEASE_SECONDS", default=60, minimum=2)
# Host names and addresses or ranges (10.0.0.0/8) that server-side fetches may reach although
# they are not public, for platforms on the operator's own network (hubbub.core.safe_http).
HUBBUB_SAFE_HTTP_ALLOW = config.env_list("HUBBUB_SAFE_HTTP_ALLOW", [])

ALLOWED_HOSTS = config.env_list(
    "HUBBUB_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise config.ConfigurationError("HUBBUB_ALLOWED_HOSTS is required when HUBBUB_ENV=production")
CSRF_TRUSTED_ORIGINS = config.env_list("HUBBUB_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "ninja",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "hubbub.core",
    "hubbub.accounts",
    "hubbub.listening",
    "hubbub.connectors",
    "hubbub.crm",
    "hubbub.care",
    "hubbub.intelligence",
    "hubbub.web",
    "hubbub.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "hubbub.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "hubbub.web.middleware.DomainErrorMiddleware",
    "hubbub.core.middleware.TimezoneMiddleware",
    "hubbub.core.middleware.OriginMiddleware",
    # Axes goes last so that it sees the result of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hubbub.urls"
ASGI_APPLICATION = "hubbub.asgi.application"
WSGI_APPLICATION = "hubbub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hubbub.web.context_processors.shell",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]


def _database() -> dict[str, Any]:
    url = config.env_str("HUBBUB_DATABASE_URL") or f"sqlite:///{DATA_DIR / 'hubbub.sqlite3'}"
    database: dict[str, Any] = dict(dj_database_url.parse(url))
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {
            # WAL lets readers go on while one writer commits; IMMEDIATE takes
            # the write lock at BEGIN so two writers never deadlock on upgrade.
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=5000"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # Tests that start real server processes share the test database,
        # so it has to be a file rather than SQLite's private memory.
        database["TEST"] = {"NAME": str(DATA_DIR / "test-hubbub.sqlite3")}
    elif database["ENGINE"] == "django.db.backends.postgresql":
        database["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 20, "timeout": 10}}
        database["CONN_MAX_AGE"] = 0
    else:
        raise config.ConfigurationError(
            "HUBBUB_DATABASE_URL must be a sqlite:/// or postgres:// URL"
        )
    return database


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "hubbub.accounts.backends.AccountBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"  # department members start at their handoffs
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3

# Lock an account + address pair out after five failures in a row, for 15 minutes.
AXES_FAILURE_LIMIT = config.env_int("HUBBUB_LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "hubbub.accounts.backends.lockout_username"
AXES_VERBOSE = False

if HUBBUB_REDIS_URL:
    # Sessions are read on every request: keep them in Redis in front of the
    # database. (Not without Redis: a per-process cache would let a session
    # signed out in one server process live on in another.)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": HUBBUB_REDIS_URL,
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = config.env_bool("HUBBUB_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = config.env_int("HUBBUB_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = False
    # Hubbub runs behind a TLS-terminating proxy that sets this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS = ["security.W021"]  # HSTS preload is the operator's decision.

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
# WhiteNoise serves straight from the apps' static folders: no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
HUBBUB_AVATAR_MAX_BYTES = 2 * 1024 * 1024
# No request body is larger than this (413), checked before Django reads it.
HUBBUB_MAX_REQUEST_BYTES = config.env_int(
    "HUBBUB_MAX_REQUEST_BYTES", default=10 * 1024 * 1024, minimum=1024
)


def _email() -> dict[str, Any]:
    """HUBBUB_EMAIL_URL: console://, smtp://user:pass@host:587?starttls=1 or smtps://…"""
    raw = config.env_str("HUBBUB_EMAIL_URL", "console://")
    parts = urlsplit(raw)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in {"smtp", "smtps"}:
        raise config.ConfigurationError(
            "HUBBUB_EMAIL_URL must start with console://, smtp:// or smtps://"
        )
    options = parse_qs(parts.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": options.get("starttls", ["0"])[0] in {"1", "true"},
        "EMAIL_TIMEOUT": 20,
    }


globals().update(_email())
DEFAULT_FROM_EMAIL = config.env_str("HUBBUB_EMAIL_FROM", "Hubbub <hubbub@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The database backend inserts the job row inside the caller's transaction:
# a job exists exactly when the row that needs it was committed.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": config.env_str("HUBBUB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
CSRF_FAILURE_VIEW = "hubbub.web.views.csrf_failure"
