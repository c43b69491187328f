"""The fee schedule read chunk by chunk (what the import streams into COPY) finds
exactly what the whole-file parse finds: the same records, errors, programs and line
numbers, whatever the chunk size and wherever the chunk boundaries fall."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffs.csv_files import FEE_LINE_FIELDS, FeeScheduleReader, parse_fee_schedule
from tariffs.records import FileRejected

HEADER = [
    "program_id", "program_name", "npi", "tin", "state", "level_of_care", "billing_code", "description",
    "frequency", "gross_charge", "cash_price", "effective_date",
]
NPIS = ["1234567893", "1645987326", "", "1234567890"]  # the last has a bad check digit
PROGRAMS = {
    "sunrise": (["Sunrise Recovery", "Sunrise Recovery LLC"], ["TX", "tx", "OK"], ["12-3456789", "123456789", ""]),
    "cedar": (["Cedar Ridge"], ["NC", "ZZ"], ["", "98-7654321"]),
    "bad id": (["Nowhere"], ["TX"], [""]),
}
LEVELS = ["iop", "IOP", "residential", "detox", "inpatient"]
CODES = ["H0015", " h0015", "90791", "rev:906", "REV:0906", "XYZ"]
DESCRIPTIONS = ["IOP day", "Intake, assessment", "Two\nlines", 'Quote "inside"', "tab\there", "back\\slash", ""]
FREQUENCIES = ["per_service", "per_episode", "weekly"]
AMOUNTS = ["750.00", "750", "$1,250.50", "-5", "1.234", "abc", "", "0"]
DATES = ["2026-01-01", "2025-07-01", "2026-02-30", "01/01/2026"]

row = st.builds(
    lambda pid, name_i, state_i, tin_i, npi, level, code, desc, freq, gross, cash, date, spread: (
        [pid, PROGRAMS[pid][0][name_i % len(PROGRAMS[pid][0])], npi, PROGRAMS[pid][2][tin_i % len(PROGRAMS[pid][2])],
         PROGRAMS[pid][1][state_i % len(PROGRAMS[pid][1])], level, code, desc, freq, gross, cash, date],
        spread,
    ),
    st.sampled_from(sorted(PROGRAMS)), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5),
    st.sampled_from(NPIS), st.sampled_from(LEVELS), st.sampled_from(CODES), st.sampled_from(DESCRIPTIONS),
    st.sampled_from(FREQUENCIES), st.sampled_from(AMOUNTS), st.sampled_from(AMOUNTS), st.sampled_from(DATES),
    st.sampled_from(["", "", "", "\n", ",,,,,,,,,,,\n"]),  # what follows the row: nothing or a blank line
)


def write_rows(path: Path, rows: list[tuple[list[str], str]], leading: str) -> None:
    buf = io.StringIO(newline="")
    buf.write(leading)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for cells, after in rows:
        w.writerow(cells)
        buf.write(after)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def chunked(path: Path, chunk_rows: int):
    reader = FeeScheduleReader(path, chunk_rows=chunk_rows)
    records, errors, levels = [], [], set()
    for chunk in reader:
        records += chunk.records()
        errors += chunk.errors
        levels |= chunk.program_levels()
    return reader, records, errors, levels


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=30), chunk_rows=st.integers(1, 8),
       leading=st.sampled_from(["", "\n", "\n\n"]))
def test_chunks_find_what_the_whole_file_parse_finds(tmp_path_factory, rows, chunk_rows, leading):
    path = tmp_path_factory.mktemp("fees") / "fees.csv"
    write_rows(path, rows, leading)
    try:
        whole = parse_fee_schedule(path)
    except FileRejected as exc:
        with pytest.raises(FileRejected) as again:
            chunked(path, chunk_rows)
        assert again.value.errors == exc.errors
        return
    reader, records, errors, levels = chunked(path, chunk_rows)
    assert records == whole.records
    assert errors == whole.errors
    assert reader.programs() == whole.programs
    assert reader.tables.rows_read == whole.rows_read
    assert reader.tables.line_numbers_exact == whole.line_numbers_exact
    assert levels == {(r.program_id, r.level_of_care) for r in whole.records}


def test_rules_across_chunk_boundaries(tmp_path):
    """One row per chunk: every cross-row rule compares rows of different chunks."""
    base = ["sunrise", "Sunrise Recovery", "1234567893", "12-3456789", "TX", "iop", "H0015", "IOP day",
            "per_service", "750.00", "425.00", "2026-01-01"]
    rows = [
        (base, ""),
        ([*base[:6], "90791", "Intake", "per_episode", "350", "", "2026-01-01"], "\n"),  # then a blank line
        ([*base[:1], "Sunrise LLC", *base[2:6], "H0020", "x", "per_service", "1", "1", "2026-01-01"], ""),
        ([*base[:6], " h0015", "IOP again", "per_service", "760", "", "2026-01-01"], ""),  # duplicate of line 2
    ]
    path = tmp_path / "fees.csv"
    write_rows(path, rows, "")
    _, records, errors, _ = chunked(path, 1)
    assert [(e.line, e.column) for e in errors] == [(5, "program_name"), (6, "billing_code")]
    assert "on line 2" in errors[0].message and "duplicate of line 2" in errors[1].message
    assert [r.line for r in records] == [2, 3]


def test_copy_text_is_postgres_text_format(tmp_path):
    rows = [
        (["sunrise", "Sunrise", "", "", "TX", "iop", "rev:906", "tab\there\nand back\\slash", "per_service",
          "$1,250.5", "", "2026-01-01"], ""),
        (["sunrise", "Sunrise", "", "", "TX", "iop", "H0015", "plain", "per_service", "750", "425", "2026-01-01"], ""),
    ]
    path = tmp_path / "fees.csv"
    write_rows(path, rows, "")
    (chunk,) = list(FeeScheduleReader(path))
    assert FEE_LINE_FIELDS[0] == "program_id"
    assert chunk.copy_text(42).decode().splitlines() == [
        "42\tsunrise\tiop\tREV:0906\ttab\\there\\nand back\\\\slash\tper_service\t1250.50\t\\N\t2026-01-01\t2",
        "42\tsunrise\tiop\tH0015\tplain\tper_service\t750.00\t425.00\t2026-01-01\t4",  # row 1 spans lines 2-3
    ]


def test_a_malformed_row_in_a_later_chunk_rejects_the_file_with_its_line(tmp_path):
    good = "sunrise,Sunrise,,,TX,iop,H0015,IOP,per_service,750,,2026-01-01"
    lines = [",".join(HEADER)] + [good.replace("750", str(700 + i)).replace("H0015", f"H{i:04d}") for i in range(40)]
    lines[30] += ",extra"
    path = tmp_path / "fees.csv"
    path.write_text("\n".join(lines) + "\n")
    reader = FeeScheduleReader(path, chunk_rows=7)
    seen = []
    with pytest.raises(FileRejected) as exc:
        for chunk in reader:
            seen.append(len(chunk))
    assert exc.value.errors[0].line == 31
    assert "13 fields" in exc.value.errors[0].message
    assert sum(seen) >= 7  # earlier chunks were handed out before the bad row was reached


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_multiline_values_keep_exact_line_numbers_with_any_line_break(tmp_path, newline):
    rows = [
        'sunrise,Sunrise,,,TX,iop,H0015,"IOP day,{nl}evening block",per_service,750,,2026-01-01',
        "sunrise,Sunrise,,,TX,iop,90791,Intake,per_episode,abc,,2026-01-01",
    ]
    text = newline.join([",".join(HEADER), *(r.replace("{nl}", newline) for r in rows)]) + newline
    path = tmp_path / "fees.csv"
    path.write_bytes(text.encode())
    for chunk_rows in (None, 1):
        r = parse_fee_schedule(path, chunk_rows=chunk_rows)
        assert r.line_numbers_exact
        assert [(e.line, e.column) for e in r.errors] == [(4, "gross_charge")]  # the first row spans lines 2-3
        assert r.records[0].description == f"IOP day,{newline}evening block"
