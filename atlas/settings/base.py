"""Settings shared by every environment. Deployment values come from environment variables."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from atlas.settings.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Everything the laptop default writes (SQLite, artifacts, caches, static files) lives here.
DATA_DIR = Path(env_str("ATLAS_DATA_DIR", str(BASE_DIR / ".atlas")))
CONTENT_DIR = Path(env_str("ATLAS_CONTENT_DIR", str(BASE_DIR / "content")))
# The seed document content/ was written from (`content check` warns on runs copied from it);
# in CI a copy of shared/ sits beside the clone.
ATLAS_SEED_DIR = Path(env_str("ATLAS_SEED_DIR", str(BASE_DIR.parent / "shared" / "seed")))
# Measured results committed with the code (experiments), loaded at start like content.
ATLAS_RESULTS_DIR = Path(env_str("ATLAS_RESULTS_DIR", str(BASE_DIR / "results")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-insecure-not-for-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "atlas.core",
    "atlas.papers",
    "atlas.graph",
    "atlas.content",
    "atlas.runs",
    "atlas.guide",
    "atlas.experiments",
    "atlas.results",
    "atlas.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "atlas.api.middleware.ApiErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "atlas.urls"
ATLAS_WEBSOCKET_ROUTES = "atlas.routing.websocket_urlpatterns"
ASGI_APPLICATION = "atlas.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
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


def database_config(url: str) -> dict:
    """One database from a URL; SQLite gets WAL and immediate transactions so that the web
    process and the workers can write concurrently without 'database is locked'."""
    config = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return config


DATABASE_URL = env_str("DATABASE_URL", "")
if not DATABASE_URL:  # the laptop default: SQLite in DATA_DIR, which a fresh checkout does not have yet
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": database_config(DATABASE_URL or f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("ATLAS_STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("ATLAS_MEDIA_ROOT", str(DATA_DIR / "media")))
# Whether Django serves MEDIA_URL itself: only the laptop stack (dev), which has no web tier.
ATLAS_SERVE_MEDIA = env_bool("ATLAS_SERVE_MEDIA", False)
STORAGES = {
    # Artifacts of runs: the filesystem by default; production may point ATLAS_STORAGE_BACKEND at
    # any Django storage class (e.g. an S3 backend) without code changes.
    "default": {"BACKEND": env_str("ATLAS_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis, Channels, Celery ---------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            # Set on purpose. Each web process reads a run's updates through one channel, however
            # many watch (atlas.runs.fanout), so a channel holds the unread updates of one run in
            # one process: about 6 a second while it trains. 1,000 is minutes of a stalled process;
            # past it the oldest are dropped rather than memory growing without bound.
            "capacity": 1000,
            # A live update unread after 30 s is stale; the database has the state for a reconnect.
            "expiry": 30,
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "atlas",
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_CREATE_MISSING_QUEUES = True
# Reliability: a task is acknowledged only after it finished, a task whose worker process died
# goes back to the queue, and a worker takes one task at a time so nothing waits behind a long run.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# soft limit < hard limit < visibility timeout: a run is told to stop, then killed, and only
# after both would Redis hand an unacknowledged message to another worker.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("ATLAS_TASK_SOFT_TIME_LIMIT", 900)
CELERY_TASK_TIME_LIMIT = env_int("ATLAS_TASK_TIME_LIMIT", 960)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("ATLAS_VISIBILITY_TIMEOUT", 1200)}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("ATLAS_VISIBILITY_TIMEOUT", 1200)}
CELERY_WORKER_SEND_TASK_EVENTS = False

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "atlas.api.schema.AtlasAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Generative Atlas API",
    "DESCRIPTION": (
        "Nodes, graph, papers, recipes, runs and results of the Generative Atlas. "
        "[Back to the site](/) · [API root](/api/). Reads need no token; an operator's token only "
        "changes whose cap a started run counts against."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "atlas.api.schema.require_request_bodies",
        "atlas.api.schema.enumerate_node_slugs",
    ],
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Three choice sets share the field name `kind`; name them instead of hash-suffixed names.
    "ENUM_NAME_OVERRIDES": {
        "NodeKindEnum": "atlas.graph.models.NodeKind",
        "EdgeKindEnum": "atlas.graph.models.EdgeKind",
        "LensKindEnum": "atlas.api.filters.LENS_KIND_CHOICES",
    },
}

CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]

# --- Atlas -----------------------------------------------------------------------------------
ATLAS_HEALTH_WORKER_TIMEOUT = env_float("ATLAS_HEALTH_WORKER_TIMEOUT", 1.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("ATLAS_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Runs ------------------------------------------------------------------------------------
ATLAS_RUNS_MAX_ACTIVE = env_int("ATLAS_RUNS_MAX_ACTIVE", 20)  # queued + running, everyone
ATLAS_RUNS_MAX_PER_CLIENT = env_int("ATLAS_RUNS_MAX_PER_CLIENT", 4)  # queued + running, one client
ATLAS_RUN_MAX_ATTEMPTS = env_int("ATLAS_RUN_MAX_ATTEMPTS", 3)  # worker deaths before a run fails
ATLAS_RUN_HEARTBEAT_EVERY = env_float("ATLAS_RUN_HEARTBEAT_EVERY", 1.0)
ATLAS_RUN_HEARTBEAT_TIMEOUT = env_float("ATLAS_RUN_HEARTBEAT_TIMEOUT", 20.0)  # then the reaper steps in
ATLAS_RUN_REQUEUE_AFTER = env_float("ATLAS_RUN_REQUEUE_AFTER", 120.0)  # re-send a queued run not picked up
ATLAS_RUN_MAX_LEASE_WAITS = env_int("ATLAS_RUN_MAX_LEASE_WAITS", 120)
ATLAS_RUN_MAX_SECONDS = env_float("ATLAS_RUN_MAX_SECONDS", 600.0)  # wall-time cap of any run
ATLAS_RUN_MAX_RSS_MB = env_int("ATLAS_RUN_MAX_RSS_MB", 4096)  # memory cap of a worker process
ATLAS_RUN_PROGRESS_EVERY = env_float("ATLAS_RUN_PROGRESS_EVERY", 0.2)
ATLAS_RUN_PREVIEW_EVERY = env_float("ATLAS_RUN_PREVIEW_EVERY", 2.0)
ATLAS_RUN_QUALITY_EVERY = env_float(
    "ATLAS_RUN_QUALITY_EVERY", 1.0
)  # training s between a demo's quality checks
ATLAS_REAPER_EVERY = env_float("ATLAS_REAPER_EVERY", 5.0)
ATLAS_RUNS_THROTTLE = env_str("ATLAS_RUNS_THROTTLE", "30/min")  # POST /api/runs/ per client
ATLAS_SCORE_THROTTLE = env_str("ATLAS_SCORE_THROTTLE", "20/min")  # POST /api/results/score/ per client
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"runs": ATLAS_RUNS_THROTTLE, "score": ATLAS_SCORE_THROTTLE}
