"""Read-only reference data for the locator: levels of care, payers, plans, programs.

Everything is read from the in-memory catalog snapshot: no SQL per request.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import PathParameter, QueryParameter

from costsvc.api.problems import problem_responses, shown
from costsvc.api.schemas import (
    LevelList,
    PayerList,
    PayerOut,
    PlanList,
    PlanOut,
    PlanPage,
    ProgramOut,
    ProgramPage,
    ProgramSummary,
)
from costsvc.catalog import Catalog, PlanEntry, ProgramEntry
from costsvc.domain.levels import LEVELS
from costsvc.domain.model import IDENTIFIER_PATTERN, LevelOfCare
from costsvc.domain.verification import parity_flags
from costsvc.services import policies
from costsvc.services.errors import NotFound

#: Page sizes and offsets of the list routes.
MAX_PAGE = 200
MAX_OFFSET = 1_000_000

IdPath = Annotated[str, PathParameter(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN,
                                  description="An identifier: letters, digits, '.', '_' or '-'.")]


def id_query(description: str) -> QueryParameter:
    return QueryParameter(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN, description=description)


Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description=f"Page size, 1-{MAX_PAGE}.")]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description=f"Items to skip, 0-{MAX_OFFSET}.")]


def _plan_out(p: PlanEntry) -> PlanOut:
    return PlanOut(p.plan_id, p.payer_id, p.plan_name, p.plan_type, p.effective_date, p.benefits,
                   parity_flags(p.benefits, p.medsurg))


def in_network_payers(catalog: Catalog) -> dict[str, set[str]]:
    """Program id → the payers with negotiated rates there (the in-network ones)."""
    payers: dict[str, set[str]] = {}
    for payer_id, program_id in catalog.negotiated_rates:
        payers.setdefault(program_id, set()).add(payer_id)
    return payers


def matching_programs(catalog: Catalog, *, state: str | None, level_of_care: str | None,
                      payer_id: str | None, name: str | None) -> list[tuple[ProgramEntry, list[str]]]:
    networks = in_network_payers(catalog)
    needle = name.casefold() if name else None
    found = []
    for program_id in sorted(catalog.programs):
        program = catalog.programs[program_id]
        payers = sorted(networks.get(program_id, ()))
        if state is not None and program.state.upper() != state.upper():
            continue
        if level_of_care is not None and not program.levels.get(level_of_care):
            continue
        if payer_id is not None and payer_id not in payers:
            continue
        if needle is not None and needle not in program.name.casefold():
            continue
        found.append((program, payers))
    return found


class ReferenceController(Controller):
    path = "/v1"
    tags = ["reference"]

    @get("/levels-of-care", summary="The continuum of care, as data", responses=problem_responses(422))
    async def levels_of_care(self) -> LevelList:
        return LevelList(list(LEVELS.values()))

    @get("/payers", summary="Payers with stored plans", responses=problem_responses(422))
    async def payers(self, state: State) -> PayerList:
        catalog = state.catalog.current
        counts: dict[str, int] = {}
        for plan in catalog.plans.values():
            counts[plan.payer_id] = counts.get(plan.payer_id, 0) + 1
        return PayerList([PayerOut(pid, name, counts.get(pid, 0)) for pid, name in sorted(catalog.payers.items())])

    @get("/payers/{payer_id:str}/plans", summary="A payer's plans and their benefits",
         responses=problem_responses(404, 422))
    async def payer_plans(self, state: State, payer_id: IdPath) -> PlanList:
        catalog = state.catalog.current
        if payer_id not in catalog.payers:
            raise NotFound(f"unknown payer '{shown(payer_id)}'", field="payer_id")
        return PlanList([_plan_out(p) for p in sorted(catalog.plans_of(payer_id), key=lambda p: p.plan_id)])

    @get("/plans", summary="Stored plans, to find the plan_id of coverage (filter by payer)",
         responses=problem_responses(404, 422, s404="The payer_id filter names no payer."))
    async def plans(self, state: State, payer_id: Annotated[str | None, id_query("Only this payer's plans.")] = None, limit: Limit = 50, offset: Offset = 0) -> PlanPage:
        catalog = state.catalog.current
        if payer_id is not None and payer_id not in catalog.payers:
            raise NotFound(f"unknown payer '{payer_id}'", field="payer_id")
        plans = sorted((p for p in catalog.plans.values() if payer_id is None or p.payer_id == payer_id),
                       key=lambda p: (p.payer_id, p.plan_id))
        return PlanPage(total=len(plans), offset=offset, limit=limit,
                        plans=[_plan_out(p) for p in plans[offset:offset + limit]])

    @get("/programs", summary="Programs, to find a program_id (filter by state, level, in-network payer or plan, name)",
         responses=problem_responses(404, 422, s404="The payer_id or plan_id filter names nothing stored."))
    async def programs(
        self,
        state: State,
        program_state: Annotated[str | None, QueryParameter(
            name="state", min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$",
            description="Two-letter US state of the program.")] = None,
        level_of_care: Annotated[LevelOfCare | None, QueryParameter(description="Only programs offering this level.")] = None,
        payer_id: Annotated[str | None, id_query("Only programs in network with this payer.")] = None,
        plan_id: Annotated[str | None, id_query("Only programs in network with this plan's payer.")] = None,
        name: Annotated[str | None, QueryParameter(min_length=1, max_length=100,
                                              description="Part of the program's name (case-insensitive).")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ProgramPage:
        catalog = state.catalog.current
        if payer_id is not None and payer_id not in catalog.payers:
            raise NotFound(f"unknown payer '{payer_id}'", field="payer_id")
        if plan_id is not None:
            plan = catalog.plans.get(plan_id)
            if plan is None:
                raise NotFound(f"unknown plan '{plan_id}'", field="plan_id")
            if payer_id is not None and payer_id != plan.payer_id:
                return ProgramPage(total=0, offset=offset, limit=limit, programs=[])
            payer_id = plan.payer_id
        found = matching_programs(catalog, state=program_state, level_of_care=level_of_care,
                                  payer_id=payer_id, name=name)
        return ProgramPage(
            total=len(found), offset=offset, limit=limit,
            programs=[ProgramSummary(p.program_id, p.name, p.state, sorted(p.levels), payers)  # type: ignore[arg-type]
                      for p, payers in found[offset:offset + limit]],
        )

    @get("/programs/{program_id:str}", summary="A program, the levels it offers, its prices and its policies in force",
         responses=problem_responses(404, 422))
    async def program(self, state: State, program_id: IdPath) -> ProgramOut:
        catalog = state.catalog.current
        program = catalog.programs.get(program_id)
        if program is None:
            raise NotFound(f"unknown program '{shown(program_id)}'", field="program_id")
        sliding, payment = policies.in_force(catalog, program_id)
        return ProgramOut(
            program_id=program.program_id, name=program.name, state=program.state,
            npi=program.npi, tin=program.tin, levels_of_care=sorted(program.levels),  # type: ignore[arg-type]
            fee_schedule={level: list(lines) for level, lines in sorted(program.levels.items())},  # type: ignore[misc]
            sliding_scale=sliding, payment_terms=payment,
        )
