"""Settings, read once from the environment into a typed object."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(msgspec.Struct, frozen=True):
    database_url: str | None = None  # unset: embedded PostgreSQL (pgserver) in data_dir
    data_dir: str = str(PROJECT_ROOT / ".data")
    celery_broker_url: str | None = None  # unset: eager mode, tasks run in-process
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 1_048_576
    import_root: str | None = None  # server-side import sources must live under it
    tariff_sources: str | None = None  # file listing scheduled tariff sources
    pool_min: int = 2
    pool_max: int = 10
    log_level: str = "INFO"
    seed_demo: bool | None = None  # None: seed only the embedded database, on first start
    # Jobs (jobs/celery_app.py, jobs/tasks.py; why these values: docs/JOBS.md).
    celery_queue: str = "costsvc"
    job_time_limit: int = 5 * 3600  # seconds; must stay below the visibility timeout
    job_visibility_timeout: int = 6 * 3600  # seconds (Redis)
    job_max_retries: int = 10
    job_retry_backoff: float = 5.0  # seconds, doubled each retry
    job_retry_backoff_max: int = 600  # seconds
    refresh_interval: float = 3600.0  # seconds between scheduled refreshes
    worker_max_memory_mb: int = 2048
    max_upload_bytes: int = 20 * 1024**3  # import uploads (the API's JSON bodies keep max_body_bytes)
    stale_import_seconds: float = 900.0  # a queued import unrun this long, with its lock free, is stuck
    stale_sweep_interval: float = 300.0  # seconds between sweeps for stuck imports
    stale_import_max_requeues: int = 3  # re-enqueued this often without finishing: failed
    # PHI at rest (costsvc/phi.py): comma-separated Fernet keys, the first encrypts.  Unset with
    # the embedded database: a key is generated into data_dir (costsvc/phi_keys.py).
    phi_keys: str | None = None
    phi_hmac_key: str | None = None


def _env_bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in {"1", "true", "yes", "on"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    d = Settings()  # the defaults
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=env.get("COSTSVC_DATA_DIR") or d.data_dir,
        celery_broker_url=env.get("CELERY_BROKER_URL") or None,
        host=env.get("COSTSVC_HOST") or d.host,
        port=int(env.get("COSTSVC_PORT") or d.port),
        workers=int(env.get("COSTSVC_WORKERS") or d.workers),
        max_body_bytes=int(env.get("COSTSVC_MAX_BODY_BYTES") or d.max_body_bytes),
        import_root=env.get("COSTSVC_IMPORT_ROOT") or None,
        tariff_sources=env.get("COSTSVC_TARIFF_SOURCES") or None,
        pool_min=int(env.get("COSTSVC_POOL_MIN") or d.pool_min),
        pool_max=int(env.get("COSTSVC_POOL_MAX") or d.pool_max),
        log_level=(env.get("COSTSVC_LOG_LEVEL") or d.log_level).upper(),
        seed_demo=_env_bool(env.get("COSTSVC_SEED_DEMO")),
        celery_queue=env.get("COSTSVC_CELERY_QUEUE") or d.celery_queue,
        job_time_limit=int(env.get("COSTSVC_JOB_TIME_LIMIT") or d.job_time_limit),
        job_visibility_timeout=int(env.get("COSTSVC_JOB_VISIBILITY_TIMEOUT") or d.job_visibility_timeout),
        job_max_retries=int(env.get("COSTSVC_JOB_MAX_RETRIES") or d.job_max_retries),
        job_retry_backoff=float(env.get("COSTSVC_JOB_RETRY_BACKOFF") or d.job_retry_backoff),
        job_retry_backoff_max=int(env.get("COSTSVC_JOB_RETRY_BACKOFF_MAX") or d.job_retry_backoff_max),
        refresh_interval=float(env.get("COSTSVC_REFRESH_INTERVAL") or d.refresh_interval),
        worker_max_memory_mb=int(env.get("COSTSVC_WORKER_MAX_MEMORY_MB") or d.worker_max_memory_mb),
        max_upload_bytes=int(env.get("COSTSVC_MAX_UPLOAD_BYTES") or d.max_upload_bytes),
        stale_import_seconds=float(env.get("COSTSVC_STALE_IMPORT_SECONDS") or d.stale_import_seconds),
        stale_sweep_interval=float(env.get("COSTSVC_STALE_SWEEP_INTERVAL") or d.stale_sweep_interval),
        stale_import_max_requeues=int(
            env.get("COSTSVC_STALE_IMPORT_MAX_REQUEUES") or d.stale_import_max_requeues
        ),
        phi_keys=env.get("COSTSVC_PHI_KEY") or None,
        phi_hmac_key=env.get("COSTSVC_PHI_HMAC_KEY") or None,
    )
