"""Settings read from the environment (and an optional `.env` file).

Three environments: `development` (what `make run` uses), `testing` and `production`.
Outside development a missing, short or well-known secret stops the app from starting.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from potluck.domain.sqlite_writers import QueuedWriterConnection

ENVIRONMENTS = ("development", "testing", "production")
MAIL_DELIVERIES = ("in-process", "worker")
LOG_FORMATS = ("text", "json")
KNOWN_WEAK_SECRETS = frozenset(
    {"", "secret", "changeme", "change-me", "dev", "development", "super-secret-key", "potluck"}
)
MIN_SECRET_LENGTH = 32
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class ConfigurationError(RuntimeError):
    """The environment does not describe a deployment the app can safely run."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _development_secret(instance_path: Path) -> str:
    # A random key kept under instance/ so development sessions survive restarts.
    key_file = instance_path / "secret-key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return key


def _checked_secret(name: str, value: str | None, environment: str) -> str:
    if value is None or value in KNOWN_WEAK_SECRETS or len(value) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"{name} must be set to a random string of at least {MIN_SECRET_LENGTH} characters "
            f"when POTLUCK_ENV={environment}; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return value


def _mail_settings(env: Mapping[str, str], environment: str) -> dict[str, Any]:
    server = env.get("MAIL_SERVER") or None
    use_ssl = _flag(env.get("MAIL_USE_SSL"), False)
    delivery = env.get("MAIL_DELIVERY", "worker" if environment == "testing" else "in-process")
    if delivery not in MAIL_DELIVERIES:
        raise ConfigurationError(
            f"MAIL_DELIVERY={delivery!r} is not one of {', '.join(MAIL_DELIVERIES)}"
        )
    return {
        # Without a server, mails are written to the log and kept in the outbox.
        "MAIL_SERVER": server,
        "MAIL_PORT": int(env.get("MAIL_PORT") or (465 if use_ssl else 587 if server else 25)),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _flag(env.get("MAIL_USE_TLS"), False),
        "MAIL_USE_SSL": use_ssl,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "Potluck <potluck@localhost>"),
        "MAIL_TIMEOUT_SECONDS": float(env.get("MAIL_TIMEOUT_SECONDS", 10)),
        # in-process: each web process sends (embedded); worker: `potluck worker` sends.
        "MAIL_DELIVERY": delivery,
        "MAIL_POLL_SECONDS": float(env.get("MAIL_POLL_SECONDS", 2)),
        "MAIL_RETRY_SECONDS": float(env.get("MAIL_RETRY_SECONDS", 30)),
        "MAIL_RETRY_MAX_SECONDS": float(env.get("MAIL_RETRY_MAX_SECONDS", 3600)),
    }


def _operations_settings(env: Mapping[str, str], instance: Path) -> dict[str, Any]:
    log_format = env.get("LOG_FORMAT", "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(
            f"LOG_FORMAT={log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    return {
        # text: one readable line; json: one JSON object a line, for log collectors.
        "LOG_FORMAT": log_format,
        # On with the setting, or while the file exists (`potluck maintenance on|off`): put
        # the file on a volume every instance shares to switch them all.
        "MAINTENANCE": _flag(env.get("MAINTENANCE"), False),
        "MAINTENANCE_FILE": env.get("MAINTENANCE_FILE") or str(instance / "maintenance"),
        "MAINTENANCE_RETRY_SECONDS": int(env.get("MAINTENANCE_RETRY_SECONDS", 120)),
        # /metrics: loopback, TRUSTED_PROXIES and these networks, or this bearer token.
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "METRICS_ALLOWED_NETWORKS": _list(env.get("METRICS_ALLOWED_NETWORKS")),
        # How long `potluck serve` lets workers finish their requests after SIGTERM.
        "SHUTDOWN_TIMEOUT_SECONDS": int(env.get("SHUTDOWN_TIMEOUT_SECONDS", 25)),
    }


def _engine_options(database_url: str, env: Mapping[str, str]) -> dict[str, Any]:
    # A server connection can drop between requests; a SQLite file cannot.
    options: dict[str, Any] = {"pool_pre_ping": not database_url.startswith("sqlite")}
    if database_url.startswith("postgresql"):
        # A server that cannot be reached must not hold a request, or /readyz, for psycopg's
        # default 130 s: connecting gives up after this (libpq's minimum is 2 s).
        timeout = int(env.get("DATABASE_CONNECT_TIMEOUT_SECONDS", 5))
        options["connect_args"] = {"connect_timeout": timeout}
    elif database_url.startswith("sqlite"):
        options["connect_args"] = {"factory": QueuedWriterConnection}
    return options


def load_settings(
    environ: Mapping[str, str] | None = None, instance_path: Path | None = None
) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = dict(os.environ if environ is None else environ)
    environment = env.get("POTLUCK_ENV", "production").strip().lower()
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(
            f"POTLUCK_ENV={environment!r} is not one of {', '.join(ENVIRONMENTS)}"
        )
    instance = Path(env.get("POTLUCK_INSTANCE_PATH") or instance_path or PROJECT_ROOT / "instance")

    if environment == "production":
        secret_key = _checked_secret("SECRET_KEY", env.get("SECRET_KEY"), environment)
        jwt_secret = _checked_secret(
            "JWT_SECRET_KEY", env.get("JWT_SECRET_KEY", secret_key), environment
        )
    else:
        secret_key = env.get("SECRET_KEY") or _development_secret(instance)
        jwt_secret = env.get("JWT_SECRET_KEY") or secret_key

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'potluck.db'}"
    if database_url.startswith(("postgres://", "postgresql://")):
        # Hosting platforms hand out libpq URLs; SQLAlchemy needs the driver named.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]

    # Links in mail are built from this, never from a request's Host header.
    public_base_url = (
        env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{env.get('PORT') or 8000}"
    ).rstrip("/")
    return {
        "POTLUCK_ENV": environment,
        "INSTANCE_PATH": str(instance),
        "TESTING": environment == "testing",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url, env),
        # PostgreSQL: how long a request waits for the server to answer before its connection
        # is cut and the request answered 503 (http/deadlines.py); 0 waits forever.
        "DATABASE_STATEMENT_TIMEOUT_SECONDS": float(
            env.get("DATABASE_STATEMENT_TIMEOUT_SECONDS", 10)
        ),
        "MIGRATIONS_DIR": env.get("MIGRATIONS_DIR", str(PROJECT_ROOT / "migrations")),
        "PUBLIC_BASE_URL": public_base_url,
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)),
        # Images: covers and avatars (see images.py for what the limits protect).
        "MEDIA_ROOT": env.get("MEDIA_ROOT") or str(instance / "media"),
        "MAX_IMAGE_BYTES": int(env.get("MAX_IMAGE_BYTES", 10 * 1024 * 1024)),
        "MAX_IMAGE_PIXELS": int(env.get("MAX_IMAGE_PIXELS", 24_000_000)),
        # Passwords: argon2id at OWASP's first recommendation (19 MiB, 2 passes, 1 lane):
        # measured 31 ms of CPU a check here, against 210 ms for the 64 MiB, t=3, p=4 used
        # before, so logins no longer hold a worker for a fifth of a second. Older hashes are
        # rehashed at login. Tests lower the cost so the suite stays fast.
        "ARGON2_TIME_COST": int(env.get("ARGON2_TIME_COST", 1 if environment == "testing" else 2)),
        "ARGON2_MEMORY_COST": int(
            env.get("ARGON2_MEMORY_COST", 1024 if environment == "testing" else 19456)
        ),
        "ARGON2_PARALLELISM": int(env.get("ARGON2_PARALLELISM", 1)),
        # Tokens
        "JWT_SECRET_KEY": jwt_secret,
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(
            seconds=int(env.get("JWT_ACCESS_TOKEN_SECONDS", 15 * 60))
        ),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(
            seconds=int(env.get("JWT_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600))
        ),
        "JWT_ERROR_MESSAGE_KEY": "detail",
        # OpenAPI
        "API_TITLE": "Potluck API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Swagger UI is served from the installed swagger-ui-bundle: no CDN, works offline.
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/assets/",
        # HTTP
        "HSTS_SECONDS": int(
            env.get("HSTS_SECONDS", 63072000 if public_base_url.startswith("https://") else 0)
        ),
        "ACCESS_LOG": _flag(env.get("ACCESS_LOG"), environment != "testing"),
        # Anonymous public reads replayed from memory before Flask (hot_reads.py).
        "HOT_READS": _flag(env.get("HOT_READS"), True),
        # How long an Idempotency-Key's first answer is replayed (http/idempotency.py) and
        # kept before housekeeping deletes it (services/housekeeping.py).
        "IDEMPOTENCY_KEY_SECONDS": int(env.get("IDEMPOTENCY_KEY_SECONDS", 24 * 3600)),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "CORS_ORIGINS": _list(env.get("CORS_ORIGINS")),
        "TRUSTED_PROXIES": _list(env.get("TRUSTED_PROXIES")),
        # Outbound fetches (recipe import): services/fetcher.py; private networks are never
        # fetched from unless listed here (tests list 127.0.0.0/8 for their loopback server).
        "FETCH_TIMEOUT_SECONDS": float(env.get("FETCH_TIMEOUT_SECONDS", 10)),
        "FETCH_MAX_BYTES": int(env.get("FETCH_MAX_BYTES", 5 * 1024 * 1024)),
        "FETCH_MAX_REDIRECTS": int(env.get("FETCH_MAX_REDIRECTS", 5)),
        "FETCH_ALLOWED_NETWORKS": [
            ipaddress.ip_network(network, strict=False)
            for network in _list(env.get("FETCH_ALLOWED_NETWORKS"))
        ],
        # Off: only FETCH_ALLOWED_NETWORKS, by address, no name looked up (a test never
        # reaches the internet, nor does a server that must not).
        "FETCH_PUBLIC": _flag(env.get("FETCH_PUBLIC"), environment != "testing"),
        # Accounts: how long the mailed links stay valid.
        "ACTIVATION_TOKEN_SECONDS": int(env.get("ACTIVATION_TOKEN_SECONDS", 2 * 24 * 3600)),
        "PASSWORD_RESET_TOKEN_SECONDS": int(env.get("PASSWORD_RESET_TOKEN_SECONDS", 3600)),
        **_mail_settings(env, environment),
        **_operations_settings(env, instance),
        # Housekeeping (services/housekeeping.py): every mail sender purges this often (0: never,
        # leave it to `potluck purge`), deleting mail delivered more than so many days ago.
        "PURGE_INTERVAL_SECONDS": float(env.get("PURGE_INTERVAL_SECONDS", 3600)),
        "OUTBOX_KEEP_SENT_DAYS": float(env.get("OUTBOX_KEEP_SENT_DAYS", 7)),
        # Rate limits: shared through Redis when scaled out, in process otherwise.
        "RATELIMIT_STORAGE_URI": env.get("REDIS_URL") or "memory://",
        "RATELIMIT_ENABLED": _flag(env.get("RATELIMIT_ENABLED"), True),
        # Exact: a timestamp per counted request, so memory and time grow with the limit.
        "RATELIMIT_STRATEGY": env.get("RATELIMIT_STRATEGY", "moving-window"),
        "SEED_DEMO_DATA": _flag(env.get("SEED_DEMO_DATA"), environment == "development"),
        "PORT": int(env.get("PORT", 8000)),
        "WEB_WORKERS": int(env.get("WEB_WORKERS", os.cpu_count() or 1)),
        "WEB_THREADS": int(env.get("WEB_THREADS", 4)),
    }
