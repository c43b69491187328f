"""Good Faith Estimates (No Surprises Act, 45 CFR 149.610): the rules, and the one
view model every rendering (HTML, PDF, FHIR) is made from.

Pure: no I/O, no clock (``today`` is passed in).  The pricing itself is the
engine's (the service re-prices the estimate as self-pay); this module decides
what a GFE must say about it: who it is for, the items with their dates, the
timing deadline in business days, the 12-month validity and the disclaimers.

The business-day calendar is Monday to Friday less the US federal holidays of
the ``holidays`` package (the eleven of 5 U.S.C. 6103, with the observed
Friday or Monday when one falls on a weekend).  docs/DOCUMENTS.md says why and how deadlines are counted.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from calendar import monthrange
from collections.abc import Container
from decimal import Decimal
from functools import lru_cache
from typing import Literal

import msgspec

from costsvc.domain.errors import DomainError
from costsvc.domain.levels import LEVELS
from costsvc.domain.model import EpisodeRequest, LevelOfCare, PricedEpisode

RequestedBy = Literal["patient", "provider"]
DeadlineBasis = Literal["scheduled_3_days", "scheduled_10_days", "scheduled_short_notice", "requested"]

MAX_AGE_YEARS = 130
MAX_DIAGNOSIS_CODES = 12
MAX_NAME_LENGTH = 200
VALIDITY_MONTHS = 12
DISPUTE_THRESHOLD = Decimal("400.00")
DISPUTE_DAYS = 120

# ICD-10-CM as the contract checks it: a letter, two characters, then optionally a
# dot and one to four more.  Lower case and surrounding blanks are normalized first.
ICD10_CM = re.compile(r"[A-Z][0-9A-Z]{2}(\.[0-9A-Z]{1,4})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# CMS place-of-service code by level of care (docs/DOCUMENTS.md: why these).
PLACE_OF_SERVICE: dict[str, tuple[str, str]] = {
    "detox": ("55", "Residential Substance Abuse Treatment Facility"),
    "residential": ("55", "Residential Substance Abuse Treatment Facility"),
    "php": ("52", "Psychiatric Facility-Partial Hospitalization"),
    "iop": ("57", "Non-residential Substance Abuse Treatment Facility"),
    "outpatient": ("11", "Office"),
}

DISCLAIMERS: tuple[tuple[str, str], ...] = (
    ("estimate_only",
     "This Good Faith Estimate shows the costs of items and services that are reasonably expected for "
     "your health care needs. It is only an estimate: the actual items, services or charges may differ "
     "from this estimate."),
    ("other_services",
     "Other items or services may be recommended as part of your care that are not included in this "
     "estimate. They would be estimated separately, in their own Good Faith Estimate."),
    ("dispute_rights",
     "You have the right to start the patient-provider dispute resolution process if you are billed "
     "$400 or more above this Good Faith Estimate for this provider. You must start the process within "
     "120 calendar days of the date on the bill. Starting a dispute does not affect the quality of the "
     "care you receive. For questions or to start a dispute, visit www.cms.gov/nosurprises or call "
     "1-800-985-3059."),
    ("not_a_contract",
     "This Good Faith Estimate is not a contract and does not require you to obtain the items or "
     "services from this provider."),
    ("keep_a_copy",
     "Keep a copy of this Good Faith Estimate, in paper or electronic form, in a safe place: you will "
     "need it if you dispute a bill."),
)


class GfeInvalid(DomainError):
    """A GFE request field the rule cannot accept (never echoes the value: it may be PHI)."""

    code = "invalid_gfe"


class GfeTooLong(GfeInvalid):
    """Recurring services of more than 12 months need one GFE per 12 months."""

    code = "gfe_longer_than_12_months"


# --------------------------------------------------------------------------- checks


def normalize_name(name: str) -> str:
    """NFC (one code point per accented letter, as fonts expect) and single spaces."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def normalize_diagnosis_code(code: str) -> str:
    return code.strip().upper()


def check_patient(name: str, date_of_birth: dt.date, today: dt.date) -> list[tuple[str, str]]:
    """Field problems of the patient part: (field, message) pairs, values never quoted."""
    problems = []
    clean = name.strip()
    if not clean:
        problems.append(("patient.name", "must not be empty"))
    elif len(clean) > MAX_NAME_LENGTH:
        problems.append(("patient.name", f"must be at most {MAX_NAME_LENGTH} characters"))
    elif _CONTROL.search(clean):
        problems.append(("patient.name", "must not contain control characters"))
    if date_of_birth > today:
        problems.append(("patient.date_of_birth", "must not be in the future"))
    elif date_of_birth < add_years(today, -MAX_AGE_YEARS):
        problems.append(("patient.date_of_birth", f"must be less than {MAX_AGE_YEARS} years ago"))
    return problems


def check_diagnosis_codes(codes: list[str]) -> list[tuple[str, str]]:
    problems = []
    if len(codes) > MAX_DIAGNOSIS_CODES:
        problems.append(("diagnosis_codes", f"at most {MAX_DIAGNOSIS_CODES} codes"))
    seen: set[str] = set()
    for i, raw in enumerate(codes):
        code = normalize_diagnosis_code(raw)
        if not ICD10_CM.fullmatch(code):
            problems.append((f"diagnosis_codes[{i}]", "is not an ICD-10-CM code (a letter, two characters, "
                             "then optionally a dot and up to four more, e.g. F10.20)"))
        elif code in seen:
            problems.append((f"diagnosis_codes[{i}]", "repeats an earlier code"))
        seen.add(code)
    return problems


# --------------------------------------------------------------------------- calendar


def add_years(day: dt.date, years: int) -> dt.date:
    """The same month and day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` later, or the month's last day when it has fewer."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, monthrange(year, month)[1]))


@lru_cache(maxsize=1)
def us_federal_holidays() -> Container[dt.date]:
    """US federal holidays (observed dates included), any year, from the ``holidays`` package."""
    import holidays  # a pure data package; imported here so the engine's import stays light

    return holidays.country_holidays("US", observed=True)


def is_business_day(day: dt.date, calendar: Container[dt.date]) -> bool:
    return day.weekday() < 5 and day not in calendar


def add_business_days(day: dt.date, count: int, calendar: Container[dt.date]) -> dt.date:
    """The ``count``-th business day after ``day`` (``day`` itself never counts)."""
    if count < 0:
        raise ValueError("count must not be negative")
    current = day
    while count:
        current += dt.timedelta(days=1)
        if is_business_day(current, calendar):
            count -= 1
    return current


def business_days_between(start: dt.date, end: dt.date, calendar: Container[dt.date]) -> int:
    """Business days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
    count, current = 0, start
    while current < end:
        current += dt.timedelta(days=1)
        if is_business_day(current, calendar):
            count += 1
    return count


class Deadline(msgspec.Struct, frozen=True):
    """When the rule says the GFE is due, and whether issuing it on ``issued_on`` meets that."""

    basis: DeadlineBasis
    business_days: int | None  # None: the rule sets no deadline (short notice)
    due_by: dt.date | None
    met: bool
    explanation: str


def gfe_deadline(
    requested_on: dt.date,
    scheduled_date: dt.date | None,
    issued_on: dt.date,
    calendar: Container[dt.date],
) -> Deadline:
    """45 CFR 149.610(b)(1)(ii): a service scheduled at least 10 business days ahead, GFE
    within 3 business days of scheduling; at least 3 business days ahead, within 1
    business day; on request (nothing scheduled), within 3 business days of the request.
    A service scheduled fewer than 3 business days ahead has no deadline."""
    if scheduled_date is None:
        due = add_business_days(requested_on, 3, calendar)
        return Deadline("requested", 3, due, issued_on <= due,
                        "Requested without a scheduled date: due within 3 business days of the request.")
    ahead = business_days_between(requested_on, scheduled_date, calendar)
    if ahead >= 10:
        due = add_business_days(requested_on, 3, calendar)
        return Deadline("scheduled_10_days", 3, due, issued_on <= due,
                        f"Scheduled {ahead} business days ahead (at least 10): due within 3 business days "
                        "of scheduling.")
    if ahead >= 3:
        due = add_business_days(requested_on, 1, calendar)
        return Deadline("scheduled_3_days", 1, due, issued_on <= due,
                        f"Scheduled {ahead} business days ahead (at least 3): due within 1 business day "
                        "of scheduling.")
    return Deadline("scheduled_short_notice", None, None, True,
                    f"Scheduled {ahead} business day(s) ahead (fewer than 3): the rule sets no deadline; "
                    "this estimate is given anyway.")


def valid_until(start: dt.date, end: dt.date) -> dt.date:
    """The episode's end or 12 months after its start, whichever is earlier; an episode
    ending later than 12 months after its start needs one GFE per 12 months."""
    limit = add_months(start, VALIDITY_MONTHS)
    if end > limit:
        raise GfeTooLong(
            "episode",
            f"the episode runs {(end - start).days + 1} days, past 12 months after its start ({limit.isoformat()}); "
            "a Good Faith Estimate covers recurring services for at most 12 months: request one GFE per "
            "12 months (estimate each 12-month period separately)",
        )
    return min(end, limit)


# --------------------------------------------------------------------------- episodes


def episode_from_summary(level_of_care: str, start: dt.date, end: dt.date, units: int) -> EpisodeRequest:
    """The episode request that lays ``units`` units from ``start`` to ``end`` (what a stored
    estimate keeps of its episode), to price it again.  Weekly levels: unit k of n falls
    on start + 7·floor(k/f) + k mod f, so the last one is 7·(weeks − 1) + f − 1 days in."""
    level = LEVELS[level_of_care]
    if level.length_unit == "days":
        return EpisodeRequest(start_date=start, days=units)
    span = (end - start).days
    most = 7 if level.unit == "day" else 14
    for per_week in range(1, most + 1):
        weeks, rest = divmod(units, per_week)
        if rest == 0 and weeks >= 1 and 7 * (weeks - 1) + per_week - 1 == span:
            if level.unit == "day":
                return EpisodeRequest(start_date=start, weeks=weeks, days_per_week=per_week)
            return EpisodeRequest(start_date=start, weeks=weeks, sessions_per_week=per_week)
    raise DomainError("estimate_id", "the stored estimate's episode cannot be laid out again")


# --------------------------------------------------------------------------- content and view


def service_code_system(code: str) -> Literal["CPT", "HCPCS", "REV"]:
    """What kind of code a fee line bills: ``REV:0906`` revenue codes, CPT (five digits, or
    four and F/T/U for categories II/III), else HCPCS Level II (a letter and four digits)."""
    if code.upper().startswith("REV:"):
        return "REV"
    if len(code) == 5 and (code.isdigit() or (code[:4].isdigit() and code[4] in "FTU")):
        return "CPT"
    return "HCPCS"


class GfeItem(msgspec.Struct, frozen=True):
    sequence: int
    code: str  # as billed: "H0015", "90791", "REV:0906"
    code_system: Literal["CPT", "HCPCS", "REV"]
    description: str
    frequency: str
    quantity: int
    first_date: dt.date
    last_date: dt.date
    unit_price: Decimal  # self-pay price of one unit, after any sliding-scale discount
    expected_charge: Decimal  # quantity × unit_price


class GfeProvider(msgspec.Struct, frozen=True):
    program_id: str
    name: str
    npi: str | None
    tin: str | None
    state: str
    place_of_service_code: str
    place_of_service: str


class GfeSliding(msgspec.Struct, frozen=True):
    tier: str
    fpl_percent: Decimal | None
    discount_percent: Decimal | None
    nominal_fee: Decimal | None
    cash_total: Decimal


class GfeContent(msgspec.Struct, frozen=True):
    """Everything a GFE says except the PHI: what is stored in the clear."""

    gfe_id: str
    estimate_id: str
    issued_at: dt.datetime
    issued_on: dt.date
    valid_until: dt.date
    requested_by: RequestedBy
    requested_on: dt.date
    scheduled_date: dt.date | None
    deadline: Deadline
    level_of_care: LevelOfCare
    primary_service: str
    service_start: dt.date
    service_end: dt.date
    units: int
    unit: str
    provider: GfeProvider
    items: list[GfeItem]
    total_expected_charges: Decimal
    sliding: GfeSliding | None


class GfePhi(msgspec.Struct, frozen=True):
    """The PHI of a GFE: stored only encrypted."""

    name: str
    date_of_birth: dt.date
    diagnosis_codes: list[str] = []


def gfe_content(
    *,
    gfe_id: str,
    estimate_id: str,
    issued_at: dt.datetime,
    requested_by: RequestedBy,
    requested_on: dt.date,
    scheduled_date: dt.date | None,
    priced: PricedEpisode,
    provider: GfeProvider,
    calendar: Container[dt.date],
    fpl_percent: Decimal | None = None,
) -> GfeContent:
    """The GFE of a self-pay pricing (``priced`` must be self-pay, with claims)."""
    if priced.network_status != "self_pay":
        raise ValueError("a GFE is made from a self-pay pricing")
    issued_on = issued_at.date()
    start, end = priced.episode.start_date, priced.episode.end_date
    until = valid_until(start, end)
    deadline = gfe_deadline(requested_on, scheduled_date, issued_on, calendar)
    dates: dict[str, list[dt.date]] = {}
    unit_prices: dict[str, Decimal] = {}
    for claim in priced.claims:
        dates.setdefault(claim.billing_code, []).append(claim.date)
        unit_prices.setdefault(claim.billing_code, claim.patient_pays)
    items = []
    for seq, line in enumerate(priced.lines, start=1):
        line_dates = dates.get(line.billing_code) or [start]
        unit_price = unit_prices.get(line.billing_code, line.patient_pays)
        if unit_price * line.quantity != line.patient_pays:
            # Self-pay prices are per claim and equal within a line; anything else is a bug upstream.
            raise ValueError(f"line {line.billing_code}: claims of one line priced differently")
        items.append(GfeItem(
            sequence=seq, code=line.billing_code, code_system=service_code_system(line.billing_code),
            description=line.description, frequency=line.frequency, quantity=line.quantity,
            first_date=min(line_dates), last_date=max(line_dates), unit_price=unit_price,
            expected_charge=line.patient_pays,
        ))
    sliding = None
    sp = priced.selfpay
    if sp is not None and sp.tier is not None:
        sliding = GfeSliding(tier=sp.tier, fpl_percent=fpl_percent if fpl_percent is not None else sp.fpl_percent,
                             discount_percent=sp.discount_percent, nominal_fee=sp.nominal_fee,
                             cash_total=sp.cash_total)
    level = LEVELS[priced.level_of_care]
    return GfeContent(
        gfe_id=gfe_id, estimate_id=estimate_id, issued_at=issued_at, issued_on=issued_on, valid_until=until,
        requested_by=requested_by, requested_on=requested_on, scheduled_date=scheduled_date, deadline=deadline,
        level_of_care=priced.level_of_care, primary_service=f"{level.name} ({level.code.upper()}, ASAM {level.asam})",
        service_start=start, service_end=end, units=priced.episode.units, unit=priced.episode.unit,
        provider=provider, items=items, total_expected_charges=priced.totals.patient_pays, sliding=sliding,
    )


# The view: every element in plain words, plus the raw values machine renderings need.


class ItemView(msgspec.Struct, frozen=True):
    item: GfeItem
    code_label: str  # "HCPCS H0015", "CPT 90791", "Revenue code 0906"
    dates: str
    quantity: str
    unit_price: str
    expected_charge: str


class TextBlock(msgspec.Struct, frozen=True):
    code: str
    text: str


class GfeView(msgspec.Struct, frozen=True):
    content: GfeContent
    phi: GfePhi
    title: str
    patient_name: str
    date_of_birth: str
    primary_service: str
    scheduled: str
    service_period: str
    issued_on: str
    valid_until: str
    requested: str
    deadline: str
    deadline_status: str
    provider_lines: list[str]
    items: list[ItemView]
    diagnosis_codes: list[str]
    total: str
    sliding: str | None
    disclaimers: list[TextBlock]


def money_text(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def date_text(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"  # "December 7, 2026": no locale, no zero padding


def tin_text(tin: str) -> str:
    """A nine-digit employer identification number as it is printed: ``74-2918365``."""
    return f"{tin[:2]}-{tin[2:]}" if len(tin) == 9 and tin.isdigit() else tin


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def _code_label(item: GfeItem) -> str:
    if item.code_system == "REV":
        return f"Revenue code {item.code[4:]}"
    return f"{item.code_system} {item.code}"


def _sliding_text(s: GfeSliding) -> str:
    fpl = f" (household income at {s.fpl_percent.quantize(Decimal('0.1'))} % of the federal poverty guideline)" \
        if s.fpl_percent is not None else ""
    if s.nominal_fee is not None:
        what = f"a nominal fee of {money_text(s.nominal_fee)} per visit or day (never more than the cash price)"
    else:
        what = f"a discount of {s.discount_percent} % on the cash prices"
    return (f"Sliding-scale tier {s.tier}{fpl}: {what}. Cash price before the discount: "
            f"{money_text(s.cash_total)}.")


def gfe_view(content: GfeContent, phi: GfePhi) -> GfeView:
    """The GFE in plain words: what the HTML page, the PDF and the FHIR Bundle all show."""
    p = content.provider
    provider_lines = [
        p.name,
        f"NPI: {p.npi or 'not on file'}",
        f"TIN: {tin_text(p.tin) if p.tin else 'not on file'}",
        f"Location: {p.place_of_service} (place of service {p.place_of_service_code}), {p.state}",
    ]
    items = []
    for it in content.items:
        if it.first_date == it.last_date:
            when = date_text(it.first_date)
        else:
            when = f"{date_text(it.first_date)} to {date_text(it.last_date)}"
        unit = "session" if content.unit == "session" else "day"
        qty = "1 (once)" if it.frequency == "per_episode" else _plural(it.quantity, unit)
        items.append(ItemView(it, _code_label(it), when, qty, money_text(it.unit_price),
                              money_text(it.expected_charge)))
    d = content.deadline
    if d.due_by is None:
        deadline = d.explanation
        status = "No deadline applies."
    else:
        deadline = f"{d.explanation} Due by {date_text(d.due_by)}."
        status = "Deadline met." if d.met else "Deadline missed: this estimate was issued after the date due."
    scheduled = date_text(content.scheduled_date) if content.scheduled_date else "Not yet scheduled"
    return GfeView(
        content=content,
        phi=phi,
        title="Good Faith Estimate for Health Care Items and Services",
        patient_name=phi.name,
        date_of_birth=date_text(phi.date_of_birth),
        primary_service=content.primary_service,
        scheduled=scheduled,
        service_period=(f"{date_text(content.service_start)} to {date_text(content.service_end)}: "
                        f"{_plural(content.units, content.unit)}"),
        issued_on=date_text(content.issued_on),
        valid_until=date_text(content.valid_until),
        requested=(f"Requested by the {content.requested_by} on {date_text(content.requested_on)}"),
        deadline=deadline,
        deadline_status=status,
        provider_lines=provider_lines,
        items=items,
        diagnosis_codes=list(phi.diagnosis_codes),
        total=money_text(content.total_expected_charges),
        sliding=_sliding_text(content.sliding) if content.sliding else None,
        disclaimers=[TextBlock(code, text) for code, text in DISCLAIMERS],
    )
