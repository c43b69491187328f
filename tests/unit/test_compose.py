"""docker-compose.yml parses, runs the API, one worker and one beat from the Dockerfile's image,
and every command it names exists in the `costsvc` CLI."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from costsvc.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_api_worker_and_one_beat_from_the_image():
    services = _compose()["services"]
    assert set(services) >= {"postgres", "redis", "api", "worker", "beat"}
    commands = {}
    for name in ("api", "worker", "beat"):
        service = services[name]
        assert service["build"] == "."
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert "data:/data" in service["volumes"]  # uploads: written by the API, read by the worker
        assert set(service["depends_on"]) == {"postgres", "redis"}
        commands[name] = shlex.split(service["command"])
    assert commands["api"][:2] == ["costsvc", "serve"] and "0.0.0.0" in commands["api"]
    assert commands["worker"][:2] == ["costsvc", "worker"]
    assert commands["beat"][:2] == ["costsvc", "beat"]
    assert "replicas" not in str(services["beat"])  # exactly one scheduler
    parser = build_parser()
    for argv in commands.values():
        parser.parse_args(argv[1:])  # exits (fails the test) on an unknown command or option


def test_dockerfile_installs_the_project_and_serves():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("# ") and "FROM python:3.11-slim" in text
    assert "pip install -e ." in text
    assert 'CMD ["costsvc", "serve", "--host", "0.0.0.0"]' in text
    for folder in ("costsvc", "tariffs", "jobs", "sql"):
        assert f"COPY {folder} ./{folder}" in text


def test_costsvc_help_lists_the_job_commands():
    out = subprocess.run(
        [sys.executable, "-m", "costsvc.cli", "--help"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0
    for command in ("serve", "import", "worker", "beat", "apikey"):
        assert command in out.stdout
