"""Settings for Pulse, read from environment variables (see the README's table).

DEBUG is off unless set: production needs SECRET_KEY, ALLOWED_HOSTS and PUBLIC_URL
(https://...). The Makefile (make run, make test, make demo) and the test settings turn
DEBUG on, and with it the local defaults that work out of the box.
"""

import re
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from pulse.env import envbool, envchoice, envfloat, envint, envlist, envnetworks, envports, envstr

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DEBUG", False)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = envstr("SECRET_KEY", _DEV_SECRET if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

PUBLIC_URL = envstr("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [PUBLIC_URL])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "channels",
    "tenants",
    "apm",
    "ingest",
    "frontend",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.audit.AuditAddressMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "frontend.read_timeout.ReadTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "frontend.middleware.ContentSecurityPolicyMiddleware",
]

# What a web process serves (pulse/urls.py, pulse/asgi.py): everything, only the ingest
# APIs (ingest nodes: no pages, sessions or websockets), or only the UI and its APIs.
PULSE_ROLE = envchoice("PULSE_ROLE", "all", ("all", "ingest", "ui"))
ROOT_URLCONF = "pulse.urls"
ASGI_APPLICATION = "pulse.asgi.application"
WSGI_APPLICATION = "pulse.wsgi.application"

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
                "frontend.context_processors.navigation",
            ],
        },
    },
]

# --- Data stores -----------------------------------------------------------

DATABASE_URL = envstr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pulse")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
DATABASES["default"].setdefault("OPTIONS", {})
# Under ASGI each request runs in a thread of its own, where Django's documentation asks for
# its psycopg pool rather than persistent connections; a pooled connection is checked before
# it is handed out, so a PostgreSQL restart costs a reconnect, not a process restart.
# DB_POOL=false falls back to persistent connections (DB_CONN_MAX_AGE seconds).
if envbool("DB_POOL", True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": envint("DB_POOL_MIN_SIZE", 1, minimum=0),
        "max_size": envint("DB_POOL_MAX_SIZE", 10, minimum=1),
        "timeout": envfloat("DB_POOL_TIMEOUT", 10.0, minimum=0.1),
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"]["CONN_MAX_AGE"] = envint("DB_CONN_MAX_AGE", 60, minimum=0)
if envstr("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": envstr("TEST_DATABASE_NAME")}

REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
# Redis has two roles, each on REDIS_URL unless set apart (deploy/ does; make run keeps one):
# the queue (ingest stream, dead letters, quotas, Celery broker) must keep every write, so it
# wants AOF and noeviction; the cache (Django's cache, the channel layer, live-view flags and
# throttles) loses nothing that matters when evicted or flushed, so it may use allkeys-lru.
QUEUE_REDIS_URL = envstr("QUEUE_REDIS_URL", REDIS_URL)
CACHE_REDIS_URL = envstr("CACHE_REDIS_URL", REDIS_URL)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": "pulse",
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [CACHE_REDIS_URL], "prefix": "pulse:ws", "capacity": 200, "expiry": 30},
    }
}

# --- Celery ----------------------------------------------------------------

CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", QUEUE_REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 300, minimum=10)}
# Notification deliveries wait on other people's servers: they have a queue of their own, so
# deploy/ runs them in a worker apart from ingest consumers and alert evaluation.
ALERTS_DELIVERY_QUEUE = "alerts.delivery"
CELERY_TASK_ROUTES = {"alerts.deliver": {"queue": ALERTS_DELIVERY_QUEUE}}
# Periodic tasks: each app declares its own in <app>/schedule.py (gathered by pulse/celery.py).
# RedBeat keeps the schedule in the queue role's Redis behind a lock: any number of beat
# processes may run, only the holder sends, and another takes over within BEAT_LOCK_SECONDS
# of the holder's death.
CELERY_BEAT_SCHEDULER = "pulse.beat.LeaderScheduler"
CELERY_REDBEAT_REDIS_URL = QUEUE_REDIS_URL
CELERY_REDBEAT_KEY_PREFIX = envstr("BEAT_KEY_PREFIX", "pulse:beat")
CELERY_REDBEAT_LOCK_TIMEOUT = envint("BEAT_LOCK_SECONDS", 30, minimum=5)
# The holder extends the lock at each tick: ticks well inside the lock's lifetime, or a slow
# tick lets the lock lapse and the beat stop (LockNotOwnedError).
CELERY_BEAT_MAX_LOOP_INTERVAL = CELERY_REDBEAT_LOCK_TIMEOUT // 3

# --- Auth ------------------------------------------------------------------

AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Argon2 first, as Django's documentation recommends; a password stored with another hasher
# in the list is re-hashed with Argon2 at its next successful login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = envint("PASSWORD_RESET_TIMEOUT", 3600, minimum=60)
INVITATION_TTL_DAYS = envint("INVITATION_TTL_DAYS", 7, minimum=1)
# Login attempts per window (tenants/throttle.py): per account from one client address,
# per client address, and per account from everywhere.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_IP_LIMIT = envint("LOGIN_FAILURE_IP_LIMIT", 20, minimum=1)
LOGIN_FAILURE_ACCOUNT_LIMIT = envint("LOGIN_FAILURE_ACCOUNT_LIMIT", 50, minimum=1)
# Sign-ups (and resends of their mail) per e-mail address and per client address, per window.
SIGNUP_EMAIL_LIMIT = envint("SIGNUP_EMAIL_LIMIT", 3, minimum=1)
SIGNUP_IP_LIMIT = envint("SIGNUP_IP_LIMIT", 10, minimum=1)
LOGIN_FAILURE_WINDOW = envint("LOGIN_FAILURE_WINDOW", 900, minimum=10)  # seconds
# Two-factor (tenants/two_factor.py): the name authenticator apps show, and how long the
# code step of a login waits after the password before it starts again.
TWO_FACTOR_ISSUER = envstr("TWO_FACTOR_ISSUER", "Pulse")
TWO_FACTOR_LOGIN_SECONDS = envint("TWO_FACTOR_LOGIN_SECONDS", 300, minimum=30)

# --- Single sign-on with OpenID Connect (tenants/sso/, docs/sso.md) ----------

_OIDC_NAME = re.compile(r"^[a-z][a-z0-9]{0,29}$")


def _oidc_provider(name):
    """One provider of PULSE_OIDC_PROVIDERS, from its PULSE_OIDC_<NAME>_* variables."""
    if not _OIDC_NAME.match(name):
        raise ImproperlyConfigured(f"PULSE_OIDC_PROVIDERS: {name!r} is not a provider name (a-z and 0-9, up to 30)")
    prefix = f"PULSE_OIDC_{name.upper()}_"

    def required(key):
        value = envstr(prefix + key)
        if not value:
            raise ImproperlyConfigured(f"{prefix}{key} must be set for the OpenID provider {name!r}")
        return value

    issuer = required("ISSUER")  # exactly as the provider writes it: ID tokens must name it
    if not issuer.startswith("https://") and not (DEBUG and issuer.startswith("http://")):
        raise ImproperlyConfigured(f"{prefix}ISSUER must be an https:// URL")
    scope = envstr(prefix + "SCOPES") or "openid email profile"
    if "openid" not in scope.split():
        raise ImproperlyConfigured(f"{prefix}SCOPES must include openid (the ID token is what Pulse checks)")
    return {
        "name": name,
        "label": envstr(prefix + "NAME") or name.title(),
        "issuer": issuer,
        "client_id": required("CLIENT_ID"),
        "client_secret": required("CLIENT_SECRET"),
        "scope": scope,
    }


# The providers people may sign in with, in the order of their buttons on the login page.
OIDC_PROVIDERS = [_oidc_provider(name) for name in envlist("PULSE_OIDC_PROVIDERS")]
OIDC_TIMEOUT = envfloat("PULSE_OIDC_TIMEOUT", 10.0, minimum=1)  # seconds per request to a provider
# Domains anyone can have an address at: never mapped to automatic membership.
SSO_PUBLIC_EMAIL_DOMAINS = frozenset(
    d.lower()
    for d in envlist(
        "PULSE_SSO_PUBLIC_EMAIL_DOMAINS",
        ["gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
         "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "mail.com"],
    )
)

# --- E-mail ----------------------------------------------------------------

EMAIL_HOST = envstr("EMAIL_HOST", "")
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
# Seconds each SMTP operation may wait: a mail server that stops answering must not hold a
# delivery worker until its task is killed.
EMAIL_TIMEOUT = envfloat("EMAIL_TIMEOUT", 10.0, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Pulse <pulse@localhost>")

# --- Security --------------------------------------------------------------

SECURE_SSL = PUBLIC_URL.startswith("https://")
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=300)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", SECURE_SSL)
# Health probes come from inside the cluster over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz/"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if SECURE_SSL else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
SECURE_HSTS_PRELOAD = SECURE_SSL
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_PROXY", False) else None
# Proxies whose X-Forwarded-For is believed (tenants/client_address.py); none by default.
TRUSTED_PROXIES = envnetworks("PULSE_TRUSTED_PROXIES")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Static files ----------------------------------------------------------

STATIC_URL = "/static/"
# In development WhiteNoise serves from the finders and STATIC_ROOT (filled by
# collectstatic for production) does not exist; under ASGI it streams files through a
# synchronous iterator, which Django buffers (static assets are small). Neither is news.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
STATIC_ROOT = BASE_DIR / "frontend" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Misc ------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOG_LEVEL = envstr("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Product limits --------------------------------------------------------

# What one organisation (or one app) may have; each refused with its name (tenants/limits.py).
APPS_PER_ORG_LIMIT = envint("APPS_PER_ORG_LIMIT", 100, minimum=1)
DEPLOYMENTS_PER_APP_PER_HOUR = envint("DEPLOYMENTS_PER_APP_PER_HOUR", 30, minimum=1)
INGEST_KEYS_PER_ORG_LIMIT = envint("INGEST_KEYS_PER_ORG_LIMIT", 100, minimum=1)  # not revoked
PENDING_INVITATIONS_PER_ORG_LIMIT = envint("PENDING_INVITATIONS_PER_ORG_LIMIT", 50, minimum=1)
ALERT_CONDITIONS_PER_ORG_LIMIT = envint("ALERT_CONDITIONS_PER_ORG_LIMIT", 500, minimum=1)
NOTIFICATION_CHANNELS_PER_ORG_LIMIT = envint("NOTIFICATION_CHANNELS_PER_ORG_LIMIT", 50, minimum=1)
SLOS_PER_ORG_LIMIT = envint("SLOS_PER_ORG_LIMIT", 200, minimum=1)
TRANSACTIONS_PER_APP_LIMIT = envint("TRANSACTIONS_PER_APP_LIMIT", 2_000, minimum=1)  # then "(other)"
ERROR_GROUPS_PER_APP_LIMIT = envint("ERROR_GROUPS_PER_APP_LIMIT", 1_000, minimum=1)  # then "(other errors)"
OPERATIONS_PER_APP_LIMIT = envint("OPERATIONS_PER_APP_LIMIT", 500, minimum=1)  # then "(other)"
INGEST_KEY_CACHE_SECONDS = envfloat("INGEST_KEY_CACHE_SECONDS", 5.0, minimum=0)

# --- Bounded reads (frontend/read_timeout.py, apm/queries/rankings.py) ---------------

# Milliseconds of one SQL statement of a page or query-API read (GET) before PostgreSQL
# cancels it and the user is told; workers, ingest and migrations are not bounded by it.
READ_STATEMENT_TIMEOUT_MS = envint("READ_STATEMENT_TIMEOUT_MS", 10_000, minimum=1)
# Percentile sketches one ranking by p95 may decode (those not cached); past it the
# ranking is by time consumed, with a notice saying so.
P95_RANKING_MAX_SKETCHES = envint("P95_RANKING_MAX_SKETCHES", 20_000, minimum=1)

# --- Alerts ------------------------------------------------------------------

# Self-hosted installs (and tests) may send webhooks to private and loopback
# addresses; link-local, cloud metadata, unspecified and multicast addresses stay refused.
ALERTS_ALLOW_PRIVATE_WEBHOOKS = envbool("ALERTS_ALLOW_PRIVATE_WEBHOOKS", False)
# Ports webhooks may be sent to (None: any, from "*").
ALERTS_WEBHOOK_PORTS = envports("ALERTS_WEBHOOK_PORTS", (80, 443))
# Seconds after the minute boundary before a minute is evaluated, so the last
# harvests of the minute (every 2 s) have been aggregated.
ALERTS_EVALUATION_DELAY = envint("ALERTS_EVALUATION_DELAY", 10, minimum=0)
# Seconds one webhook or chat request may take in all (connect, send, reply), and the bytes
# of a reply read: only the status is needed, and a receiver must not hold or flood a worker.
ALERTS_WEBHOOK_TIMEOUT = envfloat("ALERTS_WEBHOOK_TIMEOUT", 10.0, minimum=1)
ALERTS_REPLY_MAX_BYTES = envint("ALERTS_REPLY_MAX_BYTES", 64 * 1024, minimum=0)
# Attempts of one delivery, a killed one included, before it is marked failed (a channel
# kind's MAX_RETRY_AGE may end it sooner).
# Test notifications one organisation may send per hour (each points a worker at a typed URL).
ALERTS_TEST_SENDS_PER_HOUR = envint("ALERTS_TEST_SENDS_PER_HOUR", 10, minimum=1)
ALERTS_DELIVERY_MAX_ATTEMPTS = envint("ALERTS_DELIVERY_MAX_ATTEMPTS", 20, minimum=1)
# Hours a rotated webhook secret keeps signing beside the new one (docs/webhooks.md).
WEBHOOK_SECRET_OVERLAP_HOURS = envint("WEBHOOK_SECRET_OVERLAP_HOURS", 24, minimum=0)

# --- Live views (apm/live.py, frontend/consumers.py) ---------------------------

LIVE_EVENTS_PER_SECOND = envint("LIVE_EVENTS_PER_SECOND", 300, minimum=1)  # scatter points per app, all viewers
LIVE_EVENTS_BURST = envint("LIVE_EVENTS_BURST", LIVE_EVENTS_PER_SECOND, minimum=1)
LIVE_FLUSH_INTERVAL = envfloat("LIVE_FLUSH_INTERVAL", 0.2, minimum=0)  # seconds a publisher coalesces commits
LIVE_SOCKETS_PER_USER = envint("LIVE_SOCKETS_PER_USER", 20, minimum=1)  # open at once, all web processes
LIVE_SEND_QUEUE = envint("LIVE_SEND_QUEUE", 16, minimum=1)  # messages queued per socket before dropping

# --- Ingest pipeline (ingest/, apm/consumer.py, apm/tasks.py) -------------------

INGEST_STREAM = envstr("INGEST_STREAM", "pulse:ingest")  # Redis Stream of accepted payloads
INGEST_QUOTA_PER_MINUTE = envint("INGEST_QUOTA_PER_MINUTE", 120_000, minimum=1)  # payloads per organisation
INGEST_BACKLOG_MAX = envint("INGEST_BACKLOG_MAX", 10_000, minimum=1)  # queued payloads before 503
INGEST_BACKLOG_RETRY_AFTER = envint("INGEST_BACKLOG_RETRY_AFTER", 5, minimum=1)  # seconds
# Bytes of queued entries one organisation may have waiting before 429 (contract/backlog.py),
# so one tenant's burst fills its own share, not the backlog every tenant shares.
INGEST_BACKLOG_BYTES_PER_ORG = envint("INGEST_BACKLOG_BYTES_PER_ORG", 64 << 20, minimum=1)
INGEST_ENTRY_MAX_BYTES = envint("INGEST_ENTRY_MAX_BYTES", 4 << 20, minimum=1)  # one payload, queued form; then 413
# Look-ups of ingest keys not in the caches that find nothing, per client address and web
# process, before 429 (a token bucket); and database look-ups queued or running per web
# process before 503 (ingest/lookups.py).
INGEST_UNKNOWN_KEYS_PER_MINUTE = envint("INGEST_UNKNOWN_KEYS_PER_MINUTE", 30, minimum=1)
INGEST_LOOKUPS_MAX = envint("INGEST_LOOKUPS_MAX", 256, minimum=1)
INGEST_CONSUMERS = envint("INGEST_CONSUMERS", 1, minimum=0)  # stream consumers per worker process
# Payloads per Postgres transaction: each rollup row's sketch is decoded, merged and encoded
# once per batch, so larger batches cost less per payload.
INGEST_BATCH_MAX = envint("INGEST_BATCH_MAX", 300, minimum=1)
# A read that finds fewer than INGEST_BATCH_MIN entries waits INGEST_BATCH_LINGER_MS once
# for more: under load, batches grow (each has a fixed cost beyond its payloads, mostly the
# rollup upserts); at most this much later on screen.
INGEST_BATCH_MIN = envint("INGEST_BATCH_MIN", 100, minimum=1)
INGEST_BATCH_LINGER_MS = envint("INGEST_BATCH_LINGER_MS", 100, minimum=0)
INGEST_CLAIM_IDLE_SECONDS = envfloat("INGEST_CLAIM_IDLE_SECONDS", 60.0, minimum=0.1)  # then re-deliver
# Bytes of entries one read may hold (a single larger entry is read alone): entries differ
# in size by orders of magnitude, so a bound on their number alone does not bound memory.
INGEST_BATCH_MAX_BYTES = envint("INGEST_BATCH_MAX_BYTES", 16 * 1024 * 1024, minimum=1)
# An entry delivered this many times without being applied (each consumer holding it died,
# hung or failed on it) goes to the dead-letter stream on its next delivery.
INGEST_MAX_DELIVERIES = envint("INGEST_MAX_DELIVERIES", 5, minimum=1)
# Dead letters waiting before the logs and /healthz/ready raise the alarm (never trimmed).
INGEST_DEAD_LETTER_ALARM = envint("INGEST_DEAD_LETTER_ALARM", 100, minimum=1)
# Seconds /healthz/ready waits for PostgreSQL and each Redis (checked at once): under a
# Kubernetes probe's default timeout of one second.
HEALTH_CHECK_TIMEOUT = envfloat("HEALTH_CHECK_TIMEOUT", 0.8, minimum=0.1)
ERROR_SAMPLES_PER_GROUP = envint("ERROR_SAMPLES_PER_GROUP", 20, minimum=1)  # newest kept per error group
ERROR_SAMPLES_PER_BATCH = envint("ERROR_SAMPLES_PER_BATCH", 5, minimum=1)  # newest stored per group per batch
RETENTION_MINUTE_DAYS = envint("RETENTION_MINUTE_DAYS", 8, minimum=1)
RETENTION_HOUR_DAYS = envint("RETENTION_HOUR_DAYS", 90, minimum=1)
RETENTION_DAY_DAYS = envint("RETENTION_DAY_DAYS", 400, minimum=1)
RETENTION_EVENT_DAYS = envint("RETENTION_EVENT_DAYS", 7, minimum=1)  # events and traces
RETENTION_AUDIT_DAYS = envint("RETENTION_AUDIT_DAYS", 365, minimum=1)  # organisations' audit logs
