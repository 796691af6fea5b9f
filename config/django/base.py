"""Django settings for VaxReg, the same in every mode: development (VAXREG_DEBUG=1) runs on these as they
are; production (config/django/production.py) and the tests (config/django/test.py) start from them.
Every value that an operator may change comes from the typed environment of config/env.py.
"""

import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import ENV as _ENV

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = _ENV.var_dir

DEBUG = _ENV.debug
TESTING = _ENV.testing
# Production is every run that is neither a development one (VAXREG_DEBUG) nor the test suite: see
# config/django/production.py.
VAXREG_PRODUCTION = False
VAXREG_SECRET_KEY_SET = bool(_ENV.secret_key)
SECRET_KEY = _ENV.secret_key or secrets.token_urlsafe(50)
ALLOWED_HOSTS = list(_ENV.allowed_hosts)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "vaxreg.core",
    "vaxreg.places",
    "vaxreg.accounts",
    "vaxreg.people",
    "vaxreg.vaccinations",
    "vaxreg.imports",
    "vaxreg.quality",
    "vaxreg.corrections",
    "vaxreg.verification",
    "vaxreg.complaints",
    "vaxreg.certificates",
    "vaxreg.linkage",
    "vaxreg.fhir",
    "vaxreg.citizens",
    "vaxreg.dashboards",
    "vaxreg.synth",
    "vaxreg.bench",
    "vaxreg.scale",
    "vaxreg.web",
    "vaxreg.api",
    # django-ninja's own copy of Swagger UI (templates and static files, pinned with the package), so the
    # API documentation loads nothing from a CDN; after vaxreg.api, whose templates come first.
    "ninja",
]

MIDDLEWARE = [
    # Believes X-Forwarded-Proto only from the proxies of VAXREG_TRUSTED_PROXIES (see the security block).
    "vaxreg.web.middleware.ForwardedProtoMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that the policy also covers the static files it answers by itself.
    "csp.middleware.CSPMiddleware",
    # Serves collected static files from the WSGI process itself (`vaxreg serve` collects them first).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "vaxreg.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

if not _ENV.database_url:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        _ENV.database_url or f"sqlite:///{VAR_DIR / 'vaxreg.sqlite3'}", conn_max_age=_ENV.db_conn_max_age
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            # WAL lets the web server read while an import writes; IMMEDIATE avoids deadlocked upgrades.
            "init_command": (
                # page_size takes effect only when the file is created; larger pages make index inserts cheaper.
                "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=30000; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
            ),
            "transaction_mode": "IMMEDIATE",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")} if _ENV.test_sqlite_file else {}

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Short indexed queries only: JIT compilation would cost more than it saves, many times per import.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

# Key columns (folded names, ID and phone numbers, source record ids) are compared byte by byte: their
# order is the same as under the database's default collation for these texts, and an index insert no
# longer goes through the locale's string comparison (a fifth of what PostgreSQL spends on an import).
VAXREG_KEY_COLLATION = "C" if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" else "BINARY"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Tiếng Việt")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "vaxreg" / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# `vaxreg serve` collects static files first; the finders also serve them where nobody has (a bare gunicorn).
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "private"  # never served directly: uploads and reports go through views

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
# Outside development the cookies travel over HTTPS only (browsers treat http://127.0.0.1 and localhost as
# secure, so the demo still logs in there); behind a TLS proxy see the security block below.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# PostgreSQL: "importer" checks an import's foreign keys once per parent row (needs SET on
# session_replication_role: a superuser or `GRANT SET ON PARAMETER session_replication_role TO <role>`;
# without it the database's per-row checks are used anyway); "database" always leaves them to the database.
VAXREG_IMPORT_KEY_CHECKS = _ENV.import_key_checks
# PostgreSQL: an import into empty person and dose tables (a first load) builds their secondary indexes once at
# its end instead of row by row, holding the tables' exclusive lock until it commits; "0" keeps them always.
VAXREG_IMPORT_DEFER_INDEXES = _ENV.import_defer_indexes
VAXREG_CITUS_DISTRIBUTE = _ENV.citus_distribute
# An import touching up to this many persons re-checks them (rules, then cases) in its own transaction;
# a larger one (a province's first load) queues a background re-scan of its provinces when it commits.
VAXREG_IMPORT_RECHECK_INLINE_MAX = _ENV.import_recheck_inline_max
VAXREG_LINKAGE_ENGINE = _ENV.linkage_engine
VAXREG_SPARK_MASTER = _ENV.spark_master
VAXREG_LINKAGE_INLINE_MAX = _ENV.linkage_inline_max
VAXREG_LINKAGE_ON_IMPORT = _ENV.linkage_on_import
VAXREG_IMPORT_MAX_UPLOAD_BYTES = _ENV.import_max_upload_bytes
# What a file may unpack to while it is read (an .xlsx is a ZIP: 600 KB can hold 600 MB), checked before and while
# reading. The defaults take a 1,000,000-row workbook (about 800 MB of XML) with room to spare.
VAXREG_IMPORT_MAX_UNPACKED_BYTES = _ENV.import_max_unpacked_bytes
VAXREG_IMPORT_MAX_PART_BYTES = _ENV.import_max_part_bytes
VAXREG_IMPORT_MAX_SHARED_STRINGS_BYTES = _ENV.import_max_shared_strings_bytes
VAXREG_IMPORT_MAX_ROW_CHARS = _ENV.import_max_row_chars
# Record linkage: pairs above the upper threshold that share a valid CCCD may merge without review (off by
# default); each such merge is undoable and listed for audit (source "auto-merge").
VAXREG_LINKAGE_AUTO_MERGE = _ENV.linkage_auto_merge
VAXREG_LINKAGE_AUTO_MERGE_ABOVE = _ENV.linkage_auto_merge_above

TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if (TESTING if _ENV.tasks_immediate is None else _ENV.tasks_immediate)
            else "django_tasks_db.backend.DatabaseBackend"
        ),
    }
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _ENV.log_level},
}

# Messages to citizens (SMS / e-mail): "console" prints them (demo), "smtp" sends e-mail through the SMTP
# server below, phone numbers through an e-mail-to-SMS gateway domain; "memory" keeps them for tests.
VAXREG_MESSAGE_BACKEND = _ENV.message_backend or ("memory" if TESTING else "console")
VAXREG_SMS_EMAIL_DOMAIN = _ENV.sms_email_domain
EMAIL_HOST = _ENV.smtp_host
EMAIL_PORT = _ENV.smtp_port
EMAIL_HOST_USER = _ENV.smtp_user
EMAIL_HOST_PASSWORD = _ENV.smtp_password
EMAIL_USE_TLS = _ENV.smtp_tls
DEFAULT_FROM_EMAIL = _ENV.mail_from

# Seconds the public complaint intake keeps a facility and the vaccine catalogue per process (0: ask the
# database every time; the tests, whose facilities come and go with each test's transaction).
VAXREG_INTAKE_CACHE_SECONDS = (
    _ENV.intake_cache_seconds if _ENV.intake_cache_seconds is not None else 0.0 if TESTING else 60.0
)
# The public intake's anti-flood limits (vaxreg.complaints.antiflood; empty: its defaults).
VAXREG_COMPLAINT_LIMITS = _ENV.complaint_limits

# The population register the police screen asks (vaxreg.verification.registry; empty: none is asked).
VAXREG_REGISTRY_URL = _ENV.registry_url
VAXREG_REGISTRY_TIMEOUT = _ENV.registry_timeout

# Certificate signing keys (vaxreg.certificates.keys): a file or PEM text per key and certificate, else the
# files `vaxreg certs keygen` writes into VAR_DIR/dcc-keys; older certificates trusted from a folder.
VAXREG_DCC_ALG = _ENV.dcc_alg
VAXREG_DCC_PS256_KEY = _ENV.dcc_ps256_key
VAXREG_DCC_PS256_KEY_PEM = _ENV.dcc_ps256_key_pem
VAXREG_DCC_PS256_CERT = _ENV.dcc_ps256_cert
VAXREG_DCC_PS256_CERT_PEM = _ENV.dcc_ps256_cert_pem
VAXREG_DCC_ES256_KEY = _ENV.dcc_es256_key
VAXREG_DCC_ES256_KEY_PEM = _ENV.dcc_es256_key_pem
VAXREG_DCC_ES256_CERT = _ENV.dcc_es256_cert
VAXREG_DCC_ES256_CERT_PEM = _ENV.dcc_es256_cert_pem
VAXREG_DCC_TRUST_DIR = _ENV.dcc_trust_dir

# The scratch PostgreSQL database of the `vaxreg bench ...` verbs (vaxreg.bench.scratch; empty: their default).
VAXREG_BENCH_DATABASE_URL = _ENV.bench_database_url
VAXREG_BENCH_CITUS_URL = _ENV.bench_citus_url

# --- Staff logins and sessions (vaxreg.accounts) ------------------------------------------------------
# Every password check goes through the login throttle (vaxreg.accounts.logins; empty: its defaults).
VAXREG_LOGIN_LIMITS = _ENV.login_limits
AUTHENTICATION_BACKENDS = ["vaxreg.accounts.backends.ThrottledPasswordBackend"]
# The optional TOTP second factor (django-otp): "1" makes national, province and admin accounts give a code
# after the password at every login (other accounts may set one up); off, no code is ever asked for.
VAXREG_SECOND_FACTOR = _ENV.second_factor
INSTALLED_APPS += ["django_otp", "django_otp.plugins.otp_totp"]
OTP_TOTP_ISSUER = "VaxReg"
_AUTH_MIDDLEWARE = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE[_AUTH_MIDDLEWARE : _AUTH_MIDDLEWARE + 1] = [
    "vaxreg.accounts.middleware.SessionIdleMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "vaxreg.accounts.middleware.SecondFactorMiddleware",
]
# A staff session ends this many minutes after its last request (not two weeks after the login), and when
# the browser closes; the session row expires the same time after its last write.
VAXREG_SESSION_IDLE_MINUTES = _ENV.session_idle_minutes
if VAXREG_SESSION_IDLE_MINUTES < 1:
    raise ImproperlyConfigured("VAXREG_SESSION_IDLE_MINUTES: minutes, at least 1 (480: 8 hours)")
SESSION_COOKIE_AGE = VAXREG_SESSION_IDLE_MINUTES * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Security headers and HTTPS -----------------------------------------------------------------------
# Content-Security-Policy on every response: scripts and styles only from our own static files (no inline
# script, no event-handler attribute, no eval; no inline <style> or style attribute either: every page
# keeps its styles in static .css files), nothing embedded, no <base>, forms posting only to us, and no
# framing. Pages may change CSSOM properties from our scripts (element.style), which CSP allows.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# HTTPS redirect and HSTS are production's (config/django/production.py); elsewhere the site is plain HTTP.
VAXREG_HTTPS = False
SECURE_SSL_REDIRECT = False
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = _ENV.hsts_preload
# Asking browsers to preload HSTS is a commitment for the whole domain that its owner makes (and submits to
# the preload list), not a default of this product: check --deploy's reminder about it is left out.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Behind a TLS proxy the request reaches us over HTTP; the proxy says it came over HTTPS in
# X-Forwarded-Proto. ForwardedProtoMiddleware drops that header unless the request comes from one of the
# VAXREG_TRUSTED_PROXIES, so a client that reaches the server directly cannot claim HTTPS.
VAXREG_TRUSTED_PROXIES = list(_ENV.trusted_proxies)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The language chosen with the switcher travels like the session cookie (see SESSION_COOKIE_SECURE).
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
