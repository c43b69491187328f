"""The service's Prometheus metrics, in one place (names and labels: README "Observe").

With several server workers each process writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (``costsvc serve`` creates and wipes that folder; the
variable must be set before this module is first imported, which ``serve`` does before
it starts the workers) and a scrape of any worker aggregates them all
(``exposition``).  Without the variable the metrics live in this process's registry.

Labels are bounded: route templates (never a raw path, which can carry an id),
statuses, levels of care, network statuses, import kinds and outcomes, task names.
No label carries a request value beyond those.

The hot path (one estimate) records a handful of samples; the children of labelled
metrics are cached (``_child``) because ``labels()`` validates and hashes its
arguments on every call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Request latency buckets (seconds): an estimate takes ~1 ms, an import upload seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Import and catalog reload buckets (seconds): a small table in milliseconds, a TiC file in minutes.
LONG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

HTTP_REQUESTS = Counter("costsvc_http_requests", "HTTP requests answered, by method, route template and status.",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("costsvc_http_request_duration_seconds",
                         "Time from the request's arrival to the end of its response, by method and route template.",
                         ["method", "route"], buckets=LATENCY_BUCKETS)
ESTIMATES = Counter("costsvc_estimates", "Estimates priced, by level of care and network status.",
                    ["level_of_care", "network_status"])
MEMO = Counter("costsvc_estimate_memo", "Estimate memo lookups: a hit skips the engine.", ["result"])
DEGRADED = Counter("costsvc_degraded_answers",
                   "Answers given without the database (priced from memory, not stored), by route template.",
                   ["route"])
CATALOG_RELOAD = Histogram("costsvc_catalog_reload_duration_seconds",
                           "Tariff catalog reloads: full, or only the keys the activated versions carry.",
                           ["scope"], buckets=LONG_BUCKETS)
CATALOG_VERSION = Gauge("costsvc_catalog_version",
                        "The most recently activated tariff version in the catalog each server process serves.",
                        multiprocess_mode="liveall")  # one sample per process: a lagging worker shows
CATALOG_LOADED_AT = Gauge("costsvc_catalog_loaded_timestamp_seconds",
                          "When each server process last loaded its catalog (Unix time).", multiprocess_mode="liveall")
IMPORT_DURATION = Histogram("costsvc_import_duration_seconds", "Import runs (validate, stage, activate), by kind and outcome.",
                            ["kind", "outcome"], buckets=LONG_BUCKETS)
IMPORT_ROWS = Counter("costsvc_import_rows", "Rows of import runs, by kind, outcome and what became of them.",
                      ["kind", "outcome", "rows"])
IMPORTS_REFUSED = Counter("costsvc_imports_refused", "Imports recorded failed because the job broker refused them.",
                          ["kind"])
TASKS = Counter("costsvc_job_tasks", "Celery tasks finished, by task and outcome.", ["task", "outcome"])
POOL = Gauge("costsvc_db_pool_connections", "Database pool connections of the server processes, by state.",
             ["state"], multiprocess_mode="livesum")


def _child(metric: MetricWrapperBase, cache: dict[tuple[str, ...], Any], *labels: str) -> Any:
    child = cache.get(labels)
    if child is None:
        child = cache[labels] = metric.labels(*labels)
    return child


_http_requests: dict[tuple[str, ...], Any] = {}
_http_latency: dict[tuple[str, ...], Any] = {}
_estimates: dict[tuple[str, ...], Any] = {}
_memo = {"hit": MEMO.labels("hit"), "miss": MEMO.labels("miss")}


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    _child(HTTP_REQUESTS, _http_requests, method, route, str(status)).inc()
    _child(HTTP_LATENCY, _http_latency, method, route).observe(seconds)


def estimate(level_of_care: str, network_status: str, *, memo_hit: bool, count: int = 1) -> None:
    _child(ESTIMATES, _estimates, level_of_care, network_status).inc(count)
    _memo["hit" if memo_hit else "miss"].inc(count)


def estimates(tally: Mapping[tuple[str, str, bool], int]) -> None:
    """Many estimates at once: counts by (level of care, network status, memo hit).  A
    batch counts its items here once, not each with two locked increments."""
    for (level_of_care, network_status, memo_hit), count in tally.items():
        estimate(level_of_care, network_status, memo_hit=memo_hit, count=count)


def degraded_answer(route: str) -> None:
    """An answer priced without the database (``stored: false``), on ``route`` (its template)."""
    DEGRADED.labels(route).inc()


def catalog_reloaded(scope: str, seconds: float, version: int | None) -> None:
    CATALOG_RELOAD.labels(scope).observe(seconds)
    CATALOG_LOADED_AT.set(time.time())
    if version is not None:
        CATALOG_VERSION.set(version)


def import_finished(kind: str, outcome: str, seconds: float, *, read: int, accepted: int, rejected: int) -> None:
    IMPORT_DURATION.labels(kind, outcome).observe(seconds)
    for rows, count in (("read", read), ("accepted", accepted), ("rejected", rejected)):
        if count:
            IMPORT_ROWS.labels(kind, outcome, rows).inc(count)


def import_refused(kind: str) -> None:
    IMPORTS_REFUSED.labels(kind).inc()


def task_finished(task: str, outcome: str) -> None:
    TASKS.labels(task, outcome).inc()


def pool_use(size: int, idle: int, max_size: int) -> None:
    POOL.labels("in_use").set(size - idle)
    POOL.labels("idle").set(idle)
    POOL.labels("max").set(max_size)


def prepare_folder(folder: str | os.PathLike[str]) -> None:
    """Create the multiprocess folder, or empty it of an earlier run's samples (the client
    requires it wiped before the processes start)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def process_exited(pid: int | None = None) -> None:
    """Drop the live gauges of a process that stops (multiprocess mode only)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid or os.getpid())


class GaugeCollector:
    """Gauges computed when scraped, in the scraping process (a queue's depth)."""

    def __init__(self, name: str, documentation: str, labels: list[str],
                 read: Callable[[], Iterable[tuple[list[str], float]]]):
        self.name, self.documentation, self.labels, self.read = name, documentation, labels, read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in self.read():
            family.add_metric(labels, value)
        yield family


def serve_multiprocess(host: str, port: int) -> None:
    """A metrics listener (a thread of this process) over the multiprocess folder: the
    Celery worker's, whose pool processes share the folder."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)


def exposition(*collectors: object) -> bytes:
    """The text exposition of every process's metrics, with ``collectors`` computed now."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if collectors:
        extra = CollectorRegistry()
        for collector in collectors:
            extra.register(collector)  # type: ignore[arg-type]
        text += generate_latest(extra)
    return text
