"""The README's examples work verbatim: each curl command of "Try it" is sent as
written (method, path, query, body) to the service with the demo data."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

README = Path(__file__).resolve().parents[2] / "README.md"


def curl_commands() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("## Try it"):text.index("\n## ", text.index("## Try it") + 1)]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for command in re.findall(r"^curl .*?\| python3 -m json\.tool$", block, re.S | re.M):
            commands.append(shlex.split(command.rsplit("|", 1)[0]))
    return commands


def test_the_readme_has_the_examples_the_newcomer_needs():
    paths = {urlsplit(next(a for a in c if "localhost:8000" in a).replace("localhost", "http://localhost", 1)).path
             for c in curl_commands()}
    assert {"/v1/programs", "/v1/plans", "/v1/estimates", "/v1/estimates/batch", "/v1/estimates/compare"} <= paths


async def test_every_readme_example_answers_as_documented(client):
    commands = curl_commands()
    assert len(commands) >= 6
    for argv in commands:
        method = argv[argv.index("-X") + 1] if "-X" in argv else "GET"
        url = urlsplit("http://" + next(a for a in argv if "localhost:8000" in a))
        target = url.path + (f"?{url.query}" if url.query else "")
        body = argv[argv.index("-d") + 1].encode() if "-d" in argv else None
        headers = {"content-type": "application/json"} if body is not None else {}
        r = await client.request(method, target, content=body, headers=headers)
        assert 200 <= r.status_code < 300, (argv, r.text)
        answer = r.json()
        if target.startswith("/v1/programs"):
            assert answer["programs"], argv
        if target == "/v1/estimates/batch":
            assert all("error" not in item for item in answer["results"]), answer
