"""Tabular tariff files: fee schedule, coverage table, negotiated rates (docs/FORMATS.md, "Our files")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tariffs.csv_files import (
    PARSERS,
    ParseResult,
    parse_coverage_table,
    parse_fee_schedule,
    parse_file,
    parse_negotiated_rates,
)
from tariffs.records import (
    FeeLineRecord,
    FileRejected,
    NegotiatedRateRecord,
    PlanLevelRecord,
    ProgramRecord,
)
from tariffs.tabular import encoding
from tariffs.tabular import fields as tb
from tariffs.tabular.header import normalize_header

DEMO = Path(__file__).resolve().parents[2] / "costsvc" / "demo" / "data"

NPI_A = "1234567893"  # the CMS example NPI (valid check digit)
NPI_B = "1645987326"

FEE_HEADER = (
    "program_id,program_name,npi,tin,state,level_of_care,billing_code,description,"
    "frequency,gross_charge,cash_price,effective_date"
)
FEE_ROWS = [
    f"sunrise,Sunrise Recovery,{NPI_A},12-3456789,TX,iop,H0015,IOP day,per_service,750.00,425.00,2026-01-01",
    f"sunrise,Sunrise Recovery,{NPI_A},12-3456789,TX,iop,90791,Intake,per_episode,350,,2026-01-01",
    f"cedar,Cedar Ridge,{NPI_B},,NC,residential,h0018 ,Residential day,per_service,1400.5,850,2026-01-01",
    f"cedar,Cedar Ridge,{NPI_B},,NC,detox,rev:906,Detox day,per_service,1850.00,1150.00,2026-01-01",
]

COV_HEADER = (
    "payer_id,payer_name,plan_id,plan_name,plan_type,plan_year_start,network,level_of_care,covered,copay,"
    "copay_unit,deductible_applies,coinsurance_pct,limit_units,prior_auth,ded_individual,ded_family,"
    "oop_individual,oop_family,allowed_method,allowed_pct,balance_billing,effective_date"
)
COV_ROWS = [
    (
        "acme,Acme Health,acme-ppo,Acme PPO,ppo,01-01,in_network,iop,true,0,per_day,true,20,,true,"
        "1500,3000,6000,12000,,,false,2026-01-01"
    ),
    (
        "acme,Acme Health,acme-ppo,Acme PPO,ppo,01-01,in_network,outpatient,yes,30,per_visit,no,0,24,no,"
        "1500,3000,6000,12000,,,false,2026-01-01"
    ),
    (
        "acme,Acme Health,acme-ppo,Acme PPO,ppo,01-01,out_of_network,iop,TRUE,,,TRUE,40,,TRUE,"
        "3000,6000,,,percent_of_billed,60,true,2026-01-01"
    ),
]

NEG_HEADER = "payer_id,program_id,npi,tin,billing_code,rate_type,rate,effective_date,expiration_date"
NEG_ROWS = [
    "acme,sunrise,,,H0015,dollar,520.00,2026-01-01,2026-12-31",
    f"acme,,{NPI_B},,H0018,dollar,960,2026-01-01,",
    "bluepeak,,,12-3456789,h0015,percent_of_billed,120,2026-01-01,9999-12-31",
]


def write(tmp_path: Path, name: str, text: str, *, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def csv_text(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def write_xlsx(tmp_path: Path, name: str, sheets: list[tuple[str, list[list]]]) -> Path:
    wb = openpyxl.Workbook()
    first = True
    for title, rows in sheets:
        ws = wb.active if first else wb.create_sheet()
        ws.title = title
        first = False
        for row in rows:
            ws.append(row)
    p = tmp_path / name
    wb.save(p)
    return p


def rows_of(header: str, rows: list[str]) -> list[list]:
    return [header.split(","), *[r.split(",") for r in rows]]


def errors_at(result: ParseResult, line: int) -> list:
    return [e for e in result.errors if e.line == line]


# --------------------------------------------------------------------------- demo dataset


def test_demo_files_parse_without_errors():
    fees = parse_fee_schedule(DEMO / "fee_schedule.csv")
    cov = parse_coverage_table(DEMO / "coverage_table.csv")
    neg = parse_negotiated_rates(DEMO / "negotiated_rates.csv")
    for r in (fees, cov, neg):
        assert r.errors == [], r.errors
        assert r.rows_read == len(r.records) > 0
        assert r.ignored_columns == []

    # 4+ programs with valid NPIs; one offers iop + php + outpatient, one residential + detox
    assert len(fees.programs) >= 4
    levels: dict[str, set[str]] = {}
    codes: dict[str, set[str]] = {}
    for rec in fees.records:
        levels.setdefault(rec.program_id, set()).add(rec.level_of_care)
        codes.setdefault(rec.program_id, set()).add(rec.billing_code)
        assert rec.cash_price is not None and rec.cash_price < rec.gross_charge
    assert any({"iop", "php", "outpatient"} <= lv for lv in levels.values())
    assert any({"residential", "detox"} <= lv for lv in levels.values())
    for prog in fees.programs:
        assert prog.npi is not None and tb.npi_check_digit_ok(prog.npi)
        assert prog.tin is not None and len(prog.tin) == 9
    all_codes = set().union(*codes.values())
    assert {
        "H0015",
        "S9480",
        "H0035",
        "H0018",
        "H0019",
        "H0010",
        "H0011",
        "90791",
        "90837",
        "90853",
    } <= all_codes
    for rec in fees.records:
        if rec.billing_code == "90791":
            assert rec.frequency == "per_episode"
        else:
            assert rec.frequency == "per_service"
    # one per_service line per (program, level): a unit bills one code
    per_service = [(r.program_id, r.level_of_care) for r in fees.records if r.frequency == "per_service"]
    assert len(per_service) == len(set(per_service))

    # 3 payers, 5+ plans of the required types
    plans = {r.plan_id: r for r in cov.records}
    assert len({r.payer_id for r in cov.records}) == 3
    assert len(plans) >= 5
    assert {"PPO", "HMO", "HDHP", "Medicaid", "EPO"} <= {r.plan_type for r in cov.records}
    epo = [r for r in cov.records if r.plan_type == "EPO"]
    assert all(r.network == "in_network" or not r.covered for r in epo)
    for r in cov.records:
        if r.covered and r.level_of_care in ("iop", "php", "residential"):
            assert r.prior_auth, (r.plan_id, r.network, r.level_of_care)

    # every negotiated rate names a payer of the coverage table and a code its program bills
    by_npi = {p.npi: p.program_id for p in fees.programs}
    by_tin = {p.tin: p.program_id for p in fees.programs}
    payers = {r.payer_id for r in cov.records}
    kinds = set()
    for rate in neg.records:
        pid = rate.program_id or by_npi.get(rate.npi) or by_tin.get(rate.tin)
        assert pid in codes, rate
        assert rate.billing_code in codes[pid], rate
        assert rate.payer_id in payers
        kinds.add(rate.rate_type)
    assert kinds == {"dollar", "percent_of_billed"}


# --------------------------------------------------------------------------- fee schedule


def test_fee_schedule_csv_happy_path(tmp_path):
    p = write(tmp_path, "fees.csv", csv_text(FEE_HEADER, FEE_ROWS))
    r = parse_fee_schedule(p)
    assert r.kind == "fee_schedule" and r.format == "csv" and r.file == "fees.csv"
    assert r.errors == []
    assert r.rows_read == 4 and r.rows_accepted == 4 and r.rows_rejected == 0
    assert r.records[0] == FeeLineRecord(
        program_id="sunrise",
        level_of_care="iop",
        billing_code="H0015",
        description="IOP day",
        frequency="per_service",
        gross_charge=Decimal("750.00"),
        cash_price=Decimal("425.00"),
        effective_date=dt.date(2026, 1, 1),
        line=2,
    )
    assert r.records[1].cash_price is None and r.records[1].gross_charge == Decimal("350.00")
    assert [x.billing_code for x in r.records] == ["H0015", "90791", "H0018", "REV:0906"]
    assert [x.line for x in r.records] == [2, 3, 4, 5]
    assert r.programs == [
        ProgramRecord(program_id="sunrise", name="Sunrise Recovery", state="TX", npi=NPI_A, tin="123456789"),
        ProgramRecord(program_id="cedar", name="Cedar Ridge", state="NC", npi=NPI_B, tin=None),
    ]
    assert PARSERS["fee_schedule"] is parse_fee_schedule
    assert parse_file("fee_schedule", p) == r


def test_fee_schedule_xlsx_happy_path(tmp_path):
    csv_result = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, FEE_ROWS)))
    rows = rows_of(FEE_HEADER, FEE_ROWS)
    # what a spreadsheet really holds: numbers and date cells
    for row in rows[1:]:
        row[2] = int(row[2])
        row[9] = float(row[9])
        row[10] = float(row[10]) if row[10] else None
        row[11] = dt.datetime(2026, 1, 1)
    p = write_xlsx(tmp_path, "fees.xlsx", [("Fees", rows), ("Notes", [["anything"]])])
    r = parse_fee_schedule(p)
    assert r.format == "xlsx" and r.errors == []
    assert r.records == csv_result.records
    assert r.programs == csv_result.programs


def test_xlsx_detected_by_magic_bytes_whatever_the_name(tmp_path):
    p = write_xlsx(tmp_path, "upload.bin", [("Sheet1", rows_of(FEE_HEADER, FEE_ROWS))])
    r = parse_fee_schedule(p)
    assert r.format == "xlsx" and len(r.records) == 4


def test_xlsx_line_numbers_are_spreadsheet_rows(tmp_path):
    rows = rows_of(FEE_HEADER, FEE_ROWS)
    rows.insert(2, [None] * 12)  # blank row 3
    rows[3][9] = "lots"  # spreadsheet row 4
    p = write_xlsx(tmp_path, "fees.xlsx", [("Sheet1", rows)])
    r = parse_fee_schedule(p)
    assert [(e.line, e.column) for e in r.errors] == [(4, "gross_charge")]
    assert [x.line for x in r.records] == [2, 5, 6]


def test_missing_required_columns_lists_every_one(tmp_path):
    header = "program_id,program_name,state,level_of_care,frequency,effective_date"
    p = write(tmp_path, "fees.csv", csv_text(header, ["a,A,TX,iop,per_service,2026-01-01"]))
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    errs = exc.value.errors
    assert {e.column for e in errs} == {"billing_code", "gross_charge"}
    assert all(e.line == 1 and e.file == "fees.csv" for e in errs)
    assert all("missing" in e.message for e in errs)
    assert "fees.csv:1" in str(exc.value)


def test_non_numeric_charge_names_line_and_column(tmp_path):
    rows = list(FEE_ROWS)
    rows[2] = rows[2].replace("1400.5", "call us")
    p = write(tmp_path, "fees.csv", csv_text(FEE_HEADER, rows))
    r = parse_fee_schedule(p)
    assert len(r.errors) == 1
    e = r.errors[0]
    assert (e.file, e.line, e.column) == ("fees.csv", 4, "gross_charge")
    assert "'call us'" in e.message and "expected an amount" in e.message
    assert [x.line for x in r.records] == [2, 3, 5]  # the other rows still parse
    assert r.rows_read == 4 and r.rows_rejected == 1
    assert [p.program_id for p in r.programs] == ["sunrise", "cedar"]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("-750.00", "negative"),
        ("750.001", "more than 2 decimals"),
        ("1e3", "expected an amount"),
        ("NaN", "expected an amount"),
        ("inf", "expected an amount"),
        ("20000000", "too large"),
        ("", "required"),
    ],
)
def test_bad_money(tmp_path, value, needle):
    rows = [FEE_ROWS[0].replace("750.00", value)]
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, rows)))
    assert r.records == []
    assert [(e.line, e.column) for e in r.errors] == [(2, "gross_charge")]
    assert needle in r.errors[0].message


def test_negative_cash_price(tmp_path):
    rows = [FEE_ROWS[0].replace("425.00", "-425.00")]
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, rows)))
    assert [(e.line, e.column) for e in r.errors] == [(2, "cash_price")]
    assert "negative" in r.errors[0].message


def test_fee_schedule_duplicate_rows(tmp_path):
    dup = FEE_ROWS[0].replace("750.00", "760.00").replace("H0015", " h0015")
    other_date = FEE_ROWS[0].replace("2026-01-01", "2027-01-01")
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, [*FEE_ROWS, dup, other_date])))
    assert [(e.line, e.column) for e in r.errors] == [(6, "billing_code")]
    assert "duplicate of line 2" in r.errors[0].message
    assert [x.line for x in r.records] == [2, 3, 4, 5, 7]


def test_fee_schedule_program_fields_must_agree(tmp_path):
    rows = [
        *FEE_ROWS,
        f"sunrise,Sunrise Recovery LLC,{NPI_A},12-3456789,TX,php,H0035,PHP day,per_service,1450,875,2026-01-01",
        f"sunrise,Sunrise Recovery,{NPI_B},,TX,outpatient,90837,Therapy,per_service,225,140,2026-01-01",
        "sunrise,Sunrise Recovery,,,TX,outpatient,90853,Group,per_service,110,65,2026-01-01",
        f"sunrise,Sunrise Recovery,{NPI_A},12-3456789,OK,outpatient,90834,Therapy,per_service,180,110,2026-01-01",
    ]
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, rows)))
    got = [(e.line, e.column) for e in r.errors]
    assert got == [(6, "program_name"), (7, "npi"), (9, "state")]
    assert "on line 2" in r.errors[0].message and "'Sunrise Recovery LLC'" in r.errors[0].message
    # an empty npi/tin is "not repeated", not a disagreement
    assert 8 in [x.line for x in r.records]
    assert r.programs[0] == ProgramRecord("sunrise", "Sunrise Recovery", "TX", NPI_A, "123456789")


def test_fee_schedule_field_rules(tmp_path):
    rows = [
        "Bad Id,X,,,TX,iop,H0015,,per_service,1,,2026-01-01",
        "ok,X,123,,TX,iop,H0015,,per_service,1,,2026-01-01",
        "ok2,X,1234567890,12345678,Texas,iop,H0015,,per_service,1,,2026-01-01",
        "ok3,X,,,TX,inpatient,H001,,per_unit,1,,2026-13-01",
        "ok4,X,,,TX,IOP,H0015,,PER_SERVICE,1,,2026-02-03",
    ]
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, rows)))
    got = [(e.line, e.column) for e in r.errors]
    assert got == [
        (2, "program_id"),
        (3, "npi"),
        (4, "npi"),
        (4, "tin"),
        (4, "state"),
        (5, "level_of_care"),
        (5, "billing_code"),
        (5, "frequency"),
        (5, "effective_date"),
    ]
    msgs = {(e.line, e.column): e.message for e in r.errors}
    assert "check digit" in msgs[(4, "npi")]
    assert "leading zero" in msgs[(4, "tin")]
    assert "detox, residential, php, iop, outpatient" in msgs[(5, "level_of_care")]
    assert [(x.line, x.level_of_care, x.frequency) for x in r.records] == [(6, "iop", "per_service")]


def test_collects_all_row_errors_not_just_the_first(tmp_path):
    rows = [FEE_ROWS[0].replace("750.00", "x" * n) for n in range(1, 6)]
    rows = [r.replace("H0015", f"H001{i}") for i, r in enumerate(rows)]
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, rows)))
    assert [e.line for e in r.errors] == [2, 3, 4, 5, 6]
    assert r.records == []


def test_display_name_is_the_file_in_errors(tmp_path):
    rows = [FEE_ROWS[0].replace("750.00", "oops")]
    p = write(tmp_path, "tmp123.csv", csv_text(FEE_HEADER, rows))
    r = parse_fee_schedule(p, display_name="sunrise-fees-2026.csv")
    assert r.errors[0].file == "sunrise-fees-2026.csv" and r.file == "sunrise-fees-2026.csv"


# --------------------------------------------------------------------------- file format


def test_bom_is_tolerated(tmp_path):
    p = write(tmp_path, "fees.csv", "\ufeff" + csv_text(FEE_HEADER, FEE_ROWS))
    r = parse_fee_schedule(p)
    assert r.errors == [] and len(r.records) == 4


def test_crlf_line_endings(tmp_path):
    p = write(tmp_path, "fees.csv", csv_text(FEE_HEADER, FEE_ROWS).replace("\n", "\r\n"))
    r = parse_fee_schedule(p)
    assert r.errors == [] and [x.line for x in r.records] == [2, 3, 4, 5]


@pytest.mark.parametrize("content", ["", "\ufeff", "\n\n  \n", ",,,\n"])
def test_empty_file_is_rejected(tmp_path, content):
    p = write(tmp_path, "fees.csv", content)
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    assert "empty" in exc.value.errors[0].message
    assert exc.value.errors[0].file == "fees.csv"


@pytest.mark.parametrize("content", [FEE_HEADER, FEE_HEADER + "\n", FEE_HEADER + "\n\n,,,,\n  \n"])
def test_header_only_file_is_rejected(tmp_path, content):
    p = write(tmp_path, "fees.csv", content)
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    assert "no data rows" in exc.value.errors[0].message


def test_empty_xlsx_is_rejected(tmp_path):
    p = write_xlsx(tmp_path, "fees.xlsx", [("Sheet1", [])])
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    assert "empty" in exc.value.errors[0].message


def test_header_only_xlsx_is_rejected(tmp_path):
    p = write_xlsx(tmp_path, "fees.xlsx", [("Sheet1", [FEE_HEADER.split(",")])])
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    assert "no data rows" in exc.value.errors[0].message


def test_xlsx_first_sheet_is_the_one_read(tmp_path):
    p = write_xlsx(
        tmp_path,
        "fees.xlsx",
        [("Summary", [["program", "total"], ["sunrise", 1]]), ("Fees", rows_of(FEE_HEADER, FEE_ROWS))],
    )
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    errs = exc.value.errors
    assert {e.column for e in errs} == {
        "program_id",
        "program_name",
        "state",
        "level_of_care",
        "billing_code",
        "frequency",
        "gross_charge",
        "effective_date",
    }
    assert all(e.line == 1 for e in errs)
    assert "'Summary'" in errs[0].message and "'Fees'" in errs[0].message


def test_not_utf8_names_the_byte_offset(tmp_path):
    text = csv_text(FEE_HEADER, FEE_ROWS).replace("Cedar Ridge", "Cèdar Ridge", 1)
    p = write(tmp_path, "fees.csv", text, encoding="latin-1")
    offset = text.encode("latin-1").index(b"\xe8")
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    e = exc.value.errors[0]
    assert f"offset {offset}" in e.message and "UTF-8" in e.message
    assert e.line == 4
    # the column too: the character position in the line, and the header column it is in
    line = text.splitlines()[3]
    assert f"column {line.index('è') + 1} of line 4" in e.message
    assert e.column == "program_name" and "'program_name' value" in e.message


def test_not_utf8_across_read_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(encoding, "_CHUNK", 7)
    text = csv_text(FEE_HEADER, FEE_ROWS).replace("Cedar", "Cédar")
    data = text.encode("utf-8")
    ok = write(tmp_path, "ok.csv", text)
    assert parse_fee_schedule(ok).errors == []  # multi-byte characters split across chunks are fine
    bad = data.replace("é".encode(), b"\xc3(")
    p = tmp_path / "bad.csv"
    p.write_bytes(bad)
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    offset = bad.index(b"\xc3(")
    assert f"offset {offset}" in exc.value.errors[0].message


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("\ufeffa,b\n1,2\n".encode("utf-16"), "UTF-16"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, ".xls"),
        (b"\x1f\x8b\x08\x00" + b"\0" * 20, "gzip"),
        (b"PK\x03\x04not really a zip", "xlsx"),
    ],
)
def test_unreadable_formats_are_rejected(tmp_path, data, needle):
    p = tmp_path / "file.csv"
    p.write_bytes(data)
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    assert needle in exc.value.errors[0].message


def test_row_with_too_many_fields_rejects_the_file(tmp_path):
    rows = list(FEE_ROWS)
    rows[1] = rows[1].replace("Intake", "Intake, adult")
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, rows)))
    e = exc.value.errors[0]
    assert e.line == 3 and "13 fields" in e.message and "12" in e.message


def test_unknown_columns_are_ignored(tmp_path):
    header = "notes," + FEE_HEADER + ",internal_code"
    rows = [f"n{i}," + row + ",Z" for i, row in enumerate(FEE_ROWS)]
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(header, rows)))
    plain = parse_fee_schedule(write(tmp_path, "plain.csv", csv_text(FEE_HEADER, FEE_ROWS)))
    assert r.errors == [] and r.records == plain.records
    assert r.ignored_columns == ["notes", "internal_code"]


def test_column_order_is_free_and_header_is_normalized(tmp_path):
    cols = FEE_HEADER.split(",")
    order = list(reversed(range(len(cols))))
    header = ",".join(f" {cols[i].upper().replace('_', ' ')} " for i in order)
    rows = [",".join(row.split(",")[i] for i in order) for row in FEE_ROWS]
    r = parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(header, rows)))
    plain = parse_fee_schedule(write(tmp_path, "plain.csv", csv_text(FEE_HEADER, FEE_ROWS)))
    assert r.errors == [] and r.records == plain.records and r.programs == plain.programs


def test_optional_columns_may_be_absent(tmp_path):
    header = "program_id,program_name,state,level_of_care,billing_code,frequency,gross_charge,effective_date"
    r = parse_fee_schedule(
        write(tmp_path, "fees.csv", csv_text(header, ["a,A,TX,iop,H0015,per_service,700,2026-01-01"]))
    )
    assert r.errors == []
    assert r.records[0].cash_price is None and r.records[0].description == ""
    assert r.programs == [ProgramRecord("a", "A", "TX", None, None)]


def test_duplicate_column_in_header_is_rejected(tmp_path):
    header = FEE_HEADER + ",Gross Charge"
    rows = [row + ",1" for row in FEE_ROWS]
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(header, rows)))
    assert exc.value.errors[0].column == "gross_charge" and "more than once" in exc.value.errors[0].message


def test_semicolon_separated_file_gets_a_hint(tmp_path):
    p = write(
        tmp_path, "fees.csv", csv_text(FEE_HEADER.replace(",", ";"), [r.replace(",", ";") for r in FEE_ROWS])
    )
    with pytest.raises(FileRejected) as exc:
        parse_fee_schedule(p)
    assert "semicolon" in exc.value.errors[0].message


def test_blank_lines_and_multiline_values_keep_line_numbers_exact(tmp_path):
    rows = list(FEE_ROWS)
    rows[0] = rows[0].replace("IOP day", '"IOP day,\nmorning or evening\nblock"')
    text = "\n" + FEE_HEADER + "\n" + rows[0] + "\n\n" + "\n".join(rows[1:]) + "\n"
    # line 1 blank, 2 header, 3-5 first row, 6 blank, 7.. the rest
    bad = text.replace("1400.5", "abc")
    r = parse_fee_schedule(write(tmp_path, "fees.csv", bad))
    assert r.line_numbers_exact
    assert [(e.line, e.column) for e in r.errors] == [(8, "gross_charge")]
    assert [x.line for x in r.records] == [3, 7, 9]
    assert r.records[0].description == "IOP day,\nmorning or evening\nblock"


# --------------------------------------------------------------------------- coverage table


def test_coverage_table_csv_happy_path(tmp_path):
    r = parse_coverage_table(write(tmp_path, "cov.csv", csv_text(COV_HEADER, COV_ROWS)))
    assert r.kind == "coverage_table" and r.errors == [] and r.programs == []
    first, second, third = r.records
    assert first == PlanLevelRecord(
        payer_id="acme",
        payer_name="Acme Health",
        plan_id="acme-ppo",
        plan_name="Acme PPO",
        plan_type="PPO",
        plan_year_start="01-01",
        network="in_network",
        level_of_care="iop",
        covered=True,
        copay=Decimal(0),
        copay_unit="per_day",
        deductible_applies=True,
        coinsurance_pct=Decimal(20),
        limit_units=None,
        prior_auth=True,
        ded_individual=Decimal(1500),
        ded_family=Decimal(3000),
        oop_individual=Decimal(6000),
        oop_family=Decimal(12000),
        allowed_method=None,
        allowed_pct=None,
        balance_billing=False,
        effective_date=dt.date(2026, 1, 1),
        line=2,
    )
    assert (second.copay, second.copay_unit, second.deductible_applies, second.limit_units) == (
        Decimal(30),
        "per_visit",
        False,
        24,
    )
    assert third.copay == Decimal(0) and third.copay_unit == "per_day"  # defaults
    assert (third.allowed_method, third.allowed_pct, third.balance_billing) == ("percent_of_billed", 60, True)
    assert third.oop_individual is None


def test_coverage_table_xlsx_happy_path(tmp_path):
    csv_result = parse_coverage_table(write(tmp_path, "cov.csv", csv_text(COV_HEADER, COV_ROWS)))
    rows = rows_of(COV_HEADER, COV_ROWS)
    for row in rows[1:]:
        row[5] = dt.datetime(2026, 1, 1)  # Excel turns 01-01 into a date
        row[8] = row[8].upper() in ("TRUE", "YES")
        row[12] = int(row[12])
        row[15] = float(row[15])
        row[22] = dt.datetime(2026, 1, 1)
    p = write_xlsx(tmp_path, "cov.xlsx", [("Plans", rows)])
    r = parse_coverage_table(p)
    assert r.errors == [] and r.records == csv_result.records


def test_coverage_table_defaults(tmp_path):
    header = "payer_id,payer_name,plan_id,plan_name,network,level_of_care,covered,deductible_applies,coinsurance_pct,effective_date"
    r = parse_coverage_table(
        write(tmp_path, "cov.csv", csv_text(header, ["p,P,pl,Plan,in_network,iop,true,true,20,2026-01-01"]))
    )
    rec = r.records[0]
    assert r.errors == []
    assert (
        rec.plan_type,
        rec.plan_year_start,
        rec.copay,
        rec.copay_unit,
        rec.prior_auth,
        rec.balance_billing,
    ) == (
        None,
        "01-01",
        Decimal(0),
        "per_day",
        False,
        False,
    )


def test_coverage_plan_wide_disagreement(tmp_path):
    rows = [
        *COV_ROWS,
        # same plan, same network: deductible differs
        (
            "acme,Acme Health,acme-ppo,Acme PPO,PPO,01-01,in_network,php,true,0,per_day,true,20,,true,"
            "2000,3000,6000,12000,,,false,2026-01-01"
        ),
        # plan-level: plan_year_start differs (and payer_name for the payer)
        (
            "acme,ACME Inc,acme-ppo,Acme PPO,PPO,07-01,in_network,residential,true,0,per_day,true,20,,true,"
            "1500,3000,6000,12000,,,false,2026-01-01"
        ),
        # another network may have other amounts: no error
        (
            "acme,Acme Health,acme-ppo,Acme PPO,PPO,01-01,out_of_network,php,true,0,per_day,true,40,,true,"
            "3000,6000,,,percent_of_billed,60,true,2026-01-01"
        ),
        # same network, oop empty here but set on line 2: "none" is a different value
        (
            "acme,Acme Health,acme-ppo,Acme PPO,PPO,01-01,in_network,detox,true,0,per_day,true,20,,true,"
            "1500,3000,,12000,,,false,2026-01-01"
        ),
    ]
    r = parse_coverage_table(write(tmp_path, "cov.csv", csv_text(COV_HEADER, rows)))
    got = [(e.line, e.column) for e in r.errors]
    assert got == [(5, "ded_individual"), (6, "payer_name"), (6, "plan_year_start"), (8, "oop_individual")]
    msg = r.errors[0].message
    assert "'1500.00' on line 2" in msg and "'2000.00' here" in msg
    assert "line 2" in r.errors[1].message and "'ACME Inc'" in r.errors[1].message
    assert [x.line for x in r.records] == [2, 3, 4, 7]


def test_coverage_duplicate_and_row_rules(tmp_path):
    rows = [
        *COV_ROWS,
        # duplicate of line 2 (same plan, network, level)
        (
            "acme,Acme Health,acme-ppo,Acme PPO,PPO,01-01,in_network,IOP,true,0,per_day,true,25,,true,"
            "1500,3000,6000,12000,,,false,2026-01-01"
        ),
        # covered without coinsurance
        (
            "acme,Acme Health,acme-ppo,Acme PPO,PPO,01-01,in_network,php,true,0,per_day,,,,true,"
            "1500,3000,6000,12000,,,false,2026-01-01"
        ),
        # not covered: deductible_applies/coinsurance may be empty
        (
            "acme,Acme Health,acme-ppo,Acme PPO,PPO,01-01,out_of_network,detox,false,,,,,,,"
            "3000,6000,,,percent_of_billed,60,true,2026-01-01"
        ),
        # another plan: allowed_method without pct, balance billing in network, family < individual
        (
            "zed,Zed,zed-epo,Zed EPO,Epo,1-1,in_network,iop,true,0,per_week,true,120,-1,maybe,"
            "1000,500,5000,10000,percent_of_billed,,true,2026-01-01"
        ),
    ]
    r = parse_coverage_table(write(tmp_path, "cov.csv", csv_text(COV_HEADER, rows)))
    got = [(e.line, e.column) for e in r.errors]
    assert got == [
        (5, "level_of_care"),
        (6, "deductible_applies"),
        (6, "coinsurance_pct"),
        (8, "copay_unit"),
        (8, "coinsurance_pct"),
        (8, "limit_units"),
        (8, "prior_auth"),
        (8, "ded_family"),
        (8, "allowed_pct"),
        (8, "balance_billing"),
    ]
    assert "duplicate of line 2" in r.errors[0].message
    not_covered = next(x for x in r.records if x.line == 7)
    assert not not_covered.covered and not_covered.coinsurance_pct == 0 and not_covered.deductible_applies


def test_coverage_plan_type_canonical_and_month_day(tmp_path):
    rows = [
        COV_ROWS[0].replace(",ppo,01-01,", ",MEDICAID,7-1,"),
        COV_ROWS[1].replace(",ppo,01-01,", ",medicaid,07-01,"),
    ]
    r = parse_coverage_table(write(tmp_path, "cov.csv", csv_text(COV_HEADER, rows)))
    assert r.errors == []
    assert {(x.plan_type, x.plan_year_start) for x in r.records} == {("Medicaid", "07-01")}
    bad = [COV_ROWS[0].replace(",ppo,01-01,", ",Tricare,02-29,")]
    r = parse_coverage_table(write(tmp_path, "bad.csv", csv_text(COV_HEADER, bad)))
    assert [(e.column) for e in r.errors] == ["plan_type", "plan_year_start"]


def test_coverage_allowed_percent_bounds(tmp_path):
    rows = [
        COV_ROWS[2].replace("percent_of_billed,60", "percent_of_billed,120"),
        COV_ROWS[2].replace("percent_of_billed,60", "percent_of_reference,150").replace(",iop,", ",php,"),
    ]
    r = parse_coverage_table(write(tmp_path, "cov.csv", csv_text(COV_HEADER, rows)))
    assert [(e.line, e.column) for e in r.errors] == [
        (2, "allowed_pct"),
        (3, "allowed_method"),
        (3, "allowed_pct"),
    ]


# --------------------------------------------------------------------------- negotiated rates


def test_negotiated_rates_csv_happy_path(tmp_path):
    r = parse_negotiated_rates(write(tmp_path, "neg.csv", csv_text(NEG_HEADER, NEG_ROWS)))
    assert r.kind == "negotiated_rates" and r.errors == []
    assert r.records == [
        NegotiatedRateRecord(
            payer_id="acme",
            billing_code="H0015",
            rate_type="dollar",
            rate=Decimal("520.00"),
            effective_date=dt.date(2026, 1, 1),
            expiration_date=dt.date(2026, 12, 31),
            program_id="sunrise",
            line=2,
        ),
        NegotiatedRateRecord(
            payer_id="acme",
            billing_code="H0018",
            rate_type="dollar",
            rate=Decimal("960.00"),
            effective_date=dt.date(2026, 1, 1),
            expiration_date=None,
            npi=NPI_B,
            line=3,
        ),
        NegotiatedRateRecord(
            payer_id="bluepeak",
            billing_code="H0015",
            rate_type="percent_of_billed",
            rate=Decimal(120),
            effective_date=dt.date(2026, 1, 1),
            expiration_date=None,  # 9999-12-31 = none
            tin="123456789",
            line=4,
        ),
    ]


def test_negotiated_rates_xlsx_happy_path(tmp_path):
    csv_result = parse_negotiated_rates(write(tmp_path, "neg.csv", csv_text(NEG_HEADER, NEG_ROWS)))
    rows = rows_of(NEG_HEADER, NEG_ROWS)
    for row in rows[1:]:
        row[6] = float(row[6])
        row[7] = dt.datetime(2026, 1, 1)
    p = write_xlsx(tmp_path, "neg.xlsx", [("Rates", rows)])
    r = parse_negotiated_rates(p)
    assert r.errors == [] and r.records == csv_result.records


def test_negotiated_rate_without_program_npi_or_tin(tmp_path):
    rows = [*NEG_ROWS, "acme,,,,H0015,dollar,500,2026-01-01,"]
    r = parse_negotiated_rates(write(tmp_path, "neg.csv", csv_text(NEG_HEADER, rows)))
    assert [(e.line, e.column) for e in r.errors] == [(5, "program_id")]
    assert "program_id, an npi or a tin" in r.errors[0].message
    assert len(r.records) == 3


def test_negotiated_rates_need_one_program_column(tmp_path):
    header = "payer_id,billing_code,rate_type,rate,effective_date"
    with pytest.raises(FileRejected) as exc:
        parse_negotiated_rates(
            write(tmp_path, "neg.csv", csv_text(header, ["acme,H0015,dollar,1,2026-01-01"]))
        )
    assert "program_id" in exc.value.errors[0].message and "npi" in exc.value.errors[0].message


def test_negotiated_rate_rules(tmp_path):
    rows = [
        *NEG_ROWS,
        "acme,sunrise,,,H0015,dollar,999,2026-01-01,",  # duplicate of line 2
        "acme,sunrise,,,H0035,dollar,1000.505,2026-01-01,2025-12-31",  # 3 decimals, expires before start
        "acme,sunrise,,,90791,percent_of_billed,1200,2026-01-01,",  # above 1000 %
        "acme,sunrise,,,90837,percent,80,2026-01-01,",  # unknown rate_type
        "acme,sunrise,,,H0035,percent_of_billed,62.5%,2027-01-01,",  # fine
    ]
    r = parse_negotiated_rates(write(tmp_path, "neg.csv", csv_text(NEG_HEADER, rows)))
    got = [(e.line, e.column) for e in r.errors]
    assert got == [
        (5, "billing_code"),
        (6, "rate"),
        (6, "expiration_date"),
        (7, "rate"),
        (8, "rate_type"),
    ]
    assert "duplicate of line 2" in r.errors[0].message
    assert r.records[-1].rate == Decimal("62.5") and r.records[-1].line == 9


# --------------------------------------------------------------------------- field parsers


def test_money_parser():
    parse = tb.money()
    assert parse("1250") == Decimal("1250.00")
    assert parse(" 1250.5 ") == Decimal("1250.50")
    assert parse("$1,250.50") == Decimal("1250.50")
    assert parse("0") == Decimal("0.00")
    # the one amount grammar (costsvc.domain.money.parse_amount): digits before the
    # point, at most two decimals as written
    for bad in [
        ".5",
        "1250.500",
        "١٢",  # Unicode digits
        "1 250",
        "-1",
        "1.234",
        "1,25",
        "12,50.00",
        "1e3",
        "nan",
        "Infinity",
        "abc",
        "1.2.3",
        "$",
        ".",
        "10000000.01",
    ]:
        assert isinstance(parse(bad), tb.Invalid), bad
    assert isinstance(parse(""), tb.Invalid)
    assert tb.money(required=False)("") is None
    assert tb.money(required=False, default=Decimal(0))("  ") == Decimal(0)


def test_percent_parser():
    parse = tb.percent()
    assert parse("20") == Decimal(20)
    assert parse("12.50") == Decimal("12.5")
    assert parse("33.333") == Decimal("33.333")
    assert parse("100%") == Decimal(100)
    assert parse("0") == Decimal(0)
    for bad in ["-5", "100.01", "abc", "1e2", "$5", "20.1234"]:
        assert isinstance(parse(bad), tb.Invalid), bad
    assert tb.percent(max_value=1000)("250") == Decimal(250)


def test_boolean_parser():
    parse = tb.boolean()
    for raw in ["true", "TRUE", "True", "yes", "Yes", "1", " true "]:
        assert parse(raw) is True
    for raw in ["false", "FALSE", "no", "NO", "0"]:
        assert parse(raw) is False
    for bad in ["y", "maybe", "2", ""]:
        assert isinstance(parse(bad), tb.Invalid), bad
    assert tb.boolean(required=False, default=False)("") is False


def test_date_and_month_day_parsers():
    parse = tb.iso_date()
    assert parse("2026-01-31") == dt.date(2026, 1, 31)
    assert parse("2026-01-31 00:00:00") == dt.date(2026, 1, 31)  # a spreadsheet date cell
    for bad in ["2026-02-30", "2026-1-31", "01/31/2026", "20260131", "2026-01-31 12:00:00", "1850-01-01"]:
        assert isinstance(parse(bad), tb.Invalid), bad
    md = tb.month_day()
    assert md("") == "01-01" and md("07-01") == "07-01" and md("7-1") == "07-01"
    assert md("2026-07-01 00:00:00") == "07-01"
    for bad in ["13-01", "02-29", "02-30", "0701", "July 1"]:
        assert isinstance(md(bad), tb.Invalid), bad


def test_identifier_npi_tin_enum_integer_code_parsers():
    assert tb.npi()(NPI_A) == NPI_A and tb.npi()("") is None
    for bad in ["1234567890", "123456789", "12345678931", "123456789O"]:
        assert isinstance(tb.npi()(bad), tb.Invalid), bad
    assert tb.tin()("12-3456789") == "123456789" and tb.tin()("123456789") == "123456789"
    assert isinstance(tb.tin()("12-345678"), tb.Invalid)
    e = tb.enum({"hmo": "HMO", "medicaid": "Medicaid"})
    assert e("hmo") == "HMO" and e("MEDICAID") == "Medicaid" and isinstance(e("ppo"), tb.Invalid)
    i = tb.integer()
    assert i("30") == 30 and i("30.0") == 30 and i("") is None
    assert isinstance(i("-1"), tb.Invalid) and isinstance(i("1.5"), tb.Invalid)
    code = tb.billing_code()
    assert code(" h0015 ") == "H0015" and code("REV:0906") == "REV:0906" and code("rev 906") == "REV:0906"
    assert code("0163T") == "0163T"
    for bad in ["H001", "H00155", "REV:12345", "H0015-HF"]:
        assert isinstance(code(bad), tb.Invalid), bad
    ident = tb.identifier()
    assert ident("sunrise-recovery") == "sunrise-recovery"
    assert isinstance(ident("sunrise recovery"), tb.Invalid)
    assert tb.state_code()("tx") == "TX" and isinstance(tb.state_code()("XX"), tb.Invalid)
    assert normalize_header(" Gross  Charge ") == "gross_charge"


# --------------------------------------------------------------------------- scale


def test_many_rows_parse_quickly(tmp_path):
    """A smoke test of the column-wise parsing on 50,000 rows (the 1,000,000-row
    benchmark lives outside the test suite)."""
    lines = [FEE_HEADER]
    for i in range(50_000):
        lines.append(
            f"prog-{i // 100},Program {i // 100},{NPI_A},12-3456789,TX,iop,H{i % 100:04d},IOP day,per_service,"
            f"{500 + i % 300}.50,{300 + i % 100}.00,2026-01-01"
        )
    p = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    r = parse_fee_schedule(p)
    assert r.errors == [] and len(r.records) == 50_000 and len(r.programs) == 500
    assert r.records[-1].line == 50_001


def test_garbage_collector_is_restored(tmp_path):
    import gc

    assert gc.isenabled()
    parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, FEE_ROWS)))
    assert gc.isenabled()
    with pytest.raises(FileRejected):
        parse_fee_schedule(write(tmp_path, "empty.csv", ""))
    assert gc.isenabled()
    gc.disable()
    try:
        parse_fee_schedule(write(tmp_path, "fees.csv", csv_text(FEE_HEADER, FEE_ROWS)))
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
