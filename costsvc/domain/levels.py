"""Levels of care as data (spec README.md, "The domain: levels of care").

Served as-is by ``GET /v1/levels-of-care`` and used by the engine for episode
defaults (``default_*``) and the price range (``range_low``/``range_high``, in
``range_unit``).  Day-consecutive levels (detox, residential) are sized in days;
the weekly levels (php, iop, outpatient) in weeks × units per week.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from costsvc.domain.model import LevelOfCare


class LevelInfo(msgspec.Struct, frozen=True):
    code: LevelOfCare
    name: str
    asam: str
    hours_per_week: str
    living: str
    unit: Literal["day", "session"]
    billed_per: str
    # Episode sizing.  "days": n = days consecutive days.  "weeks": n = weeks × per_week.
    length_unit: Literal["days", "weeks"]
    default_episode: str
    default_days: int | None
    default_weeks: int | None
    default_per_week: int | None
    hours_per_unit: int | None
    range_low: int
    range_high: int
    typical_codes: tuple[str, ...]
    revenue_codes: tuple[str, ...]
    supervision: str
    ideal_candidate: str

    @property
    def per_week_field(self) -> str | None:
        """The request field that sets units per week (None for day-consecutive levels)."""
        if self.length_unit == "days":
            return None
        return "sessions_per_week" if self.unit == "session" else "days_per_week"


LEVELS: dict[str, LevelInfo] = {
    "detox": LevelInfo(
        code="detox",
        name="Medically managed withdrawal",
        asam="3.7-WM / 4-WM",
        hours_per_week="24/7",
        living="at facility",
        unit="day",
        billed_per="day",
        length_unit="days",
        default_episode="5 days",
        default_days=5,
        default_weeks=None,
        default_per_week=None,
        hours_per_unit=None,
        range_low=3,
        range_high=7,
        typical_codes=("H0010", "H0011", "H0009"),
        revenue_codes=(),
        # Not in the product's comparison table; the usual description of ASAM 3.7-WM/4-WM.
        supervision="24/7 medical monitoring and management of withdrawal",
        ideal_candidate="physical dependence with withdrawal that needs medical management "
        "(risk of severe withdrawal, seizures or delirium); usually followed by residential or outpatient care",
    ),
    "residential": LevelInfo(
        code="residential",
        name="Inpatient / residential treatment",
        asam="3.1–3.7",
        hours_per_week="24/7",
        living="at facility",
        unit="day",
        billed_per="day",
        length_unit="days",
        default_episode="30 days",
        default_days=30,
        default_weeks=None,
        default_per_week=None,
        hours_per_unit=None,
        range_low=28,
        range_high=60,
        typical_codes=("H0017", "H0018", "H0019"),
        revenue_codes=("1001", "1002"),
        supervision="24/7 medical/clinical",
        ideal_candidate="severe addiction or mental illness, medical detox needed, unsafe home, high relapse risk",
    ),
    "php": LevelInfo(
        code="php",
        name="Partial hospitalization",
        asam="2.5",
        hours_per_week="20+",
        living="home",
        unit="day",
        billed_per="treatment day",
        length_unit="weeks",
        default_episode="5 days/wk × 4 wk, 6 h/day",
        default_days=None,
        default_weeks=4,
        default_per_week=5,
        hours_per_unit=6,
        range_low=2,
        range_high=6,
        typical_codes=("H0035", "S0201"),
        revenue_codes=("0912", "0913"),
        supervision="daily structured clinical supervision (daytime)",
        ideal_candidate="step-down from inpatient, needs high support but stable at night",
    ),
    "iop": LevelInfo(
        code="iop",
        name="Intensive outpatient",
        asam="2.1",
        hours_per_week="9+ adults (6+ adolescents)",
        living="home",
        unit="day",
        billed_per="treatment day",
        length_unit="weeks",
        default_episode="3 days/wk × 12 wk, 3 h/day",
        default_days=None,
        default_weeks=12,
        default_per_week=3,
        hours_per_unit=3,
        range_low=12,
        range_high=16,
        typical_codes=("H0015", "S9480"),
        revenue_codes=("0905", "0906"),
        supervision="structured clinical supervision several days a week",
        ideal_candidate="stable home, balancing work/school/family, needs more than weekly therapy, "
        "step-down from PHP",
    ),
    "outpatient": LevelInfo(
        code="outpatient",
        name="Standard outpatient therapy",
        asam="1",
        hours_per_week="1–2",
        living="home",
        unit="session",
        billed_per="session",
        length_unit="weeks",
        default_episode="1 session/wk × 12 wk",
        default_days=None,
        default_weeks=12,
        default_per_week=1,
        hours_per_unit=None,
        range_low=8,
        range_high=24,
        typical_codes=("90834", "90837", "90853", "90791"),
        revenue_codes=(),
        supervision="weekly individual or group therapy",
        ideal_candidate="stable in recovery, ongoing support, aftercare",
    ),
}


# --------------------------------------------------------------------------- billing codes → levels
# Codes in the tariff store's form: CPT/HCPCS upper-case, revenue codes "REV:" + 4
# digits.  The typical codes and revenue codes above each name their level; CPT's
# psychiatry section (90785-90899: psychotherapy, evaluations, group and family
# therapy) is outpatient unless listed above.  Intake evaluations are billed once per
# episode, everything else per unit.

CODE_LEVELS: dict[str, LevelOfCare] = {
    code: info.code
    for info in LEVELS.values()
    for code in (*info.typical_codes, *(f"REV:{rc}" for rc in info.revenue_codes))
}
PER_EPISODE_CODES = frozenset({"90791", "90792"})


def is_behavioral_code(code: str) -> bool:
    """The behavioral-health codes a hospital file is searched for when nothing narrower
    is known: HCPCS H0001-H2037 (alcohol and drug, mental health), S9480 (intensive
    outpatient psychiatric), S0201 (partial hospitalization), CPT psychiatry
    90785-90899, revenue codes 0900-0919 (behavioral health) and 1000-1005
    (residential)."""
    if len(code) == 5 and code[0] == "H" and code[1:].isascii() and code[1:].isdigit():
        return 1 <= int(code[1:]) <= 2037
    if code in ("S9480", "S0201"):
        return True
    if is_psychiatry_cpt(code):
        return True
    if code.startswith("REV:") and code[4:].isascii() and code[4:].isdigit():
        n = int(code[4:])
        return 900 <= n <= 919 or 1000 <= n <= 1005
    return False


def is_psychiatry_cpt(code: str) -> bool:
    """A CPT code of the psychiatry section, 90785-90899."""
    return len(code) == 5 and code.isascii() and code.isdigit() and 90785 <= int(code) <= 90899


def level_of_code(code: str) -> LevelOfCare | None:
    """The level of care a billing code prices, or None when the code alone does not say."""
    level = CODE_LEVELS.get(code)
    if level is None and is_psychiatry_cpt(code):
        return "outpatient"
    return level


def frequency_of_code(code: str) -> str:
    """``per_episode`` for intake evaluations, else ``per_service``."""
    return "per_episode" if code in PER_EPISODE_CODES else "per_service"
