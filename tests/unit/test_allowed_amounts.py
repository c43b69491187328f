"""TiC allowed-amounts parser (tariffs.allowed_amounts): median allowed amount per code.

Sample values read by hand from tests/fixtures/cms/tic-allowed-amounts/.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from tariffs.allowed_amounts import AllowedAmountsReader, iter_allowed_amounts, median_half_up
from tariffs.records import FileRejected, ReferenceRateRecord

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "cms" / "tic-allowed-amounts"
SINGLE = FIX / "allowed-amounts-single-plan-sample.json"
MULTIPLE = FIX / "allowed-amounts-multiple-plan-sample.json"


def read(path, **kw) -> tuple[AllowedAmountsReader, list[ReferenceRateRecord]]:
    reader = iter_allowed_amounts(str(path), payer_id="acme", **kw)
    return reader, list(reader)


@pytest.mark.parametrize("path", [SINGLE, MULTIPLE])
def test_cms_samples(path):
    # one out_of_network item, CPT 99214, one payment with allowed_amount 25.0
    reader, recs = read(path)
    assert recs == [ReferenceRateRecord(payer_id="acme", billing_code="99214", amount=D("25.00"))]
    assert reader.rows_read == 1
    assert reader.errors == []
    assert reader.last_updated_on == "2020-08-27"


def test_code_filter(tmp_path):
    _, recs = read(SINGLE, billing_codes=frozenset({"90837"}))
    assert recs == []
    _, recs = read(SINGLE, billing_codes=frozenset({"99214"}))
    assert [r.billing_code for r in recs] == ["99214"]


def payment(amount, npis=(1234567893,)):
    return {"allowed_amount": amount, "providers": [{"billed_charge": 999, "npi": list(npis)}]}


def oon(code, groups, code_type="CPT"):
    return {
        "name": code,
        "billing_code_type": code_type,
        "billing_code_type_version": "2024",
        "billing_code": code,
        "description": code,
        "allowed_amounts": [
            {
                "tin": {"type": "ein", "value": "1"},
                "billing_class": "professional",
                "service_code": ["11"],
                "payments": [payment(a) for a in g],
            }
            for g in groups
        ],
    }


def write(tmp_path, items, name="aa.json", **extra) -> Path:
    d = {
        "reporting_entity_name": "X",
        "reporting_entity_type": "issuer",
        "last_updated_on": "2025-01-01",
        "version": "1.0.0",
        **extra,
        "out_of_network": items,
    }
    p = tmp_path / name
    data = json.dumps(d).encode()
    p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return p


def test_median_across_items_and_entries_rounded_half_up(tmp_path):
    items = [
        # 90837 spread over two items and several allowed_amounts entries: 100, 120.10, 130.005, 200
        oon("90837", [[100, 120.10], [130.005]]),
        oon("90837", [[200]]),
        # odd count: 50, 60, 70 -> 60
        oon("H0015", [[70, 50], [60]], "HCPCS"),
        # revenue code in our form; even count 10.001, 10.004 -> 10.0025 -> 10.00 ; one value -> itself
        oon("906", [[10.001, 10.004]], "RC"),
        oon("90791", [[99.995]]),
    ]
    _, recs = read(write(tmp_path, items))
    got = {r.billing_code: r.amount for r in recs}
    # (120.10 + 130.005) / 2 = 125.0525 -> 125.05
    assert got == {"90837": D("125.05"), "H0015": D("60.00"), "REV:0906": D("10.00"), "90791": D("100.00")}
    assert all(r.payer_id == "acme" for r in recs)


def test_median_helper():
    assert median_half_up([D(1), D(2)]) == D("1.50")
    assert median_half_up([D("0.005")]) == D("0.01")  # half-up, not banker's rounding
    assert median_half_up([D("0.025")]) == D("0.03")
    with pytest.raises(ValueError):
        median_half_up([])


def test_row_errors_for_kept_codes_only(tmp_path):
    items = [
        oon("90837", [[100, "abc", -1]]),
        oon("99999", [["abc"]]),  # not kept: not validated
        {
            "name": "x",
            "billing_code_type": "CPT",
            "allowed_amounts": [
                {
                    "tin": {"type": "ein", "value": "1"},
                    "billing_class": "institutional",
                    "payments": [payment(5)],
                }
            ],
        },
        oon("90834", [[None]]),
    ]
    reader, recs = read(write(tmp_path, items), billing_codes=frozenset({"90837", "90834"}))
    assert recs == [ReferenceRateRecord("acme", "90837", D("100.00"))]
    assert [(e.line, e.column) for e in reader.errors] == [
        (None, "out_of_network[0].allowed_amounts[0].payments[1].allowed_amount"),
        (None, "out_of_network[0].allowed_amounts[0].payments[2].allowed_amount"),
        (None, "out_of_network[2].billing_code"),
        (None, "out_of_network[3].allowed_amounts[0].payments[0].allowed_amount"),
    ]
    assert "'abc' is not a number" in reader.errors[0].message
    assert "negative" in reader.errors[1].message
    assert "missing billing_code" in reader.errors[2].message
    assert "missing or null" in reader.errors[3].message


def test_gzip_and_order_of_keys(tmp_path):
    # billing_code after allowed_amounts in the object
    item = oon("90837", [[100, 300]])
    item = {"allowed_amounts": item["allowed_amounts"], "billing_code_type": "CPT", "billing_code": "90837"}
    _, recs = read(write(tmp_path, [item], name="aa.json.gz"))
    assert recs == [ReferenceRateRecord("acme", "90837", D("200.00"))]


def test_truncated_and_wrong_shape(tmp_path):
    p = tmp_path / "t.json"
    p.write_bytes(SINGLE.read_bytes()[:700])
    with pytest.raises(FileRejected) as exc:
        read(p)
    assert "truncated" in exc.value.errors[0].message and "byte 700" in exc.value.errors[0].message
    p.write_bytes(b'{"in_network": []}')
    with pytest.raises(FileRejected) as exc:
        read(p)
    assert "no out_of_network array" in exc.value.errors[0].message
    p.write_bytes(b"[]")
    with pytest.raises(FileRejected):
        read(p)
