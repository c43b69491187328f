"""Normalized records that every tariff parser yields and the import pipeline stores.

Parsers (``tariffs.csv_files``, ``tariffs.tic``, ``tariffs.hpt``...) know nothing of
HTTP, Celery or the database: they turn a file into these records plus
``RowError``s.  ``costsvc.staging.pipeline`` stages them into a new tariff version.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec


class RowError(msgspec.Struct, frozen=True):
    """A problem at one place in a file.  ``line`` is 1-based as a text editor shows it
    (the CSV header is line 1); ``column`` is the column's header name (or a JSON path
    for JSON files).  Either may be None for file-level errors."""

    file: str
    line: int | None
    column: str | None
    message: str


class FileRejected(Exception):
    """The file cannot be imported at all (unreadable, wrong format, missing columns).

    Carries the errors; nothing has been written when it is raised."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        first = errors[0] if errors else None
        where = ""
        if first is not None:
            where = first.file + (f":{first.line}" if first.line else "") + (f" [{first.column}]" if first.column else "")
        super().__init__(f"{where}: {first.message}" if first else "file rejected")


class ProgramRecord(msgspec.Struct, frozen=True):
    program_id: str
    name: str
    state: str
    npi: str | None = None
    tin: str | None = None


class FeeLineRecord(msgspec.Struct, frozen=True):
    program_id: str
    level_of_care: str
    billing_code: str
    description: str
    frequency: str  # per_service | per_episode
    gross_charge: Decimal
    cash_price: Decimal | None
    effective_date: dt.date
    line: int | None = None


class PlanLevelRecord(msgspec.Struct, frozen=True):
    """One coverage-table row: a plan's benefit for one network and level of care."""

    payer_id: str
    payer_name: str
    plan_id: str
    plan_name: str
    plan_type: str | None
    plan_year_start: str
    network: str  # in_network | out_of_network
    level_of_care: str
    covered: bool
    copay: Decimal
    copay_unit: str
    deductible_applies: bool
    coinsurance_pct: Decimal
    limit_units: int | None
    prior_auth: bool
    ded_individual: Decimal | None
    ded_family: Decimal | None
    oop_individual: Decimal | None
    oop_family: Decimal | None
    allowed_method: str | None
    allowed_pct: Decimal | None
    balance_billing: bool
    effective_date: dt.date
    line: int | None = None


class NegotiatedRateRecord(msgspec.Struct, frozen=True):
    """A rate for one payer and program.  Parsers that only know NPI/TIN set those and
    leave program_id None; the pipeline resolves them against known programs."""

    payer_id: str
    billing_code: str
    rate_type: str  # dollar | percent_of_billed
    rate: Decimal
    effective_date: dt.date
    expiration_date: dt.date | None
    program_id: str | None = None
    npi: str | None = None
    tin: str | None = None
    line: int | None = None


class ReferenceRateRecord(msgspec.Struct, frozen=True):
    payer_id: str
    billing_code: str
    amount: Decimal


class PlanListing(msgspec.Struct, frozen=True):
    """A plan named in a payer file (TiC ``reporting_plans`` / ``plan_name``)."""

    plan_name: str
    plan_id: str | None = None
    plan_id_type: str | None = None
    plan_market_type: str | None = None


class SlidingTierRecord(msgspec.Struct, frozen=True):
    """One tier of a program's sliding scale; ``position`` is its place among the
    program's tiers (0-based, file order).  ``max_fpl_percent`` None: open-ended."""

    program_id: str
    position: int
    tier: str
    max_fpl_percent: Decimal | None
    discount_percent: Decimal | None
    nominal_fee: Decimal | None
    effective_date: dt.date
    line: int | None = None


class PaymentTermRecord(msgspec.Struct, frozen=True):
    program_id: str
    months: int
    apr: Decimal
    min_monthly_payment: Decimal
    min_down_payment: Decimal | None
    effective_date: dt.date
    line: int | None = None


class PovertyGuidelineRecord(msgspec.Struct, frozen=True):
    year: int
    region: str  # 48 | AK | HI
    base: Decimal
    per_additional_person: Decimal
    line: int | None = None
