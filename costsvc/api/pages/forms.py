"""From a form to the estimate use cases and back: the cost page's request building.

A form's controls are named by their path in the JSON request (``program_id``,
``household.annual_income``, ``episode.weeks``…), so the body built here is the one
a developer would POST to ``/v1/estimates`` (or ``/compare``), it is checked by the
API's own validator (``costsvc.api.validation``) and every problem the API would
answer names the control it concerns.  Figures come from the estimate document the
service encodes, decoded as JSON: the page shows exactly the API's answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import msgspec

from costsvc.api.problems import problem_for
from costsvc.api.reference import in_network_payers
from costsvc.api.validation import RequestInvalid, validate
from costsvc.catalog import Catalog
from costsvc.domain.errors import DomainError
from costsvc.domain.levels import LEVELS
from costsvc.domain.model import US_STATES
from costsvc.services import estimates as service
from costsvc.services.errors import ServiceError
from costsvc.services.requests import CompareRequest, EstimateRequest

COMPARE = "compare"
#: The controls of the estimate form, by request path, with the words the page uses for them.
LABELS = {
    "program_id": "Program",
    "level_of_care": "Level of care",
    "plan_id": "Insurance",
    "household.size": "Household size",
    "household.annual_income": "Annual income",
    "household.state": "State",
    "episode.weeks": "Weeks of treatment",
    "episode.days": "Days of treatment",
}
#: Request paths the page shows under another control (the plan is ``coverage.plan_id`` in the API).
_CONTROL_OF = {"coverage.plan_id": "plan_id", "coverage": "plan_id"}
HOUSEHOLD = ("household.size", "household.annual_income", "household.state")


@dataclass
class Outcome:
    """What a submitted estimate form comes to: the values to show again, the errors by
    control (``""``: about the whole form), and the estimate documents (one, or one per level)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    estimates: list[dict[str, Any]] = field(default_factory=list)
    compare: bool = False
    priced: list[service.Priced] = field(default_factory=list)
    request: EstimateRequest | CompareRequest | None = None  # the validated command

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.estimates)


def sentence(label: str, message: str) -> str:
    """An API field message in words after the control's label ("Household size must be …")."""
    joined = f"{label} {message}" if message.split(" ", 1)[0] in {"must", "is", "has", "needs"} else f"{label}: {message}"
    return joined if joined.endswith(".") else joined + "."


def _money_text(text: str) -> str:
    # People type "$42,000"; the API's grammar is digits and one point (docs/API.md, Money).
    return text.replace("$", "").replace(",", "").strip()


def _number(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() else text  # anything else: the validator words it


def request_body(values: dict[str, str], *, self_pay: bool = False) -> dict[str, Any]:
    """The JSON body of ``POST /v1/estimates`` (``/compare`` without ``level_of_care``) for a form."""
    body: dict[str, Any] = {"program_id": values.get("program_id", "")}
    level = values.get("level_of_care", "")
    if level != COMPARE:
        body["level_of_care"] = level
    if values.get("plan_id") and not self_pay:
        body["coverage"] = {"plan_id": values["plan_id"]}
    if any(values.get(name) for name in HOUSEHOLD):
        household: dict[str, Any] = {}
        if values.get("household.size"):
            household["size"] = _number(values["household.size"])
        if values.get("household.annual_income"):
            household["annual_income"] = _money_text(values["household.annual_income"])
        if values.get("household.state"):
            household["state"] = values["household.state"]
        body["household"] = household
    # One length control per kind of level: a single level keeps the one that fits it
    # (compare drops the other per level, as the API's compare does).
    lengths = ("weeks", "days")
    if level in LEVELS:
        lengths = ("days",) if LEVELS[level].length_unit == "days" else ("weeks",)
    episode = {name: _number(values[f"episode.{name}"]) for name in lengths if values.get(f"episode.{name}")}
    if episode:
        body["episode"] = episode
    return body


def _record(errors: dict[str, str], path: str, message: str) -> None:
    control = _CONTROL_OF.get(path, path)
    if control not in LABELS:
        control = next((c for c in LABELS if path.startswith(c + ".")), "")
    label = LABELS.get(control)
    errors.setdefault(control, sentence(label, message) if label else message)


def _network_problem(catalog: Catalog, program_id: str, plan_id: str) -> str | None:
    """Why the plan cannot be used at the program (its payer has no contract there), or None."""
    program, plan = catalog.programs.get(program_id), catalog.plans.get(plan_id)
    if program is None or plan is None:
        return None  # the use case names the unknown one
    payers = network_of(catalog).get(program_id, set())
    if plan.payer_id in payers:
        return None
    names = sorted(catalog.payers.get(p, p) for p in payers)
    offered = (f"plans of {', '.join(names)} are" if names else "no insurer's plans are")
    return (f"{plan.plan_name} is not offered at {program.name}: {offered} accepted there. "
            "Choose another plan, or No insurance.")


_network_memo: tuple[Catalog, dict[str, set[str]]] | None = None


def network_of(catalog: Catalog) -> dict[str, set[str]]:
    """``in_network_payers`` of a snapshot, computed once per snapshot."""
    global _network_memo
    if _network_memo is None or _network_memo[0] is not catalog:
        _network_memo = (catalog, in_network_payers(catalog))
    return _network_memo[1]


def price_form(catalog: Catalog, values: dict[str, str], today: dt.date, *, self_pay: bool = False) -> Outcome:
    """Validate and price a submitted estimate form, as the JSON routes would."""
    outcome = Outcome(values=values, compare=values.get("level_of_care") == COMPARE)
    if not values.get("program_id"):
        outcome.errors["program_id"] = "Choose a program."
    if not values.get("level_of_care"):
        outcome.errors["level_of_care"] = "Choose a level of care, or Compare all levels."
    state = values.get("household.state")
    if state and state.upper() not in US_STATES:
        outcome.errors["household.state"] = "State must be one of the 50 states or DC."
    body = request_body(values, self_pay=self_pay)
    try:
        if outcome.compare:
            request: Any = validate(body, CompareRequest)
        else:
            request = validate(body, EstimateRequest)
    except RequestInvalid as exc:
        for problem in exc.errors:
            _record(outcome.errors, problem.field, problem.message)
        return outcome
    if outcome.errors:
        return outcome
    outcome.request = request
    if request.coverage is not None and request.coverage.plan_id:
        why = _network_problem(catalog, request.program_id, request.coverage.plan_id)
        if why:
            outcome.errors["plan_id"] = why
            return outcome
    try:
        if outcome.compare:
            outcome.priced = service.compare(catalog, request, today)
        else:
            outcome.priced = [service.price(catalog, request, today)]
    except (ServiceError, DomainError) as exc:
        problem = problem_for(exc)
        for item in problem.errors:
            _record(outcome.errors, item.field, item.message)
        if not problem.errors:
            outcome.errors[""] = problem.detail
        return outcome
    outcome.estimates = [msgspec.json.decode(p.body) for p in outcome.priced]
    return outcome
