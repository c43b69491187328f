"""Negotiated rates read chunk by chunk (what the import streams) find exactly what the
whole-file parse finds, whatever the chunk size."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffs.csv_files import NegotiatedRatesReader, parse_negotiated_rates
from tariffs.records import FileRejected

HEADER = ["payer_id", "program_id", "npi", "tin", "billing_code", "rate_type", "rate", "effective_date",
          "expiration_date"]

row = st.tuples(
    st.sampled_from(["acme", "bluepeak", "bad payer"]),
    st.sampled_from(["sunrise", "", "cedar"]),
    st.sampled_from(["", "1234567893", "1234567890"]),
    st.sampled_from(["", "12-3456789"]),
    st.sampled_from(["H0015", "90791", "XYZ"]),
    st.sampled_from(["dollar", "percent_of_billed", "other"]),
    st.sampled_from(["520.00", "120", "1.234", "-1", "abc", ""]),
    st.sampled_from(["2026-01-01", "2025-07-01", "2026-13-01"]),
    st.sampled_from(["", "9999-12-31", "2025-01-01", "2026-12-31"]),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=25), chunk_rows=st.integers(1, 6))
def test_chunks_find_what_the_whole_file_parse_finds(tmp_path_factory, rows, chunk_rows):
    path = tmp_path_factory.mktemp("rates") / "rates.csv"
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        whole = parse_negotiated_rates(path)
    except FileRejected as exc:
        with pytest.raises(FileRejected) as again:
            list(NegotiatedRatesReader(path, chunk_rows=chunk_rows))
        assert again.value.errors == exc.errors
        return
    reader = NegotiatedRatesReader(path, chunk_rows=chunk_rows)
    records, errors = [], []
    for chunk_records, chunk_errors in reader:
        records += chunk_records
        errors += chunk_errors
    assert records == whole.records
    assert errors == whole.errors
    assert reader.tables.rows_read == whole.rows_read
