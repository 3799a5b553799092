"""fashionsite settings: one module, driven by environment variables. Importing it starts nothing.

Unset DATABASE_URL / REDIS_URL mean "the embedded servers of the data directory" (see
fashionsite/embedded.py): settings only compute where they listen; manage.py, `manage.py up`
and the pytest session start them. Every variable is listed in the README's configuration table.
"""

import os
from pathlib import Path

import dj_database_url

from fashionsite import embedded, env
from fashionsite.env import EnvError, env_bool, env_choice, env_float, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = embedded.data_dir_from_env()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# SECRET_KEY, else a random key kept in <data dir>/secret_key (written once).
SECRET_KEY = env.secret_key(DATA_DIR)
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
    "health_check",
    "django_prometheus",
    "fashionsite",
    "catalogue",
    "embeddings",
    "search",
    "surveys",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "fashionsite.requestlog.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
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
# No persistent connections by default: under ASGI each request has a thread of its own, and a connection
# kept by a thread that is gone is never reused nor closed (a soak ran out of max_connections); web: pool.
DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 0)
EMBEDDED_POSTGRES = not DATABASE_URL
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            **embedded.postgres_connection(DATA_DIR, env_str("FASHIONSITE_DB_NAME", "fashionsite")),
            "CONN_MAX_AGE": DB_CONN_MAX_AGE,
        }
    }
# Fail fast while the database is away (a restart) instead of hanging a web thread.
DATABASES["default"].update(CONN_HEALTH_CHECKS=True, ENGINE="django.db.backends.postgresql")
DATABASES["default"].setdefault("OPTIONS", {})
# Connections per process and database kept in a pool (fashionsite/dbpool.py; docs/deployment.md);
# 0 = a new connection per request. gunicorn_config.py sets it for the web workers only.
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 0)
DB_POOL_TIMEOUT = env_float("DB_POOL_TIMEOUT", 10.0)
if DB_POOL_SIZE < 0:
    raise EnvError(f"DB_POOL_SIZE={DB_POOL_SIZE} must be 0 (no pool) or more")
DATABASES["default"]["TEST"] = {"NAME": env_str("FASHIONSITE_TEST_DB_NAME", "") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Read replicas (docs/search-scoring.md, "Scale-out"): comma-separated URLs of streaming replicas of
# the primary. Search reads go to one of them (fashionsite/routers.py), every write to the primary.
# Their connections follow the primary's rules (DB_CONN_MAX_AGE, the web workers' pool).
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", [])
DATABASE_REPLICA_ALIASES = [f"replica{number}" for number in range(1, len(DATABASE_REPLICA_URLS) + 1)]
for _alias, _url in zip(DATABASE_REPLICA_ALIASES, DATABASE_REPLICA_URLS, strict=True):
    DATABASES[_alias] = dj_database_url.parse(_url, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)
    DATABASES[_alias].update(ENGINE="django.db.backends.postgresql", TEST={"MIRROR": "default"})
if DB_POOL_SIZE:
    from fashionsite.dbpool import use_pool

    for _database in DATABASES.values():
        use_pool(_database, size=DB_POOL_SIZE, timeout=DB_POOL_TIMEOUT)
DATABASE_ROUTERS = ["fashionsite.routers.SearchReplicaRouter"]

# --------------------------------------------------------------------------- redis, cache, celery
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS = not REDIS_URL
if not REDIS_URL or REDIS_URL.startswith("unix://"):
    # The embedded Redis (or any unix socket): broker in db 0, cache in db 1.
    _sock = REDIS_URL.removeprefix("unix://").split("?")[0] if REDIS_URL else embedded.redis_socket(DATA_DIR)
    CACHE_LOCATION = f"unix://{_sock}?db=1"
    CELERY_BROKER_URL = f"redis+socket://{_sock}"
else:
    CACHE_LOCATION = REDIS_URL
    CELERY_BROKER_URL = REDIS_URL

# Redis is optional for a request: the cache answers "miss" at once while its circuit breaker is open,
# so a frozen Redis costs one timeout. The breaker tries again after CACHE_CIRCUIT_RESET_SECONDS when
# the last call timed out (frozen), after CACHE_CIRCUIT_DOWN_RESET_SECONDS when Redis refused (down).
CACHES = {
    "default": {
        "BACKEND": "fashionsite.resilience.ResilientRedisCache",
        "LOCATION": CACHE_LOCATION,
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        "KEY_PREFIX": env_str("FASHIONSITE_CACHE_PREFIX", "fashionsite"),
    }
}
CACHE_CIRCUIT_RESET_SECONDS = env_float("CACHE_CIRCUIT_RESET_SECONDS", 5.0)
CACHE_CIRCUIT_DOWN_RESET_SECONDS = env_float("CACHE_CIRCUIT_DOWN_RESET_SECONDS", 1.0)

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Fine-tuning runs go to GPU workers (`celery -A fashionsite worker -Q training`); exact names win over globs.
CELERY_TASK_ROUTES = {
    "embeddings.tasks.train_run": {"queue": "training"},
    "embeddings.tasks.*": {"queue": "embeddings"},
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged task (its worker died) is handed out again after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # A frozen or absent Redis fails a publish within seconds instead of holding a web thread.
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
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
# The site's own sign-in pages (fashionsite/accounts.py): group membership is enough, no is_staff.
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/profile/"
LOGOUT_REDIRECT_URL = "/"
# Password reset by e-mail is offered only when mail can leave: EMAIL_HOST (SMTP) or EMAIL_BACKEND set.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "fashionsite@localhost")
PASSWORD_RESET_BY_EMAIL = bool(EMAIL_HOST or env_str("EMAIL_BACKEND"))
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
# Unset, the offline demo model: open_clip's ViT-B-32 with random weights (nothing can be
# downloaded here; every page says so). Real use (docker-compose.yml sets it): the fashion-tuned
# EMBEDDINGS_MODEL=hf-hub:Marqo/marqo-fashionSigLIP from the Hugging Face hub.
DEMO_EMBEDDINGS_MODEL = "ViT-B-32"
EMBEDDINGS_MODEL = env_str("EMBEDDINGS_MODEL", DEMO_EMBEDDINGS_MODEL)
EMBEDDINGS_PRETRAINED = env_str(
    "EMBEDDINGS_PRETRAINED", "none" if EMBEDDINGS_MODEL == DEMO_EMBEDDINGS_MODEL else ""
)
EMBEDDINGS_WEIGHTS_PATH = env_str("EMBEDDINGS_WEIGHTS_PATH", "")
EMBEDDINGS_TEXT_TEMPLATE = env_str("EMBEDDINGS_TEXT_TEMPLATE", "{title}")
EMBEDDINGS_DEVICE = env_str("EMBEDDINGS_DEVICE", "")  # "", cuda, cuda:1, mps, cpu
EMBEDDINGS_BATCH_SIZE = env_int("EMBEDDINGS_BATCH_SIZE", 64)
# Option: an int8 text tower (faster on CPUs, slightly different vectors: docs/search-scoring.md).
EMBEDDINGS_TEXT_INT8 = env_bool("EMBEDDINGS_TEXT_INT8", False)
EMBEDDINGS_AUTO_QUEUE = env_bool("EMBEDDINGS_AUTO_QUEUE", True)
# Seconds the embeddings dashboard waits for Celery workers to answer (a broadcast waits all of it).
EMBEDDINGS_WORKERS_REPLY_TIMEOUT = env_float("EMBEDDINGS_WORKERS_REPLY_TIMEOUT", 1.0)
# Changed products are re-embedded by one sweep (embeddings/sweep.py), queued after each catalogue
# change and by Celery beat every this many seconds (0: only after changes and at worker start).
# The same beat task re-sends the queued batches of jobs with no progress for STALL seconds while
# the queue is empty (their messages were lost: embeddings/recovery.py).
EMBEDDINGS_SWEEP_SECONDS = env_int("EMBEDDINGS_SWEEP_SECONDS", 120)
EMBEDDINGS_STALL_SECONDS = env_float("EMBEDDINGS_STALL_SECONDS", 180.0)
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
# Web workers load the active space's query encoder at boot, before serving (fashionsite/asgi.py).
WARM_MODELS = env_bool("WARM_MODELS", True)
# Torch intra-op threads of each web process's query encoder (the Celery worker keeps every core):
# by default the cores this process may use, shared among the web workers (WEB_CONCURRENCY).
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
WEB_TORCH_THREADS = env_int(
    "FASHIONSITE_TORCH_THREADS", max(1, _CORES // max(1, env_int("WEB_CONCURRENCY", 2)))
)
if WEB_TORCH_THREADS < 1:
    raise EnvError(f"FASHIONSITE_TORCH_THREADS={WEB_TORCH_THREADS} must be at least 1")
# Fine-tuning checkpoints and weights: a directory every training worker (and embedding worker) shares.
TRAINING_WEIGHTS_DIR = env_path("FASHIONSITE_WEIGHTS_DIR", DATA_DIR / "weights", base=BASE_DIR)
TRAINING_LOADER_THREADS = env_int("FASHIONSITE_TRAINING_LOADER_THREADS", 2)  # batch loading; more on a GPU

# --------------------------------------------------------------------------- search
SEARCH_RETENTION_DAYS = env_int("SEARCH_RETENTION_DAYS", 30)
SEARCH_QUERY_CACHE_SECONDS = env_int("SEARCH_QUERY_CACHE_SECONDS", 7 * 24 * 3600)
# Filtered approximate searches: pgvector iterative index scans stop after this many tuples.
SEARCH_MAX_SCAN_TUPLES = env_int("SEARCH_MAX_SCAN_TUPLES", 100_000)
# Filters keeping at most this many products are answered exactly (the measured crossover, docs/).
SEARCH_FILTER_EXACT_BELOW = env_int("SEARCH_FILTER_EXACT_BELOW", 8000)
# Above it, pgvector's iterative scan: relaxed_order (stage 1 scores the rows exactly anyway) or strict.
SEARCH_ITERATIVE_SCAN = env_choice(
    "SEARCH_ITERATIVE_SCAN", "relaxed_order", ("relaxed_order", "strict_order")
)
# hnsw.ef_search per kind for a config without one, up to BASE_ROWS vectors (docs/search-scoring.md).
SEARCH_EF_SEARCH = {
    "image": env_int("SEARCH_EF_SEARCH_IMAGE", 100),
    "text": env_int("SEARCH_EF_SEARCH_TEXT", 600),
    "combined": env_int("SEARCH_EF_SEARCH_COMBINED", 600),
}
SEARCH_EF_SEARCH_BASE_ROWS = env_int("SEARCH_EF_SEARCH_BASE_ROWS", 250_000)
# Exact stage 1 in memory for spaces of up to this many MB of vectors, settled SETTLE s after a change.
SEARCH_MEMORY_MAX_MB = env_int("SEARCH_MEMORY_MAX_MB", 128)
SEARCH_MEMORY_SETTLE_SECONDS = env_int("SEARCH_MEMORY_SETTLE_SECONDS", 10)

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

# One line per event with the request id; participant tokens redacted from every record
# (fashionsite/requestlog.py). `manage.py up` writes them to <data dir>/logs/*.log, mode 0640.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "fashionsite.requestlog.RedactSecrets"}},
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"], "formatter": "line"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {"fashionsite": {"level": env_str("LOG_LEVEL", "INFO")}},
}

# =========================================================================== security (issue #18)
# Kept together at the end: each line below is documented in docs/deployment.md ("Security settings").

# Request bodies are refused with 413 from their Content-Length before anything reads them
# (fashionsite/middleware.py). Each upload URL gets the limit of what it accepts; every other URL
# gets DATA_UPLOAD_MAX_MEMORY_SIZE.
MIDDLEWARE = ["fashionsite.middleware.RequestGuardMiddleware", *MIDDLEWARE]
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FASHIONSITE_BODY_LIMITS = [
    (r"^/$", "FASHIONSITE_MAX_QUERY_IMAGE_BYTES"),
    (r"^/api/search/$", "FASHIONSITE_MAX_QUERY_IMAGE_BYTES"),
    (r"^/surveys/i/[^/]+/own-query/$", "FASHIONSITE_MAX_QUERY_IMAGE_BYTES"),
    (r"^/surveys/manage/[^/]+/queries/add/$", "FASHIONSITE_MAX_QUERY_IMAGE_BYTES"),
    (r"^/surveys/manage/[^/]+/queries/import/$", "FASHIONSITE_MAX_UPLOAD_BYTES"),
    (r"^/catalogue/products/", "FASHIONSITE_MAX_QUERY_IMAGE_BYTES"),
    (r"^/catalogue/upload/$", "FASHIONSITE_MAX_UPLOAD_BYTES"),
]
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "fashionsite.api.JSONParser",  # deep nesting is a 400, not a RecursionError
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]

# Sign-in lock-out (django-axes, fashionsite/throttling.py): LOGIN_FAILURE_LIMIT wrong passwords for
# one account from one address lock that pair out for LOGIN_LOCKOUT_MINUTES, right password or not.
INSTALLED_APPS += ["axes"]
# The sync-only subclass of axes' middleware (no thread hop per request under ASGI); axes' system
# check looks for its own dotted path only.
MIDDLEWARE += ["fashionsite.throttling.AxesMiddleware"]
SILENCED_SYSTEM_CHECKS = ["axes.W002"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "fashionsite.throttling.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password", "username"]

# REST API rates (DRF throttles, fashionsite/throttling.py); a 429 carries Retry-After.
CACHES["throttle"] = {**CACHES["default"], "KEY_PREFIX": CACHES["default"]["KEY_PREFIX"] + "-throttle"}
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "fashionsite.throttling.AnonThrottle",
    "fashionsite.throttling.UserThrottle",
    "fashionsite.throttling.ImageSearchThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": env_str("API_THROTTLE_ANON", "120/min"),
    "user": env_str("API_THROTTLE_USER", "600/min"),
    "image_search": env_str("API_THROTTLE_IMAGE_SEARCH", "20/min"),
}

# Content-Security-Policy (django-csp) on every response: scripts only from our own static files,
# no inline script or handler anywhere. Inline styles stay allowed: the report's plots are inline
# SVG with <style> elements, and progress bars set their width in a style attribute.
INSTALLED_APPS += ["csp"]
# Media served from another origin (MEDIA_URL, docs/deployment.md) must be allowed as images.
_media_origins = env_list("CSP_MEDIA_ORIGINS", [])
if MEDIA_URL.startswith(("https://", "http://")):
    _media_origins.append("/".join(MEDIA_URL.split("/", 3)[:3]))
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *_media_origins],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# HTTPS deployments (SECURE_HTTPS=true behind TLS): redirect to https, HSTS, cookies only over TLS.
# `manage.py check --deploy` is clean in this mode (tests/security/test_headers.py).
SECURE_HTTPS = env_bool("SECURE_HTTPS", False)
if SECURE_HTTPS:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    if env_bool("SECURE_BEHIND_PROXY", True):
        # The TLS-terminating proxy in front (docs/deployment.md) says the original scheme here.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# The OpenAPI schema documents the error responses of every operation (fashionsite/api.py).
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "fashionsite.api.document_errors",
]
