"""fashionsite settings: one module, driven by environment variables.

Unset DATABASE_URL / REDIS_URL mean "use the embedded servers" (see fashionsite/embedded.py).
Every variable is listed in the README's configuration table.
"""

import secrets
from pathlib import Path

import dj_database_url

from fashionsite import embedded
from fashionsite.env import env_bool, env_float, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("FASHIONSITE_DATA_DIR", BASE_DIR / "var", base=BASE_DIR)
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

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
    "fashionsite",
    "catalogue",
    "embeddings",
    "search",
    "surveys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fashionsite.urls"
WSGI_APPLICATION = "fashionsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "fashionsite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fashionsite.context_processors.site",
            ],
        },
    },
]

# --------------------------------------------------------------------------- database
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_POSTGRES = not DATABASE_URL
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            **embedded.ensure_postgres(DATA_DIR, env_str("FASHIONSITE_DB_NAME", "fashionsite")),
            "CONN_MAX_AGE": 60,
        }
    }
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["TEST"] = {"NAME": env_str("FASHIONSITE_TEST_DB_NAME", "") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------- redis, cache, celery
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS = not REDIS_URL
if REDIS_URL:
    CACHE_LOCATION = REDIS_URL
    CELERY_BROKER_URL = REDIS_URL
else:
    _sock = embedded.ensure_redis(DATA_DIR)
    CACHE_LOCATION = f"unix://{_sock}?db=1"
    CELERY_BROKER_URL = f"redis+socket://{_sock}"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_LOCATION,
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        "KEY_PREFIX": env_str("FASHIONSITE_CACHE_PREFIX", "fashionsite"),
    }
}

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"embeddings.tasks.*": {"queue": "embeddings"}}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged task (its worker died) is handed out again after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
CELERY_TASK_ALWAYS_EAGER = False
# Modules every worker imports besides the autodiscovered tasks.py: the `embedding_device`
# remote-control command the embeddings dashboard broadcasts.
CELERY_IMPORTS = ("embeddings.workers",)

# --------------------------------------------------------------------------- auth, i18n
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --------------------------------------------------------------------------- static and media
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at every start when it is missing
MEDIA_URL = env_str("MEDIA_URL", "/media/")  # another origin when media are served elsewhere
MEDIA_ROOT = env_path("MEDIA_ROOT", DATA_DIR / "media", base=BASE_DIR)
# The app serves media itself unless a real web server or object storage does it.
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)
STORAGES = {
    "default": {"BACKEND": env_str("MEDIA_STORAGE", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Uploads: anything above FILE_UPLOAD_MAX_MEMORY_SIZE is streamed to a temp file on disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = None
DATA_UPLOAD_MAX_MEMORY_SIZE = 5_242_880
FASHIONSITE_MAX_UPLOAD_BYTES = env_int("FASHIONSITE_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
FASHIONSITE_MAX_QUERY_IMAGE_BYTES = env_int("FASHIONSITE_MAX_QUERY_IMAGE_BYTES", 10 * 1024 * 1024)
# Images with more pixels than this are refused (Pillow decompression-bomb guard).
FASHIONSITE_MAX_IMAGE_PIXELS = env_int("FASHIONSITE_MAX_IMAGE_PIXELS", 40_000_000)
FASHIONSITE_MAX_ZIP_BYTES = env_int("FASHIONSITE_MAX_ZIP_BYTES", 2 * 1024**3)
FASHIONSITE_MAX_ZIP_ENTRY_BYTES = env_int("FASHIONSITE_MAX_ZIP_ENTRY_BYTES", 50 * 1024**2)
FASHIONSITE_MAX_ZIP_RATIO = env_float("FASHIONSITE_MAX_ZIP_RATIO", 200.0)
# Data rows one catalogue import may hold (the Kaggle catalogue has 44,446); more refuses the file.
FASHIONSITE_MAX_IMPORT_ROWS = env_int("FASHIONSITE_MAX_IMPORT_ROWS", 200_000)
# A previewed bulk upload keeps its zip on disk until confirmed or discarded; unconfirmed after
# this many hours, it is discarded when the next upload arrives.
FASHIONSITE_UPLOAD_PREVIEW_HOURS = env_int("FASHIONSITE_UPLOAD_PREVIEW_HOURS", 48)
FASHIONSITE_SAMPLE_CATALOG = BASE_DIR / "fashionsite" / "sample_catalog"

# --------------------------------------------------------------------------- embeddings
# Real use: the fashion-tuned Marqo-FashionSigLIP from the Hugging Face hub. Offline (no weights
# can be downloaded), the launcher sets EMBEDDINGS_PRETRAINED=none: random weights, said on screen.
EMBEDDINGS_MODEL = env_str("EMBEDDINGS_MODEL", "hf-hub:Marqo/marqo-fashionSigLIP")
EMBEDDINGS_PRETRAINED = env_str("EMBEDDINGS_PRETRAINED", "")
EMBEDDINGS_WEIGHTS_PATH = env_str("EMBEDDINGS_WEIGHTS_PATH", "")
EMBEDDINGS_TEXT_TEMPLATE = env_str("EMBEDDINGS_TEXT_TEMPLATE", "{title}")
EMBEDDINGS_DEVICE = env_str("EMBEDDINGS_DEVICE", "")  # "", cuda, cuda:1, mps, cpu
EMBEDDINGS_BATCH_SIZE = env_int("EMBEDDINGS_BATCH_SIZE", 64)
EMBEDDINGS_AUTO_QUEUE = env_bool("EMBEDDINGS_AUTO_QUEUE", True)
# Changed products are re-embedded by one sweep (embeddings/sweep.py), queued after each catalogue
# change and by Celery beat every this many seconds (0: only after changes and at worker start).
EMBEDDINGS_SWEEP_SECONDS = env_int("EMBEDDINGS_SWEEP_SECONDS", 300)
CELERY_BEAT_SCHEDULE = (
    {
        "embeddings-sweep": {
            "task": "embeddings.tasks.sweep_changed_products",
            "schedule": float(EMBEDDINGS_SWEEP_SECONDS),
        }
    }
    if EMBEDDINGS_SWEEP_SECONDS > 0 and EMBEDDINGS_AUTO_QUEUE
    else {}
)

# --------------------------------------------------------------------------- search
SEARCH_RETENTION_DAYS = env_int("SEARCH_RETENTION_DAYS", 30)
SEARCH_QUERY_CACHE_SECONDS = env_int("SEARCH_QUERY_CACHE_SECONDS", 7 * 24 * 3600)
# Filtered approximate searches: pgvector iterative index scans stop after this many tuples.
SEARCH_MAX_SCAN_TUPLES = env_int("SEARCH_MAX_SCAN_TUPLES", 100_000)
# A filter keeping at most this many embedded products is answered by an exact scan of those rows.
SEARCH_FILTER_EXACT_BELOW = env_int("SEARCH_FILTER_EXACT_BELOW", 1000)

# --------------------------------------------------------------------------- surveys
# New participants one address may start through a survey's open link per hour (0 = no limit).
# The address is kept only hashed, in the cache, for that hour; never in the database.
SURVEY_JOINS_PER_HOUR = env_int("SURVEY_JOINS_PER_HOUR", 30)

# --------------------------------------------------------------------------- weight-comparison report
# Bootstrap intervals: resamples per interval and the seed that makes a report reproducible.
REPORT_BOOTSTRAP_RESAMPLES = env_int("REPORT_BOOTSTRAP_RESAMPLES", 2000)
REPORT_BOOTSTRAP_SEED = env_int("REPORT_BOOTSTRAP_SEED", 0)

# --------------------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "fashionsite.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "fashionsite API",
    "DESCRIPTION": "Two-stage multimodal fashion search, catalogue, surveys and reports.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --------------------------------------------------------------------------- security
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {"fashionsite": {"level": env_str("LOG_LEVEL", "INFO")}},
}
