"""How each import kind is parsed and staged into a tariff version.

A loader has ``prepare`` (parse and validate, before any transaction: the pure
parsers in ``tariffs.csv_files``, ``tariffs.tic``, ``tariffs.hpt``...) and
``stage`` (write the accepted records of one version with COPY, inside the
pipeline's transaction, and declare the keys the version carries).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TypeVar
from urllib.parse import urlsplit

import asyncpg
import msgspec

from costsvc.db.queries import Q
from costsvc.staging.base import MAX_STORED_ERRORS, ImportOptions, Loader, StageContext
from tariffs.options import normalize_payer_names, payer_name_key
from tariffs.records import (
    FeeLineRecord,
    FileRejected,
    NegotiatedRateRecord,
    PlanLevelRecord,
    PlanListing,
    ProgramRecord,
    ReferenceRateRecord,
    RowError,
)

# The COPY column lists: a version id, then the record's fields in order (the fee
# schedule reader's COPY text follows FeeLineRecord's field order too).
FEE_LINE_COLUMNS = ["version_id", *FeeLineRecord.__struct_fields__]
if TYPE_CHECKING:  # pandas is imported only by the loaders that read tables
    from tariffs.csv_files import FeeChunk, FeeScheduleReader, NegotiatedRatesReader

T = TypeVar("T")
RATE_COLUMNS = [
    "version_id", "payer_id", "program_id", "billing_code", "rate_type", "rate",
    "effective_date", "expiration_date", "line",
]


class ProgramDirectory:
    """Known programs by id, NPI and TIN: how payer files are matched to programs."""

    def __init__(self, rows: Iterable[asyncpg.Record]):
        self.ids: set[str] = set()
        self.by_npi: dict[str, set[str]] = defaultdict(set)
        self.by_tin: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            self.ids.add(r["program_id"])
            if r["npi"]:
                self.by_npi[r["npi"]].add(r["program_id"])
            if r["tin"]:
                self.by_tin[r["tin"]].add(r["program_id"])

    @classmethod
    async def load(cls, conn: asyncpg.Connection) -> ProgramDirectory:
        return cls(await conn.fetch(Q.program_identifiers))

    def resolve(self, rate: NegotiatedRateRecord) -> set[str]:
        if rate.program_id:
            return {rate.program_id} if rate.program_id in self.ids else set()
        found: set[str] = set()
        if rate.npi:
            found |= self.by_npi.get(rate.npi, set())
        if rate.tin:
            found |= self.by_tin.get(rate.tin.replace("-", ""), set())
        return found


async def upsert_programs(conn: asyncpg.Connection, programs: list[ProgramRecord]) -> None:
    if programs:
        await conn.execute(
            Q.upsert_programs,
            [p.program_id for p in programs], [p.name for p in programs], [p.state for p in programs],
            [p.npi for p in programs], [p.tin for p in programs],
        )


async def stage_fee_lines(ctx: StageContext, lines: list[FeeLineRecord]) -> None:
    v = ctx.version_id
    await ctx.copy("fee_lines", FEE_LINE_COLUMNS, (
        (v, r.program_id, r.level_of_care, r.billing_code, r.description, r.frequency,
         r.gross_charge, r.cash_price, r.effective_date, r.line)
        for r in lines
    ))
    ctx.keys("fee", {(r.program_id, r.level_of_care) for r in lines})
    ctx.rows_accepted += len(lines)


class RateResolution:
    """Negotiated rates resolved to the programs they price (by program id, else NPI
    and TIN): ``rows`` yields a ``negotiated_rates`` row per (rate, program); a rate
    that matches no program is a row error (``on_error``, default: ``errors``)."""

    def __init__(self, directory: ProgramDirectory, display_name: str,
                 on_error: Callable[[RowError], None] | None = None) -> None:
        self.directory = directory
        self.display_name = display_name
        self.errors: list[RowError] = []
        self.on_error = on_error or self.errors.append
        self.keys: set[tuple[str, str]] = set()  # (payer_id, program_id)
        self.accepted = 0  # rates that matched a program

    def rows(self, version_id: int, rates: Iterable[NegotiatedRateRecord]) -> Iterator[tuple[Any, ...]]:
        for r in rates:
            programs = self.directory.resolve(r)
            if not programs:
                who = f"program '{r.program_id}'" if r.program_id else f"NPI {r.npi or '-'} / TIN {r.tin or '-'}"
                self.on_error(RowError(self.display_name, r.line, "program_id" if r.program_id else "npi",
                                       f"no known program matches {who}"))
                continue
            self.accepted += 1
            for program_id in sorted(programs):
                self.keys.add((r.payer_id, program_id))
                yield (version_id, r.payer_id, program_id, r.billing_code, r.rate_type, r.rate,
                       r.effective_date, r.expiration_date, r.line)


async def stage_rates(ctx: StageContext, rates: Iterable[NegotiatedRateRecord], directory: ProgramDirectory) -> None:
    """Resolve each rate to its program(s) and COPY them; unmatched rates are row errors."""
    resolution = RateResolution(directory, ctx.display_name, on_error=ctx.error)
    await ctx.copy("negotiated_rates", RATE_COLUMNS, resolution.rows(ctx.version_id, rates))
    ctx.keys("rates", resolution.keys)
    ctx.rows_accepted += resolution.accepted


def unknown_payer(display_name: str, rate: NegotiatedRateRecord) -> RowError:
    return RowError(display_name, rate.line, "payer_id",
                    f"unknown payer '{rate.payer_id}' (import its coverage table first)")


async def known_payers(conn: asyncpg.Connection) -> dict[str, str]:
    """payer_id -> name of every payer on file."""
    return {r["payer_id"]: r["name"] for r in await conn.fetch(Q.known_payers)}


async def require_payer(conn: asyncpg.Connection, payer_id: str | None, display_name: str) -> str:
    if not payer_id:
        raise FileRejected([RowError(display_name, None, None, "this kind needs the payer_id option")])
    if payer_id not in await known_payers(conn):
        raise FileRejected([RowError(display_name, None, None, f"unknown payer '{payer_id}'")])
    return payer_id


class TabularLoader:
    """CSV/XLSX kinds (docs/FORMATS.md, "Our files"): parse whole with pandas, then stage."""

    requires_rows = True

    def __init__(self, parse: Callable[..., Any], stage: Callable[[StageContext, Any], Any]):
        self._parse = parse
        self._stage = stage

    async def prepare(self, path: Path, display_name: str, options: ImportOptions) -> Any:
        return await asyncio.to_thread(self._parse, path, display_name=display_name)

    async def stage(self, ctx: StageContext, parsed: Any) -> None:
        ctx.rows_read = parsed.rows_read
        ctx.extend_errors(parsed.errors)
        if ctx.error_count and not ctx.options.allow_partial:
            return  # rejected whole: nothing to stage
        await self._stage(ctx, parsed)


class StreamedTabularLoader:
    """A tabular kind validated and staged chunk by chunk, in the pipeline's one
    transaction: the rows are parsed and validated on a worker thread
    (``read_ahead``) while the chunks already validated are staged, so that the
    parse (client CPU) overlaps the server's work, and memory holds a few chunks,
    not the file.

    A file with row errors is still rejected whole (unless ``allow_partial``): once
    an error is seen nothing more is staged, every error is still collected, and the
    pipeline rolls the transaction back.  A malformed row far into the file
    (``FileRejected`` from the reader) ends the stage the same way.

    Errors come in two sorts, reported as the whole-file loaders did: the parse's
    own (a bad value, a duplicate...) in line order, then the staging's (a rate of an
    unknown payer...) in line order; and when the file is rejected for parse errors
    the staging's are left out, since they may be consequences of the same mistakes.

    A subclass opens its reader (``open``: the header and file-level checks, before
    the transaction), says per chunk which errors it has and how to build what to
    stage (``begin`` returns that check, run on the worker thread) and stages a built
    batch (``stage_batch``, on the event loop)."""

    requires_rows = True
    queue_depth = 3  # chunks validated ahead of the staging

    def open(self, path: Path, display_name: str, chunk_rows: int) -> Any:
        raise NotImplementedError

    async def begin(self, ctx: StageContext, reader: Any) -> Callable[[Any], ChunkCheck]:
        raise NotImplementedError

    async def stage_batch(self, ctx: StageContext, batch: Any) -> None:
        raise NotImplementedError

    async def prepare(self, path: Path, display_name: str, options: ImportOptions) -> Any:
        from tariffs.tabular import reader as tabular

        return await asyncio.to_thread(self.open, path, display_name, tabular.CHUNK_ROWS)

    async def stage(self, ctx: StageContext, reader: Any) -> None:
        from tariffs.tabular import bulk as tabular

        partial = ctx.options.allow_partial
        check = await self.begin(ctx, reader)

        def batches() -> Iterator[tuple[Any, ChunkCheck]]:
            rejected = False
            with tabular.bulk():
                for chunk in reader:
                    checked = check(chunk)
                    rejected = rejected or (bool(checked.parse_errors or checked.stage_errors) and not partial)
                    yield (None if rejected else checked.build()), checked

        stage_errors: list[RowError] = []
        stage_error_count = 0
        async for batch, checked in read_ahead(batches(), self.queue_depth):
            ctx.extend_errors(checked.parse_errors)
            stage_error_count += len(checked.stage_errors)
            stage_errors += checked.stage_errors[: max(0, MAX_STORED_ERRORS - len(stage_errors))]
            if batch is not None:
                await self.stage_batch(ctx, batch)
        ctx.rows_read = reader.tables.rows_read
        if partial or not ctx.error_count:
            ctx.extend_errors(stage_errors)
            ctx.error_count += stage_error_count - len(stage_errors)


class ChunkCheck(NamedTuple):
    """What a streamed loader found in one chunk, and how to build what to stage."""

    parse_errors: list[RowError]
    stage_errors: list[RowError]
    build: Callable[[], Any]


class FeeScheduleLoader(StreamedTabularLoader):
    """Fee schedules (docs/FORMATS.md), streamed.  Each chunk is staged with its own
    statements: a COPY of its fee lines (as COPY text built from each column's
    distinct values, not per-row tuples to encode), the (program, level) keys not yet
    written, and an upsert of the programs it adds or completes.  Separate statements
    matter: the server checks the fee lines' foreign key at the end of each COPY, and
    that check then overlaps the parse of the next chunks instead of following the
    whole file."""

    def open(self, path: Path, display_name: str, chunk_rows: int) -> FeeScheduleReader:
        from tariffs.csv_files import FeeScheduleReader

        return FeeScheduleReader(path, display_name=display_name, chunk_rows=chunk_rows)

    async def begin(self, ctx: StageContext, reader: FeeScheduleReader) -> Callable[..., Any]:
        version_id = ctx.version_id

        def check(chunk: FeeChunk) -> ChunkCheck:
            return ChunkCheck(chunk.errors, [], lambda: _FeeBatch(
                chunk.copy_text(version_id), chunk.program_levels(), reader.program_changes(), len(chunk)
            ))

        return check

    async def stage_batch(self, ctx: StageContext, batch: _FeeBatch) -> None:
        if batch.rows:
            await ctx.conn.copy_to_table("fee_lines", source=_once(batch.rows), columns=FEE_LINE_COLUMNS,
                                         format="text")
        await upsert_programs(ctx.conn, batch.programs)
        ctx.keys("fee", batch.levels)
        await ctx.write_keys()
        ctx.rows_accepted += batch.accepted


class _FeeBatch(NamedTuple):
    rows: bytes  # COPY text of the chunk's good rows
    levels: set[tuple[str, str]]  # their (program_id, level_of_care) keys
    programs: list[ProgramRecord]  # programs new or changed in the chunk
    accepted: int


class NegotiatedRatesLoader(StreamedTabularLoader):
    """Negotiated rates (docs/FORMATS.md), streamed: per chunk, the rates of unknown
    payers and those that match no program are row errors (as the parse's own, in
    line order), the others are COPYed with their (payer, program) keys."""

    def open(self, path: Path, display_name: str, chunk_rows: int) -> NegotiatedRatesReader:
        from tariffs.csv_files import NegotiatedRatesReader

        return NegotiatedRatesReader(path, display_name=display_name, chunk_rows=chunk_rows)

    async def begin(self, ctx: StageContext, reader: NegotiatedRatesReader) -> Callable[..., Any]:
        known = await known_payers(ctx.conn)
        directory = await ProgramDirectory.load(ctx.conn)
        version_id, name = ctx.version_id, ctx.display_name

        def check(chunk: tuple[list[NegotiatedRateRecord], list[RowError]]) -> ChunkCheck:
            records, parse_errors = chunk
            resolution = RateResolution(directory, name)
            of_known_payers = []
            for r in records:
                if r.payer_id in known:
                    of_known_payers.append(r)
                else:
                    resolution.errors.append(unknown_payer(name, r))
            rows = list(resolution.rows(version_id, of_known_payers))
            stage_errors = sorted(resolution.errors, key=lambda e: e.line or 0)
            return ChunkCheck(parse_errors, stage_errors, lambda: (rows, resolution.keys, resolution.accepted))

        return check

    async def stage_batch(self, ctx: StageContext, batch: tuple[list[tuple[Any, ...]], set, int]) -> None:
        rows, keys, accepted = batch
        await ctx.copy("negotiated_rates", RATE_COLUMNS, rows)
        ctx.keys("rates", keys)
        await ctx.write_keys()
        ctx.rows_accepted += accepted


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


_DONE = object()


async def read_ahead(items: Iterator[T], depth: int) -> AsyncIterator[T]:
    """Iterate ``items`` on a worker thread, up to ``depth`` items ahead of the
    consumer: the thread keeps producing while the event loop sends what it has.
    An exception from ``items`` is raised here; when the consumer stops early the
    thread stops at its next item."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put((_DONE, exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator left early runs its cleanup here, on its own thread
                close()
        put((_DONE, None))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = await asyncio.to_thread(q.get)
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        # A consumer cancelled while it waited leaves a thread blocked in q.get():
        # wake it, or the event loop's executor would wait for it for ever at shutdown.
        with contextlib.suppress(queue.Full):
            q.put_nowait((_DONE, None))
        await asyncio.to_thread(thread.join)


async def _stage_coverage_table(ctx: StageContext, parsed: Any) -> None:
    records: list[PlanLevelRecord] = parsed.records
    v = ctx.version_id
    plans: dict[str, PlanLevelRecord] = {}
    effective: dict[str, Any] = {}
    networks: dict[tuple[str, str], PlanLevelRecord] = {}
    for r in records:
        plans.setdefault(r.plan_id, r)
        effective[r.plan_id] = min(effective.get(r.plan_id, r.effective_date), r.effective_date)
        networks.setdefault((r.plan_id, r.network), r)
    payers = {r.payer_id: r.payer_name for r in plans.values()}
    await ctx.conn.execute(Q.upsert_payers, list(payers), list(payers.values()))
    await ctx.copy("plans", ["version_id", "plan_id", "payer_id", "plan_name", "plan_type", "plan_year_start",
                             "effective_date"],
                   [(v, p.plan_id, p.payer_id, p.plan_name, p.plan_type, p.plan_year_start, effective[p.plan_id])
                    for p in plans.values()])
    await ctx.copy("plan_networks", ["version_id", "plan_id", "network", "ded_individual", "ded_family",
                                     "oop_individual", "oop_family", "allowed_method", "allowed_pct",
                                     "balance_billing"],
                   [(v, n.plan_id, n.network, n.ded_individual, n.ded_family, n.oop_individual, n.oop_family,
                     n.allowed_method, n.allowed_pct, n.balance_billing) for n in networks.values()])
    await ctx.copy("plan_level_benefits", ["version_id", "plan_id", "network", "level_of_care", "covered", "copay",
                                           "copay_unit", "deductible_applies", "coinsurance_pct", "limit_units",
                                           "prior_auth"],
                   [(v, r.plan_id, r.network, r.level_of_care, r.covered, r.copay, r.copay_unit,
                     r.deductible_applies, r.coinsurance_pct, r.limit_units, r.prior_auth) for r in records])
    for plan_id in plans:
        ctx.key("plan", plan_id)
    ctx.rows_accepted += len(records)


async def stage_reference_rates(ctx: StageContext, rates: Iterable[ReferenceRateRecord]) -> None:
    v = ctx.version_id

    def rows() -> Iterable[tuple[Any, ...]]:
        for r in rates:
            ctx.rows_accepted += 1
            ctx.key("reference", r.payer_id)
            yield (v, r.payer_id, r.billing_code, r.amount)

    await ctx.copy("reference_rates", ["version_id", "payer_id", "billing_code", "amount"], rows())


async def _stage_reference_rates(ctx: StageContext, parsed: Any) -> None:
    known = await known_payers(ctx.conn)
    good = []
    for r in parsed.records:
        if r.payer_id in known:
            good.append(r)
        else:
            ctx.error(RowError(ctx.display_name, None, "payer_id", f"unknown payer '{r.payer_id}'"))
    await stage_reference_rates(ctx, good)


def _tabular_loaders() -> dict[str, Loader]:
    from tariffs import csv_files

    return {
        "fee_schedule": FeeScheduleLoader(),
        "coverage_table": TabularLoader(csv_files.parse_coverage_table, _stage_coverage_table),
        "negotiated_rates": NegotiatedRatesLoader(),
        "reference_rates": TabularLoader(csv_files.parse_reference_rates, _stage_reference_rates),
    }


def sibling_resolver(path: Path) -> Callable[[str], BinaryIO | None]:
    """Resolve a remote provider-reference URL only to a file of the same name beside
    the imported file (the same upload batch or source folder): never the network."""

    def resolve(location: str) -> BinaryIO | None:
        name = Path(urlsplit(location).path).name
        if not name or name in {".", ".."}:
            return None
        candidate = path.parent / name
        if candidate.resolve().parent != path.parent.resolve() or not candidate.is_file():
            return None
        return open(candidate, "rb")

    return resolve


def _carry_reader_errors(ctx: StageContext, reader: Any) -> None:
    ctx.rows_read = reader.rows_read
    ctx.extend_errors(reader.errors)
    ctx.error_count += reader.error_count - len(reader.errors)  # counted beyond the kept ones


class TicInNetworkLoader:
    """CMS TiC in-network rates: streamed (constant memory) straight into COPY."""

    requires_rows = False  # a payer file with no rate for our programs is valid and empty

    async def prepare(self, path: Path, display_name: str, options: ImportOptions) -> None:
        return None

    async def stage(self, ctx: StageContext, _prepared: None) -> None:
        from tariffs.tic import TicFilter, iter_in_network

        payer_id = await require_payer(ctx.conn, ctx.options.payer_id, ctx.display_name)
        directory = await ProgramDirectory.load(ctx.conn)
        codes = frozenset(r["billing_code"] for r in await ctx.conn.fetch(Q.priced_billing_codes))
        keep = TicFilter(npis=frozenset(directory.by_npi), tins=frozenset(directory.by_tin), billing_codes=codes)
        reader = iter_in_network(str(ctx.path), payer_id=payer_id, keep=keep, display_name=ctx.display_name,
                                 provider_reference_resolver=sibling_resolver(ctx.path))
        plans: list[PlanListing] = []

        def rates() -> Iterable[NegotiatedRateRecord]:
            for record in reader:
                if isinstance(record, PlanListing):
                    plans.append(record)
                else:
                    yield record

        await stage_rates(ctx, rates(), directory)
        _carry_reader_errors(ctx, reader)
        if plans:
            await ctx.copy("payer_file_plans",
                           ["version_id", "payer_id", "plan_name", "plan_id", "plan_id_type", "plan_market_type"],
                           [(ctx.version_id, payer_id, p.plan_name, p.plan_id, p.plan_id_type, p.plan_market_type)
                            for p in plans])


class TicAllowedAmountsLoader:
    """CMS TiC allowed amounts: the median paid per code becomes the payer's reference rate."""

    requires_rows = False

    async def prepare(self, path: Path, display_name: str, options: ImportOptions) -> None:
        return None

    async def stage(self, ctx: StageContext, _prepared: None) -> None:
        from tariffs.allowed_amounts import iter_allowed_amounts

        payer_id = await require_payer(ctx.conn, ctx.options.payer_id, ctx.display_name)
        reader = iter_allowed_amounts(str(ctx.path), payer_id=payer_id, display_name=ctx.display_name)
        await stage_reference_rates(ctx, reader)
        _carry_reader_errors(ctx, reader)


def hpt_fee_lines(lines: list[FeeLineRecord], current: Iterable[Any]) -> list[FeeLineRecord]:
    """Place a hospital's charges in the program's levels of care.

    A code the program already bills keeps the level(s) and frequency it has there
    (an intake 90791 billed once per IOP and PHP episode stays so); a new code keeps
    the level the parser inferred from it.  A level gets a new fee schedule only when
    the file prices one of its per-service units: an intake alone must not replace a
    level's per-diem schedule with one that bills nothing per day.
    """
    placed: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in current:
        placed[r["billing_code"]].append((r["level_of_care"], r["frequency"]))
    out: list[FeeLineRecord] = []
    for line in lines:
        for level, frequency in placed.get(line.billing_code) or [(line.level_of_care, line.frequency)]:
            out.append(msgspec.structs.replace(line, level_of_care=level, frequency=frequency))
    priced_levels = {r.level_of_care for r in out if r.frequency == "per_service"}
    return [r for r in out if r.level_of_care in priced_levels]


class HptStandardChargesLoader:
    """CMS Hospital Price Transparency: a hospital-based program's fee schedule and its
    payer-specific negotiated charges."""

    requires_rows = True

    async def prepare(self, path: Path, display_name: str, options: ImportOptions) -> None:
        if not options.program_id:
            raise FileRejected([RowError(display_name, None, None, "this kind needs the program_id option")])
        return None

    async def stage(self, ctx: StageContext, _prepared: None) -> None:
        from tariffs.hpt import parse_hpt

        program_id = ctx.options.program_id
        assert program_id is not None
        if not await ctx.conn.fetchval(Q.program_exists, program_id):
            raise FileRejected([RowError(ctx.display_name, None, None,
                                         f"unknown program '{program_id}' (import its fee schedule first)")])
        payers = await known_payers(ctx.conn)
        mapped = normalize_payer_names(ctx.options.payer_names) or {}
        names = {name: pid for name, pid in mapped.items() if pid in payers}
        for payer_id, name in payers.items():
            names.setdefault(payer_name_key(name), payer_id)
        current = await ctx.conn.fetch(Q.program_current_fee_lines, program_id)
        codes = frozenset(r["billing_code"] for r in current) or None  # None: the built-in behavioral set
        result = await asyncio.to_thread(
            parse_hpt, str(ctx.path), program_id=program_id, payer_names=names, billing_codes=codes,
            program_levels={r["level_of_care"] for r in current}, display_name=ctx.display_name,
        )  # fmt: skip
        ctx.notes.extend(result.notes)  # e.g. which encoding a file that is not UTF-8 was read in
        ctx.rows_read = result.rows_read
        ctx.extend_errors(result.errors)
        ctx.error_count += result.error_count - len(result.errors)
        if ctx.error_count and not ctx.options.allow_partial:
            return
        await stage_fee_lines(ctx, hpt_fee_lines(result.fee_lines, current))
        rates_before = ctx.rows_accepted
        await stage_rates(ctx, result.rates, await ProgramDirectory.load(ctx.conn))
        ctx.rows_accepted = rates_before  # rows are the file's items, counted once as fee lines


class PolicyLoader(TabularLoader):
    """The policy kinds (docs/FORMATS.md, "Policies"): parsed whole, then checked
    against the programs on file (a program's policy needs the program), then staged
    as one version carrying a key per program (or per year)."""

    def __init__(self, parse: Callable[..., Any], stage: Callable[[StageContext, list[Any]], Any],
                 *, per_program: bool):
        super().__init__(parse, stage)
        self._per_program = per_program

    async def stage(self, ctx: StageContext, parsed: Any) -> None:
        ctx.rows_read = parsed.rows_read
        records, unknown = parsed.records, []
        if self._per_program:
            known = (await ProgramDirectory.load(ctx.conn)).ids
            unknown = [RowError(ctx.display_name, r.line, "program_id",
                                f"unknown program '{r.program_id}' (import its fee schedule first)")
                       for r in records if r.program_id not in known]
            records = [r for r in records if r.program_id in known]
        ctx.extend_errors(sorted([*parsed.errors, *unknown], key=lambda e: e.line or 0))
        if ctx.error_count and not ctx.options.allow_partial:
            return  # rejected whole: nothing to stage
        await self._stage(ctx, records)
        ctx.rows_accepted += len(records)


async def _stage_sliding_scale(ctx: StageContext, records: list[Any]) -> None:
    v = ctx.version_id
    await ctx.copy("sliding_scale_tiers", ["version_id", "program_id", "position", "tier", "max_fpl_percent",
                                           "discount_percent", "nominal_fee", "effective_date", "line"],
                   [(v, r.program_id, r.position, r.tier, r.max_fpl_percent, r.discount_percent, r.nominal_fee,
                     r.effective_date, r.line) for r in records])
    ctx.keys("sliding", {(r.program_id, "") for r in records})


async def _stage_payment_terms(ctx: StageContext, records: list[Any]) -> None:
    v = ctx.version_id
    await ctx.copy("payment_terms", ["version_id", "program_id", "months", "apr", "min_monthly_payment",
                                     "min_down_payment", "effective_date", "line"],
                   [(v, r.program_id, r.months, r.apr, r.min_monthly_payment, r.min_down_payment,
                     r.effective_date, r.line) for r in records])
    ctx.keys("payment", {(r.program_id, "") for r in records})


async def _stage_poverty_guidelines(ctx: StageContext, records: list[Any]) -> None:
    v = ctx.version_id
    await ctx.copy("poverty_guidelines", ["version_id", "year", "region", "base", "per_additional_person", "line"],
                   [(v, r.year, r.region, r.base, r.per_additional_person, r.line) for r in records])
    ctx.keys("guidelines", {(str(r.year), "") for r in records})


def _policy_loaders() -> dict[str, Loader]:
    from tariffs import policies

    return {
        "sliding_scale": PolicyLoader(policies.parse_sliding_scale, _stage_sliding_scale, per_program=True),
        "payment_terms": PolicyLoader(policies.parse_payment_terms, _stage_payment_terms, per_program=True),
        "poverty_guidelines": PolicyLoader(policies.parse_poverty_guidelines, _stage_poverty_guidelines,
                                           per_program=False),
    }


LOADERS: dict[str, Loader] = {
    **_tabular_loaders(),
    **_policy_loaders(),
    "tic_in_network": TicInNetworkLoader(),
    "tic_allowed_amounts": TicAllowedAmountsLoader(),
    "hpt_standard_charges": HptStandardChargesLoader(),
}
