"""The package as a user installs it: a wheel (not an editable tree) in a fresh venv."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


async def test_a_wheel_installed_in_a_fresh_venv_migrates_from_any_folder(db_url, tmp_path: Path):
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist",
                 ROOT, cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("costsvc-*.whl")
    shipped_files = set(zipfile.ZipFile(wheel).namelist())
    pages = ROOT / "costsvc" / "api" / "pages"
    for path in [*(pages / "templates").rglob("*.html"), *(pages / "static").iterdir()]:  # the pages' package data
        assert str(path.relative_to(ROOT)) in shipped_files, path

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # The dependencies come from the test environment's site-packages (a plain path:
    # its .pth files, among them the editable install of this checkout, are not run).
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path)
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(python, "-c", "import costsvc.db.queries as q; print(q.__file__); print(q.SQL_DIR)", cwd=elsewhere)
    module_file, sql_dir = where.stdout.split()
    assert module_file.startswith(str(env_dir)) and sql_dir.startswith(str(env_dir)), where.stdout + where.stderr

    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("PYTHONPATH", None)
    migrated = _run(env_dir / "bin" / "costsvc", "migrate", cwd=elsewhere, env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    shipped = sorted(p.name for p in (ROOT / "sql" / "migrations").glob("*.sql"))
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(shipped)
    finally:
        await conn.close()
