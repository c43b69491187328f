"""Benefits verifications: record what staff learned, read it back, audit every access.

PHI (member id, patient name and date of birth, staff notes, a kept raw 271) is
encrypted with the ``PhiVault`` before it reaches the database and decrypted only
for the rows being shown; a member is found by the vault's keyed lookup hash.
Nothing here logs, and no error raised here carries a PHI value.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
import msgspec

from costsvc.catalog import Catalog, PlanEntry
from costsvc.db.queries import Q
from costsvc.domain.model import Accumulators, Benefits, Identifier, InputStruct, NetworkAccumulators
from costsvc.domain.verification import (
    NETWORKS,
    Discrepancy,
    ParityFlag,
    PartialBenefits,
    VerificationStatus,
    check_as_of,
    clamp_accumulators,
    discrepancies,
    effective_benefits,
    met_from_remaining,
    parity_flags,
    tidy,
    unit_limit,
)
from costsvc.phi import PhiDecryptError, PhiVault, mask_member_id, mask_name
from costsvc.services.errors import FieldProblem, InvalidInput, NotFound, Unavailable
from costsvc.services.estimates import time_ordered_uuid

ShortText = Annotated[str, msgspec.Meta(max_length=200)]
MAX_PAGE = 100
log = logging.getLogger(__name__)  # ids, actions and key names only: never a PHI value
_json = msgspec.json.Encoder(decimal_format="string")


class Actor(msgspec.Struct, frozen=True):
    """Who is asking, as the audit records it (never a person's PHI)."""

    key_id: uuid.UUID
    key_name: str
    client_address: str | None = None


class PatientIn(InputStruct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    date_of_birth: dt.date | None = None


class RecordVerification(InputStruct):
    """``POST /v1/verifications`` as JSON: what staff learned by phone or portal."""

    member_id: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    plan_id: Identifier | None = None
    payer_name: ShortText | None = None
    plan_name: ShortText | None = None
    patient: PatientIn | None = None
    relationship: ShortText | None = None
    status: VerificationStatus = "active"
    as_of: dt.date | None = None
    benefits: PartialBenefits = msgspec.field(default_factory=PartialBenefits)
    accumulators: Accumulators | None = None
    reference: ShortText | None = None
    source: Literal["phone", "portal"] = "phone"
    verified_by: ShortText | None = None
    notes: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class MemberSearch(InputStruct):
    """``POST /v1/verifications/search``: the member id travels in the body, never a URL."""

    member_id: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class Unmapped(msgspec.Struct, frozen=True):
    segment: str
    reason: str


class Member(msgspec.Struct, omit_defaults=True):
    member_id: str  # masked unless revealed
    relationship: str | None = None
    name: str | None = None  # masked unless revealed
    date_of_birth: dt.date | None = None  # only when revealed


class Verification(msgspec.Struct):
    """A verification as the contract shows it (member id and name masked)."""

    verification_id: uuid.UUID
    created_at: dt.datetime
    source: str
    status: str
    as_of: dt.date
    plan_id: str | None
    payer_name: str | None
    plan_name: str | None
    member: Member
    benefits: dict[str, Any]
    accumulators: dict[str, Any]
    effective_benefits: dict[str, Any]
    discrepancies: list[Discrepancy]
    parity_flags: list[ParityFlag]
    unmapped: list[Unmapped]
    warnings: list[str]
    reference: str | None = None
    verified_by: str | None = None
    has_notes: bool = False
    notes: str | None = None  # only when revealed


class VerificationPage(msgspec.Struct):
    verifications: list[Verification]
    next_cursor: str | None


class AuditRecord(msgspec.Struct):
    audit_id: int
    at: dt.datetime
    key_id: uuid.UUID
    key_name: str
    action: str
    verification_id: uuid.UUID | None
    client_address: str | None


class AuditPage(msgspec.Struct):
    records: list[AuditRecord]
    next_cursor: str | None


class VerificationFilter(msgspec.Struct, frozen=True):
    plan_id: str | None = None
    status: VerificationStatus | None = None
    from_: dt.datetime | None = None
    to: dt.datetime | None = None
    limit: int = 50
    cursor: str | None = None


class AuditFilter(msgspec.Struct, frozen=True):
    from_: dt.datetime | None = None
    to: dt.datetime | None = None
    key_id: uuid.UUID | None = None
    limit: int = 100
    cursor: str | None = None


class Draft(msgspec.Struct):
    """One person's verification, resolved and ready to store."""

    source: str
    status: VerificationStatus
    as_of: dt.date
    plan: PlanEntry | None
    payer_name: str | None
    plan_name: str | None
    member_id: str
    relationship: str | None
    patient: PatientIn | None
    benefits: PartialBenefits
    accumulators: Accumulators
    reference: str | None = None
    verified_by: str | None = None
    notes: str | None = None
    unmapped: list[Unmapped] = []
    warnings: list[str] = []
    raw_x12: bytes | None = None


REVEALABLE = ("member_id", "patient", "notes")


def require_vault(vault: PhiVault | None) -> PhiVault:
    if vault is None:
        raise Unavailable(
            "PHI storage is not configured: set COSTSVC_PHI_KEY (docs/VERIFICATION.md) to record or read "
            "verifications", retry_after=3600,
        )
    return vault


def _plan(catalog: Catalog, plan_id: str | None, field: str = "plan_id") -> PlanEntry | None:
    if plan_id is None:
        return None
    plan = catalog.plans.get(plan_id)
    if plan is None:
        raise NotFound(f"unknown plan '{plan_id}'", field=field)
    return plan


def draft_from_json(catalog: Catalog, cmd: RecordVerification, today: dt.date) -> Draft:
    if cmd.plan_id is None and not (cmd.payer_name and cmd.plan_name):
        message = "needs plan_id (a stored plan) or payer_name and plan_name"
        raise InvalidInput([FieldProblem("plan_id", message)])
    plan = _plan(catalog, cmd.plan_id)
    accumulators = cmd.accumulators or Accumulators()
    as_of = cmd.as_of or accumulators.as_of or today
    check_as_of(as_of, today, "as_of")
    if accumulators.as_of is not None:
        check_as_of(accumulators.as_of, today, "accumulators.as_of")
    return Draft(
        source=cmd.source, status=cmd.status, as_of=as_of, plan=plan,
        payer_name=cmd.payer_name or (catalog.payers.get(plan.payer_id) if plan else None),
        plan_name=cmd.plan_name or (plan.plan_name if plan else None),
        member_id=cmd.member_id, relationship=cmd.relationship, patient=cmd.patient,
        benefits=cmd.benefits,
        accumulators=accumulators if accumulators.as_of else msgspec.structs.replace(accumulators, as_of=as_of),
        reference=cmd.reference, verified_by=cmd.verified_by, notes=cmd.notes,
    )


def _encrypt(vault: PhiVault, value: str | bytes | None) -> bytes | None:
    return vault.encrypt(value) if value is not None else None


async def _audit(conn: asyncpg.Connection | asyncpg.Pool, actor: Actor, action: str,
                 verification_ids: list[uuid.UUID | None]) -> None:
    await conn.execute(Q.verif_audit_insert, actor.key_id, actor.key_name, action, verification_ids,
                       actor.client_address)


async def store(pool: asyncpg.Pool, vault: PhiVault, drafts: list[Draft], actor: Actor,
                *, keep_x12: bool = False) -> list[Verification]:
    """Store the drafts (one transaction, with their audit records) and return them."""
    rows = []
    for d in drafts:
        benefits = d.plan.benefits if d.plan else None
        effective = effective_benefits(benefits, d.benefits, d.status)
        accumulators, clamp_warnings = clamp_accumulators(d.accumulators, effective)
        medsurg = d.plan.medsurg if d.plan else {}
        patient = None
        if d.patient is not None and (d.patient.name or d.patient.date_of_birth):
            patient = _json.encode(d.patient)
        if d.plan is not None and d.plan.effective_date > d.as_of:
            clamp_warnings.insert(0, f"the stored plan takes effect on {d.plan.effective_date}, after as_of; "
                                  "its current benefits were used")
        rows.append((
            time_ordered_uuid(), actor.key_id, d.source, d.status, d.as_of, d.plan.plan_id if d.plan else None,
            d.payer_name, d.plan_name, d.relationship, d.reference, d.verified_by,
            vault.encrypt(d.member_id), vault.lookup_hash(d.member_id), _encrypt(vault, patient),
            _encrypt(vault, d.notes), _encrypt(vault, d.raw_x12) if keep_x12 else None,
            _json.encode(tidy(d.benefits)).decode(), _json.encode(tidy(accumulators)).decode(),
            _json.encode(tidy(effective)).decode(),
            _json.encode(discrepancies(benefits, d.benefits)).decode(),
            _json.encode(parity_flags(effective, medsurg)).decode(),
            _json.encode(d.unmapped).decode(), _json.encode([*d.warnings, *clamp_warnings]).decode(),
        ))
    async with pool.acquire() as conn, conn.transaction():
        for row in rows:
            await conn.execute(Q.verif_insert, *row)
        await _audit(conn, actor, "create", [r[0] for r in rows])
        stored = [await conn.fetchrow(Q.verif_get, r[0]) for r in rows]
    for r in stored:
        log.info("verification %s recorded by key %s (source %s, plan %s, %d discrepancies, %d parity flags)",
                 r["verification_id"], actor.key_name, r["source"], r["plan_id"], len(r["discrepancies"]),
                 len(r["parity_flags"]))
    return [render(vault, r) for r in stored]


def render(vault: PhiVault, row: asyncpg.Record, reveal: frozenset[str] = frozenset()) -> Verification:
    """A stored row as the contract shows it; ``reveal`` names the PHI shown whole."""
    try:
        return _render(vault, row, reveal)
    except PhiDecryptError:
        raise Unavailable(
            f"verification {row['verification_id']} does not decrypt under the configured PHI keys "
            "(was a key dropped before `costsvc phi rotate` finished? docs/VERIFICATION.md)", retry_after=3600,
        ) from None


def _render(vault: PhiVault, row: asyncpg.Record, reveal: frozenset[str]) -> Verification:
    member_id = vault.decrypt_text(row["member_id_enc"])
    patient = (msgspec.json.decode(vault.decrypt(row["patient_enc"]), type=PatientIn)
               if row["patient_enc"] is not None else PatientIn())
    show_patient = "patient" in reveal
    name = patient.name if show_patient else (mask_name(patient.name) if patient.name else None)
    return Verification(
        verification_id=row["verification_id"], created_at=row["created_at"], source=row["source"],
        status=row["status"], as_of=row["as_of"], plan_id=row["plan_id"], payer_name=row["payer_name"],
        plan_name=row["plan_name"],
        member=Member(
            member_id=member_id if "member_id" in reveal else mask_member_id(member_id),
            relationship=row["relationship"], name=name,
            date_of_birth=patient.date_of_birth if show_patient else None,
        ),
        benefits=row["benefits"], accumulators=row["accumulators"],
        effective_benefits=row["effective_benefits"],
        discrepancies=msgspec.convert(row["discrepancies"], list[Discrepancy]),
        parity_flags=msgspec.convert(row["parity_flags"], list[ParityFlag]),
        unmapped=msgspec.convert(row["unmapped"], list[Unmapped]), warnings=row["warnings"],
        reference=row["reference"], verified_by=row["verified_by"], has_notes=row["notes_enc"] is not None,
        notes=vault.decrypt_text(row["notes_enc"]) if "notes" in reveal and row["notes_enc"] is not None else None,
    )


def parse_reveal(value: str | None) -> frozenset[str]:
    if not value:
        return frozenset()
    wanted = frozenset(v.strip() for v in value.split(",") if v.strip())
    unknown = sorted(wanted - set(REVEALABLE))
    if unknown:
        raise InvalidInput.one("reveal", f"expected a comma-separated list of {', '.join(REVEALABLE)}")
    return wanted


async def get(pool: asyncpg.Pool, vault: PhiVault | None, verification_id: str, actor: Actor,
              reveal: frozenset[str] = frozenset()) -> Verification:
    vault = require_vault(vault)
    key = _uuid(verification_id, "verification_id")
    row = await pool.fetchrow(Q.verif_get, key)
    if row is None:
        raise NotFound(f"no verification '{key}'", field="verification_id")
    await _audit(pool, actor, "reveal" if reveal else "read", [key])
    log.debug("verification %s %s by key %s", key, "revealed (" + ",".join(sorted(reveal)) + ")" if reveal
              else "read", actor.key_name)
    return render(vault, row, reveal)


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"no such {field.replace('_', ' ')}", field=field) from None


def _encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        parts = []
    if len(parts) != count:
        raise InvalidInput.one("cursor", "is not a cursor this service returned")
    return parts


async def page(pool: asyncpg.Pool, vault: PhiVault | None, f: VerificationFilter, actor: Actor) -> VerificationPage:
    vault = require_vault(vault)
    after_at, after_id = None, None
    if f.cursor:
        at_text, id_text = _decode_cursor(f.cursor, 2)
        try:
            after_at, after_id = dt.datetime.fromisoformat(at_text), uuid.UUID(id_text)
        except ValueError:
            raise InvalidInput.one("cursor", "is not a cursor this service returned") from None
    rows = await pool.fetch(Q.verif_page, f.plan_id, f.status, f.from_, f.to, after_at, after_id, f.limit + 1)
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    await _audit(pool, actor, "list", [r["verification_id"] for r in rows])
    cursor = (_encode_cursor(rows[-1]["created_at"].isoformat(), str(rows[-1]["verification_id"]))
              if more else None)
    return VerificationPage([render(vault, r) for r in rows], cursor)


async def search(pool: asyncpg.Pool, vault: PhiVault | None, member_id: str, actor: Actor) -> list[Verification]:
    vault = require_vault(vault)
    rows = await pool.fetch(Q.verif_by_member, vault.lookup_hash(member_id), MAX_PAGE)
    await _audit(pool, actor, "search", [r["verification_id"] for r in rows] or [None])
    return [render(vault, r) for r in rows]


async def audit_page(pool: asyncpg.Pool, f: AuditFilter) -> AuditPage:
    before = None
    if f.cursor:
        (text,) = _decode_cursor(f.cursor, 1)
        if not text.isdigit():
            raise InvalidInput.one("cursor", "is not a cursor this service returned")
        before = int(text)
    rows = await pool.fetch(Q.verif_audit_page, f.from_, f.to, f.key_id, before, f.limit + 1)
    more = len(rows) > f.limit
    records = [AuditRecord(**dict(r)) for r in rows[: f.limit]]
    return AuditPage(records, _encode_cursor(str(records[-1].audit_id)) if more else None)


# --------------------------------------------------------------------------- pricing from a verification


class VerifiedCoverage(msgspec.Struct, frozen=True):
    plan_id: str | None
    benefits: Benefits
    accumulators: Accumulators


async def coverage_of(pool: asyncpg.Pool, verification_id: str, actor: Actor,
                      field: str = "coverage.verification_id") -> VerifiedCoverage:
    """The effective benefits and accumulators an estimate prices with (audited as ``price``)."""
    try:
        key = uuid.UUID(verification_id)
    except ValueError:
        raise NotFound("no such verification", field=field) from None
    row = await pool.fetchrow(Q.verif_get, key)
    if row is None:
        raise NotFound(f"no verification '{key}'", field=field)
    await _audit(pool, actor, "price", [key])
    return VerifiedCoverage(
        plan_id=row["plan_id"],
        benefits=msgspec.convert(row["effective_benefits"], Benefits, strict=False),
        accumulators=msgspec.convert(row["accumulators"], Accumulators, strict=False),
    )


async def resolve_coverage(pool: asyncpg.Pool, coverage: Any, actor: Actor | None) -> Any:
    """An estimate request's coverage with its ``verification_id`` replaced by the
    verification's effective benefits (and accumulators, unless the request sends
    its own).  ``actor`` is the staff key asking (the caller checked the role)."""
    if coverage is None or coverage.verification_id is None:
        return coverage
    clash = [f for f in ("plan_id", "benefits") if getattr(coverage, f) is not None]
    if clash:
        message = "send coverage.verification_id alone, without coverage.plan_id or coverage.benefits"
        raise InvalidInput([FieldProblem("coverage.verification_id", message),
                            *(FieldProblem(f"coverage.{f}", message) for f in clash)])
    assert actor is not None
    verified = await coverage_of(pool, coverage.verification_id, actor)
    # canonical id text: the memo and the stored document name the verification one way
    return msgspec.structs.replace(
        coverage, verification_id=str(uuid.UUID(coverage.verification_id)), plan_id=verified.plan_id,
        benefits=verified.benefits, accumulators=coverage.accumulators or verified.accumulators,
    )


# --------------------------------------------------------------------------- X12 271


def _partial_from_file(data: dict[str, Any], index: int) -> PartialBenefits:
    known = {k: v for k, v in (data or {}).items() if k in ("plan_year_start", "in_network", "out_of_network")}
    try:
        return msgspec.convert(known, PartialBenefits, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        raise InvalidInput.one(f"people[{index}].benefits", f"the 271 maps to benefits this service cannot "
                               f"use ({str(exc).split(' - at ')[0]})", code="x12-rejected") from None


def complete_accumulators(accumulators: dict[str, Any], remaining: dict[str, Any], file_benefits: PartialBenefits,
                          stored: Benefits | None, as_of: dt.date) -> tuple[Accumulators, list[str]]:
    """The file's accumulators, with ``met = plan amount − remaining`` where the file gave
    only what remains: the plan amount from the file, else from the stored plan."""
    warnings: list[str] = []
    acc = msgspec.convert(accumulators or {}, Accumulators, strict=False)
    effective = effective_benefits(stored, file_benefits)
    given = accumulators or {}
    networks: dict[str, NetworkAccumulators] = {}
    for network in NETWORKS:
        met = getattr(acc, network)
        plan = getattr(effective, network)
        left = (remaining or {}).get(network) or {}
        changes: dict[str, Decimal] = {}
        for kind, prefix_met in (("deductible", "deductible_met"), ("oop_max", "oop_met")):
            for tier in ("individual", "family"):
                field = prefix_met if tier == "individual" else f"family_{prefix_met}"
                amount_left = (left.get(kind) or {}).get(tier)
                if amount_left is None or field in (given.get(network) or {}):
                    continue
                amounts = getattr(plan, kind) if plan else None
                value = met_from_remaining(getattr(amounts, tier) if amounts else None, Decimal(str(amount_left)))
                if value is None:
                    warnings.append(f"{network} {kind.replace('_', ' ')} ({tier}): the file gives only the "
                                    f"remaining {amount_left} and no plan amount is known; {field} left unset")
                else:
                    changes[field] = value
        networks[network] = msgspec.structs.replace(met, **changes) if changes else met
    units = dict(acc.units_used)
    for level, left_units in ((remaining or {}).get("units") or {}).items():
        if level in units:
            continue
        limit = unit_limit(effective, level)
        if limit is not None:
            units[level] = max(0, limit - int(left_units))
        else:
            warnings.append(f"{level}: the file gives {left_units} units remaining and no limit is known; "
                            "units_used left unset")
    return msgspec.structs.replace(acc, in_network=networks["in_network"], out_of_network=networks["out_of_network"],
                                   units_used=units, as_of=acc.as_of or as_of), warnings


def drafts_from_271(catalog: Catalog, data: bytes, *, plan_id: str | None, verified_by: str | None,
                    today: dt.date) -> list[Draft]:
    """One draft per person of a 271 (docs/X12.md)."""
    if not data.strip():
        raise InvalidInput.one("", "the request body is empty; expected an X12 271 eligibility response")
    try:
        from tariffs.x12 import X12Rejected, read_271
    except ImportError:  # pragma: no cover - the reader ships on its own branch
        raise Unavailable("this build has no X12 271 reader; send the verification as JSON") from None
    plan = _plan(catalog, plan_id)
    try:
        parsed = read_271(data)
    except X12Rejected as exc:
        where = f"segment {exc.segment_index}" + (f" ({exc.segment_id})" if exc.segment_id else "")
        reason = f" (reject reason {exc.reject_code})" if exc.reject_code else ""
        raise InvalidInput([FieldProblem(where, f"{exc.message}{reason}")], code="x12-rejected",
                           detail=f"the 271 was rejected at {where}: {exc.message}{reason}") from None
    drafts = []
    for index, person in enumerate(parsed.people):
        if not person.member_id:
            raise InvalidInput.one(f"people[{index}]", "this person has no member id in the 271",
                                   code="x12-rejected")
        as_of = person.as_of or today
        check_as_of(as_of, today, f"people[{index}].as_of")
        benefits = _partial_from_file(person.benefits, index)
        accumulators, warnings = complete_accumulators(person.accumulators, person.remaining, benefits,
                                                       plan.benefits if plan else None, as_of)
        name = " ".join(p for p in (person.first_name, person.last_name) if p) or None
        drafts.append(Draft(
            source="x12_271", status="active" if person.status == "active" else "inactive", as_of=as_of,
            plan=plan, payer_name=person.payer_name or (catalog.payers.get(plan.payer_id) if plan else None),
            plan_name=person.plan_name or (plan.plan_name if plan else None),
            member_id=person.member_id, relationship=person.relationship,
            patient=PatientIn(name=name, date_of_birth=person.date_of_birth), benefits=benefits,
            accumulators=accumulators, verified_by=verified_by,
            unmapped=[Unmapped(u.segment, u.reason) for u in person.unmapped],
            warnings=[*parsed.warnings, *person.warnings, *warnings], raw_x12=data,
        ))
    if not drafts:
        raise InvalidInput.one("", "the 271 holds no subscriber or dependent", code="x12-rejected")
    return drafts
