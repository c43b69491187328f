"""The PHI scan: a whole verification flow with recognisable PHI, every log record at
DEBUG and every response body and problem detail captured, and none of them may hold
a PHI value or an obvious variant (only the reveal responses show PHI, on purpose)."""

from __future__ import annotations

import logging
import re

from tests.unit.x12_builder import body_271
from tests.verification.conftest import bearer

MEMBER = "QZ7-88410263"
FIRST, LAST = "Wilhelmina", "Quartermaine"
DOB = "1961-07-19"
NEEDLES = [MEMBER, MEMBER.replace("-", ""), "88410263", FIRST, LAST, DOB, "19610719", "07/19/1961", "07-19-1961",
           "1961/07/19"]
# The server's loggers and the root (httpx is the test's own client: it logs the URLs
# this test deliberately abuses, which the service never logs).
SCANNED_LOGGERS = ["", "litestar", "costsvc", "asyncpg", "uvicorn", "uvicorn.error", "tariffs"]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        if not record.name.startswith("httpx"):
            self.texts.append(f"{record.name}: {text}")


def _hits(text: str) -> list[str]:
    return [n for n in NEEDLES if re.search(re.escape(n), text, re.IGNORECASE)]


async def test_no_phi_in_logs_responses_or_problems(staffed):
    capture = Capture()
    loggers = [logging.getLogger(name) for name in SCANNED_LOGGERS]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(capture)
        lg.setLevel(logging.DEBUG)
    bodies: list[tuple[str, str]] = []
    c, staff = staffed.client, staffed.staff

    async def call(method: str, url: str, *, expect: int, reveal: bool = False, **kwargs):
        r = await getattr(c, method)(url, headers=kwargs.pop("headers", staff), **kwargs)
        assert r.status_code == expect, (url, r.status_code, r.text[:300])
        if not reveal:
            bodies.append((f"{method} {url} -> {r.status_code}", r.text + " " + " ".join(r.headers.values())))
        return r

    try:
        body = {"plan_id": "acme-ppo-gold", "member_id": MEMBER, "relationship": "subscriber",
                "patient": {"name": f"{FIRST} {LAST}", "date_of_birth": DOB},
                "benefits": {"in_network": {"levels": {"iop": {"copay": "35"}}}},
                "accumulators": {"in_network": {"deductible_met": "99999"}},
                "notes": f"spoke to {FIRST} about DOB {DOB}", "source": "portal"}
        created = (await call("post", "/v1/verifications", json=body, expect=201)).json()["verifications"][0]
        vid = created["verification_id"]
        await call("get", f"/v1/verifications/{vid}", expect=200)
        revealed = await call("get", f"/v1/verifications/{vid}?reveal=member_id,patient,notes", expect=200,
                              reveal=True)
        assert revealed.json()["member"]["member_id"] == MEMBER  # the reveal does show it
        assert revealed.json()["member"]["date_of_birth"] == DOB and FIRST in revealed.json()["notes"]
        await call("get", "/v1/verifications", expect=200)
        await call("get", "/v1/verifications?status=active&limit=5", expect=200)
        found = await call("post", "/v1/verifications/search", json={"member_id": MEMBER.lower()}, expect=200)
        assert len(found.json()["verifications"]) == 1
        await call("post", "/v1/verifications/search", json={"member_id": MEMBER + "9"}, expect=200)
        await call("post", "/v1/estimates", expect=201, json={
            "program_id": "sunrise-recovery", "level_of_care": "iop", "coverage": {"verification_id": vid}})
        await call("get", "/v1/audit", expect=200, headers=staffed.admin)

        # the same person from an X12 271, found by the same search
        person = (f"NM1*IL*1*{LAST.upper()}*{FIRST.upper()}****MI*{MEMBER}", "DMG*D8*19610719*F")
        x12 = {**staff, "Content-Type": "application/edi-x12"}
        await call("post", "/v1/verifications?plan_id=acme-ppo-gold", expect=201, headers=x12,
                   content=body_271("EB*1**30", "EB*C*IND*30***29*250*****Y", "EB*F**47*MA**29***DY*60",
                                    subscriber=person))
        found = await call("post", "/v1/verifications/search", json={"member_id": MEMBER}, expect=200)
        assert len(found.json()["verifications"]) == 2
        await call("post", "/v1/verifications", expect=422, headers=x12,
                   content=body_271("AAA*N**72*C", subscriber=person))
        await call("post", "/v1/verifications", expect=422, headers=x12,
                   content=body_271("DTP*307*D8*29990101", "EB*1**30", subscriber=person))
        await call("post", "/v1/verifications", expect=422, headers=x12,
                   content=body_271("EB*1**30", subscriber=person, st01="270"))
        await call("post", "/v1/verifications", expect=422, headers=x12,
                   content=body_271("EB*1**30", subscriber=person)[:200])

        # errors, each carrying PHI in the request
        await call("post", "/v1/verifications", expect=422, json={**body, "as_of": "19610719"})
        await call("post", "/v1/verifications", expect=422, json={**body, "as_of": "2999-01-01"})
        await call("post", "/v1/verifications", expect=422,
                   json={**body, "patient": {"name": FIRST, "date_of_birth": "07/19/1961"}})
        await call("post", "/v1/verifications", expect=422, json={**body, "member_id": MEMBER * 20})
        await call("post", "/v1/verifications", expect=422, json={**body, "member": MEMBER})
        await call("post", "/v1/verifications", expect=422, json={**body, "source": MEMBER})
        await call("post", "/v1/verifications", expect=422, content=f'{{"member_id": "{MEMBER}", '.encode(),
                   headers={**staff, "Content-Type": "application/json"})
        await call("post", "/v1/verifications", expect=404, json={**body, "plan_id": "no-such-plan"})
        await call("get", f"/v1/verifications?member_id={MEMBER}", expect=422)
        await call("get", f"/v1/verifications/{MEMBER}", expect=404)
        await call("get", f"/v1/verifications/{vid}?reveal={MEMBER}", expect=422)
        await call("post", "/v1/verifications/search", json={"member_id": MEMBER, "dob": DOB}, expect=422)
        await call("post", "/v1/verifications/search", json={"member_id": 88410263}, expect=422)
        await call("post", "/v1/estimates", expect=404, json={
            "program_id": "sunrise-recovery", "level_of_care": "iop", "coverage": {"verification_id": MEMBER}})
        await call("post", "/v1/verifications", json=body, expect=401, headers={})
        await call("post", "/v1/verifications", json=body, expect=401, headers=bearer("csk_" + MEMBER))
        await call("post", "/v1/verifications", expect=415, content=MEMBER.encode(),
                   headers={**staff, "Content-Type": "text/plain"})
    finally:
        for lg, level in saved:
            lg.removeHandler(capture)
            lg.setLevel(level)

    assert any(t.startswith("costsvc.services.verifications: verification") for t in capture.texts), \
        "the service's own log lines were not captured: the scan would see nothing"
    leaks = [(where, _hits(text)) for where, text in bodies if _hits(text)]
    leaks += [("log", _hits(text), text[:200]) for text in capture.texts if _hits(text)]
    assert not leaks, "\n".join(map(str, leaks))
    # the scan would see a leak: the revealed body does hold the values
    assert _hits(revealed.text)
