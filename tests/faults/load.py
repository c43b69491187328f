"""Concurrent client load for the fault tests, every answer recorded."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import httpx

PAIRS = [("sunrise-recovery", "iop"), ("sunrise-recovery", "php"), ("harborview-behavioral-health", "iop"),
         ("harborview-behavioral-health", "outpatient"), ("lakeside-medical-bh", "iop"),
         ("pinewood-recovery-ranch", "iop")]
#: Answered from the tariffs in memory: 201, or 200 not stored while the database is away.
ESTIMATE_ROUTES = {"estimate", "batch", "compare"}
#: Admin routes that need the database: their answer, or 503 while it is away.
DATABASE_ROUTES = [("imports", "/v1/imports"), ("verifications", "/v1/verifications"), ("audit", "/v1/audit"),
                   ("gfes", "/v1/gfe")]


def estimate_body(i: int) -> dict:
    program, level = PAIRS[i % len(PAIRS)]
    return {"program_id": program, "level_of_care": level, "coverage": {"plan_id": "acme-ppo-gold"},
            "episode": {"start_date": "2026-12-01", "weeks": 1 + i % 26}}


@dataclass
class Answer:
    route: str
    started: float  # monotonic
    elapsed: float
    status: int  # 0: no HTTP answer (connection error or client timeout)
    headers: dict[str, str]
    body: bytes
    error: str = ""

    def json(self) -> dict:
        import json

        return json.loads(self.body)


@dataclass
class Load:
    """Concurrent clients: ``estimate_clients`` price (single estimates, batches,
    compares), ``database_clients`` call routes that need the database (stored estimates,
    the import list, /ready) — apart, so that slow database answers never starve the
    estimates of load."""

    base: str
    admin: dict[str, str]
    estimate_clients: int = 4
    database_clients: int = 2
    answers: list[Answer] = field(default_factory=list)
    created: dict[str, bytes] = field(default_factory=dict)  # estimate id -> body answered with 201
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        counter = itertools.count()
        # The client timeout is far above every documented bound: a hang shows as a long answer.
        async with httpx.AsyncClient(base_url=self.base, timeout=40) as client:
            await asyncio.gather(*(self._pricing(client, counter) for _ in range(self.estimate_clients)),
                                 *(self._database(client, counter) for _ in range(self.database_clients)))

    async def _database(self, client: httpx.AsyncClient, counter: itertools.count) -> None:
        while not self._stop.is_set():
            i = next(counter)
            if i % 3 == 0 and self.created:
                estimate_id = list(self.created)[i % len(self.created)]
                await self._call(client, "stored", "GET", f"/v1/estimates/{estimate_id}")
            elif i % 3 == 1:
                route, url = DATABASE_ROUTES[(i // 3) % len(DATABASE_ROUTES)]
                await self._call(client, route, "GET", url, headers=self.admin)
            else:
                await self._call(client, "ready", "GET", "/ready")
            await asyncio.sleep(0.05)

    async def _pricing(self, client: httpx.AsyncClient, counter: itertools.count) -> None:
        while not self._stop.is_set():
            i = next(counter)
            kind = i % 10
            if kind == 3:
                await self._call(client, "batch", "POST", "/v1/estimates/batch", json={
                    "coverage": {"plan_id": "acme-ppo-gold"}, "episode": {"start_date": "2026-12-01"},
                    "items": [{"program_id": p, "level_of_care": lvl} for p, lvl in PAIRS]})
            elif kind == 5:
                await self._call(client, "compare", "POST", "/v1/estimates/compare",
                                 json={"program_id": "sunrise-recovery", "coverage": {"plan_id": "acme-ppo-gold"}})
            else:
                answer = await self._call(client, "estimate", "POST", "/v1/estimates", json=estimate_body(i))
                if answer.status == 201:
                    self.created[answer.json()["estimate_id"]] = answer.body
            await asyncio.sleep(0.01)

    async def _call(self, client: httpx.AsyncClient, route: str, method: str, url: str, **kwargs) -> Answer:
        started = time.monotonic()
        try:
            r = await client.request(method, url, **kwargs)
            answer = Answer(route, started, time.monotonic() - started, r.status_code, dict(r.headers), r.content)
        except httpx.HTTPError as exc:
            answer = Answer(route, started, time.monotonic() - started, 0, {}, b"", f"{type(exc).__name__}: {exc}")
        self.answers.append(answer)
        return answer

    def between(self, start: float, end: float = float("inf")) -> list[Answer]:
        return [a for a in self.answers if start <= a.started < end]


def estimates_of(answer: Answer) -> list[dict]:
    """The estimate documents an estimate route answered."""
    document = answer.json()
    if answer.route == "estimate":
        return [document]
    if answer.route == "batch":
        return [r for r in document["results"] if "error" not in r]
    return document["estimates"]


def check_answer(answer: Answer, *, estimate_bound: float, database_bound: float) -> str | None:
    """What is wrong with one answer given under (or around) a database fault, or None.

    Estimate routes: stored (201 with a Location; batch/compare 200 without ``stored``)
    or not stored (200, ``stored: false``, the ``not_stored`` notice, no Location), within
    ``estimate_bound``.  Routes that need the database: their answer, or 503 problem with
    Retry-After, within ``database_bound``.  Anything else — another 5xx, no answer — is wrong."""
    where = f"{answer.route} answered {answer.status} after {answer.elapsed:.1f} s"
    if answer.status == 0:
        return f"{where}: no answer ({answer.error})"
    if answer.route in ESTIMATE_ROUTES:
        if answer.elapsed > estimate_bound:
            return f"{where}: over the bound of {estimate_bound} s"
        if answer.status not in (200, 201):
            return f"{where}: {answer.body[:300]!r}"
        documents = estimates_of(answer)
        stored = [d.get("stored", True) for d in documents]
        if len(set(stored)) > 1:
            return f"{where}: some estimates stored, some not"
        if answer.route == "estimate" and (answer.status == 201) != stored[0]:
            return f"{where}: status and stored disagree ({stored[0]})"
        if answer.route == "estimate" and ("location" in answer.headers) != stored[0]:
            return f"{where}: a Location on an estimate not stored, or none on a stored one"
        for d in documents:
            if not d.get("stored", True) and "not_stored" not in {n["code"] for n in d["notices"]}:
                return f"{where}: not stored without the not_stored notice"
        return None
    if answer.elapsed > database_bound:
        return f"{where}: over the bound of {database_bound} s"
    if answer.status == 503:
        if not answer.headers.get("retry-after", "").isdigit():
            return f"{where}: a 503 without Retry-After"
        if not answer.headers.get("content-type", "").startswith("application/problem+json"):
            return f"{where}: a 503 that is not a problem"
        return None
    if answer.status != 200:
        return f"{where}: {answer.body[:300]!r}"
    return None
