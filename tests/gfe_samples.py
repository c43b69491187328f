"""GFE view models for tests and the documents bench, priced by the engine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from costsvc.domain import gfe
from costsvc.domain.engine import price_episode
from costsvc.domain.model import EpisodeRequest, FeeLine, Household, PricingRequest

IOP_LINES = (
    FeeLine("H0015", "Alcohol and/or drug services; intensive outpatient, per day (3-hour block)", "per_service",
            Decimal("750.00"), Decimal("425.00")),
    FeeLine("90791", "Psychiatric diagnostic evaluation (intake assessment)", "per_episode",
            Decimal("350.00"), Decimal("200.00")),
)
HOSPITAL_IOP_LINES = (
    FeeLine("REV:0906", "Revenue code 0906: intensive outpatient services, chemical dependency, per day",
            "per_service", Decimal("980.00"), Decimal("590.00")),
    FeeLine("90791", "Psychiatric diagnostic evaluation (intake assessment)", "per_episode",
            Decimal("480.00"), Decimal("290.00")),
)
PROVIDER = gfe.GfeProvider("sunrise-recovery", "Sunrise Recovery Center", "1645987326", "742918365", "TX",
                           *gfe.PLACE_OF_SERVICE["iop"])
ISSUED = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC)


def many_lines(count: int) -> tuple[FeeLine, ...]:
    """``count`` fee lines: one intake and per-service lines with long descriptions."""
    lines = [IOP_LINES[1]]
    for i in range(count - 1):
        lines.append(FeeLine(f"H{15 + i:04d}", f"Behavioral health service number {i + 1}: group and individual "
                             "counseling, family sessions, medication management", "per_service",
                             Decimal(700 + i), Decimal(400 + i)))
    return tuple(lines)


def sample_content(*, lines: tuple[FeeLine, ...] = IOP_LINES, household: Household | None = None,
                   start: dt.date = dt.date(2026, 12, 7), weeks: int = 12, scheduled: dt.date | None = None,
                   provider: gfe.GfeProvider = PROVIDER, gfe_id: str = "sample-gfe-id-0000000001") -> gfe.GfeContent:
    priced = price_episode(PricingRequest(
        program_id=provider.program_id, level_of_care="iop", fee_lines=lines,
        episode=EpisodeRequest(start_date=start, weeks=weeks, days_per_week=3), today=ISSUED.date(),
        household=household,
    ))
    return gfe.gfe_content(gfe_id=gfe_id, estimate_id="0190d0c0-0000-7000-8000-000000000001", issued_at=ISSUED,
                           requested_by="patient", requested_on=ISSUED.date(), scheduled_date=scheduled,
                           priced=priced, provider=provider, calendar=gfe.us_federal_holidays())


def sample_view(name: str = "Jordan Rivera", codes: tuple[str, ...] = ("F10.20", "F32.1"), **kwargs) -> gfe.GfeView:
    return gfe.gfe_view(sample_content(**kwargs), gfe.GfePhi(name, dt.date(1990, 4, 12), list(codes)))
