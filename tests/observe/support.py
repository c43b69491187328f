"""A real `costsvc serve` whose output goes to files (a DEBUG log would fill a pipe and
stall the server), and a reader of its JSON log lines."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.server import COSTSVC, _free_port, _stop


@dataclass
class Served:
    proc: subprocess.Popen
    base: str
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def log_lines(self) -> list[dict]:
        """Every line the server wrote to stderr, each of which must be a JSON object."""
        lines = []
        for number, line in enumerate(self.stderr.read_text().splitlines(), 1):
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    raise AssertionError(f"stderr line {number} is not JSON: {line[:300]}") from None
        return lines

    def stop(self) -> None:
        _stop(self.proc)


def serve(tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 120) -> Served:
    port = _free_port()
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([COSTSVC, "serve", "--port", str(port), *args], env=env, stdout=o, stderr=e,
                                start_new_session=True)
    served = Served(proc, f"http://127.0.0.1:{port}", out, err)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {served.output()[-3000:]}")
        try:
            with urllib.request.urlopen(served.base + "/ready", timeout=5):
                return served
        except OSError:
            time.sleep(0.3)
    served.stop()
    raise AssertionError("server never became ready: " + served.output()[-3000:])


def server_env(db_url: str, tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a server on ``db_url``: no broker, no demo seeding, its own data folder."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "COSTSVC_EMBEDDED_URL", "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR"}
           and not k.startswith("COSTSVC_")}
    env.update({"DATABASE_URL": db_url, "COSTSVC_DATA_DIR": str(tmp_path / "data"), "COSTSVC_SEED_DEMO": "0"})
    env.update(settings)
    return env
