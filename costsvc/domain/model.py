"""The vocabulary of the pricing core: plain msgspec Structs and Decimals, no I/O.

These types are the contract between the HTTP layer, the tariff store and the
engine (``costsvc.domain.engine``).  Request-side structs double as the API's
input schemas, so field names follow docs/API.md exactly.

Money fields are annotated ``Money`` and percentages ``Percent``: the API's
validator finds them by that annotation (``Meta.extra["kind"]``) to reject
negative, non-finite or over-precise amounts with the field's path.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
import typing
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

import msgspec

from costsvc.domain.money import CENT, AmountSyntaxError, parse_amount

#: At most nine digits before the point: below $1 billion, beyond any episode, deductible or income.
MONEY_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"
#: Percentages carry up to three decimals: what the tariff tables store (numeric(7, 3)).
PERCENT_PLACES = 3
PERCENT_PATTERN = r"^[0-9]+(\.[0-9]{1,3})?$"

Money = Annotated[
    Decimal,
    msgspec.Meta(
        extra={"kind": "money"},
        extra_json_schema={"type": "string", "pattern": MONEY_PATTERN, "maxLength": 20, "examples": ["1234.50"]},
        description="Money: a string of ASCII digits (at most 9) with at most two decimals (`\"1234.5\"`).",
    ),
]


def _percent(kind: str, maximum: int, example: str, description: str) -> msgspec.Meta:
    """A percentage: the amount grammar with three decimals as a string, or a whole JSON number."""
    return msgspec.Meta(
        extra={"kind": kind},
        extra_json_schema={
            "anyOf": [
                {"type": "string", "pattern": PERCENT_PATTERN, "maxLength": 20},
                {"type": "integer", "minimum": 0, "maximum": maximum},
            ],
            "examples": [example],
        },
        description=description + " A decimal string (at most three decimals) or a whole JSON number.",
    )


Percent = Annotated[Decimal, _percent("percent", 100, "20", "Percentage, 0-100 (`\"20\"` is 20 %).")]

MONEY_CEILING = Decimal("999999999.99")  # what MONEY_PATTERN admits
_PERCENT_CEILINGS = {"percent": Decimal(100), "allowed_percent": Decimal(1000)}

#: Identifiers sent in requests (program, plan, payer ids): what a URL path segment can carry.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Identifier = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN,
        extra={"hint": "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"},
        examples=["sunrise-recovery"],
    ),
]


def _amount_text(kind: str, value: object) -> str | AmountSyntaxError:
    """The text of an amount as the request wrote it (a JSON string, or a whole JSON
    number for percentages), or the reason it cannot be one."""
    if isinstance(value, str):
        return value
    if kind == "money":
        return AmountSyntaxError('must be a string such as "1234.50" (JSON numbers lose cents)')
    if type(value) is int or (type(value) is float and value.is_integer()):
        return "-" if repr(value).startswith("-") else str(int(value))  # "-": negative, -0.0 included
    if type(value) is float:
        return AmountSyntaxError('must be a whole number, or a string such as "12.5" for a fraction')
    return AmountSyntaxError('must be a number or a string such as "20"')


# What most requests send, accepted without parsing: money of at most 9 digits and 2
# decimals (below MONEY_CEILING), a percentage below 100 with at most 3 decimals (below
# every percentage ceiling).  Anything else takes the full check and its reasons.
_PLAIN_MONEY = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?", re.ASCII).fullmatch
_PLAIN_PERCENT = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,3})?", re.ASCII).fullmatch


def amount_problem(kind: str, value: object) -> str | None:
    """What is wrong with a Money or Percent value, or None when it is acceptable.

    ``value`` is what a request sent (checked against the one amount grammar,
    ``parse_amount``) or a Decimal already converted (checked for range only)."""
    if type(value) is str and (_PLAIN_MONEY if kind == "money" else _PLAIN_PERCENT)(value):
        return None
    return full_amount_problem(kind, value)


def full_amount_problem(kind: str, value: object) -> str | None:
    """``amount_problem`` without the shortcut for plain amounts (which it must agree with)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "must be a finite number"
        if value.is_signed():
            return "must not be negative"
        number = value
    else:
        text = _amount_text(kind, value)
        if isinstance(text, AmountSyntaxError):
            return text.reason
        if len(text) > 20:
            return "must have at most 20 characters"
        if kind == "money" and len(text.partition(".")[0]) > 9:
            return "must have at most 9 digits before the decimal point"
        try:
            number = parse_amount(text, places=2 if kind == "money" else PERCENT_PLACES)
        except AmountSyntaxError as exc:
            return exc.reason
    if kind == "money":
        if number > MONEY_CEILING:
            return f"must not exceed {MONEY_CEILING}"
        if number != number.quantize(CENT, rounding="ROUND_DOWN"):
            return "has more than 2 decimals"
    elif kind in _PERCENT_CEILINGS and number > _PERCENT_CEILINGS[kind]:
        return f"must be between 0 and {_PERCENT_CEILINGS[kind]}"
    return None


@cache
def _checked_fields(cls: type) -> tuple[tuple[str, str], ...]:
    found = []
    for name, hint in typing.get_type_hints(cls, include_extras=True).items():
        for candidate in (hint, *typing.get_args(hint)):
            if typing.get_origin(candidate) is Annotated:
                for meta in typing.get_args(candidate)[1:]:
                    kind = (getattr(meta, "extra", None) or {}).get("kind")
                    if kind:
                        found.append((name, kind))
    return tuple(found)


#: True while a value whose every amount was already checked (with the reasons a caller
#: reads) is turned into Structs: their own check would repeat it (``convert_checked``).
_AMOUNTS_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("amounts_checked", default=False)

T = typing.TypeVar("T")


def convert_checked(data: object, annotation: type[T]) -> T:
    """``msgspec.convert(data, annotation)`` for data whose amounts were all checked by
    ``amount_problem`` already (the API's body checks): the Structs skip checking them again."""
    token = _AMOUNTS_CHECKED.set(True)
    try:
        return msgspec.convert(data, annotation, strict=False)
    finally:
        _AMOUNTS_CHECKED.reset(token)


class InputStruct(msgspec.Struct, forbid_unknown_fields=True):
    """A request-side struct: its Money and Percent fields are checked on decode and init."""

    def __post_init__(self) -> None:
        if _AMOUNTS_CHECKED.get():
            return
        for name, kind in _checked_fields(type(self)):
            value = getattr(self, name)
            if value is not None:
                problem = amount_problem(kind, value)
                if problem:
                    raise ValueError(f"{name} {problem}")


# An allowed-amount rule may exceed 100 % of a reference (e.g. 150 % of Medicare).
AllowedPercent = Annotated[Decimal, _percent(
    "allowed_percent", 1000, "150",
    "Percentage for an allowed-amount rule, 0-1000 (150 % of a reference rate is common).")]

LevelOfCare = Literal["detox", "residential", "php", "iop", "outpatient"]
LEVELS_OF_CARE: tuple[LevelOfCare, ...] = ("detox", "residential", "php", "iop", "outpatient")

# The 50 states and DC: the regions the HHS poverty guidelines cover (AK and HI have
# their own; the rest share the "48 states + DC" guideline).  A household is in one.
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)
# Territories with a USPS code: a facility may be there (a fee schedule's ``state``),
# but the HHS guidelines do not cover them.
US_TERRITORIES = frozenset("PR VI GU AS MP".split())
Frequency = Literal["per_service", "per_episode"]
CopayUnit = Literal["per_day", "per_visit", "per_admission"]
NetworkName = Literal["in_network", "out_of_network"]
NetworkChoice = Literal["auto", "in_network", "out_of_network"]
NetworkStatus = Literal["in_network", "out_of_network", "self_pay"]
Tier = Literal["individual", "family"]
RateType = Literal["dollar", "percent_of_billed"]
AllowedMethod = Literal["percent_of_billed", "percent_of_reference"]
GuidelineRegion = Literal["48", "AK", "HI"]


# --------------------------------------------------------------------------- benefits


class AllowedRule(InputStruct):
    method: AllowedMethod
    percent: AllowedPercent


class Amounts(InputStruct):
    """Individual and family amounts of a deductible or out-of-pocket maximum."""

    individual: Money | None = None
    family: Money | None = None


class LevelBenefit(InputStruct):
    covered: bool = True
    copay: Money = Decimal("0")
    copay_unit: CopayUnit = "per_day"
    deductible_applies: bool = True
    coinsurance_pct: Percent = Decimal("0")
    limit_units: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None
    prior_auth: bool = False


class NetworkBenefits(InputStruct):
    deductible: Amounts | None = None
    oop_max: Amounts | None = None
    allowed: AllowedRule | None = None
    balance_billing: bool = False
    levels: dict[LevelOfCare, LevelBenefit] = {}


class Benefits(InputStruct):
    payer_id: Identifier | None = None
    plan_year_start: Annotated[
        str,
        msgspec.Meta(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", extra={"hint": "a month and day written MM-DD"}),
    ] = "01-01"
    in_network: NetworkBenefits | None = None
    out_of_network: NetworkBenefits | None = None


class NetworkAccumulators(InputStruct):
    deductible_met: Money = Decimal("0")
    oop_met: Money = Decimal("0")
    family_deductible_met: Money = Decimal("0")
    family_oop_met: Money = Decimal("0")


class Accumulators(InputStruct):
    as_of: dt.date | None = None
    in_network: NetworkAccumulators = msgspec.field(default_factory=NetworkAccumulators)
    out_of_network: NetworkAccumulators = msgspec.field(default_factory=NetworkAccumulators)
    units_used: dict[LevelOfCare, Annotated[int, msgspec.Meta(ge=0, le=100_000)]] = {}


# --------------------------------------------------------------------------- tariffs


class FeeLine(msgspec.Struct, frozen=True):
    """One priced line of a program's fee schedule for one level of care."""

    billing_code: str
    description: str
    frequency: Frequency
    gross_charge: Decimal
    cash_price: Decimal | None = None


class NegotiatedRate(msgspec.Struct, frozen=True):
    """A contracted rate of one payer with one program for one billing code."""

    billing_code: str
    rate_type: RateType
    rate: Decimal
    effective_date: dt.date
    expiration_date: dt.date | None = None  # inclusive; None = open-ended


class PovertyGuideline(msgspec.Struct, frozen=True):
    year: int
    region: GuidelineRegion
    base: Decimal
    per_additional_person: Decimal


class SlidingTier(InputStruct, frozen=True):
    """One tier of a sliding-fee policy: exactly one of discount_percent / nominal_fee.
    ``max_fpl_percent`` None: the open-ended last tier (every income above the previous one)."""

    max_fpl_percent: Decimal | None
    discount_percent: Decimal | None = None
    nominal_fee: Decimal | None = None
    name: str | None = None


class PaymentTerm(InputStruct, frozen=True):
    """One term a program offers: its APR and the least monthly payment it accepts."""

    months: int
    apr: Decimal = Decimal("0")
    min_monthly: Decimal = Decimal("25.00")


class PaymentPlanPolicy(InputStruct, frozen=True):
    """A program's payment-plan terms.  ``offers`` (imported ``payment_terms``) gives each
    term its own APR and minimum; without them every term of ``terms`` has ``apr`` and
    ``min_monthly``.  ``min_down_payment``: the least down payment the program takes."""

    terms: tuple[int, ...] = (3, 6, 12)
    apr: Decimal = Decimal("0")
    min_monthly: Decimal = Decimal("25.00")
    offers: tuple[PaymentTerm, ...] = ()
    min_down_payment: Decimal | None = None

    def term_offers(self) -> tuple[PaymentTerm, ...]:
        if self.offers:
            return self.offers
        return tuple(PaymentTerm(n, self.apr, self.min_monthly) for n in self.terms)


# --------------------------------------------------------------------------- request side


class EpisodeRequest(InputStruct):
    start_date: dt.date | None = None
    # At most what the engine prices (episode.MAX_WEEKS, MAX_UNITS): said here, the schema says it too.
    weeks: Annotated[int, msgspec.Meta(ge=1, le=104)] | None = None
    days_per_week: Annotated[int, msgspec.Meta(ge=1, le=7)] | None = None
    sessions_per_week: Annotated[int, msgspec.Meta(ge=1, le=14)] | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=730)] | None = None


class Household(InputStruct):
    size: Annotated[int, msgspec.Meta(ge=1, le=50)]
    annual_income: Money
    state: Annotated[str, msgspec.Meta(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$", examples=["CA"],
                                       extra={"hint": "a two-letter US state code"})]


class PricingRequest(msgspec.Struct):
    """Everything the engine needs to price one episode, already resolved from storage.

    ``benefits`` None means self-pay.  ``negotiated_rates`` are all stored rates of
    the benefits' payer with this program (any dates: the engine picks the one
    valid on each claim date); ``reference_rates`` maps billing code to the payer's
    reference rate.  ``sliding_policy`` None means the default HRSA-style policy.
    """

    program_id: str
    level_of_care: LevelOfCare
    fee_lines: tuple[FeeLine, ...]
    episode: EpisodeRequest
    today: dt.date
    benefits: Benefits | None = None
    network: NetworkChoice = "auto"
    tier: Tier = "individual"
    accumulators: Accumulators = msgspec.field(default_factory=Accumulators)
    negotiated_rates: tuple[NegotiatedRate, ...] = ()
    reference_rates: dict[str, Decimal] = {}
    household: Household | None = None
    poverty_guidelines: tuple[PovertyGuideline, ...] = ()
    sliding_policy: tuple[SlidingTier, ...] | None = None
    payment_plan_policy: PaymentPlanPolicy = PaymentPlanPolicy()
    down_payment: Decimal = Decimal("0")
    plan_effective_date: dt.date | None = None  # a stored plan's; None for inline benefits
    # List every claim in the result (``PricedEpisode.claims``).  The engine prices runs of
    # equal claims without visiting them; listing them is the only part of an estimate
    # whose cost grows with the episode's length.
    include_claims: bool = True


# --------------------------------------------------------------------------- result side
# All money in results is quantized to cents, so msgspec encodes "1234.50".
# Structs holding only scalars are ``gc=False``: they cannot be part of a reference cycle,
# and an estimate builds dozens of them (a claim each with ``include_claims``), each
# cheaper to create untracked.


class EpisodeSummary(msgspec.Struct, gc=False):
    start_date: dt.date
    end_date: dt.date
    units: int
    unit: Literal["day", "session"]


class EstimateLine(msgspec.Struct, gc=False):
    billing_code: str
    description: str
    frequency: Frequency
    quantity: int
    billed: Decimal
    allowed: Decimal
    plan_pays: Decimal
    patient_pays: Decimal


class Totals(msgspec.Struct, gc=False):
    billed: Decimal
    allowed: Decimal
    plan_pays: Decimal
    patient_pays: Decimal
    deductible: Decimal
    copay: Decimal
    coinsurance: Decimal
    not_covered: Decimal
    balance_bill: Decimal


class AccumulatedAmounts(msgspec.Struct, gc=False):
    """Met amounts after an episode: the result-side twin of NetworkAccumulators,
    without the request-side checks (an uncapped plan can accumulate any amount)."""

    deductible_met: Decimal
    oop_met: Decimal
    family_deductible_met: Decimal
    family_oop_met: Decimal


class AccumulatorsAfter(msgspec.Struct):
    in_network: AccumulatedAmounts
    out_of_network: AccumulatedAmounts
    units_used: dict[str, int] = {}


class MonthTotal(msgspec.Struct, gc=False):
    month: str  # "YYYY-MM"
    patient_pays: Decimal


class RangePoint(msgspec.Struct, gc=False):
    units: int
    patient_pays: Decimal


class PriceRange(msgspec.Struct):
    low: RangePoint
    high: RangePoint


class SelfPay(msgspec.Struct, gc=False):
    cash_total: Decimal
    fpl_percent: Decimal | None
    tier: str | None
    discount_percent: Decimal | None
    patient_pays: Decimal
    nominal_fee: Decimal | None = None


class PaymentPlanQuote(msgspec.Struct, gc=False):
    months: int
    apr: Decimal
    down_payment: Decimal
    monthly_payment: Decimal
    final_payment: Decimal
    total_interest: Decimal
    total_paid: Decimal


class Notice(msgspec.Struct, gc=False):
    code: str
    message: str


class Claim(msgspec.Struct, gc=False):
    """One priced claim (one billable unit or one per-episode line)."""

    date: dt.date
    billing_code: str
    frequency: Frequency
    billed: Decimal
    allowed: Decimal
    plan_pays: Decimal
    patient_pays: Decimal
    deductible: Decimal = Decimal("0.00")
    copay: Decimal = Decimal("0.00")
    coinsurance: Decimal = Decimal("0.00")
    not_covered: Decimal = Decimal("0.00")
    balance_bill: Decimal = Decimal("0.00")


class PricedEpisode(msgspec.Struct, omit_defaults=True):
    """The engine's answer; the API adds estimate_id and the echo of the request.

    ``claims`` is the only field with a default: an empty list (claims not asked for)
    is left out of the encoded document."""

    program_id: str
    level_of_care: LevelOfCare
    network_status: NetworkStatus
    episode: EpisodeSummary
    lines: list[EstimateLine]
    totals: Totals
    accumulators_after: AccumulatorsAfter
    by_month: list[MonthTotal]
    range: PriceRange
    selfpay: SelfPay | None
    payment_plans: list[PaymentPlanQuote]
    notices: list[Notice]
    disclaimer: str
    claims: list[Claim] = []
