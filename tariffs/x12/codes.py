"""X12 code lists the 271 reader needs, and how service types map to our levels of care.

Only codes the reader acts on or names in a message are listed; everything else is
treated as "unknown" and kept visible (an unmapped EB segment, a bare code in a
message) rather than guessed at.
"""

from __future__ import annotations

from costsvc.domain.model import LEVELS_OF_CARE, LevelOfCare

# --------------------------------------------------------------------------- service types (EB03)

PLAN_WIDE_SERVICE_TYPE = "30"  # health benefit plan coverage

_INPATIENT: tuple[LevelOfCare, ...] = ("residential", "detox")
_OUTPATIENT: tuple[LevelOfCare, ...] = ("iop", "outpatient")

SERVICE_TYPE_LEVELS: dict[str, tuple[LevelOfCare, ...]] = {
    PLAN_WIDE_SERVICE_TYPE: LEVELS_OF_CARE,
    # general behavioral codes: every level of care
    "MH": LEVELS_OF_CARE,  # mental health (5010 only)
    "A4": LEVELS_OF_CARE,  # psychiatric
    "AI": LEVELS_OF_CARE,  # substance abuse
    "AJ": LEVELS_OF_CARE,  # alcoholism
    "AK": LEVELS_OF_CARE,  # drug addiction
    # specific codes
    "RT": ("residential",),  # residential psychiatric treatment
    "BB": ("php",),  # partial hospitalization (psychiatric)
    "A7": _INPATIENT,  # psychiatric - inpatient
    "CE": _INPATIENT,  # mental health provider - inpatient
    "CG": _INPATIENT,  # substance abuse facility - inpatient
    "CI": _INPATIENT,  # alcoholism/drug addiction facility - inpatient (by the spec's table)
    "A8": _OUTPATIENT,  # psychiatric - outpatient
    "CF": _OUTPATIENT,  # mental health provider - outpatient
    "CH": _OUTPATIENT,  # substance abuse facility - outpatient
    "CJ": _OUTPATIENT,  # outpatient counterpart of CI
    "A6": ("outpatient",),  # psychotherapy
}

# Codes that exist only from 5010 on: in a 4010 transaction they are unknown codes.
SERVICE_TYPES_NOT_IN_4010 = frozenset({"MH"})


def specificity(service_type: str) -> int:
    """Smaller is more specific: the number of levels the code maps to, with the
    plan-wide ``30`` ranked after the general behavioral codes (which map to as many)."""
    if service_type == PLAN_WIDE_SERVICE_TYPE:
        return len(LEVELS_OF_CARE) + 1
    return len(SERVICE_TYPE_LEVELS[service_type])


# --------------------------------------------------------------------------- EB01 and other EB codes

EB01_NAMES: dict[str, str] = {
    "1": "active coverage",
    "2": "active - full risk capitation",
    "3": "active - services capitated",
    "4": "active - services capitated to primary care physician",
    "5": "active - pending investigation",
    "6": "inactive",
    "7": "inactive - pending eligibility update",
    "8": "inactive - pending investigation",
    "A": "co-insurance",
    "B": "co-payment",
    "C": "deductible",
    "CB": "coverage basis",
    "D": "benefit description",
    "E": "exclusions",
    "F": "limitations",
    "G": "out of pocket (stop loss)",
    "H": "unlimited",
    "I": "non-covered",
    "J": "cost containment",
    "K": "reserve",
    "L": "primary care provider",
    "M": "pre-existing condition",
    "MC": "managed care coordinator",
    "N": "services restricted to following provider",
    "O": "not deemed a medical necessity",
    "P": "benefit disclaimer",
    "Q": "second surgical opinion required",
    "R": "other or additional payor",
    "S": "prior year(s) history",
    "T": "card(s) reported lost/stolen",
    "U": "contact following entity for eligibility or benefit information",
    "V": "cannot process",
    "W": "other source of data",
    "X": "health care facility",
    "Y": "spend down",
}
STATUS_EB01 = frozenset({"1", "6", "7", "8"})  # the spec's active/inactive codes
ACTIVE_EB01 = "1"

TIME_PERIODS: dict[str, str] = {
    "6": "hour",
    "7": "day",
    "13": "24 hours",
    "21": "years",
    "22": "service year",
    "23": "calendar year",
    "24": "year to date",
    "25": "contract",
    "26": "episode",
    "27": "visit",
    "28": "outlier",
    "29": "remaining",
    "30": "exceeded",
    "31": "not exceeded",
    "32": "lifetime",
    "33": "lifetime remaining",
    "34": "month",
    "35": "week",
    "36": "admission",
    "37": "admission",  # the spec's per-admission copay code
}
PLAN_YEAR_PERIODS = frozenset({"", "22", "23"})  # a plan amount: blank, service year, calendar year
YEAR_TO_DATE = "24"
REMAINING = "29"
COPAY_UNITS: dict[str, str] = {"": "per_visit", "27": "per_visit", "7": "per_day", "26": "per_admission", "37": "per_admission"}
LIMIT_QUANTITIES = frozenset({"DY", "VS"})  # days, visits

# --------------------------------------------------------------------------- AAA (request validation)

REJECT_REASONS: dict[str, str] = {
    "04": "authorized quantity exceeded",
    "15": "required application data missing",
    "33": "input errors",
    "35": "out of network",
    "41": "authorization/access restrictions",
    "42": "unable to respond at current time",
    "43": "invalid/missing provider identification",
    "44": "invalid/missing provider name",
    "45": "invalid/missing provider specialty",
    "46": "invalid/missing provider phone number",
    "47": "invalid/missing provider state",
    "48": "invalid/missing referring provider identification number",
    "49": "provider is not primary care physician",
    "50": "provider ineligible for inquiries",
    "51": "provider not on file",
    "52": "service dates not within provider plan enrollment",
    "53": "inquired benefit inconsistent with provider type",
    "54": "inappropriate product/service ID qualifier",
    "55": "inappropriate product/service ID",
    "56": "inappropriate date",
    "57": "invalid/missing date(s) of service",
    "58": "invalid/missing date of birth",
    "60": "date of birth follows date(s) of service",
    "61": "date of death precedes date(s) of service",
    "62": "date of service not within allowable inquiry period",
    "63": "date of service in future",
    "64": "invalid/missing patient ID",
    "65": "invalid/missing patient name",
    "66": "invalid/missing patient gender code",
    "67": "patient not found",
    "68": "duplicate patient ID number",
    "69": "inconsistent with patient's age",
    "70": "inconsistent with patient's gender",
    "71": "patient birth date does not match that for the patient on the database",
    "72": "invalid/missing member ID",
    "73": "invalid/missing subscriber/insured name",
    "74": "invalid/missing subscriber/insured gender code",
    "75": "subscriber not found",
    "76": "duplicate subscriber/insured ID number",
    "77": "subscriber found, patient not found",
    "78": "subscriber/insured not in group/plan identified",
    "79": "invalid participant identification",
    "80": "no response received - transaction terminated",
    "97": "invalid or missing provider address",
    "AA": "authorization number not found",
    "AE": "requires primary care physician authorization",
    "AF": "invalid/missing diagnosis code(s)",
    "AG": "invalid/missing procedure code(s)",
    "AO": "additional patient condition information required",
    "CI": "certification information does not match patient",
    "E8": "requires medical review",
    "IA": "invalid authorization number format",
    "MA": "missing authorization",
    "T4": "payer name or identifier missing",
}

HL_LEVELS: dict[str, str] = {
    "20": "information source (payer)",
    "21": "information receiver (provider)",
    "22": "subscriber",
    "23": "dependent",
}
