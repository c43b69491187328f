"""The package as a user (and the Docker image) installs it: a wheel, not an editable tree,
in a fresh venv — and the commands docker-compose.yml runs work from it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import yaml

from jobs.celery_app import RUN_IMPORT_TASK
from tests.jobs.support import EmbeddedRedis, check_broker
from tests.server import _free_port, _get, _stop, _wait_ready

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


class Installed:
    """A fresh venv holding the built wheel; the dependencies come from the test environment."""

    def __init__(self, tmp: Path):
        built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist",
                     ROOT, cwd=tmp)
        assert built.returncode == 0, built.stdout + built.stderr
        (wheel,) = (tmp / "dist").glob("costsvc-*.whl")
        self.wheel = wheel
        self.env_dir = tmp / "venv"
        venv.create(self.env_dir, with_pip=True)
        self.python = self.env_dir / "bin" / "python"
        # The dependencies come from the test environment's site-packages (a plain path:
        # its .pth files, among them the editable install of this checkout, are not run).
        site = _run(self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp)
        Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        installed = _run(self.python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        self.elsewhere = tmp / "elsewhere"  # not the checkout: nothing is found from the source tree
        self.elsewhere.mkdir()

    def env(self, **values: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in {"PYTHONPATH", "COSTSVC_EMBEDDED_URL", "CELERY_BROKER_URL", "DATABASE_URL"}}
        # The image puts the venv first on PATH (Dockerfile): the compose commands are bare names.
        return {**env, "PATH": f"{self.env_dir / 'bin'}:{env.get('PATH', '')}", **values}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return Installed(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    local = "redis://127.0.0.1:6379/12"
    if check_broker(local) is None:
        yield local
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


def _compose_command(service: str) -> list[str]:
    return shlex.split(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service]["command"])


def test_the_wheel_ships_the_pages_templates_and_assets(installed):
    shipped_files = set(zipfile.ZipFile(installed.wheel).namelist())
    pages = ROOT / "costsvc" / "api" / "pages"
    for path in [*(pages / "templates").rglob("*.html"), *(pages / "static").iterdir()]:
        assert str(path.relative_to(ROOT)) in shipped_files, path


async def test_a_wheel_installed_in_a_fresh_venv_migrates_from_any_folder(db_url, installed):
    where = _run(installed.python, "-c", "import costsvc.db.queries as q; print(q.__file__); print(q.SQL_DIR)",
                 cwd=installed.elsewhere)
    module_file, sql_dir = where.stdout.split()
    env_dir = str(installed.env_dir)
    assert module_file.startswith(env_dir) and sql_dir.startswith(env_dir), where.stdout + where.stderr

    # The compose `migrate` service's command, as the image runs it.
    migrated = _run(*_compose_command("migrate"), cwd=installed.elsewhere, env=installed.env(DATABASE_URL=db_url))
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    shipped = sorted(p.name for p in (ROOT / "sql" / "migrations").glob("*.sql"))
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(shipped)
    finally:
        await conn.close()


def _start(argv: list[str], installed: Installed, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(argv, cwd=installed.elsewhere, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _wait_for(log: Path, needle: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_text():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared (exit {proc.poll()}): {log.read_text()[-3000:]}")


async def test_the_compose_api_command_serves_ready_from_the_wheel(db_url, installed, tmp_path):
    argv = _compose_command("api")
    port = _free_port()
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    env = installed.env(DATABASE_URL=db_url, COSTSVC_LOG_LEVEL="WARNING", COSTSVC_SEED_DEMO="false",
                        COSTSVC_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen(argv, cwd=installed.elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = _wait_ready(base, proc)
        assert ready["programs"] >= 4  # the demo data of the test database
        assert _get(base + "/v1/levels-of-care")
    finally:
        _stop(proc)


async def test_the_compose_worker_and_beat_commands_start_from_the_wheel(db_url, installed, redis_url, tmp_path):
    env = installed.env(DATABASE_URL=db_url, CELERY_BROKER_URL=redis_url, COSTSVC_LOG_LEVEL="INFO",
                        COSTSVC_DATA_DIR=str(tmp_path / "data"), COSTSVC_CELERY_QUEUE=f"wheel-{os.getpid()}")
    worker = _start(_compose_command("worker"), installed, env, tmp_path / "worker.log")
    beat = _start(_compose_command("beat"), installed, env, tmp_path / "beat.log")
    try:
        _wait_for(tmp_path / "worker.log", "ready.", worker)
        _wait_for(tmp_path / "beat.log", "beat: Starting", beat)
        # The worker's tasks are the package's, loaded from the wheel.
        assert RUN_IMPORT_TASK in (tmp_path / "worker.log").read_text()
    finally:
        _stop(worker)
        _stop(beat)
