"""The studio's only settings module.

Everything is read from the environment through the small typed helpers below. With no
environment at all the defaults give a working development studio: SQLite, Celery on kombu's
filesystem transport and media on local disk, all under ``var/``. Production sets ``DEBUG=false``
and the variables listed in ``.env.example``; ``manage.py check --deploy`` catches what is missing.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, SELF
from csp.constants import NONE as NONE_SOURCE

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError:
            raise ValueError(f"{name} must list networks like 127.0.0.0/8, got {item!r}") from None
    return networks


def env_oidc_providers(name: str) -> list[dict[str, Any]]:
    """OpenID Connect providers as a JSON list, e.g. ``[{"id": "acme", "name": "Acme",
    "issuer": "https://login.acme.com", "client_id": "...", "secret": "..."}]``; optional per
    provider: ``"groups_claim"`` (default ``"groups"``). Returned as allauth's ``APPS`` entries."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        raise ValueError(f"{name} must be a JSON list of providers") from None
    if not isinstance(items, list):
        raise ValueError(f"{name} must be a JSON list of providers")
    apps: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        missing = [
            key
            for key in ("id", "issuer", "client_id", "secret")
            if not isinstance(item, dict) or not isinstance(item.get(key), str) or not item[key]
        ]
        if missing:
            # Names only: the value of "secret" must never reach an error or a log.
            raise ValueError(f"{name}[{index}] needs {', '.join(missing)} (non-empty strings)")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,49}", item["id"]):
            raise ValueError(f"{name}[{index}].id must be lower-case letters, digits, - or _")
        apps.append(
            {
                "provider_id": item["id"],
                "name": str(item.get("name") or item["id"]),
                "client_id": item["client_id"],
                "secret": item["secret"],
                "settings": {
                    "server_url": item["issuer"].rstrip("/"),
                    "groups_claim": str(item.get("groups_claim") or "groups"),
                },
            }
        )
    if len({app["provider_id"] for app in apps}) != len(apps):
        raise ValueError(f"{name}: each provider needs its own id")
    return apps


VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite, the local broker and media live here

# --- Core ------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)

# Development values. Django's own deploy check (security.W009) rejects the "django-insecure-"
# prefix, and editor.checks rejects the development vault key, so neither can reach production.
DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production-4f1c9a"
DEV_VAULT_KEY = "ZGV2ZWxvcG1lbnQtb25seS12YXVsdC1rZXktMDAwMDA="
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
# Fernet keys, newest first. The first one encrypts; all of them decrypt (MultiFernet).
VAULT_KEYS = env_list("VAULT_KEYS", [DEV_VAULT_KEY])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The bearer token a Prometheus scraper sends to GET /metrics; empty (the default): no such page.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "ninja",
    "csp",
    "limiter",
    "accounts",
    "editor",
    "api",
]

MIDDLEWARE = [
    "config.middleware.RequestMetrics",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a request's body (CSRF, sessions' views): config.charsets.
    "config.charsets.refuse_unreadable_charsets",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the browser's language (LocaleMiddleware) and the user: a saved choice wins.
    "accounts.languages.SavedLanguage",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.adapter.sign_in_refusals",
    "accounts.social.CompanySignInErrors",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "editor.pages.feed.job_activity",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------

# Web, workers and beat may share one SQLite file: WAL lets readers run beside a writer, and
# IMMEDIATE transactions make writers queue instead of failing with "database is locked".
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            "OPTIONS": SQLITE_OPTIONS,
            # A file, not memory, so worker processes started by the tests see the test data;
            # one per test run, so parallel runs do not share it.
            "TEST": {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login throttling, vendor rate limits) ----------------------------------------------

CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    # The file cache is shared by every local process, unlike the in-memory one.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Rate limits -----------------------------------------------------------------------------

# Where every rate budget is kept (limiter/core.py): a Redis URL, or "" for the database (one
# short locking transaction a call, so the budgets hold on the embedded defaults too). A Redis
# cache is used for them unless told otherwise.
RATE_LIMIT_URL = env_str(
    "RATE_LIMIT_URL", CACHE_URL if CACHE_URL.startswith(("redis://", "rediss://")) else ""
)
# Each window is lengthened by this fraction: half of it lets a re-scheduled job call a little
# after its slot, the other half absorbs network jitter (rate-limits.md: keep ~10 %, less on a
# loopback or a LAN).
RATE_LIMIT_MARGIN = env_float("RATE_LIMIT_MARGIN", 0.04)

# --- Accounts --------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "editor:studio"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
# "none", "optional" or "mandatory".
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PRESERVE_USERNAME_CASING = False
# Failed sign-ins: 10 per minute per address, 5 per 5 minutes per account (whichever identifier
# was typed), counted by accounts.adapter in the limiter, not by allauth's cache-based counter.
LOGIN_FAILED_RATE_LIMIT = env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key")
ACCOUNT_RATE_LIMITS = {"login_failed": False}
# Share-link passwords (editor.shares), in budgets of their own, never the sign-in ones. Each is
# "free tries, first delay, cap, quiet spell" (limiter.core.Backoff): from one address on one
# link, 3 tries at once, then each further try waits 1 s after the one before, doubling up to 5
# minutes; forgotten after 15 quiet minutes or at the right password.
SHARE_PASSWORD_ADDRESS_BACKOFF = env_str("SHARE_PASSWORD_ADDRESS_BACKOFF", "3,1s,5m,15m")
# One link, every address (guessing spread over many addresses): past 10 wrong passwords, each
# try from an address that already failed on the link waits 1 s after the link's last failure,
# doubling up to 5 minutes; forgotten after a quiet hour. An address's first try on a link is
# never held back by it, so whoever was given the password opens the link at once.
SHARE_PASSWORD_LINK_BACKOFF = env_str("SHARE_PASSWORD_LINK_BACKOFF", "10,1s,5m,1h")
ACCOUNT_ALLOW_REGISTRATION = env_bool("ACCOUNT_ALLOW_REGISTRATION", True)
# Requests per personal access token on the JSON API (same limiter and syntax as above).
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "120/m/key")
# Webhook deliveries per receiver URL, across every worker (a burst of ended jobs must not flood
# someone's endpoint).
WEBHOOK_RATE = env_str("WEBHOOK_RATE", "10/1s")
# Webhooks go only to public internet addresses (editor.addresses). Networks listed here are let
# through as well, plain http included when the URL names such an address: for development and
# tests (127.0.0.0/8 for a local receiver), never in production. Empty by default.
WEBHOOK_ALLOWED_NETWORKS = env_networks("WEBHOOK_ALLOWED_NETWORKS")
# An egress proxy for webhook deliveries (http://host:port), for deployments that have one. The
# proxy then looks up the receiver's name and must refuse internal addresses itself: the studio
# still refuses internal IP literals, but no longer resolves names. Empty: direct, pinned calls.
WEBHOOK_PROXY_URL = env_str("WEBHOOK_PROXY_URL", "")
if WEBHOOK_PROXY_URL and urlsplit(WEBHOOK_PROXY_URL).scheme not in ("http", "https"):
    raise ValueError("WEBHOOK_PROXY_URL must be an http:// or https:// proxy URL")
# How long the API keeps the answer to a POST sent with an Idempotency-Key (api.idempotency): the
# same request with the same key gets it again instead of a second job. Older ones are deleted
# every hour.
API_IDEMPOTENCY_SECONDS = env_int("API_IDEMPOTENCY_SECONDS", 24 * 3600)
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# The password and sign-up forms refuse people whose email domain must sign in with their company
# account (accounts.signin: SignInRule, set in the admin).
ACCOUNT_FORMS = {"login": "accounts.signin.LoginForm", "signup": "accounts.signin.SignupForm"}

# Sign in with a company account (OpenID Connect), configured only from the environment: see
# env_oidc_providers above. None configured (the default): no company sign-in button.
OIDC_PROVIDERS = env_oidc_providers("OIDC_PROVIDERS")
SOCIALACCOUNT_PROVIDERS: dict[str, Any] = {
    "openid_connect": {"APPS": OIDC_PROVIDERS, "OAUTH_PKCE_ENABLED": True}
}
SOCIALACCOUNT_ADAPTER = "accounts.social.SocialAccountAdapter"
# An existing account with the same (provider-verified) email is signed in and linked, so
# people who had a password before their company switched to single sign-on keep their work.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
# Access and refresh tokens are not needed after sign-in: never stored.
SOCIALACCOUNT_STORE_TOKENS = False

# --- Email -----------------------------------------------------------------------------------

EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "studio@localhost")
# Emails when work ends (opt-in on the account page, editor.notifications): a batch when its
# last job ends, a single job when it took at least this long. A failed send is tried again
# with growing waits, this many times in all, then shown as failed in the admin.
NOTIFY_AFTER_SECONDS = env_int("NOTIFY_AFTER_SECONDS", 60)
NOTICE_MAX_ATTEMPTS = env_int("NOTICE_MAX_ATTEMPTS", 5)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation --------------------------------------------------------------------

LANGUAGE_CODE = "en"
# Each named in its own language, as the switcher shows it. A person's language is the one saved
# on their account, else their browser's (accounts.languages); the catalogs are locale/*/*.po,
# compiled by `make install` (and the image), never committed as .mo.
LANGUAGES = [("en", "English"), ("es", "Español"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates, numbers and credits follow the language (Django's locale formats; config/formats only
# where a language's own conventions differ from Django's data).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and media ------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

MEDIA_STORAGE = env_str("MEDIA_STORAGE", "local")
# S3: media leaves through presigned URLs that expire this many seconds after the page asked.
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 300)
# Local storage behind a proxy: "nginx" (X-Accel-Redirect to MEDIA_ACCEL_PREFIX, an internal
# location aliased to MEDIA_ROOT) or "sendfile" (X-Sendfile); empty: Django streams the file.
MEDIA_ACCEL = env_str("MEDIA_ACCEL", "")
MEDIA_ACCEL_PREFIX = env_str("MEDIA_ACCEL_PREFIX", "/protected-media/")
if MEDIA_ACCEL not in ("", "nginx", "sendfile"):
    raise ValueError(f"MEDIA_ACCEL must be empty, 'nginx' or 'sendfile', got {MEDIA_ACCEL!r}")
if MEDIA_STORAGE == "s3":
    _media_backend: dict[str, Any] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME", ""),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY", "") or None,
            "custom_domain": env_str("AWS_S3_CUSTOM_DOMAIN", "") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": AWS_QUERYSTRING_EXPIRE,
            "signature_version": "s3v4",
            "file_overwrite": False,
            # A file read from the bucket is spooled to a temporary file past this size; the
            # default (0) keeps every download whole in memory, a 48 MP result included.
            "max_memory_size": env_int("AWS_S3_MAX_MEMORY_SIZE", 8 * 1024 * 1024),
        },
    }
elif MEDIA_STORAGE == "local":
    _media_backend = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ValueError(f"MEDIA_STORAGE must be 'local' or 's3', got {MEDIA_STORAGE!r}")

STORAGES: dict[str, dict[str, Any]] = {
    "default": _media_backend,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # stream every upload to a temporary file
# One uploaded file may be at most this big, on every path (pages, API, batches, drafts): the
# upload handler stops writing a file past it while the body streams in, and the validator
# refuses it by name (the API with a 413). A proxy in front should refuse bodies a little over
# UPLOAD_MAX_MB x BATCH_MAX_PHOTOS (nginx: client_max_body_size).
UPLOAD_MAX_MB = env_int("UPLOAD_MAX_MB", 64)
UPLOAD_MAX_BYTES = UPLOAD_MAX_MB * 1024 * 1024
FILE_UPLOAD_HANDLERS = ["editor.uploads.LimitedUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security --------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# The switcher's cookie (accounts.languages): like the session's, only over HTTPS in production.
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# The preload directive only allows a submission to the browsers' preload list; it submits nothing.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Behind the proxy every request comes from its address: allauth's per-address limits
    # (failed logins, share passwords) must read the client from the X-Forwarded-For entry the
    # proxy appended, or one person's failures would lock everybody out.
    ALLAUTH_TRUSTED_PROXY_COUNT = 1


def _media_origins() -> list[str]:
    """Where presigned media redirects lead, so pictures may load from there (img-src).

    The same rules as boto3's presigned URLs: a custom domain, else the endpoint with the bucket
    in the path, else AWS's virtual-hosted names (global and regional: AWS may redirect a fresh
    bucket from the first to the second), path-style when the bucket name has dots.
    """
    if MEDIA_STORAGE != "s3":
        return []
    options = STORAGES["default"]["OPTIONS"]
    if options["custom_domain"]:
        return [f"https://{options['custom_domain']}"]
    if options["endpoint_url"]:
        endpoint = urlsplit(options["endpoint_url"])
        return [f"{endpoint.scheme}://{endpoint.netloc}"]
    bucket, region = options["bucket_name"], options["region_name"]
    hosts = ["s3"] if "." in bucket else [f"{bucket}.s3"]
    if region:
        hosts += [f"{host}.{region}" for host in hosts]
    return [f"https://{host}.amazonaws.com" for host in hosts]


# Only our own files: no inline script or style, no eval (htmx runs with allowEval off, see
# templates/base.html). NONCE in style-src adds a nonce to the header only on responses whose
# template asked for ``request.csp_nonce``: the admin's few inline <style> blocks
# (templates/admin/), never a studio page.
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        # blob: for the previews made from the chosen file before upload (upload.js, mask.js).
        "img-src": [SELF, "data:", "blob:", *_media_origins()],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE_SOURCE],
        "base-uri": [SELF],
        "object-src": [NONE_SOURCE],
    }
}

# --- Jobs ------------------------------------------------------------------------------------

# A worker holds a step for at most this long before the sweeper may hand it to another one:
# longer than the slowest vendor step (a synchronous extender call and its result's download,
# editor.vendors.http.longest_step_seconds: 450 s), which a system check makes sure of.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 600)
JOB_RETRY_BASE_SECONDS = env_int("JOB_RETRY_BASE_SECONDS", 2)
JOB_RETRY_MAX_SECONDS = env_int("JOB_RETRY_MAX_SECONDS", 120)
# An unexpected error of the studio's own code (not its database, broker or storage failing) is
# tried this many more times in a row before the job fails: such a bug usually comes back.
JOB_INTERNAL_RETRIES = env_int("JOB_INTERNAL_RETRIES", 2)
# A step due this long ago that no worker claimed is taken as a lost message.
JOB_LOST_MESSAGE_SECONDS = env_int("JOB_LOST_MESSAGE_SECONDS", 60)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 30)
# A job past its deadline while a vendor works on it gets one last poll, which is due within
# this long of the deadline (the sweeper's period and a rate slot fit in it); then it fails.
JOB_LAST_POLL_SECONDS = env_int("JOB_LAST_POLL_SECONDS", 120)
# Storage against its ledger and counts (editor.reconcile): how often beat runs it, and how old
# a file must be before it is adopted or deleted (younger ones may be in another process's
# transaction still: longer than any step's lease).
STORAGE_RECONCILE_SECONDS = env_int("STORAGE_RECONCILE_SECONDS", 3600)
STORAGE_RECONCILE_GRACE_SECONDS = env_int("STORAGE_RECONCILE_GRACE_SECONDS", 3600)
# A job whose photos are all at most this many pixels is fitted and thumbnailed by the io
# worker, in the task that calls the vendor, instead of hopping to the cpu queue and back
# (Pillow lets go of the GIL while it decodes and scales, and a small photo takes milliseconds).
# 0 sends every photo to the cpu queue.
JOB_LIGHT_PIXELS = env_int("JOB_LIGHT_PIXELS", 2_000_000)
# The memory (MB) one image decode and its step's working copies may take (fit, thumbnail,
# converted download, the built-in engine, the upload check): refused with a message above it,
# computed from the header before decoding. 700 keeps every process under 1 GB (make bench).
# It sets the pixel caps of the formats decoded whole (editor.images.pixel_cap: 58 MP for a PNG
# at 700); a baseline JPEG, decoded reduced when big, may have up to 500 MP whatever it is.
IMAGE_MEMORY_BUDGET_MB = env_int("IMAGE_MEMORY_BUDGET_MB", 700)
# A batch: several photos sent at once with the same settings, one job each.
BATCH_MAX_PHOTOS = env_int("BATCH_MAX_PHOTOS", 20)
# Django refuses a request with more files than this (a 400): a batch's photos, and its style
# or reference photo, must fit in one request.
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, BATCH_MAX_PHOTOS + 10)
# Photos kept from a form sent back with an error wait this long for the next try.
DRAFT_MAX_AGE_SECONDS = env_int("DRAFT_MAX_AGE_SECONDS", 24 * 3600)
# Jobs older than this many days are deleted with their photos and results by an hourly task
# (editor.tasks.delete_expired_jobs); 0 keeps them forever.
RETENTION_DAYS = env_int("RETENTION_DAYS", 0)
if RETENTION_DAYS < 0:
    raise ValueError(f"RETENTION_DAYS must be 0 (forever) or more, got {RETENTION_DAYS}")

# --- Celery ----------------------------------------------------------------------------------

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu looks for new message files once a second by default: every step of a job
        # would wait that long.
        "polling_interval": 0.05,
    }
else:
    # A job may wait longer than the broker's default hour before it is acked (acks_late), so
    # the redelivery timeout covers the longest job deadline; the sweeper handles the rest.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 2 * 60 * 60)
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "io"
# How often keys saved "not checked yet" (their vendor unreachable then) are checked again.
KEY_RECHECK_SECONDS = env_int("KEY_RECHECK_SECONDS", 600)
# The queue of each task that always runs on the same one (a job's steps pick theirs per step,
# editor.jobs.ring). Routes apply to messages sent by name and to beat's alike.
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {
    "editor.tasks.sweep": {"queue": "cpu"},
    "editor.tasks.delete_expired_jobs": {"queue": "cpu"},
    "editor.tasks.check_credits": {"queue": "io"},
    "editor.tasks.check_key": {"queue": "io"},
    "editor.tasks.recheck_keys": {"queue": "io"},
    "api.tasks.deliver_webhook": {"queue": "io"},
    "editor.tasks.send_notice": {"queue": "io"},
    "limiter.tasks.forget_expired": {"queue": "cpu"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fix-up closes every database connection before and after each task, so each
# step of a job opened a new one (a PostgreSQL backend: about 3.5 ms, several times per job).
# Set, it closes them only every this many tasks; config/celery.py closes broken and aged ones
# (CONN_MAX_AGE) around each task instead, as Django does around each request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
# /healthz: how often each queue's worker is asked to say it is there, and how long after its
# last answer a queue counts as having no worker.
HEALTH_HEARTBEAT_SECONDS = env_int("HEALTH_HEARTBEAT_SECONDS", 30)
HEALTH_WORKER_LATE_SECONDS = env_int("HEALTH_WORKER_LATE_SECONDS", 90)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sweep-jobs": {"task": "editor.tasks.sweep", "schedule": float(JOB_SWEEP_SECONDS)},
    "delete-expired-jobs": {"task": "editor.tasks.delete_expired_jobs", "schedule": 3600.0},
    # Keys saved while their vendor could not be reached (editor.keycheck).
    "recheck-keys": {"task": "editor.tasks.recheck_keys", "schedule": float(KEY_RECHECK_SECONDS)},
    "forget-rate-budgets": {"task": "limiter.tasks.forget_expired", "schedule": 3600.0},
    "purge-idempotency-keys": {"task": "api.tasks.purge_idempotency_keys", "schedule": 3600.0},
    "reconcile-storage": {
        "task": "editor.tasks.reconcile_storage",
        "schedule": float(STORAGE_RECONCILE_SECONDS),
    },
    # One heartbeat on each queue, for /healthz (editor.health); a late one expires unsent.
    **{
        f"heartbeat-{queue}": {
            "task": "editor.tasks.heartbeat",
            "schedule": float(HEALTH_HEARTBEAT_SECONDS),
            "args": (queue,),
            "options": {"queue": queue, "expires": float(HEALTH_HEARTBEAT_SECONDS)},
        }
        for queue in ("io", "cpu")
    },
}

# --- Quotas: the limits when no plan applies (plans are made in the admin) ------------------

QUOTA_JOBS_PER_DAY = env_int("QUOTA_JOBS_PER_DAY", 200)
QUOTA_CREDITS_PER_MONTH = env_int("QUOTA_CREDITS_PER_MONTH", 2000)
QUOTA_CONCURRENT_JOBS = env_int("QUOTA_CONCURRENT_JOBS", 5)
# Jobs accepted beyond QUOTA_CONCURRENT_JOBS that wait for a slot; past this, refused.
QUOTA_WAITING_JOBS = env_int("QUOTA_WAITING_JOBS", 500)
QUOTA_STORAGE_BYTES = env_int("QUOTA_STORAGE_MB", 5120) * 1024 * 1024
# Whether people without a plan may use the studio's house keys.
QUOTA_HOUSE_KEYS = env_bool("QUOTA_HOUSE_KEYS", True)
# The plan (by name) that people get when no plan is assigned to them or their groups; empty:
# the QUOTA_* values above.
DEFAULT_PLAN = env_str("DEFAULT_PLAN", "")

# --- Vendors ---------------------------------------------------------------------------------

# The vendors' real API hosts (AILabTools: vendor-contracts.md §1.1; PicWish's global region,
# techsz.aoscdn.com serves China); point them at any stand-in that speaks the same contracts
# (the sandbox, a recording proxy).
AILABTOOLS_BASE_URL = env_str("AILABTOOLS_BASE_URL", "https://www.ailabapi.com").rstrip("/")
PICWISH_BASE_URL = env_str("PICWISH_BASE_URL", "https://techhk.aoscdn.com").rstrip("/")
# Extra origins result images may be downloaded from, beyond each vendor's own (https only;
# plain http only for loopback, e.g. the sandbox at http://127.0.0.1:9000).
VENDOR_RESULT_HOSTS = env_list("VENDOR_RESULT_HOSTS", [])
# PicWish's default limit is 2 requests per second per key, polls included; every worker shares
# this budget (limiter/). 0 turns our side of it off.
PICWISH_QPS = env_int("PICWISH_QPS", 2)
# PicWish's blocking mode (sync=1): one request a job instead of a submit and its polls, so a
# key finishes about twice as many jobs within its budget (measured in bench/pipeline.py).
PICWISH_SYNC = env_bool("PICWISH_SYNC", True)
# AILabTools documents no request rate (vendor-contracts.md §1.1): "" sends as fast as the
# workers go, and its 429s hold the key for the time it asks. Set one (e.g. "10/1s") if the
# account has a known limit.
AILABTOOLS_RATE = env_str("AILABTOOLS_RATE", "")
# An upper bound in seconds on every vendor call's timeouts and total time; 0 keeps the
# budgets of editor.vendors.http (minutes, for a slow diffusion call). The integration tests set
# it in their worker so that a vendor that never answers shows within seconds.
VENDOR_CALL_MAX_SECONDS = env_int("VENDOR_CALL_MAX_SECONDS", 0)
# The vault shows each AILabTools key's remaining credits, asked of the vendor by a worker and
# kept in the cache this long.
CREDITS_CACHE_SECONDS = env_int("CREDITS_CACHE_SECONDS", 300)

# --- Sandbox ---------------------------------------------------------------------------------

# Simulated AILabTools and PicWish APIs for demos and tests (editor/sandbox, `runsandbox`).
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)
SANDBOX_KEY_PREFIX = "sandbox-"  # only keys starting with this are accepted by the sandbox
# Seconds a result URL stays valid (PicWish: 1 h; AILabTools: 24 h).
SANDBOX_RESULT_TTL = env_int("SANDBOX_RESULT_TTL", 3600)
SANDBOX_URL = env_str("SANDBOX_URL", "http://127.0.0.1:9000").rstrip("/")  # builds result URLs
SANDBOX_TASK_MS = env_int("SANDBOX_TASK_MS", 1500)  # an async task's time from queued to done
# Requests per second per key the fake PicWish admits, polls included (its documented default).
SANDBOX_PICWISH_QPS = 2
# How it counts them: "sliding" admits at most that many in any span of one second (strict);
# "fixed" counts per clock second, letting up to twice as many through across a boundary.
SANDBOX_PICWISH_WINDOW = "sliding"
# Seconds the `timeout` fault marker holds an answer: longer than a client's read timeout.
SANDBOX_FAULT_TIMEOUT_S = 40.0
# Bytes the `drip` fault marker sends at a time, so only a client's total deadline stops it.
SANDBOX_FAULT_DRIP_BYTES = 16
# Seconds the `drip` fault marker waits between two of those pieces.
SANDBOX_FAULT_DRIP_INTERVAL_S = 1.0

# --- Logging ---------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_share_tokens": {"()": "config.log_filters.RedactShareTokens"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_share_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # httpx logs every request line at INFO, signed result URLs included.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Request lines name the path, and a share link's path holds its token: redacted on the
        # loggers that write them, before any handler (Django's own included) sees the record.
        "django.request": {"filters": ["redact_share_tokens"]},
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_share_tokens"],
        },
    },
}

# --- Demo ------------------------------------------------------------------------------------

DEMO_USERNAME = env_str("DEMO_USERNAME", "demo")
