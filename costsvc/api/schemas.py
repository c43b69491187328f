"""Schemas of the HTTP API (msgspec Structs): the estimate request bodies are the
commands of the estimate use cases (``costsvc.services.requests``); the reference
responses are here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from costsvc.domain.model import Benefits

# ---------------------------------------------------------------- responses (documentation)


class PayerOut(msgspec.Struct):
    payer_id: str
    name: str
    plans: int


class PlanOut(msgspec.Struct):
    plan_id: str
    payer_id: str
    plan_name: str
    plan_type: str | None
    effective_date: dt.date
    benefits: Benefits


class ProgramOut(msgspec.Struct):
    program_id: str
    name: str
    state: str
    npi: str | None
    tin: str | None
    levels_of_care: list[str]
    fee_schedule: dict[str, list[dict[str, Any]]]
    sliding_scale: list[dict[str, Any]] | None
    payment_plans: dict[str, Any]
