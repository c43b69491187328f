"""The Celery application: import and refresh jobs (docs/JOBS.md).

The broker is ``CELERY_BROKER_URL`` (``costsvc.settings``): Redis or RabbitMQ.
Unset, the app is **eager**: ``task_always_eager`` runs a task in the process that
enqueues it (the API runs it in a worker thread after answering), so the service
needs no server at all.  ``costsvc worker`` / ``costsvc beat`` start the processes.

Settings chosen for long, idempotent imports (why: docs/JOBS.md):

* late acknowledgement and re-queue when the process running a task dies
  (``task_acks_late``, ``task_reject_on_worker_lost``): a task is acknowledged
  only once it has finished, so a crash means it runs again — safe, because the
  pipeline is idempotent (one transaction per import, a per-import lock, a
  succeeded import is never run twice);
* ``worker_prefetch_multiplier=1``: a worker holds one message per process, so
  an import waiting behind a two-hour import can be taken by another worker;
* a Redis visibility timeout (6 h) longer than the hard time limit of a task
  (5 h), so Redis never hands a running import to a second worker;
* a pool process that grew past ``COSTSVC_WORKER_MAX_MEMORY_MB`` after a task
  (a big file parsed with pandas) is replaced.

The tunables are ``costsvc.settings.Settings`` fields (``get_settings()``: read once
from the environment).  Beat schedules the tariff refresh and the sweep that
re-enqueues stuck imports.

Retries (bounded, exponential backoff with jitter) are declared on the tasks in
``jobs.tasks``.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

import msgspec
from celery import Celery
from celery.signals import (
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_rejected,
    task_retry,
    task_success,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from costsvc.observe import logs, metrics
from costsvc.settings import Settings, get_settings
from tariffs.tabular.bulk import allow_gc_suspension

RUN_IMPORT_TASK = "jobs.tasks.run_import_task"
REFRESH_TASK = "jobs.tasks.refresh_sources_task"
REQUEUE_STALE_TASK = "jobs.tasks.requeue_stale_imports_task"


def _transport_options(broker_url: str, settings: Settings) -> dict[str, object]:
    scheme = urlsplit(broker_url).scheme
    if scheme in ("redis", "rediss", "redis+socket", "sentinel"):
        return {
            # Longer than the longest import: Redis re-delivers an unacknowledged
            # message to another worker once this has passed.
            "visibility_timeout": settings.job_visibility_timeout,
        }
    return {}


def create_celery_app(
    broker_url: str | None = None, *, queue: str | None = None, settings: Settings | None = None
) -> Celery:
    """The app for ``broker_url`` (default: the settings' ``celery_broker_url``; none → eager),
    with the job policies of ``settings`` (default: read from the environment once)."""
    settings = settings or get_settings()
    broker = broker_url if broker_url is not None else settings.celery_broker_url
    eager = not broker
    app = Celery("costsvc", include=["jobs.tasks"])
    app.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=eager,
        task_eager_propagates=False,  # an eager failure is recorded on the import, not raised at the caller
        task_ignore_result=True,  # outcomes live in PostgreSQL (imports), not in a result backend
        result_backend=None,
        task_default_queue=queue or settings.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        # At-least-once delivery for long, idempotent tasks.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.job_time_limit,
        task_soft_time_limit=max(1, settings.job_time_limit - 300),
        broker_transport_options=_transport_options(broker or "", settings),
        broker_connection_retry_on_startup=True,
        worker_max_memory_per_child=settings.worker_max_memory_mb * 1024,  # KiB
        worker_send_task_events=False,
        # The job policy (jobs.tasks.RetriedTask): bounded retries with capped backoff.
        task_annotations={"*": {"max_retries": settings.job_max_retries}},
        costsvc_retry_backoff=settings.job_retry_backoff,
        costsvc_retry_backoff_max=settings.job_retry_backoff_max,
        beat_schedule={
            "refresh-tariff-sources": {
                "task": REFRESH_TASK,
                "schedule": settings.refresh_interval,
                # A refresh nobody picked up before the next one is due is dropped.
                "options": {"expires": settings.refresh_interval},
            },
            # Imports recorded but never run to the end (a lost message, a dead process):
            # re-enqueued, or failed when their file is gone (costsvc.services.imports.requeue_stale_imports).
            "requeue-stale-imports": {
                "task": REQUEUE_STALE_TASK,
                "schedule": settings.stale_sweep_interval,
                "options": {"expires": settings.stale_sweep_interval},
            },
        },
    )
    return app


@worker_init.connect  # solo and thread pools run tasks in the worker's main process
@worker_process_init.connect  # each prefork child
def _let_imports_suspend_gc(**_: object) -> None:
    """A worker process runs imports and nothing else, so a parse may suspend the
    garbage collector (``tariffs.tabular.bulk``).  Eager mode runs tasks inside the API
    process, where no worker signal fires: there ``bulk()`` leaves the collector on."""
    allow_gc_suspension()


@setup_logging.connect  # connected: Celery leaves logging to us (one JSON line per record, as the API)
def _configure_logging(loglevel: int | str | None = None, **_: object) -> None:
    settings = get_settings()
    if loglevel:  # `costsvc worker --loglevel`
        level = loglevel if isinstance(loglevel, str) else logging.getLevelName(loglevel)
        settings = msgspec.structs.replace(settings, log_level=str(level).upper())
    logs.configure(settings)


_task_context: dict[str, Any] = {}  # task id -> the token of its bound log fields


@task_prerun.connect
def _bind_task(task_id: str | None = None, task: Any = None, **_: object) -> None:
    if task_id:
        _task_context[task_id] = logs.bind(task_id=task_id, task=getattr(task, "name", None))


@task_postrun.connect
def _unbind_task(task_id: str | None = None, **_: object) -> None:
    token = _task_context.pop(task_id or "", None)
    if token is not None:
        try:
            logs.unbind(token)
        except ValueError:  # set in another context (a thread pool's hand-off): nothing to undo here
            pass


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender)


@task_success.connect
def _count_success(sender: Any = None, **_: object) -> None:
    metrics.task_finished(_task_name(sender), "succeeded")


@task_failure.connect
def _count_failure(sender: Any = None, **_: object) -> None:
    metrics.task_finished(_task_name(sender), "failed")


@task_retry.connect
def _count_retry(sender: Any = None, **_: object) -> None:
    metrics.task_finished(_task_name(sender), "retried")


@task_rejected.connect
def _count_rejected(message: Any = None, **_: object) -> None:
    name = (getattr(message, "headers", None) or {}).get("task", "unknown")
    metrics.task_finished(str(name), "rejected")


@worker_init.connect
def _serve_worker_metrics(**_: object) -> None:
    """``COSTSVC_WORKER_METRICS_PORT``: the worker's own /metrics (task outcomes, import
    durations and rows), the pool processes' samples aggregated (``costsvc worker``
    prepared the multiprocess folder before starting Celery)."""
    settings = get_settings()
    if settings.worker_metrics_port and os.environ.get(metrics.MULTIPROC_ENV):
        metrics.serve_multiprocess(settings.worker_metrics_host, settings.worker_metrics_port)


@worker_process_shutdown.connect
def _drop_live_gauges(pid: int | None = None, **_: object) -> None:
    metrics.process_exited(pid)


# The worker's composition root (`celery -A jobs.celery_app`, started by `costsvc worker`):
# the one place the job processes read their settings.
app = create_celery_app()
