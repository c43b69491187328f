"""The staff console's forms turned into the JSON commands the API takes, and the
API's field problems turned back into errors next to the form field they concern.

A form field is named once here with the path it fills in the command
(``in_network.copay`` → ``benefits.in_network.levels.<level>.copay``); the same table
maps a problem's path back to the field, so the console validates with exactly the
checks of the JSON routes (``costsvc.api.validation``) and shows their words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from costsvc.domain.verification import NETWORKS
from costsvc.services.errors import FieldProblem

LEVELS = ("detox", "residential", "php", "iop", "outpatient")
LEVEL_NAMES = {"detox": "Detox (withdrawal management)", "residential": "Residential", "php":
               "Partial hospitalization (PHP)", "iop": "Intensive outpatient (IOP)", "outpatient": "Outpatient"}
NETWORK_NAMES = {"in_network": "In network", "out_of_network": "Out of network"}
#: Per network: form suffix -> (where in the command, whether it belongs to the chosen level).
NETWORK_FIELDS: dict[str, tuple[str, bool]] = {
    "deductible": ("benefits.{net}.deductible.individual", False),
    "family_deductible": ("benefits.{net}.deductible.family", False),
    "oop_max": ("benefits.{net}.oop_max.individual", False),
    "family_oop_max": ("benefits.{net}.oop_max.family", False),
    "covered": ("benefits.{net}.levels.{level}.covered", True),
    "copay": ("benefits.{net}.levels.{level}.copay", True),
    "copay_unit": ("benefits.{net}.levels.{level}.copay_unit", True),
    "coinsurance_pct": ("benefits.{net}.levels.{level}.coinsurance_pct", True),
    "deductible_applies": ("benefits.{net}.levels.{level}.deductible_applies", True),
    "limit_units": ("benefits.{net}.levels.{level}.limit_units", True),
    "prior_auth": ("benefits.{net}.levels.{level}.prior_auth", True),
    "deductible_met": ("accumulators.{net}.deductible_met", False),
    "oop_met": ("accumulators.{net}.oop_met", False),
}
PHONE_FIELDS: dict[str, str] = {
    "member_id": "member_id", "plan_id": "plan_id", "payer_name": "payer_name", "plan_name": "plan_name",
    "patient_name": "patient.name", "patient_dob": "patient.date_of_birth", "relationship": "relationship",
    "status": "status", "as_of": "as_of", "source": "source", "reference": "reference",
    "verified_by": "verified_by", "notes": "notes",
}
ESTIMATE_FIELDS: dict[str, str] = {
    "verification_id": "coverage.verification_id", "program_id": "program_id", "level_of_care": "level_of_care",
    "network": "coverage.network", "tier": "coverage.tier", "start_date": "episode.start_date",
    "weeks": "episode.weeks", "days_per_week": "episode.days_per_week",
    "sessions_per_week": "episode.sessions_per_week", "days": "episode.days",
}


class FormErrors:
    """Field problems keyed by form field; those no field shows are ``general``."""

    def __init__(self) -> None:
        self.by_field: dict[str, str] = {}
        self.general: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)

    def add(self, field: str | None, message: str) -> None:
        if field:
            self.by_field.setdefault(field, message)
        else:
            self.general.append(message)

    def get(self, field: str) -> str | None:
        return self.by_field.get(field)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = value


def phone_command(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str], FormErrors]:
    """(the ``RecordVerification`` body, command path -> form field, errors found here)."""
    body: dict[str, Any] = {}
    paths: dict[str, str] = {}
    errors = FormErrors()
    for name, path in PHONE_FIELDS.items():
        paths[path] = name
        value = _text(form, name)
        if name == "notes":
            value = " ".join(value.split())  # one line: free text refuses control characters
        if value:
            _put(body, path, value)
    level = _text(form, "level")
    paths["level"] = "level"
    if level and level not in LEVELS:
        errors.add("level", "must be one of the levels of care listed")
        level = ""
    for net in NETWORKS:
        for suffix, (template, per_level) in NETWORK_FIELDS.items():
            name = f"{net}.{suffix}"
            value = _text(form, name)
            if per_level and not level:
                if value:
                    errors.add("level", "choose the level of care these benefits are for")
                continue
            path = template.format(net=net, level=level)
            paths[path] = name
            if value:
                _put(body, path, value)
    units = _text(form, "units_used")
    paths[f"accumulators.units_used.{level}"] = "units_used"
    if units:
        if level:
            _put(body, f"accumulators.units_used.{level}", units)
        else:
            errors.add("level", "choose the level of care these benefits are for")
    return body, paths, errors


def estimate_command(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(the ``EstimateRequest`` body priced from a verification, command path -> form field)."""
    body: dict[str, Any] = {}
    for name, path in ESTIMATE_FIELDS.items():
        value = _text(form, name)
        if value or name == "verification_id":  # always priced from a verification: never self-pay by omission
            _put(body, path, value)
    return body, {path: name for name, path in ESTIMATE_FIELDS.items()}


def place(errors: FormErrors, problems: Iterable[FieldProblem], paths: Mapping[str, str]) -> FormErrors:
    """Each problem next to its form field: the longest command path that is a prefix of
    the problem's (``coverage`` problems of a nested field land on that field)."""
    for p in problems:
        field = paths.get(p.field)
        if field is None:
            prefixes = [path for path in paths if path and p.field.startswith(path + ".")]
            field = paths[max(prefixes, key=len)] if prefixes else None
        if field is None and p.field.startswith("accumulators.units_used"):
            field = "units_used"
        errors.add(field, p.message if field else (f"{p.field}: {p.message}" if p.field else p.message))
    return errors
