"""docker-compose.yml, the Dockerfile and .env.example, read as Docker would (no engine runs
here): the services and their order, that each command exists in the package, that every
variable they set is one the settings read (or a documented third-party one), and that the
image installs the wheel and runs as an unprivileged user.  That the image's entry points
run from the built wheel is tests/db/test_wheel.py."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from celery import Celery

from costsvc.cli import _celery, build_parser
from costsvc.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
COSTSVC_SERVICES = ("migrate", "api", "worker", "beat")
#: Variables read by the images costsvc runs beside (postgres:16), not by costsvc.
THIRD_PARTY = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
SETTINGS_VARIABLES = {env_name(f) for f in Settings.__struct_fields__}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env_example() -> tuple[dict[str, str], set[str]]:
    """The variables .env.example sets (name → value) and those it documents commented out."""
    assignment = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    set_, documented = {}, set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        found = assignment.match(line.strip())
        if found:
            documented.add(found[2])
            if not found[1]:
                set_[found[2]] = found[3]
    return set_, documented


def test_compose_runs_postgres_redis_a_migration_the_api_a_worker_and_one_beat():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *COSTSVC_SERVICES}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"].startswith("redis:")
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    for name in COSTSVC_SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "costsvc:local"
        assert service["env_file"] == ".env"
        assert "data:/data" in service["volumes"]  # uploads: written by the API, read by the worker
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]  # no password in the file; .env must give one
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        depends = service["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        if name != "migrate":
            # Migrations are applied once, before any of them starts.
            assert depends["migrate"]["condition"] == "service_completed_successfully"
            assert depends["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert "replicas" not in str(services["beat"]) and "deploy" not in services["beat"]  # exactly one scheduler


def test_the_api_runs_two_workers_and_its_health_check_asks_ready():
    api = _compose()["services"]["api"]
    argv = shlex.split(api["command"])
    assert argv[:2] == ["costsvc", "serve"] and argv[argv.index("--workers") + 1] == "2"
    assert argv[argv.index("--host") + 1] == "0.0.0.0" and argv[argv.index("--port") + 1] == "8000"
    assert api["ports"] == ["8000:8000"]
    check = " ".join(api["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/ready" in check
    # The probe runs in the image: python is there, curl is not (python:3.11-slim).
    assert api["healthcheck"]["test"][:2] == ["CMD", "python"]
    code = api["healthcheck"]["test"][-1]
    compile(code, "healthcheck", "exec")


def test_every_named_volume_is_declared_and_used():
    compose = _compose()
    declared = set(compose["volumes"])
    used = {v.split(":", 1)[0] for s in compose["services"].values() for v in s.get("volumes", [])
            if not v.startswith((".", "/"))}
    assert declared == used == {"pgdata", "redisdata", "data"}


def test_each_command_exists_in_the_package():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["costsvc"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    parser = build_parser()
    commands = {}
    for name in COSTSVC_SERVICES:
        argv = shlex.split(_compose()["services"][name]["command"])
        assert argv[0] in scripts, argv
        args = parser.parse_args(argv[1:])  # exits (fails the test) on an unknown command or option
        commands[name] = args.func.__name__
    assert commands == {"migrate": "cmd_migrate", "api": "cmd_serve", "worker": "cmd_worker", "beat": "cmd_beat"}
    # The worker and the beat exec Celery on the app path the CLI names: it is a Celery app.
    app_path = _celery("worker")[_celery("worker").index("-A") + 1]
    assert isinstance(importlib.import_module(app_path).app, Celery)


def test_every_variable_set_is_read_by_the_settings_or_a_documented_image():
    compose = _compose()
    set_in_compose = {name for s in COSTSVC_SERVICES for name in compose["services"][s]["environment"]}
    assert set_in_compose - SETTINGS_VARIABLES == set()
    example, documented = _env_example()
    assert set(compose["services"]["postgres"]["environment"]) <= THIRD_PARTY
    assert documented - SETTINGS_VARIABLES - THIRD_PARTY == set()  # nothing costsvc would ignore
    # Every variable costsvc reads is described (the settings table in the README says more).
    assert SETTINGS_VARIABLES - documented == set()
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert interpolated <= documented


def test_env_example_holds_no_secret_and_env_is_never_committed_or_copied():
    example, _ = _env_example()
    assert example["POSTGRES_PASSWORD"] == "" and example["COSTSVC_PHI_KEY"] == ""
    for name, value in example.items():
        # a Fernet key is 44 characters of URL-safe base64; a generated password is long and random
        assert not re.fullmatch(r"[A-Za-z0-9_\-]{24,}={0,2}", value), name
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def _stages(dockerfile: str) -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split at each FROM."""
    text = re.sub(r"\\\n", " ", dockerfile)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_the_dockerfile_builds_the_wheel_and_runs_it_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("# ")
    build, final = _stages(text)
    assert build[0] == "FROM python:3.11-slim AS build" and final[0] == "FROM python:3.11-slim"
    build_text = " ".join(build)
    assert "pip wheel" in build_text and re.search(r"pip install /dist/costsvc-\*\.whl", build_text)
    assert "pip install -e" not in text and "--editable" not in text
    for folder in ("costsvc", "tariffs", "jobs", "sql"):
        assert f"COPY {folder} ./{folder}" in build_text
    # The final stage has the installed virtualenv only: no source tree.
    copies = [ln for ln in final if ln.startswith("COPY")]
    assert copies == ["COPY --from=build /opt/costsvc /opt/costsvc"]
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any("useradd" in ln and f"--uid {users[-1]}" in ln for ln in final)
    assert final[-1] == 'CMD ["costsvc", "serve", "--host", "0.0.0.0"]'
    assert any("PATH=/opt/costsvc/bin:$PATH" in ln for ln in final)


def test_costsvc_help_lists_the_commands_the_image_runs():
    out = subprocess.run([sys.executable, "-m", "costsvc.cli", "--help"], check=False, capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0
    for command in ("serve", "migrate", "import", "worker", "beat", "apikey", "phi"):
        assert command in out.stdout
