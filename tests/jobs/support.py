"""Helpers for the job tests: real Celery worker/beat processes, tariff files, polling."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BROKERS = "redis://127.0.0.1:6379/13,amqp://guest:guest@127.0.0.1:5672//"
FEE_HEADER = ("program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
              "gross_charge,cash_price,effective_date\n")


def broker_urls() -> list[str]:
    return [u.strip() for u in (os.environ.get("TEST_BROKER_URLS") or DEFAULT_BROKERS).split(",") if u.strip()]


def broker_id(url: str) -> str:
    return urlsplit(url).scheme


def check_broker(url: str) -> str | None:
    """None when the broker answers, else why not."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def fee_schedule(path: Path, program_id: str, *, rows: int = 3, gross: str = "100.00",
                 name: str = "Job Test Program") -> Path:
    """A valid fee schedule: ``rows`` IOP lines of one program (distinct effective dates)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(FEE_HEADER)
        for i in range(rows):
            day = f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}"
            f.write(f"{program_id},{name},,,TX,iop,H0015,IOP day,per_service,{gross},,{day}\n")
    return path


class Proc:
    """A costsvc worker or beat subprocess in its own process group, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._log_file = open(log, "ab")  # noqa: SIM115
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "costsvc.cli", *args], env=env, cwd=ROOT,
            stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    async def wait_for_log(self, needle: str, timeout: float = 60, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.text().count(needle) >= count:
                return
            if not self.alive():
                raise AssertionError(f"process exited ({self.popen.returncode}) before logging {needle!r}:\n"
                                     + self.text()[-4000:])
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {needle!r} in the log after {timeout}s:\n" + self.text()[-4000:])

    def children(self) -> list[int]:
        try:
            return [int(p) for p in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (warm shutdown), then SIGKILL the whole group; always reaps."""
        if self.alive():
            self.kill_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group(signal.SIGKILL)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        self._log_file.close()


class JobEnv:
    """One test's job world: a database, a broker, a queue of its own, its processes."""

    def __init__(self, broker_url: str, db_url: str, tmp: Path):
        from jobs.celery_app import create_celery_app

        self.broker_url = broker_url
        self.db_url = db_url
        self.tmp = tmp
        self.queue = f"costsvc-test-{uuid.uuid4().hex[:10]}"
        self.app = create_celery_app(broker_url, queue=self.queue)
        self.procs: list[Proc] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTSVC_", "CELERY_"))}
        env.update(
            DATABASE_URL=self.db_url, CELERY_BROKER_URL=self.broker_url, COSTSVC_CELERY_QUEUE=self.queue,
            COSTSVC_DATA_DIR=str(self.tmp / "data"), COSTSVC_JOB_RETRY_BACKOFF="1",
            COSTSVC_JOB_RETRY_BACKOFF_MAX="2", PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def start_worker(self, name: str = "w", concurrency: int = 1, **extra: str) -> Proc:
        log = self.tmp / f"worker-{name}-{len(self.procs)}.log"
        proc = Proc(["worker", "--concurrency", str(concurrency), "--hostname", f"{self.queue}-{name}@%h",
                     "--loglevel", "INFO"], self.env(**extra), log)
        self.procs.append(proc)
        return proc

    async def worker(self, name: str = "w", **extra: str) -> Proc:
        proc = self.start_worker(name, **extra)
        await proc.wait_for_log(" ready.")
        return proc

    def start_beat(self, name: str, **extra: str) -> Proc:
        proc = Proc(["beat", "--schedule", str(self.tmp / f"beat-{name}.db"), "--loglevel", "INFO"],
                    self.env(**extra), self.tmp / f"beat-{name}.log")
        self.procs.append(proc)
        return proc

    async def enqueue(self, import_id: uuid.UUID, path: Path) -> None:
        from jobs.enqueue import enqueue_import

        await enqueue_import(import_id, str(path), app=self.app)

    def ping(self, proc_name: str, timeout: float = 10) -> str:
        """``celery inspect ping`` of one worker of this test (by node name)."""
        result = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "jobs.celery_app", "inspect", "ping", "-t", str(timeout),
             "-d", f"{self.queue}-{proc_name}@{os.uname().nodename}"],
            env=self.env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout + 30,
        )
        return result.stdout + result.stderr

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()
        try:
            with self.app.connection_for_write() as conn:
                channel = conn.default_channel
                channel.queue_delete(self.queue)
        except Exception:  # noqa: BLE001 - best effort: the queue may never have been declared
            pass


async def wait_status(conn: asyncpg.Connection, import_id: uuid.UUID, statuses: set[str],
                      timeout: float = 60) -> asyncpg.Record:
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = await conn.fetchrow("SELECT * FROM imports WHERE import_id = $1", import_id)
        if row is not None and row["status"] in statuses:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"import {import_id} not {statuses} after {timeout}s: "
                         f"{dict(row) if row else 'no such import'}")


async def versions_of(conn: asyncpg.Connection, import_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT version_id, activated_at FROM tariff_versions WHERE import_id = $1", import_id)
