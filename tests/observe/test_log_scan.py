"""The log scan: a whole flow through a real server process at DEBUG — an estimate with
inline benefits, a verification with recognisable PHI (and its errors), a GFE with a
name, a date of birth and diagnosis codes, an import the broker refuses — and all it
wrote is scanned: no PHI value, no key or token, no body fragment.  Every line is
JSON; each request's lines carry its id; the refused import has its line."""

from __future__ import annotations

import json
import re
import uuid

import httpx

from costsvc.phi import generate_key
from tests.observe.support import serve, server_env
from tests.verification.conftest import bearer, make_keys
from tests.verification.test_phi_scan import DOB, FIRST, LAST, MEMBER
from tests.verification.test_phi_scan import NEEDLES as PHI_NEEDLES

GFE_NAME, GFE_DOB = "Octavia Brindlewood", "1984-11-23"
DIAGNOSES = ["F10.20", "F33.1"]
INCOME = "73219.41"
BENEFITS = {"payer_id": "acme", "plan_year_start": "01-01",
            "in_network": {"deductible": {"individual": "1337.77"}, "oop_max": {"individual": "4321.09"},
                           "levels": {"iop": {"covered": True, "copay": "47.11", "copay_unit": "per_visit",
                                              "deductible_applies": False, "coinsurance_pct": "0"}}}}
FILE_ROW = "zz-observe-program,Observe Recovery Center,1645987326,74-2918365,TX,iop,H0015,IOP day,per_service,999.99,777.77,2026-01-01"
FEE_HEADER = ("program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
              "gross_charge,cash_price,effective_date\n")
BODY_NEEDLES = ["annual_income", INCOME, "1337.77", "4321.09", "47.11", "copay_unit", "zz-observe-program",
                "Observe Recovery Center", "777.77", '"coverage"', "requested_by"]
PROXY_ID = "edge-7f3a9c"


def _hits(text: str, needles: list[str]) -> list[str]:
    return [n for n in needles if re.search(re.escape(n), text, re.IGNORECASE)]


async def test_a_whole_flow_logs_no_phi_keys_or_bodies(db_url, tmp_path):
    staff_key, admin_key = await make_keys(db_url)
    phi_key, metrics_token = generate_key(), "metrics-" + uuid.uuid4().hex
    env = server_env(db_url, tmp_path, COSTSVC_PHI_KEY=phi_key, COSTSVC_LOG_LEVEL="DEBUG",
                     COSTSVC_LOG_FORMAT="json", COSTSVC_TRUSTED_PROXIES="127.0.0.1",
                     COSTSVC_METRICS_TOKEN=metrics_token,
                     CELERY_BROKER_URL="redis://127.0.0.1:9/0")  # nothing listens: the broker refuses
    server = serve(tmp_path, env)
    staff, admin = bearer(staff_key.key), bearer(admin_key.key)
    ids: dict[str, str] = {}
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as c:
            async def call(name, method, url, expect, **kwargs):
                r = await c.request(method, url, **kwargs)
                assert r.status_code == expect, (url, r.status_code, r.text[:300])
                ids[name] = r.headers["x-request-id"]
                return r

            estimate = (await call("estimate", "POST", "/v1/estimates", 201, json={
                "program_id": "sunrise-recovery", "level_of_care": "iop",
                "coverage": {"benefits": BENEFITS}, "household": {"size": 2, "annual_income": INCOME, "state": "CA"},
            })).json()
            person = {"name": f"{FIRST} {LAST}", "date_of_birth": DOB}
            verification = {"plan_id": "acme-ppo-gold", "member_id": MEMBER, "relationship": "subscriber",
                            "patient": person, "benefits": {"in_network": {"levels": {"iop": {"copay": "35"}}}},
                            "notes": f"spoke to {FIRST} about DOB {DOB}", "source": "portal"}
            created = await call("verification", "POST", "/v1/verifications", 201, json=verification, headers=staff)
            vid = created.json()["verifications"][0]["verification_id"]
            await call("verified_estimate", "POST", "/v1/estimates", 201, headers=staff, json={
                "program_id": "sunrise-recovery", "level_of_care": "iop", "coverage": {"verification_id": vid}})
            await call("bad_verification", "POST", "/v1/verifications", 422, headers=staff,
                       json={**verification, "patient": {"name": FIRST, "date_of_birth": "07/19/1961"}})
            await call("search", "POST", "/v1/verifications/search", 200, headers=staff, json={"member_id": MEMBER})
            await call("phi_in_path", "GET", f"/v1/verifications/{MEMBER}", 404, headers=staff)
            await call("gfe", "POST", f"/v1/estimates/{estimate['estimate_id']}/gfe", 201, json={
                "patient": {"name": GFE_NAME, "date_of_birth": GFE_DOB}, "diagnosis_codes": DIAGNOSES,
                "scheduled_date": None, "requested_by": "patient"})
            await call("bad_key", "POST", "/v1/verifications", 401, json=verification,
                       headers=bearer("csk_" + MEMBER))
            refused = await call("import", "POST", "/v1/imports", 503, headers={**admin, "X-Request-ID": PROXY_ID},
                                 data={"kind": "fee_schedule"},
                                 files={"file": ("observe.csv", (FEE_HEADER + FILE_ROW + "\n").encode(), "text/csv")})
            assert refused.headers["retry-after"]
            assert refused.json()["request_id"] == PROXY_ID  # a trusted proxy's id is kept, and in the problem
            await call("metrics", "GET", "/metrics", 200, headers=bearer(metrics_token))
    finally:
        server.stop()

    lines = server.log_lines()
    output = server.output()
    secrets = [staff_key.key, admin_key.key, phi_key, metrics_token]
    leaks = {"phi": _hits(output, [*PHI_NEEDLES, GFE_NAME, GFE_NAME.split()[1], GFE_DOB, "19841123", *DIAGNOSES]),
             "secrets": _hits(output, secrets), "bodies": _hits(output, BODY_NEEDLES)}
    assert leaks == {"phi": [], "secrets": [], "bodies": []}, leaks

    assert ids["import"] == PROXY_ID
    by_request: dict[str, list[dict]] = {}
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
        if "request_id" in line:
            by_request.setdefault(line["request_id"], []).append(line)
    for name, request_id in ids.items():
        access = [x for x in by_request.get(request_id, []) if x["logger"] == "costsvc.access"]
        assert len(access) == 1, (name, by_request.get(request_id))
        assert set(access[0]) >= {"method", "route", "status", "duration_ms"}
        assert "/" + MEMBER not in access[0]["route"] and "?" not in access[0]["route"]
    assert by_request[ids["phi_in_path"]][-1]["route"] == "/v1/verifications/{verification_id}"
    # the service's own lines are captured, with their request's id
    assert any(x["logger"] == "costsvc.services.verifications" for x in by_request[ids["verification"]])
    refusal = [x for x in by_request[PROXY_ID] if "refused by the job broker" in x["message"]]
    assert len(refusal) == 1 and refusal[0]["level"] == "WARNING" and refusal[0]["kind"] == "fee_schedule"
    assert refusal[0]["import_id"] and refusal[0]["reason"]
    # the scan can fail: it finds what it looks for in the text it reads
    assert _hits(output, [PROXY_ID]) and _hits(json.dumps(verification), PHI_NEEDLES)
