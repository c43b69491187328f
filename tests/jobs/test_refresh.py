"""The scheduled refresh, run in-process: new/changed files imported, the rest skipped, one run at a time."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from costsvc.db.pool import connect
from costsvc.db.queries import Q
from jobs.refresh import SourcesInvalid, load_sources, refresh_sources
from tests.jobs.support import fee_schedule


def _sources(tmp: Path) -> Path:
    (tmp / "fees").mkdir()
    (tmp / "more").mkdir()
    fee_schedule(tmp / "fees" / "a.csv", "refresh-a", rows=2)
    fee_schedule(tmp / "more" / "b.csv", "refresh-b", rows=3)
    (tmp / "fees" / ".hidden.csv").write_text("ignored")
    path = tmp / "sources.toml"
    path.write_text(
        '[[source]]\nkind = "fee_schedule"\nfolder = "fees"\n\n'
        '[[source]]\nkind = "fee_schedule"\nglob = "more/*.csv"\n'
    )
    return path


async def _imports(conn) -> list:
    return await conn.fetch(
        "SELECT source, status, started_by FROM imports WHERE started_by = 'refresh' ORDER BY created_at"
    )


async def test_refresh_imports_new_and_changed_files_only(conn, tmp_path: Path):
    sources = _sources(tmp_path)
    first = await refresh_sources(conn, sources)
    assert [i["status"] for i in first.imported] == ["succeeded", "succeeded"]
    assert [Path(i["path"]).name for i in first.imported] == ["a.csv", "b.csv"]

    second = await refresh_sources(conn, sources)
    assert second.imported == [] and sorted(Path(p).name for p in second.unchanged) == ["a.csv", "b.csv"]

    fee_schedule(tmp_path / "more" / "b.csv", "refresh-b", rows=3, gross="120.00")  # changed
    (tmp_path / "fees" / "bad.csv").write_text("program_id,program_name\nx,y\n")  # rejected
    third = await refresh_sources(conn, sources)
    assert [(Path(i["path"]).name, i["status"]) for i in third.imported] == [
        ("bad.csv", "rejected"),
        ("b.csv", "succeeded"),
    ]

    fourth = await refresh_sources(conn, sources)  # the rejected file is not retried every run
    assert fourth.imported == [] and [Path(p).name for p in fourth.skipped_rejected] == ["bad.csv"]
    rows = await _imports(conn)
    # In the order of the sources file: the folder "fees" (a, bad), then the glob "more/*.csv" (b).
    assert [(Path(r["source"]).name, r["status"]) for r in rows] == [
        ("a.csv", "succeeded"),
        ("b.csv", "succeeded"),
        ("bad.csv", "rejected"),
        ("b.csv", "succeeded"),
    ]


async def test_unchanged_files_are_not_read_again(conn, tmp_path: Path):
    sources = _sources(tmp_path)
    a, b = tmp_path / "fees" / "a.csv", tmp_path / "more" / "b.csv"
    hour_ago = time.time() - 3600
    for f in (a, b):
        os.utime(f, (hour_ago, hour_ago))
    first = await refresh_sources(conn, sources)
    assert sorted(Path(p).name for p in first.hashed) == ["a.csv", "b.csv"]
    second = await refresh_sources(conn, sources)
    assert second.hashed == [] and sorted(Path(p).name for p in second.unchanged) == ["a.csv", "b.csv"]

    # rewritten just now with other content of the same size: its mtime changed, so it is read
    fee_schedule(b, "refresh-b", rows=3, gross="120.00")
    assert b.stat().st_size == (await conn.fetchval(
        "SELECT size FROM source_file_hashes WHERE path = $1", str(b.resolve())))
    third = await refresh_sources(conn, sources)
    assert [Path(p).name for p in third.hashed] == ["b.csv"]
    assert [(Path(i["path"]).name, i["status"]) for i in third.imported] == [("b.csv", "succeeded")]
    # too fresh to be remembered (a rewrite in the same clock tick could hide): read again
    fourth = await refresh_sources(conn, sources)
    assert [Path(p).name for p in fourth.hashed] == ["b.csv"] and fourth.imported == []

    fifth = await refresh_sources(conn, sources, rehash=True)
    assert sorted(Path(p).name for p in fifth.hashed) == ["a.csv", "b.csv"] and fifth.imported == []


async def test_overlapping_refreshes_never_import_twice(db_url, conn, tmp_path: Path):
    sources = _sources(tmp_path)
    # Another scheduler holds the lock: this run does nothing.
    other = await connect(db_url)
    try:
        assert await other.fetchval(Q.jobs_try_lock_refresh)
        report = await refresh_sources(conn, sources)
        assert report.locked_out and report.imported == []
        assert await _imports(conn) == []
        await other.fetchval(Q.jobs_unlock_refresh)
    finally:
        await other.close()

    # Two runs at the same moment, on two connections: each file is imported once.
    conns = [await connect(db_url) for _ in range(2)]
    try:
        reports = await asyncio.gather(*(refresh_sources(c, sources) for c in conns))
    finally:
        for c in conns:
            await c.close()
    imported = [i for r in reports for i in r.imported]
    assert sorted(Path(i["path"]).name for i in imported) == ["a.csv", "b.csv"]
    assert [r["status"] for r in await _imports(conn)] == ["succeeded", "succeeded"]


def test_sources_file_errors_are_clear(tmp_path: Path):
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nkind = "nonsense"\nfolder = "x"\n')
    with pytest.raises(SourcesInvalid, match="unknown kind 'nonsense'"):
        load_sources(path)
    path.write_text('[[source]]\nkind = "fee_schedule"\nfolder = "x"\nglob = "*.csv"\n')
    with pytest.raises(SourcesInvalid, match="exactly one of folder, glob or path"):
        load_sources(path)
    path.write_text('[[source]]\nkind = "fee_schedule"\npath = "x.csv"\npayer = "acme"\n')
    with pytest.raises(SourcesInvalid, match="payer"):
        load_sources(path)
    path.write_text("[[source]\n")
    with pytest.raises(SourcesInvalid, match="not valid TOML"):
        load_sources(path)
    path.write_text(
        '[[source]]\nkind = "negotiated_rates"\npath = "r.csv"\npayer_id = "acme"\n'
        'allow_partial = true\npayer_names = { "Acme Health" = "acme" }\n'
    )
    [source] = load_sources(path)
    assert source.options.payer_id == "acme" and source.options.allow_partial
    assert source.options.payer_names == {"acme health": "acme"}
