"""Hospital price transparency parser (tariffs.hpt).

(a) Every CMS sample parsed in keep-all-codes mode, with values read by hand from
    tests/fixtures/cms/hpt-standard-charges/ (see SOURCES.md).
(b) Small generated files with behavioral codes, built on the official templates'
    header rows (V3.0.0 tall, V2.0.0 wide) and on the JSON layout.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from costsvc.domain.levels import frequency_of_code as frequency_of
from costsvc.domain.levels import is_behavioral_code as is_default_behavioral_code
from costsvc.domain.levels import level_of_code as level_of_care
from tariffs.hpt import HptResult, parse_hpt
from tariffs.records import FeeLineRecord, FileRejected, NegotiatedRateRecord

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "cms" / "hpt-standard-charges"
V2_TALL = FIX / "V2.0.0_Tall_CSV_Format_Example.csv"
V3_TALL = FIX / "V3.0.0_Tall_CSV_Format_Example.csv"
V3_WIDE = FIX / "V3.0.0_Wide_CSV_Format_Example.csv"
V3_JSON = FIX / "v3_json_format_example.json"
TPL_V3_TALL = FIX / "templates" / "V3.0.0_Tall_CSV_Format_Template.csv"
TPL_V2_WIDE = FIX / "templates" / "V2.0.0_Wide_CSV_Format_Template.csv"

PAYERS = {"Platform Health Insurance": "platform", "region health insurance": "region"}


def parse(path, **kw) -> HptResult:
    kw.setdefault("program_id", "west-mercy-bh")
    kw.setdefault("payer_names", PAYERS)
    kw.setdefault("billing_codes", None)
    return parse_hpt(str(path), **kw)


def rates_of(res: HptResult):
    return [(r.payer_id, r.billing_code, r.rate_type, r.rate, r.line) for r in res.rates]


def fee_of(res: HptResult):
    return [
        (f.billing_code, f.level_of_care, f.frequency, f.gross_charge, f.cash_price, f.line)
        for f in res.fee_lines
    ]


# ----------------------------------------------------------------------------- (a) CMS samples

# The negotiated charges of the West Mercy examples for CPT/HCPCS/RC codes (same in
# all four v3 files), in file order: (payer, code, type, rate).  Items with two codes
# (611 RC + 70551 CPT, ...) go under the CPT/HCPCS code.  MS-DRG and NDC items are not
# in our code space; C1785 has only algorithm charges.
V3_RATES = [
    ("platform", "70551", "dollar", D(400)),
    ("region", "70551", "dollar", D(250)),
    ("platform", "49505", "dollar", D(8000)),
    ("region", "49505", "dollar", D(360)),
    ("platform", "REV:0120", "dollar", D(4500)),
    ("region", "REV:0120", "dollar", D(1400)),
    ("platform", "80048", "dollar", D(150)),
    ("region", "80048", "dollar", D(125)),
    ("platform", "99283", "percent_of_billed", D(80)),
    ("region", "99283", "percent_of_billed", D(75)),
    ("platform", "H0017", "dollar", D(1500)),
    ("region", "H0017", "dollar", D(2000)),
    ("region", "H0017", "dollar", D(1800)),
    ("region", "H0017", "dollar", D(1200)),
    ("platform", "REV:0762", "dollar", D(8000)),
    ("region", "REV:0762", "dollar", D(9000)),
    ("platform", "REV:0762", "dollar", D(10000)),
    ("platform", "J1450", "dollar", D(35)),
    ("region", "J1450", "dollar", D(37)),
    ("platform", "J3420", "dollar", D(8)),
    ("region", "J3420", "dollar", D(15)),
]


def test_v3_tall_sample_keep_all():
    res = parse(V3_TALL, keep_all_codes=True)
    assert (res.layout, res.version, res.hospital_name) == ("csv_tall", "3.0.0", "West Mercy Hospital")
    assert res.last_updated == dt.date(2026, 4, 1)  # written 4/1/2026 in row 2
    assert res.rows_read == 45
    assert res.errors == []
    # header uses "code | 1", "standard_charge | gross"...: found by name
    assert [r[:4] for r in rates_of(res)] == V3_RATES
    # line numbers: row 3 is the header, "MRI of brain" rows are lines 4-5
    assert rates_of(res)[0][4] == 4 and rates_of(res)[1][4] == 5
    assert {r.program_id for r in res.rates} == {"west-mercy-bh"}
    assert {(r.effective_date, r.expiration_date) for r in res.rates} == {(dt.date(2026, 4, 1), None)}
    # only H0017 has a level of care; its 4 rows share one gross/cash → one fee line (line 24)
    assert fee_of(res) == [("H0017", "residential", "per_service", D("2500.00"), D("2250.00"), 24)]
    assert res.fee_lines[0].description.startswith("Behavioral health; residential")
    assert res.fee_lines[0].effective_date == dt.date(2026, 4, 1)
    assert res.stats["rates_without_amount"] == 2  # C1785: algorithm only


def test_v3_wide_sample_with_bom_keep_all():
    assert V3_WIDE.read_bytes()[:3] == b"\xef\xbb\xbf"
    res = parse(V3_WIDE, keep_all_codes=True)
    assert (res.layout, res.version, res.hospital_name, res.last_updated) == (
        "csv_wide",
        "3.0.0",
        "West Mercy Hospital",
        dt.date(2026, 4, 1),
    )
    assert res.rows_read == 26
    assert [r[:4] for r in rates_of(res)] == V3_RATES
    # wide: both payers of one row share the line
    assert rates_of(res)[:2] == [
        ("platform", "70551", "dollar", D(400), 4),
        ("region", "70551", "dollar", D(250), 4),
    ]
    assert fee_of(res) == [("H0017", "residential", "per_service", D("2500.00"), D("2250.00"), 14)]
    assert res.errors == []


def test_v3_json_sample_keep_all():
    res = parse(V3_JSON, keep_all_codes=True)
    assert (res.layout, res.version, res.hospital_name, res.last_updated) == (
        "json",
        "3.0.0",
        "West Mercy Hospital",
        dt.date(2026, 4, 1),
    )
    assert res.rows_read == 22  # standard_charge_information items
    got = [r[:4] for r in rates_of(res)]
    # JSON lists the observation-room charges per item in a slightly different order
    assert sorted(got, key=str) == sorted(V3_RATES, key=str)
    assert all(r.line is None for r in res.rates)
    assert fee_of(res) == [("H0017", "residential", "per_service", D("2500.00"), D("2250.00"), None)]
    assert res.errors == []


def test_v2_tall_sample_keep_all():
    res = parse(V2_TALL, keep_all_codes=True)
    assert (res.layout, res.version, res.hospital_name, res.last_updated) == (
        "csv_tall",
        "2.0.0",
        "West Mercy Hospital",
        dt.date(2024, 7, 1),
    )
    assert res.rows_read == 31
    assert rates_of(res) == [
        ("platform", "92626", "dollar", D("98.98"), 8),
        ("region", "92626", "percent_of_billed", D(115), 9),
        ("platform", "H0017", "dollar", D(1500), 10),
        ("region", "H0017", "dollar", D(2000), 11),
        ("region", "H0017", "dollar", D(1800), 12),
        ("region", "H0017", "dollar", D(1200), 13),
        ("platform", "REV:0762", "dollar", D(8000), 14),
        ("platform", "REV:0762", "dollar", D(10000), 15),
        ("region", "REV:0762", "dollar", D(9000), 16),
        ("platform", "J1450", "dollar", D(35), 27),
        ("region", "J1450", "dollar", D(37), 28),
        ("platform", "J3420", "dollar", D(8), 33),
        ("region", "J3420", "dollar", D(15), 34),
    ]
    assert fee_of(res) == [("H0017", "residential", "per_service", D("2500.00"), D("2250.00"), 10)]


@pytest.mark.parametrize("path", [V2_TALL, V3_TALL, V3_WIDE, V3_JSON])
def test_samples_with_the_default_behavioral_codes(path):
    res = parse(path)
    assert {r.billing_code for r in res.rates} == {"H0017"}
    assert [f.billing_code for f in res.fee_lines] == ["H0017"]


@pytest.mark.parametrize("path", [V3_TALL, V3_WIDE, V3_JSON])
def test_payers_not_mapped_are_skipped_and_noted(path):
    res = parse(path, payer_names={"region health insurance": "region"})
    assert {r.payer_id for r in res.rates} == {"region"}
    assert any("platform health insurance" in n.lower() for n in res.notes)


# ----------------------------------------------------------------------------- (b) generated files


def template_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_csv(
    path: Path, general: dict[str, str], header: list[str], rows: list[dict], *, bom=False, gz=False
) -> Path:
    """Rows 1-2 (general data elements), row 3 header, then rows given by header name."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(general))
    w.writerow(list(general.values()))
    w.writerow(header)
    for row in rows:
        w.writerow([row.get(h, "") for h in header])
    data = ("\ufeff" if bom else "") + buf.getvalue()
    raw = data.encode("utf-8")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


GENERAL_V3 = {
    "hospital_name": "Sunrise General",
    "last_updated_on": "2025-02-01",
    "version": "3.0.0",
    "location_name": "Sunrise General",
    "hospital_address": "1 Main St",
    "license_number|VA": "123",
    "type_2_npi": "1234567893",
    "attestation": "TRUE",
    "attester_name": "A. Person",
}


def v3_tall_header() -> list[str]:
    header = template_rows(TPL_V3_TALL)[2]
    header = [h.replace("[i]", "1") for h in header]
    assert "code|1" in header and "standard_charge|negotiated_dollar" in header
    return header + ["code|2", "code|2|type"]


def tall_row(
    desc, code, ctype, gross, cash, payer, dollar="", pct="", code2="", type2="", modifiers="", plan="PPO"
):
    return {
        "description": desc,
        "code|1": code,
        "code|1|type": ctype,
        "code|2": code2,
        "code|2|type": type2,
        "setting": "outpatient",
        "standard_charge|gross": gross,
        "standard_charge|discounted_cash": cash,
        "payer_name": payer,
        "plan_name": plan,
        "standard_charge|negotiated_dollar": dollar,
        "standard_charge|negotiated_percentage": pct,
        "modifiers": modifiers,
        "standard_charge|methodology": "fee schedule",
    }


BH_ROWS = [
    tall_row(
        "Intensive outpatient", "0906", "RC", "600", "450", "Aetna", "410", code2="H0015", type2="HCPCS"
    ),
    tall_row(
        "Intensive outpatient", "0906", "RC", "600", "450", "Cigna", pct="70", code2="H0015", type2="HCPCS"
    ),
    tall_row("Partial hospitalization", "0912", "RC", "$1,150.50", "900", "Aetna", "875.25"),
    tall_row("Psychiatric diagnostic evaluation", "90791", "CPT", "350", "", "Aetna", "180"),
    tall_row("Psychotherapy 60 min", "90837", "CPT", "220.005", "150", "Unknown Payer", "99"),
    tall_row("Detox, alcohol/drug, hospital inpatient", "H0010", "HCPCS", "1800", "1500", "Aetna", "1200"),
    tall_row("MRI brain", "70551", "CPT", "1200", "1080", "Aetna", "400"),
    tall_row("IOP telehealth", "H0015", "HCPCS", "500", "400", "Aetna", "300", modifiers="95"),
    tall_row("Behavioral health prevention", "H0025", "HCPCS", "80", "60", "Aetna", "50"),
]


def test_generated_v3_tall_behavioral(tmp_path):
    p = write_csv(tmp_path / "sunrise.csv", GENERAL_V3, v3_tall_header(), BH_ROWS)
    res = parse(p, program_id="sunrise", payer_names={"AETNA": "aetna", "cigna": "cigna"})
    assert res.layout == "csv_tall" and res.last_updated == dt.date(2025, 2, 1) and res.rows_read == 9
    assert fee_of(res) == [
        # 0906 RC + H0015 HCPCS on one item: the HCPCS code carries it
        ("H0015", "iop", "per_service", D("600.00"), D("450.00"), 4),
        ("REV:0912", "php", "per_service", D("1150.50"), D("900.00"), 6),
        ("90791", "outpatient", "per_episode", D("350.00"), None, 7),
        ("90837", "outpatient", "per_service", D("220.01"), D("150.00"), 8),  # half-up to the cent
        ("H0010", "detox", "per_service", D("1800.00"), D("1500.00"), 9),
    ]
    assert rates_of(res) == [
        ("aetna", "H0015", "dollar", D(410), 4),
        ("cigna", "H0015", "percent_of_billed", D(70), 5),
        ("aetna", "REV:0912", "dollar", D("875.25"), 6),
        ("aetna", "90791", "dollar", D(180), 7),
        ("aetna", "H0010", "dollar", D(1200), 9),
        ("aetna", "H0025", "dollar", D(50), 12),
    ]
    assert all(isinstance(r, NegotiatedRateRecord) and r.program_id == "sunrise" for r in res.rates)
    assert all(isinstance(f, FeeLineRecord) and f.program_id == "sunrise" for f in res.fee_lines)
    # MRI is not behavioral; the 95-modifier row is a variant; H0025 has no level of care
    assert res.stats["rows_with_modifiers_skipped"] == 1
    assert any("H0025" in n and "no level of care" in n for n in res.notes)
    assert any("Unknown Payer" in n for n in res.notes)
    assert res.errors == []


def test_billing_codes_filter(tmp_path):
    p = write_csv(tmp_path / "s.csv", GENERAL_V3, v3_tall_header(), BH_ROWS)
    every_level = {"detox", "residential", "php", "iop", "outpatient"}
    res = parse(
        p, payer_names={"aetna": "aetna"}, billing_codes=frozenset({"rev:906", "90791"}), program_levels=every_level
    )
    # with only REV:0906 kept, the IOP item goes under the revenue code
    assert [(f.billing_code, f.level_of_care) for f in res.fee_lines] == [
        ("REV:0906", "iop"),
        ("90791", "outpatient"),
    ]
    assert [(r.billing_code, r.rate) for r in res.rates] == [("REV:0906", D(410)), ("90791", D(180))]


def test_levels_the_program_lacks_are_added_from_the_domain_code_map(tmp_path):
    p = write_csv(tmp_path / "s.csv", GENERAL_V3, v3_tall_header(), BH_ROWS)
    # the program prices iop (REV:0906) and outpatient (90791): the file's other iop
    # codes stay out (they would be billed on top), its php and detox codes come in
    res = parse(p, payer_names={"aetna": "aetna"}, billing_codes=frozenset({"rev:906", "90791"}))
    assert [(f.billing_code, f.level_of_care) for f in res.fee_lines] == [
        ("REV:0906", "iop"),
        ("REV:0912", "php"),
        ("90791", "outpatient"),
        ("H0010", "detox"),
    ]
    assert [(r.billing_code, r.rate) for r in res.rates] == [
        ("REV:0906", D(410)), ("REV:0912", D("875.25")), ("90791", D(180)), ("H0010", D(1200)),
    ]


def test_spaces_around_pipes_bom_and_gzip(tmp_path):
    header = [h.replace("|", " | ") if "|" in h else h for h in v3_tall_header()]
    assert "code | 1 | type" in header
    rows = [{k.replace("|", " | "): v for k, v in r.items()} for r in BH_ROWS[:2]]
    for name, gz in (("spaced.csv", False), ("spaced.csv.gz", True)):
        p = write_csv(tmp_path / name, GENERAL_V3, header, rows, bom=True, gz=gz)
        res = parse(p, payer_names={"aetna": "aetna", "cigna": "cigna"})
        assert fee_of(res) == [("H0015", "iop", "per_service", D("600.00"), D("450.00"), 4)]
        assert [(r.payer_id, r.rate_type, r.rate) for r in res.rates] == [
            ("aetna", "dollar", D(410)),
            ("cigna", "percent_of_billed", D(70)),
        ]


def test_generated_v2_wide_from_template(tmp_path):
    header = template_rows(TPL_V2_WIDE)[2]
    header = [
        h.replace("[i]", "1").replace("[payer_name]", "Aetna").replace("[plan_name]", "PPO") for h in header
    ]
    header += [
        "standard_charge|Cigna|Open Access|negotiated_dollar",
        "standard_charge|Cigna|Open Access|negotiated_percentage",
    ]
    general = {
        "hospital_name": "Old Town Hospital",
        "last_updated_on": "2024-11-30",
        "version": "2.0.0",
        "hospital_location": "Old Town",
        "hospital_address": "2 Elm St",
        "license_number|OH": "9",
    }
    rows = [
        {
            "description": "IOP",
            "code|1": "H0015",
            "code|1|type": "HCPCS",
            "standard_charge|gross": "700",
            "standard_charge|discounted_cash": "500",
            "standard_charge|Aetna|PPO|negotiated_dollar": "420",
            "standard_charge|Cigna|Open Access|negotiated_percentage": "65",
        },
        {
            "description": "Residential",
            "code|1": "1002",
            "code|1|type": "RC",
            "standard_charge|gross": "2100",
            "standard_charge|discounted_cash": "1900",
            "standard_charge|Aetna|PPO|negotiated_dollar": "1650",
        },
        {
            "description": "Psychotherapy 30 min",
            "code|1": "90832",
            "code|1|type": "CPT",
            "standard_charge|gross": "120",
            "standard_charge|discounted_cash": "",
        },
    ]
    p = write_csv(tmp_path / "wide.csv", general, header, rows, bom=True)
    res = parse(p, payer_names={"aetna": "aetna", "CIGNA": "cigna"})
    assert (res.layout, res.version, res.last_updated) == ("csv_wide", "2.0.0", dt.date(2024, 11, 30))
    assert fee_of(res) == [
        ("H0015", "iop", "per_service", D("700.00"), D("500.00"), 4),
        ("REV:1002", "residential", "per_service", D("2100.00"), D("1900.00"), 5),
        ("90832", "outpatient", "per_service", D("120.00"), None, 6),
    ]
    assert rates_of(res) == [
        ("aetna", "H0015", "dollar", D(420), 4),
        ("cigna", "H0015", "percent_of_billed", D(65), 4),
        ("aetna", "REV:1002", "dollar", D(1650), 5),
    ]


def test_row_errors_name_line_and_column(tmp_path):
    header = [h.replace("|", " | ") if h.startswith("standard_charge|gross") else h for h in v3_tall_header()]
    rows = [
        tall_row("IOP", "H0015", "HCPCS", "abc", "400", "Aetna", "300"),
        tall_row("IOP", "H0015", "HCPCS", "500", "-1", "Aetna", "12x"),
        tall_row("PHP", "H0035", "HCPCS", "900", "800", "Aetna", pct="ninety"),
        tall_row("MRI", "70551", "CPT", "oops", "x", "Aetna", "y"),  # not kept: not validated
    ]
    rows = [
        {("standard_charge | gross" if k == "standard_charge|gross" else k): v for k, v in r.items()}
        for r in rows
    ]
    p = write_csv(tmp_path / "e.csv", GENERAL_V3, header, rows)
    res = parse(p, payer_names={"aetna": "aetna"})
    assert [(e.file, e.line, e.column) for e in res.errors] == [
        ("e.csv", 4, "standard_charge | gross"),
        ("e.csv", 5, "standard_charge|discounted_cash"),
        ("e.csv", 5, "standard_charge|negotiated_dollar"),
        ("e.csv", 6, "standard_charge|negotiated_percentage"),
    ]
    assert "'abc' is not a number" in res.errors[0].message and "expected an amount" in res.errors[0].message
    assert "negative" in res.errors[1].message
    assert "expected a percentage" in res.errors[3].message
    assert res.error_count == 4
    # the good parts of the rows are still read; the pipeline decides (allow_partial)
    assert [(r.billing_code, r.rate) for r in res.rates] == [("H0015", D(300))]


def test_quoted_line_breaks_keep_line_numbers_exact(tmp_path):
    rows = [
        tall_row("Intensive\noutpatient\nprogram", "H0015", "HCPCS", "600", "450", "Aetna", "410"),
        tall_row("PHP", "H0035", "HCPCS", "bad", "800", "Aetna", "700"),
    ]
    general = dict(GENERAL_V3, hospital_address="1 Main St\nSuite 2")
    p = write_csv(tmp_path / "q.csv", general, v3_tall_header(), rows)
    res = parse(p, payer_names={"aetna": "aetna"})
    # row 2 spans lines 2-3, header is line 4, first data row lines 5-7, second row line 8
    assert [r.line for r in res.rates] == [5, 8]
    assert [(e.line, e.column) for e in res.errors] == [(8, "standard_charge|gross")]
    assert [f.line for f in res.fee_lines] == [5]


def test_fee_line_variants_are_noted_not_summed(tmp_path):
    rows = [
        tall_row("Residential, days 1-3", "H0018", "HCPCS", "2500", "2250", "Aetna", "2000"),
        tall_row("Residential, days 4+", "H0018", "HCPCS", "2300", "2000", "Aetna", "1800"),
        tall_row("Residential", "H0018", "HCPCS", "2500", "2250", "Aetna", "2000"),
    ]
    p = write_csv(tmp_path / "v.csv", GENERAL_V3, v3_tall_header(), rows)
    res = parse(p, payer_names={"aetna": "aetna"})
    assert fee_of(res) == [("H0018", "residential", "per_service", D("2500.00"), D("2250.00"), 4)]
    assert res.stats["fee_line_variants_ignored"] == 1
    assert any("ignored gross 2300.00" in n and "line 5" in n for n in res.notes)
    # distinct rates are all kept, exact duplicates dropped
    assert [(r.rate, r.line) for r in res.rates] == [(D(2000), 4), (D(1800), 5)]


def json_v2_doc():
    return {
        "hospital_name": "Lakeside Behavioral Hospital",
        "last_updated_on": "2024-09-15",
        "version": "2.2.0",
        "hospital_location": ["Lakeside"],
        "hospital_address": ["3 Lake Rd"],
        "license_information": {"license_number": "77", "state": "MN"},
        "affirmation": {"affirmation": "...", "confirm_affirmation": True},
        "standard_charge_information": [
            {
                "description": "IOP",
                "code_information": [{"code": "0906", "type": "RC"}, {"code": "S9480", "type": "HCPCS"}],
                "standard_charges": [
                    {
                        "setting": "outpatient",
                        "gross_charge": 650.5,
                        "discounted_cash": 500,
                        "payers_information": [
                            {
                                "payer_name": "Aetna",
                                "plan_name": "PPO",
                                "methodology": "fee schedule",
                                "standard_charge_dollar": 430,
                                "estimated_amount": 430,
                            },
                            {
                                "payer_name": "Cigna",
                                "plan_name": "OAP",
                                "methodology": "other",
                                "standard_charge_percentage": 72.5,
                            },
                            {
                                "payer_name": "Humana",
                                "plan_name": "HMO",
                                "methodology": "other",
                                "standard_charge_algorithm": "see contract",
                            },
                        ],
                    },
                    {"setting": "outpatient", "modifier_code": ["95"], "gross_charge": 400},
                ],
            },
            {
                "description": "PHP",
                "code_information": [{"code": "S0201", "type": "HCPCS"}],
                "standard_charges": [
                    {
                        "setting": "outpatient",
                        "gross_charge": "abc",
                        "payers_information": [
                            {
                                "payer_name": "Aetna",
                                "plan_name": "PPO",
                                "methodology": "per diem",
                                "standard_charge_dollar": "oops",
                            }
                        ],
                    }
                ],
            },
            {
                "description": "Knee",
                "code_information": [{"code": "27447", "type": "CPT"}],
                "standard_charges": [{"setting": "inpatient", "gross_charge": 50000}],
            },
        ],
    }


def test_generated_json_v2(tmp_path):
    p = tmp_path / "lakeside.json"
    p.write_text(json.dumps(json_v2_doc()))
    res = parse(p, payer_names={"aetna": "aetna", "cigna": "cigna"})
    assert (res.layout, res.version, res.hospital_name, res.last_updated) == (
        "json",
        "2.2.0",
        "Lakeside Behavioral Hospital",
        dt.date(2024, 9, 15),
    )
    assert res.rows_read == 3
    assert fee_of(res) == [("S9480", "iop", "per_service", D("650.50"), D("500.00"), None)]
    assert rates_of(res) == [
        ("aetna", "S9480", "dollar", D(430), None),
        ("cigna", "S9480", "percent_of_billed", D("72.5"), None),
    ]
    assert [(e.line, e.column) for e in res.errors] == [
        (None, "standard_charge_information[1].standard_charges[0].gross_charge"),
        (
            None,
            "standard_charge_information[1].standard_charges[0].payers_information[0].standard_charge_dollar",
        ),
    ]
    assert res.stats["rows_with_modifiers_skipped"] == 1


def test_json_gzip_and_header_after_items(tmp_path):
    d = json_v2_doc()
    items = d.pop("standard_charge_information")
    d = {"standard_charge_information": items, **d}  # header keys after the items
    p = tmp_path / "lakeside.json.gz"
    p.write_bytes(gzip.compress(json.dumps(d).encode()))
    res = parse(p, payer_names={"aetna": "aetna"})
    assert res.last_updated == dt.date(2024, 9, 15)
    assert [(r.billing_code, r.rate) for r in res.rates] == [("S9480", D(430))]


# ----------------------------------------------------------------------------- rejected files


def test_missing_columns_are_rejected_with_header_line(tmp_path):
    header = [h for h in v3_tall_header() if h not in ("standard_charge|gross", "plan_name")]
    p = write_csv(tmp_path / "m.csv", GENERAL_V3, header, BH_ROWS[:1])
    with pytest.raises(FileRejected) as exc:
        parse(p)
    assert {(e.line, e.column) for e in exc.value.errors} == {(3, "standard_charge|gross"), (3, "plan_name")}


def test_template_without_date_is_rejected():
    with pytest.raises(FileRejected) as exc:
        parse(TPL_V3_TALL)
    e = exc.value.errors[0]
    assert (e.line, e.column) == (2, "last_updated_on")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"[1]", "found an array"),
        (b'{"hospital_name": "x", "last_updated_on": "2024-01-01"}', "no standard_charge_information"),
        (
            b'{"last_updated_on": "2024-01-01", "standard_charge_information": [{"description": "x"',
            "truncated",
        ),
        (b"a,b\n1,2\n", "row 1 must name the general data elements"),
        (b"hospital_name,last_updated_on\nH,2024-01-01\n", "row 3 must be the header row"),
        (b"hospital_name,last_updated_on\nH,2024-01-01\na,b\n1,2\n", "required column 'code|1' is missing"),
    ],
)
def test_bad_files(tmp_path, content, expected):
    p = tmp_path / "f.json"
    p.write_bytes(content)
    with pytest.raises(FileRejected) as exc:
        parse(p)
    assert expected in str(exc.value)


def test_ragged_row_is_rejected_with_its_line(tmp_path):
    p = write_csv(tmp_path / "r.csv", GENERAL_V3, v3_tall_header(), BH_ROWS[:2])
    p.write_bytes(p.read_bytes() + b"x,y,z" + b",1" * 40 + b"\n")
    with pytest.raises(FileRejected) as exc:
        parse(p)
    assert exc.value.errors[0].line == 6


# ----------------------------------------------------------------------------- code tables


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("H0015", "iop"),
        ("S9480", "iop"),
        ("REV:0905", "iop"),
        ("REV:0906", "iop"),
        ("H0035", "php"),
        ("S0201", "php"),
        ("REV:0912", "php"),
        ("REV:0913", "php"),
        ("H0017", "residential"),
        ("H0018", "residential"),
        ("H0019", "residential"),
        ("REV:1001", "residential"),
        ("REV:1002", "residential"),
        ("H0009", "detox"),
        ("H0010", "detox"),
        ("H0011", "detox"),
        ("90834", "outpatient"),
        ("90791", "outpatient"),
        ("H0001", None),
        ("REV:0900", None),
        ("70551", None),
    ],
)
def test_level_of_care(code, level):
    assert level_of_care(code) == level


def test_default_codes_and_frequency():
    for c in (
        "H0001",
        "H2037",
        "S9480",
        "S0201",
        "90785",
        "90899",
        "REV:0900",
        "REV:0919",
        "REV:1000",
        "REV:1005",
    ):
        assert is_default_behavioral_code(c), c
    for c in ("H2038", "90784", "90900", "REV:0920", "REV:1006", "99213", "S9999", "J3420"):
        assert not is_default_behavioral_code(c), c
    assert frequency_of("90791") == frequency_of("90792") == "per_episode"
    assert frequency_of("90837") == "per_service"


# ----------------------------------------------------------------------------- real-world files


def windows_1252_wide(tmp_path: Path, *, gz: bool = False, tail: bytes = b"") -> Path:
    """The CMS v3 wide example as a Windows export writes it: cp1252, an em dash (0x97)
    in the residential descriptions."""
    text = V3_WIDE.read_text(encoding="utf-8-sig").replace("Behavioral health; residential", "Behavioral health \u2014 residential")
    data = text.encode("cp1252") + tail
    assert b"\x97" in data
    path = tmp_path / ("wide.csv.gz" if gz else "wide.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_windows_1252_file_is_detected_and_imported(tmp_path, gz):
    res = parse(windows_1252_wide(tmp_path, gz=gz))
    assert res.encoding == "cp1252"
    assert fee_of(res) == [("H0017", "residential", "per_service", D("2500.00"), D("2250.00"), 14)]
    assert res.fee_lines[0].description.startswith("Behavioral health \u2014 residential")
    assert ("platform", "H0017", "dollar", D(1500), 14) in rates_of(res)


def test_utf8_file_reports_utf8(tmp_path):
    assert parse(V3_WIDE, keep_all_codes=True).encoding == "utf-8"
    assert parse(V3_JSON, keep_all_codes=True).encoding == "utf-8"


def test_a_file_neither_utf8_nor_windows_1252_is_read_as_latin1_with_its_controls_as_row_errors(tmp_path):
    # 0x81 is undefined in Windows-1252: Latin-1 is what remains, and there 0x97 and 0x81
    # are C1 control characters, which a description must not hold
    res = parse(windows_1252_wide(tmp_path, tail=b'"x\x81",H0017,HCPCS\n'))
    assert res.encoding == "iso8859-1"
    assert [(e.line, e.column) for e in res.errors] == [(14, "description"), (15, "description"),
                                                        (16, "description"), (17, "description"),
                                                        (30, "description")]
    assert "U+0097" in res.errors[0].message and "U+0081" in res.errors[-1].message


def test_a_byte_the_detected_encoding_lacks_far_into_the_file_rejects_it(tmp_path):
    # detection looks at samples; a later byte Windows-1252 does not define still stops the import
    filler = b"".join(b'"Filler item %d",99999,CPT\n' % i for i in range(120_000))
    path = windows_1252_wide(tmp_path, tail=filler + b'"x\x81",H0017,HCPCS\n')
    assert path.stat().st_size > 3 << 20
    with pytest.raises(FileRejected) as exc:
        parse(path)
    assert "0x81" in str(exc.value) and "cp1252" in str(exc.value)


def test_cms_examples_add_the_level_a_program_lacks():
    # A hospital program that prices IOP (H0015) and outpatient therapy (90837): the
    # CMS examples price H0017, residential, which it lacks.
    for sample in (V2_TALL, V3_TALL, V3_WIDE, V3_JSON):
        res = parse(sample, billing_codes=frozenset({"H0015", "90837"}))
        assert [(f.billing_code, f.level_of_care) for f in res.fee_lines] == [("H0017", "residential")], sample
        assert {r.billing_code for r in res.rates} == {"H0017"}
    # one that already prices residential under H0018 keeps its own codes: nothing to import
    with pytest.raises(FileRejected) as exc:
        parse(V3_TALL, billing_codes=frozenset({"H0018"}))
    assert "no importable rows" in str(exc.value)


def test_no_importable_rows_says_which_codes_the_file_had_and_which_were_looked_for():
    with pytest.raises(FileRejected) as exc:
        parse(V3_TALL, billing_codes=frozenset({"H0018", "H0015", "H0035", "H0010", "90837"}))
    message = exc.value.errors[0].message
    assert message.startswith("no importable rows: none of the file's 25 distinct code(s)")
    assert "70551 (CPT)" in message and "470 (MS-DRG)" in message
    assert "and 13 more" in message  # a bounded sample
    assert "the codes the program prices (90837, H0010, H0015, H0018, H0035)" in message
    assert "levels it does not price" not in message  # it prices every level


def test_control_characters_in_hpt_text_are_row_errors(tmp_path):
    rows = [dict(r) for r in BH_ROWS[:2]]
    rows[0]["description"] = "Intensive\x00outpatient"
    rows[1]["payer_name"] = "Ae\x1btna"
    p = write_csv(tmp_path / "c.csv", GENERAL_V3, v3_tall_header(), rows)
    res = parse(p, payer_names={"aetna": "aetna"})
    assert [(e.line, e.column) for e in res.errors] == [(4, "description"), (5, "payer_name")]
    assert "U+0000" in res.errors[0].message and "U+001B" in res.errors[1].message
    assert all("\x00" not in f.description for f in res.fee_lines)
