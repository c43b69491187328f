"""Settings, read once from the environment into a typed object.

Composition roots (the app factory, the CLI, the worker entry) read them once with
``get_settings()`` and pass them in; nothing else reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(msgspec.Struct, frozen=True):
    database_url: str | None = None  # unset: embedded PostgreSQL (pgserver) in data_dir
    data_dir: str = str(PROJECT_ROOT / ".data")
    celery_broker_url: str | None = None  # unset: eager mode, tasks run in-process
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 1_048_576  # JSON bodies: a batch, a verification (413 above it)
    max_estimate_body_bytes: int = 65_536  # one estimate, a compare, a GFE request (413 above it)
    import_root: str | None = None  # server-side import sources must live under it
    tariff_sources: str | None = None  # file listing scheduled tariff sources
    pool_min: int = 2
    pool_max: int = 10
    # Every wait on the database is bounded (README, "When a dependency fails").
    db_connect_timeout: float = 2.0  # seconds: a new connection (TCP and startup)
    db_acquire_timeout: float = 2.0  # seconds: a free pooled connection
    db_statement_timeout: float = 3.0  # seconds: one statement of a request
    estimate_store_timeout: float = 2.0  # seconds: one group commit of estimates; past it, answered not stored
    pricing_memo_bytes: int = 8 * 1024**2  # priced documents kept per API process (least recently used go); 0: none
    outage_log_interval: float = 10.0  # seconds between the summary lines of a dependency that is down
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"  # one JSON object a line; text: for a terminal
    seed_demo: bool | None = None  # None: seed only the embedded database, on first start
    # The edge and observability (costsvc/api/clients.py, limits.py, telemetry.py; README "Operations").
    trusted_proxies: str | None = None  # comma-separated IPs/CIDRs whose X-Forwarded-For and X-Request-ID are believed
    rate_limit_per_minute: int = 600  # requests per client per API process on public routes; 0: off
    cors_origins: str | None = None  # comma-separated origins a browser may call from (the locator); unset: none
    metrics_token: str | None = None  # bearer token GET /metrics requires; unset: /metrics is not served
    # Jobs (jobs/celery_app.py, jobs/tasks.py; why these values: docs/JOBS.md).
    celery_queue: str = "costsvc"
    job_time_limit: int = 5 * 3600  # seconds; must stay below the visibility timeout
    job_visibility_timeout: int = 6 * 3600  # seconds (Redis)
    job_max_retries: int = 10
    job_retry_backoff: float = 5.0  # seconds, doubled each retry
    job_retry_backoff_max: int = 600  # seconds
    refresh_interval: float = 3600.0  # seconds between scheduled refreshes
    worker_max_memory_mb: int = 2048
    worker_metrics_port: int = 0  # `costsvc worker` serves Prometheus metrics on this port; 0: off
    worker_metrics_host: str = "127.0.0.1"  # the address that listener binds: the metrics' only protection
    keep_failed_uploads: bool = False  # keep the uploads of rejected or failed imports (to inspect them)
    max_upload_bytes: int = 20 * 1024**3  # import uploads (the API's JSON bodies keep max_body_bytes)
    stale_import_seconds: float = 900.0  # a queued import unrun this long, with its lock free, is stuck
    stale_sweep_interval: float = 300.0  # seconds between sweeps for stuck imports
    stale_import_max_requeues: int = 3  # re-enqueued this often without finishing: failed
    # PHI at rest (costsvc/phi.py, docs/VERIFICATION.md).  No key: PHI is refused.
    phi_keys: str | None = None  # comma-separated Fernet keys, the first encrypts
    phi_hmac_key: str | None = None  # lookup-hash key; derived from the first PHI key when unset
    keep_x12: bool = False  # keep raw 271 bodies (encrypted) after parsing
    # The staff console's session cookie (costsvc/api/pages/session.py, docs/VERIFICATION.md).
    session_key: str | None = None  # a Fernet key; unset: derived from the first PHI key
    session_ttl: int = 8 * 3600  # seconds from sign-in: a working day
    session_cookie_secure: bool = True  # 0 only to try the console over plain HTTP on another host


# Every field is read from the variable COSTSVC_<FIELD> (upper case), except these,
# whose names other tools share.
ENV_NAMES: dict[str, str] = {
    "database_url": "DATABASE_URL", "celery_broker_url": "CELERY_BROKER_URL", "phi_keys": "COSTSVC_PHI_KEY",
}


def env_name(field: str) -> str:
    return ENV_NAMES.get(field, "COSTSVC_" + field.upper())


def from_environ(env: Mapping[str, str]) -> Settings:
    """The settings a process environment describes: each set, non-empty variable of
    ``env_name(field)`` converted to the field's type (``"1"``/``"true"`` for booleans);
    a value that does not convert is an error naming the variable."""
    names = {env_name(f): f for f in Settings.__struct_fields__}
    values = {field: env[name].strip() for name, field in names.items() if env.get(name, "").strip()}
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        # "Expected `int`, got `str` - at `$.port`" -> name the variable, not the field
        message = str(exc)
        for name, field in names.items():
            message = message.replace(f"`$.{field}`", name)
        raise ValueError(f"invalid setting: {message}") from None
    return msgspec.structs.replace(settings, log_level=settings.log_level.upper())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return from_environ(os.environ)
