"""Read-only reference data for the locator: levels of care, payers, plans, programs."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath

from costsvc.api.schemas import PayerOut, PlanOut, ProgramOut
from costsvc.domain.levels import LEVELS, LevelInfo
from costsvc.services.errors import NotFound


class ReferenceController(Controller):
    path = "/v1"
    tags = ["reference"]

    @get("/levels-of-care", summary="The continuum of care, as data")
    async def levels_of_care(self) -> dict[str, list[LevelInfo]]:
        return {"levels_of_care": list(LEVELS.values())}

    @get("/payers", summary="Payers with stored plans")
    async def payers(self, state: State) -> dict[str, list[PayerOut]]:
        catalog = state.catalog.current
        counts: dict[str, int] = {}
        for plan in catalog.plans.values():
            counts[plan.payer_id] = counts.get(plan.payer_id, 0) + 1
        return {"payers": [PayerOut(pid, name, counts.get(pid, 0)) for pid, name in sorted(catalog.payers.items())]}

    @get("/payers/{payer_id:str}/plans", summary="A payer's plans and their benefits")
    async def plans(self, state: State, payer_id: FromPath[str]) -> dict[str, list[PlanOut]]:
        catalog = state.catalog.current
        if payer_id not in catalog.payers:
            raise NotFound(f"unknown payer '{payer_id}'", field="payer_id")
        plans = sorted(catalog.plans_of(payer_id), key=lambda p: p.plan_id)
        return {"plans": [PlanOut(p.plan_id, p.payer_id, p.plan_name, p.plan_type, p.effective_date, p.benefits)
                          for p in plans]}

    @get("/programs/{program_id:str}", summary="A program, the levels it offers and its prices")
    async def program(self, state: State, program_id: FromPath[str]) -> ProgramOut:
        catalog = state.catalog.current
        program = catalog.programs.get(program_id)
        if program is None:
            raise NotFound(f"unknown program '{program_id}'", field="program_id")
        policy = catalog.sliding_policy_for(program_id)
        fee_schedule: dict[str, list[dict[str, Any]]] = {
            level: msgspec.to_builtins(lines) for level, lines in sorted(program.levels.items())
        }
        return ProgramOut(
            program_id=program.program_id, name=program.name, state=program.state,
            npi=program.npi, tin=program.tin, levels_of_care=sorted(program.levels),
            fee_schedule=fee_schedule,
            sliding_scale=msgspec.to_builtins(policy) if policy else None,
            payment_plans=msgspec.to_builtins(catalog.payment_plan_policy_for(program_id)),
        )
