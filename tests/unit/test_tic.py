"""TiC in-network parser (tariffs.tic) on the CMS samples and on generated files.

Expected values were read by hand from the sample JSON files in
tests/fixtures/cms/tic-in-network-rates/ (see SOURCES.md there).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tracemalloc
from decimal import Decimal as D
from pathlib import Path

import ijson
import pytest

from tariffs.records import FileRejected, NegotiatedRateRecord, PlanListing
from tariffs.sources import normalize_billing_code, open_binary
from tariffs.tic import TicFilter, TicInNetworkReader, iter_in_network, normalize_tin

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "cms" / "tic-in-network-rates"
ALL_TYPES = FIX / "in-network-rates-all-negotiated-types-sample.json"
FFS = FIX / "in-network-rates-fee-for-service-single-plan-sample.json"
BUNDLE = FIX / "in-network-rates-bundle-single-plan-sample.json"
CAPITATION = FIX / "in-network-rates-capitation-single-plan-sample.json"
MULTI = FIX / "in-network-rates-multiple-plans-sample.json"
NO_NPI = FIX / "in-network-rates-no-npi.json"


def keep(npis=(), tins=(), codes=()) -> TicFilter:
    return TicFilter(npis=frozenset(npis), tins=frozenset(tins), billing_codes=frozenset(codes))


def read(
    path, k: TicFilter, **kw
) -> tuple[TicInNetworkReader, list[NegotiatedRateRecord], list[PlanListing]]:
    reader = iter_in_network(str(path), payer_id="acme", keep=k, **kw)
    out = list(reader)
    rates = [r for r in out if isinstance(r, NegotiatedRateRecord)]
    plans = [p for p in out if isinstance(p, PlanListing)]
    assert len(rates) + len(plans) == len(out)
    return reader, rates, plans


def summary(rates):
    return sorted(
        ((r.billing_code, r.rate_type, r.rate, r.npi, r.tin) for r in rates),
        key=lambda t: (t[0], t[1], t[2], t[3] or "", t[4] or ""),
    )


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


ALL_CODES = {"99214", "97110", "REV:0200", "80053", "27447", "99285"}


# ----------------------------------------------------------------------------- CMS samples


def test_all_negotiated_types_by_npi():
    reader, rates, plans = read(ALL_TYPES, keep(npis={"1234567890"}, codes=ALL_CODES))
    # group 1 holds NPI 1234567890 with TIN 12-3456789; group 2 does not.
    assert summary(rates) == [
        ("27447", "dollar", D("8500.00"), "1234567890", "123456789"),  # fee schedule
        ("27447", "dollar", D("12000.00"), "1234567890", "123456789"),  # negotiated
        ("97110", "percent_of_billed", D("65.0"), "1234567890", "123456789"),  # percentage
        ("99214", "dollar", D("150.00"), "1234567890", "123456789"),
    ]
    assert {r.effective_date for r in rates} == {dt.date(2024, 1, 15)}  # last_updated_on
    assert {r.expiration_date for r in rates} == {dt.date(2024, 12, 31)}
    assert {r.payer_id for r in rates} == {"acme"}
    assert all(r.program_id is None and r.line is None for r in rates)
    assert reader.stats["derived_skipped"] == 1  # 80053 is a derived price
    assert reader.rows_read == 6
    assert reader.errors == []
    assert reader.passes == 1
    assert plans == [PlanListing("Plan D PPO", "4444444444", "ein", "group")]


def test_all_negotiated_types_by_tin_per_diem_and_revenue_code():
    _, rates, _ = read(ALL_TYPES, keep(tins={"345678901"}, codes=ALL_CODES))
    # group 2: TIN 34-5678901 (NPIs 5678901234, 6789012345 not in the filter)
    assert summary(rates) == [
        ("27447", "dollar", D("8500.00"), None, "345678901"),
        ("27447", "dollar", D("12000.00"), None, "345678901"),
        ("99285", "dollar", D("2500.00"), None, "345678901"),
        ("99285", "percent_of_billed", D("75.5"), None, "345678901"),
        ("REV:0200", "dollar", D("5500.00"), None, "345678901"),  # RC 0200, per diem
    ]


def test_npi_match_wins_over_tin_and_one_record_per_matching_npi():
    _, rates, _ = read(
        ALL_TYPES, keep(npis={"1234567890", "2345678901"}, tins={"12-3456789"}, codes={"99214"})
    )
    assert summary(rates) == [
        ("99214", "dollar", D("150.00"), "1234567890", "123456789"),
        ("99214", "dollar", D("150.00"), "2345678901", "123456789"),
    ]


def test_code_filter_keeps_only_listed_codes_case_insensitively():
    _, rates, _ = read(ALL_TYPES, keep(npis={"1234567890"}, codes={"99214"}))
    assert [r.billing_code for r in rates] == ["99214"]
    _, rates, _ = read(ALL_TYPES, keep(tins={"345678901"}, codes={"rev:200"}))
    assert [(r.billing_code, r.rate) for r in rates] == [("REV:0200", D("5500.00"))]
    _, rates, _ = read(ALL_TYPES, keep(npis={"1234567890"}, codes={"H0015"}))
    assert rates == []


def test_fee_for_service_sample():
    reader, rates, plans = read(FFS, keep(npis={"1111111111"}, codes={"27447"}))
    # provider reference 1 has two groups with NPI 1111111111: TINs 11-1111111 and 22-2222222
    assert summary(rates) == [
        ("27447", "dollar", D(v), "1111111111", tin)
        for v in ("120.45", "123.45", "1230.45")
        for tin in ("111111111", "222222222")
    ]
    assert {(r.effective_date, r.expiration_date) for r in rates} == {
        (dt.date(2020, 8, 27), dt.date(2022, 1, 1))
    }
    assert plans == [PlanListing("Plan A PPO", "1111111111", "ein", "group")]
    assert reader.stats["items_skipped"] == 1  # 27448


def test_bundle_sample_icd_code():
    _, rates, plans = read(BUNDLE, keep(tins={"22-2222222"}, codes={"81.54"}))
    # TIN 22-2222222 is in reference 1 (second group) and reference 2; only 1 is used.
    assert summary(rates) == [
        ("81.54", "dollar", D("20000.0"), None, "222222222"),
        ("81.54", "dollar", D("25000.0"), None, "222222222"),
    ]
    assert plans == [PlanListing("medicare", "0000000000", "hios", "individual")]


def test_capitation_sample():
    _, rates, plans = read(CAPITATION, keep(npis={"3333333333"}, codes={"27447"}))
    assert summary(rates) == [
        ("27447", "dollar", D(v), "3333333333", tin)
        for v in ("20000.0", "25000.0")
        for tin in ("111111111", "222222222")
    ]
    assert plans == [PlanListing("medicaid", "1111111111", "hios", "individual")]


def test_multiple_plans_sample_has_no_plan_fields_and_skips_derived():
    reader, rates, plans = read(MULTI, keep(npis={"5555555555"}, codes={"27447", "27448"}))
    assert plans == []
    assert reader.stats["derived_skipped"] == 1
    assert summary(rates) == [
        ("27447", "dollar", D(v), "5555555555", tin)
        for v in ("120.45", "123.45", "1230.45")
        for tin in ("111111111", "222222222")
    ] + [
        ("27448", "dollar", D(v), "5555555555", tin)
        for v in ("12.45", "12003.45")
        for tin in ("111111111", "222222222")
    ]


def test_no_npi_sample_tin_of_type_npi():
    # provider group: npi [1111111111], tin {type: npi, value: 1234567890}
    _, rates, plans = read(NO_NPI, keep(npis={"1234567890"}, codes={"27447"}))
    assert summary(rates) == [("27447", "dollar", D("123.45"), "1234567890", None)]
    _, rates, _ = read(NO_NPI, keep(npis={"1111111111"}, codes={"27447"}))
    assert summary(rates) == [("27447", "dollar", D("123.45"), "1111111111", None)]
    assert plans == [PlanListing("medicaid", "1111111111", "ein", "individual")]


# ----------------------------------------------------------------------------- generated files


def price(rate, ntype="negotiated", exp="9999-12-31", **extra):
    return {
        "negotiated_type": ntype,
        "negotiated_rate": rate,
        "expiration_date": exp,
        "billing_class": "institutional",
        "setting": "outpatient",
        **extra,
    }


def item(code, rates, code_type="HCPCS"):
    return {
        "negotiation_arrangement": "ffs",
        "name": code,
        "billing_code_type": code_type,
        "billing_code_type_version": "2024",
        "billing_code": code,
        "description": code,
        "negotiated_rates": rates,
    }


GROUPS = [
    {
        "provider_group_id": 7,
        "network_name": ["N"],
        "provider_groups": [
            {
                "npi": [1234567893, 1111111112],
                "tin": {"type": "ein", "value": "11-1111111", "business_name": "A"},
            }
        ],
    },
    {
        "provider_group_id": 8,
        "network_name": ["N"],
        "provider_groups": [
            {"npi": [1999999994], "tin": {"type": "ein", "value": "98-7654321", "business_name": "B"}}
        ],
    },
    {
        "provider_group_id": 9,
        "network_name": ["N"],
        "provider_groups": [
            {"npi": [1888888885], "tin": {"type": "ein", "value": "55-5555555", "business_name": "C"}}
        ],
    },
]
IN_NETWORK = [
    item("99213", [{"provider_references": [7, 8], "negotiated_prices": [price(95.5)]}], "CPT"),
    item(
        "H0015",
        [
            {
                "provider_references": [7],
                "negotiated_prices": [price(210), price(80, "percentage", "2026-06-30")],
            },
            {"provider_references": [8, 9], "negotiated_prices": [price(199.99, "fee schedule")]},
        ],
    ),
    item("0906", [{"provider_references": [9], "negotiated_prices": [price(300, "per diem")]}], "RC"),
]
BH = keep(npis={"1234567893"}, tins={"987654321"}, codes={"H0015", "REV:0906", "99213x"})
BH_EXPECTED = [
    ("H0015", "dollar", D("199.99"), None, "987654321"),
    ("H0015", "dollar", D(210), "1234567893", "111111111"),
    ("H0015", "percent_of_billed", D(80), "1234567893", "111111111"),
]


def doc(refs_first=True, **extra):
    head = {
        "reporting_entity_name": "X",
        "reporting_entity_type": "issuer",
        "last_updated_on": "2025-03-01",
        "version": "2.0.0",
        **extra,
    }
    if refs_first:
        return {**head, "provider_references": GROUPS, "in_network": IN_NETWORK}
    return {**head, "in_network": IN_NETWORK, "provider_references": GROUPS}


def test_expiration_9999_means_none_and_percentage(tmp_path):
    reader, rates, _ = read(write_json(tmp_path / "f.json", doc()), BH)
    assert summary(rates) == BH_EXPECTED
    exp = {(r.rate, r.expiration_date) for r in rates}
    assert exp == {(D("199.99"), None), (D(210), None), (D(80), dt.date(2026, 6, 30))}
    assert reader.passes == 1


def test_provider_references_after_in_network_two_passes(tmp_path):
    reader, rates, _ = read(write_json(tmp_path / "f.json", doc(refs_first=False)), BH)
    assert summary(rates) == BH_EXPECTED
    assert reader.passes == 2
    assert reader.rows_read == 3  # counted once, not per pass
    assert reader.errors == []


def test_header_after_in_network(tmp_path):
    d = {
        "in_network": IN_NETWORK,
        "provider_references": GROUPS,
        "last_updated_on": "2025-03-01",
        "reporting_entity_name": "X",
        "reporting_entity_type": "issuer",
        "version": "2.0.0",
    }
    _, rates, _ = read(write_json(tmp_path / "f.json", d), BH)
    assert summary(rates) == BH_EXPECTED
    assert {r.effective_date for r in rates} == {dt.date(2025, 3, 1)}


def test_reporting_plans_listed(tmp_path):
    plans_in = [
        {
            "plan_name": "Gold PPO",
            "plan_id": "12345VA001",
            "plan_id_type": "hios",
            "plan_market_type": "individual",
        },
        {
            "plan_name": "Group HMO",
            "plan_id_type": "ein",
            "plan_id": "111111111",
            "plan_market_type": "group",
        },
    ]
    _, _, plans = read(write_json(tmp_path / "f.json", doc(reporting_plans=plans_in)), BH)
    assert plans == [
        PlanListing("Gold PPO", "12345VA001", "hios", "individual"),
        PlanListing("Group HMO", "111111111", "ein", "group"),
    ]


def test_schema_1x_inline_provider_groups(tmp_path):
    d = {
        "reporting_entity_name": "Old Payer",
        "reporting_entity_type": "issuer",
        "plan_name": "Legacy PPO",
        "plan_id_type": "hios",
        "plan_id": "99999",
        "plan_market_type": "group",
        "issuer_name": "Old",
        "last_updated_on": "2022-07-01",
        "version": "1.0.0",
        "in_network": [
            item(
                "90837",
                [
                    {
                        "provider_groups": [
                            {"npi": [1234567893, 1000000004], "tin": {"type": "ein", "value": "111111111"}},
                            {"npi": [1999999994], "tin": {"type": "ein", "value": "987654321"}},
                        ],
                        "negotiated_prices": [price(142.17, exp="2023-06-30")],
                    },
                    {
                        "provider_groups": [
                            {"npi": [1777777777], "tin": {"type": "ein", "value": "22-2222222"}}
                        ],
                        "negotiated_prices": [price(500)],
                    },
                ],
                "CPT",
            ),
            item(
                "70551",
                [
                    {
                        "provider_groups": [{"npi": [1234567893], "tin": {"type": "ein", "value": "1"}}],
                        "negotiated_prices": [price(900)],
                    }
                ],
                "CPT",
            ),
        ],
    }
    reader, rates, plans = read(
        write_json(tmp_path / "v1.json", d), keep(npis={"1234567893"}, tins={"987654321"}, codes={"90837"})
    )
    assert summary(rates) == [
        ("90837", "dollar", D("142.17"), None, "987654321"),
        ("90837", "dollar", D("142.17"), "1234567893", "111111111"),
    ]
    assert {r.expiration_date for r in rates} == {dt.date(2023, 6, 30)}
    assert plans == [PlanListing("Legacy PPO", "99999", "hios", "group")]
    assert reader.passes == 1


def remote_doc():
    return {
        "reporting_entity_name": "X",
        "reporting_entity_type": "issuer",
        "last_updated_on": "2025-03-01",
        "version": "2.0.0",
        "provider_references": [
            {"provider_group_id": 1, "location": "https://payer.example/refs/group-1.json"},
            {"provider_group_id": 2, "location": "https://payer.example/refs/group-2.json.gz"},
            {"provider_group_id": 3, "location": "https://elsewhere.example/group-3.json"},
            {"provider_group_id": 4, "location": "https://payer.example/refs/unused.json"},
        ],
        "in_network": [
            item("H0015", [{"provider_references": [1, 2, 3], "negotiated_prices": [price(250)]}]),
            item("99213", [{"provider_references": [4], "negotiated_prices": [price(80)]}], "CPT"),
        ],
    }


def test_remote_provider_references_through_the_resolver(tmp_path):
    (tmp_path / "group-1.json").write_text(
        json.dumps(
            {
                "version": "2.0.0",
                "provider_groups": [{"npi": [1234567893], "tin": {"type": "ein", "value": "11-1111111"}}],
            }
        )
    )
    (tmp_path / "group-2.json.gz").write_bytes(
        gzip.compress(
            json.dumps(
                {"provider_groups": [{"npi": [1000000004], "tin": {"type": "ein", "value": "987654321"}}]}
            ).encode()
        )
    )
    asked = []

    def resolver(location: str):
        asked.append(location)
        if location.startswith("https://payer.example/refs/"):
            p = tmp_path / location.rsplit("/", 1)[1]
            return open(p, "rb") if p.exists() else None
        return None

    reader, rates, _ = read(
        write_json(tmp_path / "f.json", remote_doc()),
        keep(npis={"1234567893"}, tins={"987654321"}, codes={"H0015"}),
        provider_reference_resolver=resolver,
    )
    assert summary(rates) == [
        ("H0015", "dollar", D(250), None, "987654321"),  # from the gzip reference file
        ("H0015", "dollar", D(250), "1234567893", "111111111"),
    ]
    # only references used by kept codes are resolved, each once
    assert sorted(asked) == [
        "https://elsewhere.example/group-3.json",
        "https://payer.example/refs/group-1.json",
        "https://payer.example/refs/group-2.json.gz",
    ]
    assert len(reader.errors) == 1
    err = reader.errors[0]
    assert err.column == "provider_references[2].location"
    assert err.line is None
    assert "remote provider reference not resolvable" in err.message
    assert "https://elsewhere.example/group-3.json" in err.message


def test_remote_reference_without_resolver_is_a_row_error(tmp_path):
    reader, rates, _ = read(write_json(tmp_path / "f.json", remote_doc()), keep(npis={"1"}, codes={"H0015"}))
    assert rates == []
    assert [e.column for e in reader.errors] == [f"provider_references[{i}].location" for i in range(3)]


@pytest.mark.parametrize("refs_first", [True, False])
def test_row_errors_carry_the_json_path(tmp_path, refs_first):
    d = doc(refs_first)
    d["in_network"] = [
        item(
            "H0015",
            [
                {
                    "provider_references": [7],
                    "negotiated_prices": [
                        price(210),
                        price("abc"),
                        price(-5),
                        price(10, "bonus"),
                        price(11, exp="31/12/2025"),
                    ],
                }
            ],
        ),
        {
            "negotiation_arrangement": "ffs",
            "name": "no code",
            "billing_code_type": "HCPCS",
            "negotiated_rates": [{"provider_references": [7], "negotiated_prices": [price(1)]}],
        },
        # problems in items we do not keep are not reported
        item("99213", [{"provider_references": [7], "negotiated_prices": [price("abc")]}], "CPT"),
        item("H0015", [{"provider_references": [9999], "negotiated_prices": [price("abc")]}]),
    ]
    reader, rates, _ = read(write_json(tmp_path / "f.json", d), BH)
    assert summary(rates) == [("H0015", "dollar", D(210), "1234567893", "111111111")]
    got = [(e.file, e.line, e.column) for e in reader.errors]
    base = "in_network[0].negotiated_rates[0].negotiated_prices"
    assert got == [
        ("f.json", None, f"{base}[1].negotiated_rate"),
        ("f.json", None, f"{base}[2].negotiated_rate"),
        ("f.json", None, f"{base}[3].negotiated_type"),
        ("f.json", None, f"{base}[4].expiration_date"),
        ("f.json", None, "in_network[1].billing_code"),
    ]
    msgs = [e.message for e in reader.errors]
    assert "'abc' is not a number" in msgs[0] and "expected a positive number" in msgs[0]
    assert "must be positive" in msgs[1]
    assert "unknown negotiated_type 'bonus'" in msgs[2]
    assert "expected YYYY-MM-DD" in msgs[3]
    assert "missing billing_code" in msgs[4]
    assert reader.error_count == 5
    assert reader.passes == (1 if refs_first else 2)


def test_display_name_is_used_in_errors(tmp_path):
    p = tmp_path / "upload-123.bin"
    p.write_bytes(b"[]")
    with pytest.raises(FileRejected) as exc:
        list(iter_in_network(str(p), payer_id="p", keep=BH, display_name="payer-file.json"))
    assert exc.value.errors[0].file == "payer-file.json"


# ----------------------------------------------------------------------------- compression


def test_gzip_input_by_extension_and_by_magic(tmp_path):
    data = ALL_TYPES.read_bytes()
    k = keep(npis={"1234567890"}, codes=ALL_CODES)
    plain = summary(read(ALL_TYPES, k)[1])
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(data))
    (tmp_path / "a.json").write_bytes(gzip.compress(data))  # gzip content, misleading name
    assert summary(read(tmp_path / "a.json.gz", k)[1]) == plain
    assert summary(read(tmp_path / "a.json", k)[1]) == plain
    assert len(plain) == 4


def test_gz_name_that_is_not_gzip_is_rejected(tmp_path):
    p = tmp_path / "rates.json.gz"
    p.write_bytes(ALL_TYPES.read_bytes())
    with pytest.raises(FileRejected) as exc:
        list(iter_in_network(str(p), payer_id="p", keep=BH))
    msg = exc.value.errors[0].message
    assert "not gzip-compressed" in msg and "1f 8b" in msg
    with pytest.raises(FileRejected):
        open_binary(p)


def test_truncated_gzip_is_rejected_with_offset(tmp_path):
    big = json.dumps(doc()).encode() * 1  # small but compressible
    g = gzip.compress(big)
    p = tmp_path / "cut.json.gz"
    p.write_bytes(g[: len(g) - 12])  # drop the end of the deflate stream and the trailer
    with pytest.raises(FileRejected) as exc:
        list(iter_in_network(str(p), payer_id="p", keep=BH))
    msg = exc.value.errors[0].message
    assert "truncated" in msg and "byte" in msg


def test_corrupt_gzip_is_rejected(tmp_path):
    g = bytearray(gzip.compress(ALL_TYPES.read_bytes()))
    g[60] ^= 0xFF
    g[61] ^= 0xFF
    p = tmp_path / "bad.json.gz"
    p.write_bytes(bytes(g))
    with pytest.raises(FileRejected) as exc:
        list(iter_in_network(str(p), payer_id="p", keep=BH))
    assert "gzip" in exc.value.errors[0].message or "JSON" in exc.value.errors[0].message


# ----------------------------------------------------------------------------- bad JSON


def test_truncated_json_names_the_position(tmp_path):
    data = ALL_TYPES.read_bytes()
    p = tmp_path / "t.json"
    p.write_bytes(data[:2000])
    with pytest.raises(FileRejected) as exc:
        list(iter_in_network(str(p), payer_id="p", keep=BH))
    e = exc.value.errors[0]
    assert e.file == "t.json" and e.line is None
    assert "truncated" in e.message and "byte 2000" in e.message


def test_invalid_character_names_the_exact_byte(tmp_path):
    data = ALL_TYPES.read_bytes()
    i = data.index(b"150.00")
    p = tmp_path / "x.json"
    p.write_bytes(data[:i] + b"x" + data[i + 1 :])
    with pytest.raises(FileRejected) as exc:
        list(iter_in_network(str(p), payer_id="p", keep=BH))
    # byte numbers count from 1: the bad character is byte i + 1
    assert f"invalid JSON at byte {i + 1}" in exc.value.errors[0].message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"hello", "invalid JSON at byte 1"),
        (b"[1, 2]", "expected a JSON object at the top level"),
        (b'{"reporting_entity_name": "x"}', "no in_network array"),
        (b'{"in_network": {"a": 1}}', "in_network must be an array"),
        (b'{"provider_references": 5, "in_network": []}', "provider_references must be an array"),
        (b'{"in_network": [], "last_updated_on": "soon"}', "last_updated_on is missing or not a date"),
        (b'{"in_network": [], "last_updated_on": "2024-01-01"} trailing', "trailing garbage"),
    ],
)
def test_wrong_shapes_are_rejected(tmp_path, content, expected):
    p = tmp_path / "f.json"
    p.write_bytes(content)
    with pytest.raises(FileRejected) as exc:
        list(iter_in_network(str(p), payer_id="p", keep=BH))
    assert expected in str(exc.value)


# ----------------------------------------------------------------------------- memory


def test_memory_does_not_grow_with_a_huge_filtered_item(tmp_path):
    """One 99213 item with 60,000 rates (~10 MB) is skipped without being built."""
    p = tmp_path / "big.json"
    with open(p, "w") as f:
        f.write(
            f'{{"last_updated_on": "2025-01-01", "provider_references": {json.dumps(GROUPS)}, "in_network": ['
        )
        f.write('{"billing_code_type": "CPT", "billing_code": "99213", "negotiated_rates": [')
        rate = json.dumps(
            {
                "provider_references": [7, 8, 9, 10, 11, 12],
                "negotiated_prices": [price(95.5, service_code=["11", "22"]), price(80, "percentage")],
            }
        )
        f.write(",".join([rate] * 60_000))
        f.write(f"]}}, {json.dumps(IN_NETWORK[1])}]}}")
    assert p.stat().st_size > 10_000_000
    tracemalloc.start()
    try:
        _, rates, _ = read(p, BH)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary(rates) == BH_EXPECTED
    assert peak < 2_000_000, peak


# ----------------------------------------------------------------------------- helpers


def test_helpers():
    assert normalize_tin("12-3456789") == "123456789"
    assert normalize_tin("") is None
    assert normalize_billing_code("906", "RC") == "REV:0906"
    assert normalize_billing_code("0906", "rc") == "REV:0906"
    assert normalize_billing_code("rev:906") == "REV:0906"
    assert normalize_billing_code(" h0015 ", "HCPCS") == "H0015"
    assert normalize_billing_code("12345", "RC") is None
    assert ijson.backend == "yajl2_c"


def test_reader_can_be_iterated_again(tmp_path):
    reader = iter_in_network(str(write_json(tmp_path / "f.json", doc())), payer_id="p", keep=BH)
    first = list(reader)
    second = list(reader)
    assert first == second and reader.passes == 1


def test_gzip_stream_from_resolver_without_seek(tmp_path):
    """A resolver may return a non-seekable stream; gzip is still detected."""

    class NoSeek(io.RawIOBase):
        def __init__(self, data: bytes):
            self._b = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            n = self._b.readinto(b)
            return n

        def seekable(self):
            return False

        def seek(self, *a):
            raise io.UnsupportedOperation("seek")

    payload = gzip.compress(
        json.dumps(
            {"provider_groups": [{"npi": [1234567893], "tin": {"type": "ein", "value": "111111111"}}]}
        ).encode()
    )
    d = remote_doc()
    d["provider_references"] = d["provider_references"][:1]
    d["in_network"][0]["negotiated_rates"][0]["provider_references"] = [1]
    _, rates, _ = read(
        write_json(tmp_path / "f.json", d),
        keep(npis={"1234567893"}, codes={"H0015"}),
        provider_reference_resolver=lambda loc: NoSeek(payload),
    )
    assert summary(rates) == [("H0015", "dollar", D(250), "1234567893", "111111111")]
