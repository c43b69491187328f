"""Verified benefits: what staff learned from the payer, laid over the stored plan.

Pure functions over msgspec Structs (no I/O, no clock: ``today`` is passed in).

* ``PartialBenefits`` is the benefits shape of docs/API.md with every field optional:
  ``None`` means "the payer did not say" (so a verification cannot state "no limit"
  over a stored limit; docs/VERIFICATION.md says why that is acceptable).
* ``effective_benefits`` is what an estimate prices with: the stored plan with every
  verified field laid over it, or, without a stored plan, the contract's defaults.
* ``discrepancies`` lists the verified fields that differ from the stored plan.
* ``parity_flags`` compares behavioral levels with the plan's medical/surgical rows.
* ``clamp_accumulators`` keeps met amounts within the plan's maximums.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from costsvc.domain.errors import DomainError
from costsvc.domain.model import (
    LEVELS_OF_CARE,
    Accumulators,
    AllowedRule,
    Amounts,
    Benefits,
    CopayUnit,
    InputStruct,
    LevelBenefit,
    LevelOfCare,
    Money,
    NetworkAccumulators,
    NetworkBenefits,
    NetworkName,
    Percent,
)

NETWORKS: tuple[NetworkName, ...] = ("in_network", "out_of_network")
MedSurgClass = Literal["medsurg_inpatient", "medsurg_outpatient"]
MEDSURG_LEVELS: tuple[MedSurgClass, ...] = ("medsurg_inpatient", "medsurg_outpatient")
#: Which behavioral levels each medical/surgical comparison row stands for.
PARITY_CLASSES: tuple[tuple[MedSurgClass, str, tuple[LevelOfCare, ...]], ...] = (
    ("medsurg_inpatient", "inpatient", ("residential", "detox")),
    ("medsurg_outpatient", "outpatient", ("php", "iop", "outpatient")),
)
PARITY_NOTE = (
    "A prompt for review: the behavioral benefit looks stricter than the comparable "
    "medical/surgical one. Not a legal finding of a parity violation."
)
VerificationStatus = Literal["active", "inactive"]
#: plan network -> comparison class -> the medical/surgical row.
MedSurgRows = dict[str, dict[str, LevelBenefit]]


class InvalidVerification(DomainError):
    """A verification the service cannot record (a future as-of date, …)."""

    code = "invalid_verification"


# --------------------------------------------------------------------------- partial benefits


class PartialLevelBenefit(InputStruct, omit_defaults=True):
    covered: bool | None = None
    copay: Money | None = None
    copay_unit: CopayUnit | None = None
    deductible_applies: bool | None = None
    coinsurance_pct: Percent | None = None
    limit_units: Annotated[int, msgspec.Meta(ge=0)] | None = None
    prior_auth: bool | None = None


class PartialNetworkBenefits(InputStruct, omit_defaults=True):
    deductible: Amounts | None = None
    oop_max: Amounts | None = None
    allowed: AllowedRule | None = None
    balance_billing: bool | None = None
    levels: dict[LevelOfCare, PartialLevelBenefit] = {}


class PartialBenefits(InputStruct, omit_defaults=True):
    plan_year_start: Annotated[str, msgspec.Meta(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")] | None = None
    in_network: PartialNetworkBenefits | None = None
    out_of_network: PartialNetworkBenefits | None = None

    def network(self, name: str) -> PartialNetworkBenefits | None:
        return self.in_network if name == "in_network" else self.out_of_network


class Discrepancy(msgspec.Struct, frozen=True):
    field: str
    stored: str | None
    verified: str | None
    used: Literal["verified"] = "verified"


class ParityFlag(msgspec.Struct, frozen=True):
    classification: str  # "outpatient, in network"
    level: str
    field: str
    behavioral: str | None
    medical: str | None
    note: str = PARITY_NOTE


_LEVEL_FIELDS = ("covered", "copay", "copay_unit", "deductible_applies", "coinsurance_pct", "limit_units",
                 "prior_auth")


def render(value: Any) -> str | None:
    """A field value as the contract shows it in discrepancies and flags."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, msgspec.Struct):
        return msgspec.json.encode(value).decode()
    return str(value)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _norm(field: str, value: Any) -> Any:
    """Comparable and printable form: money to the cent, percentages without trailing zeros."""
    if isinstance(value, Decimal):
        return _money(value) if field in _MONEY_FIELDS else _percent(value)
    if isinstance(value, msgspec.Struct):
        return tidy(value)
    return value


# --------------------------------------------------------------------------- effective benefits


def _overlay_amounts(stored: Amounts | None, verified: Amounts | None) -> Amounts | None:
    if verified is None:
        return stored
    base = stored or Amounts()
    return Amounts(
        individual=verified.individual if verified.individual is not None else base.individual,
        family=verified.family if verified.family is not None else base.family,
    )


def _overlay_level(base: LevelBenefit, verified: PartialLevelBenefit) -> LevelBenefit:
    changes = {f: getattr(verified, f) for f in _LEVEL_FIELDS if getattr(verified, f) is not None}
    return msgspec.structs.replace(base, **changes) if changes else base


def _default_level(active: bool) -> LevelBenefit:
    """A level the payer named but nobody priced: the contract's defaults."""
    return LevelBenefit(covered=active, copay=Decimal("0"), deductible_applies=True,
                        coinsurance_pct=Decimal("0"), limit_units=None, prior_auth=False)


def _overlay_network(stored: NetworkBenefits | None, verified: PartialNetworkBenefits | None,
                     active: bool) -> NetworkBenefits | None:
    if verified is None:
        return stored
    base = stored or NetworkBenefits()
    levels = dict(base.levels)
    for level, partial in verified.levels.items():
        levels[level] = _overlay_level(levels.get(level) or _default_level(active), partial)
    return NetworkBenefits(
        deductible=_overlay_amounts(base.deductible, verified.deductible),
        oop_max=_overlay_amounts(base.oop_max, verified.oop_max),
        allowed=verified.allowed if verified.allowed is not None else base.allowed,
        balance_billing=verified.balance_billing if verified.balance_billing is not None else base.balance_billing,
        levels={lv: levels[lv] for lv in LEVELS_OF_CARE if lv in levels},
    )


def effective_benefits(stored: Benefits | None, verified: PartialBenefits,
                       status: VerificationStatus = "active") -> Benefits:
    """The benefits an estimate from this verification prices with.

    Every verified field wins over the stored plan's.  A level the verification
    names but the plan lacks (or without a plan) starts from the contract's
    defaults: covered when the person is active, no copay or coinsurance, the
    deductible applies, no limit, no prior authorization.  An inactive person has
    no covered level, whatever the plan says."""
    active = status == "active"
    base = stored or Benefits()
    result = Benefits(
        payer_id=base.payer_id,
        plan_year_start=verified.plan_year_start or base.plan_year_start,
        in_network=_overlay_network(base.in_network, verified.in_network, active),
        out_of_network=_overlay_network(base.out_of_network, verified.out_of_network, active),
    )
    if active:
        return result
    return msgspec.structs.replace(
        result,
        in_network=_not_covered(result.in_network),
        out_of_network=_not_covered(result.out_of_network),
    )


def _not_covered(network: NetworkBenefits | None) -> NetworkBenefits | None:
    if network is None:
        return None
    levels = {lv: msgspec.structs.replace(b, covered=False) for lv, b in network.levels.items()}
    return msgspec.structs.replace(network, levels=levels)


# --------------------------------------------------------------------------- discrepancies


def verified_fields(verified: PartialBenefits) -> list[tuple[str, Any]]:
    """(dotted path, value) of every field the verification states, in a stable order."""
    out: list[tuple[str, Any]] = []
    if verified.plan_year_start is not None:
        out.append(("plan_year_start", verified.plan_year_start))
    for name in NETWORKS:
        net = verified.network(name)
        if net is None:
            continue
        for amounts_name in ("deductible", "oop_max"):
            amounts = getattr(net, amounts_name)
            if amounts is not None:
                for tier in ("individual", "family"):
                    value = getattr(amounts, tier)
                    if value is not None:
                        out.append((f"{name}.{amounts_name}.{tier}", value))
        if net.allowed is not None:
            out.append((f"{name}.allowed", net.allowed))
        if net.balance_billing is not None:
            out.append((f"{name}.balance_billing", net.balance_billing))
        for level in LEVELS_OF_CARE:
            partial = net.levels.get(level)
            if partial is None:
                continue
            for f in _LEVEL_FIELDS:
                value = getattr(partial, f)
                if value is not None:
                    out.append((f"{name}.levels.{level}.{f}", value))
    return out


def stored_value(stored: Benefits, path: str) -> Any:
    """The stored plan's value at a path of ``verified_fields`` (None where it has none)."""
    parts = path.split(".")
    if parts[0] == "plan_year_start":
        return stored.plan_year_start
    net = stored.in_network if parts[0] == "in_network" else stored.out_of_network
    if net is None:
        return None
    if parts[1] in ("deductible", "oop_max"):
        amounts = getattr(net, parts[1])
        return getattr(amounts, parts[2]) if amounts is not None else None
    if parts[1] in ("allowed", "balance_billing"):
        return getattr(net, parts[1])
    level = net.levels.get(parts[2])  # type: ignore[call-overload]
    return getattr(level, parts[3]) if level is not None else None


def discrepancies(stored: Benefits | None, verified: PartialBenefits) -> list[Discrepancy]:
    """One per verified field whose value differs from the stored plan's (none without a plan)."""
    if stored is None:
        return []
    out = []
    for path, value in verified_fields(verified):
        field = path.rsplit(".", 1)[-1]
        before = stored_value(stored, path)
        if _norm(field, before) != _norm(field, value):
            out.append(Discrepancy(path, render(_norm(field, before)), render(_norm(field, value))))
    return out


# --------------------------------------------------------------------------- parity


def _stricter(behavioral: LevelBenefit, medical: LevelBenefit) -> list[tuple[str, Any, Any]]:
    found: list[tuple[str, Any, Any]] = []
    if behavioral.copay > medical.copay:
        found.append(("copay", _money(behavioral.copay), _money(medical.copay)))
    if behavioral.coinsurance_pct > medical.coinsurance_pct:
        found.append(("coinsurance_pct", _percent(behavioral.coinsurance_pct), _percent(medical.coinsurance_pct)))
    if behavioral.deductible_applies and not medical.deductible_applies:
        found.append(("deductible_applies", True, False))
    if behavioral.prior_auth and not medical.prior_auth:
        found.append(("prior_auth", True, False))
    if behavioral.limit_units is not None and (medical.limit_units is None
                                               or medical.limit_units > behavioral.limit_units):
        found.append(("limit_units", behavioral.limit_units, medical.limit_units))
    return found


def parity_flags(benefits: Benefits, medsurg: MedSurgRows) -> list[ParityFlag]:
    """A flag per field where a covered behavioral level is stricter than the covered
    medical/surgical row of its classification, in the same network."""
    flags = []
    for network in NETWORKS:
        net = benefits.in_network if network == "in_network" else benefits.out_of_network
        rows = medsurg.get(network) or {}
        if net is None:
            continue
        for medsurg_level, classification, levels in PARITY_CLASSES:
            medical = rows.get(medsurg_level)
            if medical is None or not medical.covered:
                continue
            label = f"{classification}, {network.replace('_', ' ')}"
            for level in levels:
                behavioral = net.levels.get(level)
                if behavioral is None or not behavioral.covered:
                    continue
                for field, b, m in _stricter(behavioral, medical):
                    flags.append(ParityFlag(label, level, field, render(b), render(m)))
    return flags


# --------------------------------------------------------------------------- accumulators


def unit_limit(benefits: Benefits, level: str) -> int | None:
    """A level's covered units per plan year: the larger of its networks' limits
    (units_used is kept per level, not per network), None when neither states one."""
    limits = [net.levels[level].limit_units for net in (benefits.in_network, benefits.out_of_network)
              if net is not None and level in net.levels and net.levels[level].limit_units is not None]
    return max(limits) if limits else None  # type: ignore[type-var]


def clamp_accumulators(accumulators: Accumulators, benefits: Benefits) -> tuple[Accumulators, list[str]]:
    """Met amounts above the plan's stated maximums are lowered to them (with a
    warning each): a payer's accumulator cannot exceed the maximum it counts to.
    Where the plan states no maximum there is nothing to clamp to."""
    warnings: list[str] = []
    clamped: dict[str, NetworkAccumulators] = {}
    for network in NETWORKS:
        met: NetworkAccumulators = getattr(accumulators, network)
        plan = benefits.in_network if network == "in_network" else benefits.out_of_network
        ded = plan.deductible if plan else None
        oop = plan.oop_max if plan else None
        changes = {}
        for field, amounts, tier, what in (
            ("deductible_met", ded, "individual", "individual deductible"),
            ("family_deductible_met", ded, "family", "family deductible"),
            ("oop_met", oop, "individual", "individual out-of-pocket maximum"),
            ("family_oop_met", oop, "family", "family out-of-pocket maximum"),
        ):
            ceiling = getattr(amounts, tier) if amounts is not None else None
            value = getattr(met, field)
            if ceiling is not None and value > ceiling:
                changes[field] = ceiling
                warnings.append(f"accumulators.{network}.{field} {_money(value)} is above the "
                                f"{what} {_money(ceiling)}; clamped to it")
        clamped[network] = msgspec.structs.replace(met, **changes) if changes else met
    units = dict(accumulators.units_used)
    for level, used in accumulators.units_used.items():
        limit = unit_limit(benefits, level)
        if limit is not None and used > limit:
            units[level] = limit
            warnings.append(f"accumulators.units_used.{level} {used} is above the limit of {limit} "
                            "units; clamped to it")
    return msgspec.structs.replace(accumulators, in_network=clamped["in_network"],
                                   out_of_network=clamped["out_of_network"], units_used=units), warnings


def check_as_of(as_of: dt.date, today: dt.date, field: str = "as_of") -> None:
    """A verification states what the payer said up to now: a future date is a typo."""
    if as_of > today:
        raise InvalidVerification(field, f"must not be in the future (today is {today.isoformat()})")


def met_from_remaining(plan_amount: Decimal | None, remaining: Decimal) -> Decimal | None:
    """What is met when the payer reports what remains (docs/X12.md, "Periods"):
    plan amount − remaining, never below 0; None without a plan amount."""
    if plan_amount is None:
        return None
    return max(Decimal("0"), plan_amount - remaining)


_MONEY_FIELDS = frozenset({"copay", "individual", "family", "deductible_met", "oop_met", "family_deductible_met",
                           "family_oop_met"})


def _percent(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def tidy(value: Any) -> Any:
    """Benefits (whole or partial) with money to the cent and percentages without
    trailing zeros, as the contract prints them ("20.00", "20")."""
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if not isinstance(value, msgspec.Struct):
        return value
    changes = {}
    for name in value.__struct_fields__:
        item = getattr(value, name)
        if isinstance(item, Decimal):
            changes[name] = _money(item) if name in _MONEY_FIELDS else _percent(item)
        elif isinstance(item, msgspec.Struct | dict):
            changes[name] = tidy(item)
    return msgspec.structs.replace(value, **changes) if changes else value
