"""FHIR R4 (4.0.1) documents following HL7 Da Vinci Patient Cost Transparency STU 2.

``gfe_bundle(view)`` is the Good Faith Estimate as a PCT GFE Bundle: a
``collection`` with an identifier and a timestamp, first the GFE Summary Claim
(type estimate-summary), then the GFE Claim (professional, or institutional
when the program bills revenue codes), the Patient, the self-pay Coverage and
the provider Organization.  ``advanced_eob_bundle(...)`` is an insured
estimate as an ExplanationOfBenefit (PCT Advanced EOB) with the GFE Claim of
billed charges it answers.

Plain dicts with Decimal money: ``encode`` writes them as JSON numbers with
their two decimals.  Code-system and extension URLs are the IG's own (its FSH
sources, ``input/fsh``); docs/DOCUMENTS.md lists them with the checks made.
Every reference is a ``urn:uuid:`` fullUrl of another entry, the uuid derived
from the document id, so rendering the same document twice gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import msgspec

from costsvc.domain.gfe import (
    PLACE_OF_SERVICE,
    GfeProvider,
    GfeView,
    date_text,
    service_code_system,
)
from costsvc.domain.levels import LEVELS
from costsvc.domain.model import Benefits, PricedEpisode

FHIR_JSON = "application/fhir+json"

# Identifier systems of this service (ours, so ours to name).
GFE_ID_SYSTEM = "https://costsvc.dev/fhir/sid/gfe-id"
ESTIMATE_ID_SYSTEM = "https://costsvc.dev/fhir/sid/estimate-id"
PAYER_ID_SYSTEM = "https://costsvc.dev/fhir/sid/payer-id"

# HL7 and external terminologies, as the PCT IG names them (input/fsh/aliases.fsh).
PCT = "http://hl7.org/fhir/us/davinci-pct"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/diagnosistype"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
BENEFIT_UNIT = "http://terminology.hl7.org/CodeSystem/benefit-unit"
BENEFIT_NETWORK = "http://terminology.hl7.org/CodeSystem/benefit-network"
BENEFIT_TERM = "http://terminology.hl7.org/CodeSystem/benefit-term"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
TIN_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NUBC_REVENUE = "https://www.nubc.org/CodeSystem/RevenueCodes"
NUBC_TYPE_OF_BILL = "https://www.nubc.org/CodeSystem/TypeOfBill"
CMS_POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
NUCC = "http://nucc.org/provider-taxonomy"
X12_SERVICE_TYPE = "https://x12.org/codes/service-type-codes"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
COVERAGE_KIND = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.kind"
PCT_ESTIMATE_TYPE = f"{PCT}/CodeSystem/PCTEstimateTypeSummaryCSTemporaryTrialUse"
PCT_SUPPORTING_INFO = f"{PCT}/CodeSystem/PCTSupportingInfoType"
PCT_ADJUDICATION_CATEGORY = f"{PCT}/CodeSystem/PCTAdjudicationCategoryCS"
PCT_ADJUDICATION = f"{PCT}/CodeSystem/PCTAdjudication"
PCT_NETWORK_STATUS = f"{PCT}/CodeSystem/PCTNetworkStatusCS"
PCT_PROCESS_NOTE = f"{PCT}/CodeSystem/PCTAEOBProcessNoteCS"
PCT_FINANCIAL_TYPE = f"{PCT}/CodeSystem/PCTFinancialType"
EXT_GFE_DISCLAIMER = f"{PCT}/StructureDefinition/gfeDisclaimer"
EXT_SERVICE_DESCRIPTION = f"{PCT}/StructureDefinition/serviceDescription"
EXT_PROVIDER_TAXONOMY = f"{PCT}/StructureDefinition/providerTaxonomy"
EXT_SELF_PAY_DECLARED = f"{PCT}/StructureDefinition/selfPayDeclared"
EXT_GFE_REFERENCE = f"{PCT}/StructureDefinition/gfeReference"
EXT_PROCESS_NOTE_CLASS = f"{PCT}/StructureDefinition/processNoteClass"

# NUCC taxonomy of the billing provider, by level (the fee schedule carries none yet):
# a substance use disorder rehabilitation facility for 24-hour care, a substance use
# disorder rehabilitation clinic for the rest.
TAXONOMY = {
    "detox": ("324500000X", "Substance Abuse Rehabilitation Facility"),
    "residential": ("324500000X", "Substance Abuse Rehabilitation Facility"),
    "php": ("261QR0405X", "Rehabilitation, Substance Use Disorder Clinic/Center"),
    "iop": ("261QR0405X", "Rehabilitation, Substance Use Disorder Clinic/Center"),
    "outpatient": ("261QR0405X", "Rehabilitation, Substance Use Disorder Clinic/Center"),
}
# UB-04 type of bill for an institutional GFE: hospital inpatient for 24-hour care,
# hospital outpatient otherwise; frequency 1 (admit through discharge).
TYPE_OF_BILL = {
    "detox": ("0111", "Hospital Inpatient (Part A), admit through discharge claim"),
    "residential": ("0111", "Hospital Inpatient (Part A), admit through discharge claim"),
    "php": ("0131", "Hospital Outpatient, admit through discharge claim"),
    "iop": ("0131", "Hospital Outpatient, admit through discharge claim"),
    "outpatient": ("0131", "Hospital Outpatient, admit through discharge claim"),
}

_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(resource: dict[str, Any]) -> bytes:
    return _encoder.encode(resource)


def _urn(document_id: str, role: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://costsvc.dev/fhir/{document_id}/{role}"))


def _id(urn: str) -> str:
    return urn.removeprefix("urn:uuid:")


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def _concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    cc: dict[str, Any] = {"coding": [_coding(system, code, display)]}
    if text:
        cc["text"] = text
    return cc


def _money(amount: Decimal) -> dict[str, Any]:
    return {"value": amount, "currency": "USD"}


def _ref(urn: str) -> dict[str, str]:
    return {"reference": urn}


def _absent(code: str = "not-applicable") -> dict[str, Any]:
    return {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": code}]}


def _serviced(first: dt.date, last: dt.date) -> dict[str, Any]:
    if first == last:
        return {"servicedDate": first.isoformat()}
    return {"servicedPeriod": {"start": first.isoformat(), "end": last.isoformat()}}


def _entry(urn: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": urn, "resource": resource}


def claim_kind(codes: list[str]) -> str:
    """Institutional when any line bills a revenue code (a facility's UB-04), else professional."""
    return "institutional" if any(service_code_system(c) == "REV" for c in codes) else "professional"


def product_or_service(code: str, description: str) -> dict[str, Any]:
    """The line's CPT or HCPCS code; a revenue-code line has none (its code is the item's
    ``revenue``): the concept says so with a data-absent-reason, as the IG allows."""
    system = service_code_system(code)
    if system == "REV":
        return {**_absent(), "text": description}
    # CPT codes need a display (pct-cpt-display); the fee line's description is it.
    return _concept(CPT if system == "CPT" else HCPCS, code, description)


def _revenue(code: str, fallback: str | None) -> dict[str, Any] | None:
    if service_code_system(code) == "REV":
        return _concept(NUBC_REVENUE, code[4:])
    return _concept(NUBC_REVENUE, fallback) if fallback else None


def _location(level: str) -> dict[str, Any]:
    pos, name = PLACE_OF_SERVICE[level]
    return _concept(CMS_POS, pos, name)


def _provider_taxonomy(level: str) -> dict[str, Any]:
    code, name = TAXONOMY[level]
    return {"url": EXT_PROVIDER_TAXONOMY, "valueCodeableConcept": _concept(NUCC, code, name)}


def organization(urn: str, provider: GfeProvider) -> dict[str, Any]:
    identifiers = []
    if provider.npi:
        identifiers.append({"type": _concept(V2_0203, "NPI", "National provider identifier"),
                            "system": NPI_SYSTEM, "value": provider.npi})
    if provider.tin:
        identifiers.append({"type": _concept(V2_0203, "TAX", "Tax ID number"),
                            "system": TIN_SYSTEM, "value": provider.tin})
    return {
        "resourceType": "Organization", "id": _id(urn), "identifier": identifiers, "active": True,
        "type": [_concept(ORG_TYPE, "prov", "Healthcare Provider")],
        "name": provider.name,
        "address": [{"text": f"{provider.place_of_service}, {provider.state}", "state": provider.state,
                     "country": "US"}],
    }


def _diagnoses(codes: list[str]) -> list[dict[str, Any]]:
    out = []
    for i, code in enumerate(codes, start=1):
        d: dict[str, Any] = {"sequence": i, "diagnosisCodeableConcept": _concept(ICD10_CM, code)}
        if i == 1:
            d["type"] = [_concept(DIAGNOSIS_TYPE, "principal", "Principal Diagnosis")]
        out.append(d)
    return out


def _claim_item(seq: int, item_code: str, description: str, level: str, kind: str, revenue_fallback: str | None,
                first: dt.date, last: dt.date, quantity: int, unit_price: Decimal, net: Decimal) -> dict[str, Any]:
    out: dict[str, Any] = {
        "extension": [{"url": EXT_SERVICE_DESCRIPTION, "valueString": description}],
        "sequence": seq,
    }
    if kind == "institutional":
        revenue = _revenue(item_code, revenue_fallback)
        if revenue:
            out["revenue"] = revenue
    out["productOrService"] = product_or_service(item_code, description)
    out.update(_serviced(first, last))
    out["locationCodeableConcept"] = _location(level)
    out["quantity"] = {"value": quantity}
    out["unitPrice"] = _money(unit_price)
    out["net"] = _money(net)
    return out


def _revenue_fallback(codes: list[str]) -> str | None:
    """On an institutional claim every item needs a revenue code: a CPT/HCPCS line (the
    intake assessment) goes under the program's own revenue code for the level."""
    for c in codes:
        if service_code_system(c) == "REV":
            return c[4:]
    return None


def _gfe_claim(*, urn: str, placer_system: str, placer_id: str, level: str, created: str,
               patient: str, provider: str, coverage: str, insurer: str | None,
               start: dt.date, end: dt.date, diagnoses: list[str], lines: list[tuple[Any, ...]],
               total: Decimal, disclaimers: list[str]) -> dict[str, Any]:
    """A PCT GFE Professional or Institutional Claim.  ``lines``: (code, description, first
    date, last date, quantity, unit price, net)."""
    codes = [line[0] for line in lines]
    kind = claim_kind(codes)
    fallback = _revenue_fallback(codes)
    claim: dict[str, Any] = {"resourceType": "Claim", "id": _id(urn)}
    if disclaimers:
        claim["extension"] = [{"url": EXT_GFE_DISCLAIMER, "valueString": d} for d in disclaimers]
    claim |= {
        "identifier": [{"type": _concept(V2_0203, "PLAC", "Placer Identifier"),
                        "system": placer_system, "value": placer_id}],
        "status": "active",
        "type": _concept(CLAIM_TYPE, kind, kind.capitalize()),
        "use": "predetermination",
        "patient": _ref(patient),
        "billablePeriod": {"start": start.isoformat(), "end": end.isoformat()},
        "created": created,
    }
    if insurer:
        claim["insurer"] = _ref(insurer)
    claim["provider"] = {**_ref(provider), "extension": [_provider_taxonomy(level)]}
    claim["priority"] = _concept(PROCESS_PRIORITY, "normal")
    if kind == "institutional":
        tob, tob_name = TYPE_OF_BILL[level]
        claim["supportingInfo"] = [{
            "sequence": 1, "category": _concept(PCT_SUPPORTING_INFO, "typeofbill", "Type of Bill"),
            "code": _concept(NUBC_TYPE_OF_BILL, tob, tob_name),
        }]
    if diagnoses:
        claim["diagnosis"] = _diagnoses(diagnoses)
    claim["insurance"] = [{"sequence": 1, "focal": True, "coverage": _ref(coverage)}]
    claim["item"] = [
        _claim_item(seq, code, desc, level, kind, fallback, first, last, qty, unit, net)
        for seq, (code, desc, first, last, qty, unit, net) in enumerate(lines, start=1)
    ]
    claim["total"] = _money(total)
    return claim


# --------------------------------------------------------------------------- GFE Bundle


def gfe_bundle(view: GfeView) -> dict[str, Any]:
    """The GFE as a PCT GFE Bundle (collection)."""
    c = view.content
    doc = f"gfe/{c.gfe_id}"
    summary_urn, claim_urn, patient_urn, coverage_urn, org_urn = (
        _urn(doc, role) for role in ("summary", "claim", "patient", "coverage", "organization"))
    created = c.issued_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    disclaimers = [d.text for d in view.disclaimers]
    if view.sliding:
        disclaimers.append(view.sliding)
    diagnoses = list(view.phi.diagnosis_codes)

    summary: dict[str, Any] = {
        "resourceType": "Claim", "id": _id(summary_urn),
        "extension": [{"url": EXT_GFE_DISCLAIMER, "valueString": d} for d in disclaimers],
        "status": "active",
        "type": _concept(PCT_ESTIMATE_TYPE, "estimate-summary", "Estimate Summary"),
        "use": "predetermination",
        "patient": _ref(patient_urn),
        "billablePeriod": {"start": c.service_start.isoformat(), "end": c.service_end.isoformat()},
        "created": created,
        # One provider here, but the summary stands for every contributing provider.
        "provider": _absent(),
        "priority": _concept(PROCESS_PRIORITY, "normal"),
    }
    if diagnoses:
        summary["diagnosis"] = _diagnoses(diagnoses)
    summary["insurance"] = [{"sequence": 1, "focal": True, "coverage": _ref(coverage_urn)}]
    summary["total"] = _money(c.total_expected_charges)

    claim = _gfe_claim(
        urn=claim_urn, placer_system=GFE_ID_SYSTEM, placer_id=c.gfe_id, level=c.level_of_care, created=created,
        patient=patient_urn, provider=org_urn, coverage=coverage_urn, insurer=None,
        start=c.service_start, end=c.service_end, diagnoses=diagnoses,
        lines=[(it.code, it.description, it.first_date, it.last_date, it.quantity, it.unit_price,
                it.expected_charge) for it in c.items],
        total=c.total_expected_charges, disclaimers=disclaimers,
    )
    patient = {
        "resourceType": "Patient", "id": _id(patient_urn),
        # The person is known to this service only through this GFE.
        "identifier": [{"system": GFE_ID_SYSTEM, "value": c.gfe_id}],
        "name": [{"text": view.phi.name}],
        "gender": "unknown",
        "birthDate": view.phi.date_of_birth.isoformat(),
    }
    coverage = {
        "resourceType": "Coverage", "id": _id(coverage_urn),
        "extension": [{"url": COVERAGE_KIND, "valueCode": "self-pay"},
                      {"url": EXT_SELF_PAY_DECLARED, "valueBoolean": True}],
        "status": "active",
        "_subscriberId": _absent(),
        "beneficiary": _ref(patient_urn),
        "relationship": _concept(SUBSCRIBER_RELATIONSHIP, "self", "Self"),
        "period": {"start": c.service_start.isoformat(), "end": c.valid_until.isoformat()},
        "payor": [_ref(patient_urn)],
    }
    return {
        "resourceType": "Bundle", "id": _id(_urn(doc, "bundle")),
        "identifier": {"system": GFE_ID_SYSTEM, "value": c.gfe_id},
        "type": "collection",
        "timestamp": created,
        "entry": [
            _entry(summary_urn, summary),
            _entry(claim_urn, claim),
            _entry(patient_urn, patient),
            _entry(coverage_urn, coverage),
            _entry(org_urn, organization(org_urn, c.provider)),
        ],
    }


# --------------------------------------------------------------------------- Advanced EOB


class PlanInfo(msgspec.Struct, frozen=True):
    """What the AEOB says about the plan: None fields when the estimate used inline benefits."""

    plan_id: str | None
    plan_name: str | None
    payer_id: str | None
    payer_name: str | None
    benefits: Benefits | None


def plan_year(start: dt.date, plan_year_start: str) -> tuple[dt.date, dt.date]:
    """The plan year (first and last day) that contains ``start``."""
    month, day = (int(p) for p in plan_year_start.split("-"))

    def begin(year: int) -> dt.date:
        try:
            return dt.date(year, month, day)
        except ValueError:  # 29 February in a common year
            return dt.date(year, month, 28)

    first = begin(start.year)
    if first > start:
        first = begin(start.year - 1)
    return first, begin(first.year + 1) - dt.timedelta(days=1)


def _adjudication(system: str, code: str, display: str, amount: Decimal) -> dict[str, Any]:
    return {"category": _concept(system, code, display), "amount": _money(amount)}


def _network_reason(network_status: str) -> dict[str, Any]:
    code, name = ("innetwork", "In Network") if network_status == "in_network" else ("outofnetwork", "Out Of Network")
    return _concept(PCT_NETWORK_STATUS, code, name)


def _benefit_balances(priced: PricedEpisode, plan: PlanInfo) -> list[dict[str, Any]]:
    """Deductible and out-of-pocket maximum of the chosen network: ``allowed`` the plan's
    amount, ``used`` the met amount after this estimate.  Inline benefits are not stored
    with the estimate, so their ``allowed`` is unknown and left out."""
    network = priced.network_status
    after = getattr(priced.accumulators_after, network)
    nb = getattr(plan.benefits, network) if plan.benefits is not None else None
    net_code = "in" if network == "in_network" else "out"
    balances = []
    units = [("individual", "Individual", after.deductible_met, after.oop_met, "individual")]
    if nb is not None and ((nb.deductible and nb.deductible.family) or (nb.oop_max and nb.oop_max.family)):
        units.append(("family", "Family", after.family_deductible_met, after.family_oop_met, "family"))
    for unit, unit_name, ded_used, oop_used, attr in units:
        financial = []
        for kind, label, used, amounts in (
            ("deductible", "Deductible", ded_used, nb.deductible if nb else None),
            ("out-of-pocket-maximum", "Out-of-Pocket Maximum", oop_used, nb.oop_max if nb else None),
        ):
            limit = getattr(amounts, attr) if amounts is not None else None
            entry: dict[str, Any] = {"type": _concept(PCT_FINANCIAL_TYPE, kind, label)}
            if nb is not None:
                if limit is None and kind == "out-of-pocket-maximum":
                    continue  # no cap: nothing to show against
                entry["allowedMoney"] = _money(limit if limit is not None else Decimal("0.00"))
            entry["usedMoney"] = _money(used)
            financial.append(entry)
        balances.append({
            "category": _concept(X12_SERVICE_TYPE, "30", "Health Benefit Plan Coverage",
                                 text="Health Benefit Plan Coverage"),
            "network": _concept(BENEFIT_NETWORK, net_code),
            "unit": _concept(BENEFIT_UNIT, unit, unit_name),
            "term": _concept(BENEFIT_TERM, "annual", "Annual"),
            "financial": financial,
        })
    return balances


def advanced_eob_bundle(*, estimate_id: str, created_at: dt.datetime, priced: PricedEpisode,
                        provider: GfeProvider, plan: PlanInfo) -> dict[str, Any]:
    """An insured estimate as a PCT Advanced EOB, with the GFE Claim (billed charges) it answers.
    The Patient has no name: an estimate knows nobody."""
    if priced.network_status == "self_pay":
        raise ValueError("a self-pay estimate has no Advanced EOB")
    doc = f"estimate/{estimate_id}"
    eob_urn, claim_urn, patient_urn, coverage_urn, insurer_urn, provider_urn = (
        _urn(doc, role) for role in ("eob", "claim", "patient", "coverage", "insurer", "provider"))
    created = created_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    level = priced.level_of_care
    start, end = priced.episode.start_date, priced.episode.end_date
    period_start, period_end = plan_year(start, plan.benefits.plan_year_start if plan.benefits else "01-01")

    def line_dates(line: Any) -> tuple[dt.date, dt.date]:
        # A per-service line is billed on every unit (start to end), a per-episode line on the start.
        return (start, start) if line.frequency == "per_episode" else (start, end)

    claim_lines = []
    for line in priced.lines:
        first, last = line_dates(line)
        unit = (line.billed / line.quantity).quantize(Decimal("0.01")) if line.quantity else line.billed
        claim_lines.append((line.billing_code, line.description, first, last, line.quantity, unit, line.billed))
    claim = _gfe_claim(
        urn=claim_urn, placer_system=ESTIMATE_ID_SYSTEM, placer_id=estimate_id, level=level, created=created,
        patient=patient_urn, provider=provider_urn, coverage=coverage_urn, insurer=insurer_urn,
        start=start, end=end, diagnoses=[], lines=claim_lines, total=priced.totals.billed, disclaimers=[],
    )
    kind = claim_kind([line.billing_code for line in priced.lines])
    fallback = _revenue_fallback([line.billing_code for line in priced.lines])
    network = _network_reason(priced.network_status)
    items = []
    for seq, (line, cl) in enumerate(zip(priced.lines, claim_lines), start=1):
        first, last = cl[2], cl[3]
        item: dict[str, Any] = {
            "extension": [{"url": EXT_SERVICE_DESCRIPTION, "valueString": line.description}],
            "sequence": seq,
        }
        if kind == "institutional" and (revenue := _revenue(line.billing_code, fallback)):
            item["revenue"] = revenue
        item["productOrService"] = product_or_service(line.billing_code, line.description)
        item.update(_serviced(first, last))
        item["locationCodeableConcept"] = _location(level)
        item["quantity"] = {"value": line.quantity}
        item["unitPrice"] = _money(cl[5])
        item["net"] = _money(line.billed)
        item["adjudication"] = [
            {"category": _concept(PCT_ADJUDICATION_CATEGORY, "benefitpaymentstatus", "Benefit Payment Status"),
             "reason": network},
            _adjudication(ADJUDICATION, "submitted", "Submitted Amount", line.billed),
            _adjudication(ADJUDICATION, "eligible", "Eligible Amount", line.allowed),
            _adjudication(ADJUDICATION, "benefit", "Benefit Amount", line.plan_pays),
            _adjudication(PCT_ADJUDICATION_CATEGORY, "memberliability", "Member Liability", line.patient_pays),
        ]
        items.append(item)
    t = priced.totals
    totals = [
        _adjudication(ADJUDICATION, "submitted", "Submitted Amount", t.billed),
        _adjudication(ADJUDICATION, "eligible", "Eligible Amount", t.allowed),
        _adjudication(ADJUDICATION, "benefit", "Benefit Amount", t.plan_pays),
        _adjudication(PCT_ADJUDICATION_CATEGORY, "memberliability", "Member Liability", t.patient_pays),
    ]
    if t.not_covered:
        totals.append(_adjudication(PCT_ADJUDICATION, "noncovered", "Noncovered", t.not_covered))
    notes = []
    for notice in priced.notices:
        note_class = "conditional" if notice.code == "prior_authorization_required" else "other"
        notes.append((note_class, notice.message))
    notes.append(("disclaimer", priced.disclaimer))
    process_notes = [
        {"extension": [{"url": EXT_PROCESS_NOTE_CLASS,
                        "valueCodeableConcept": _concept(PCT_PROCESS_NOTE, cls, cls.replace("-", " ").capitalize())}],
         "number": n, "type": "display", "text": text}
        for n, (cls, text) in enumerate(notes, start=1)
    ]
    info = LEVELS[level]
    eob: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit", "id": _id(eob_urn),
        "extension": [
            {"url": EXT_GFE_REFERENCE, "valueReference": _ref(claim_urn)},
            {"url": EXT_SERVICE_DESCRIPTION,
             "valueString": f"{info.name} ({level.upper()}): {priced.episode.units} {priced.episode.unit}s "
                            f"from {date_text(start)} to {date_text(end)}"},
        ],
        "identifier": [{"type": _concept(V2_0203, "UCID", "Unique Claim ID"),
                        "system": ESTIMATE_ID_SYSTEM, "value": estimate_id}],
        "status": "active",
        "type": _concept(CLAIM_TYPE, kind, kind.capitalize()),
        "use": "predetermination",
        "patient": _ref(patient_urn),
        "billablePeriod": {"start": start.isoformat(), "end": end.isoformat()},
        "created": created,
        "insurer": _ref(insurer_urn),
        "provider": _ref(provider_urn),
        "priority": _concept(PROCESS_PRIORITY, "normal"),
        "claim": {**_ref(claim_urn), "identifier": {"system": ESTIMATE_ID_SYSTEM, "value": estimate_id}},
        "outcome": "complete",
        "insurance": [{"focal": True, "coverage": _ref(coverage_urn)}],
        "benefitPeriod": {"start": period_start.isoformat(), "end": period_end.isoformat()},
        "item": items,
        "adjudication": [{"category": _concept(PCT_ADJUDICATION_CATEGORY, "billingnetworkstatus",
                                               "Billing Network Status"), "reason": network}],
        "total": totals,
        "processNote": process_notes,
        "benefitBalance": _benefit_balances(priced, plan),
    }
    patient = {
        "resourceType": "Patient", "id": _id(patient_urn),
        "identifier": [{"system": ESTIMATE_ID_SYSTEM, "value": estimate_id}],
        "gender": "unknown",
    }
    coverage = {
        "resourceType": "Coverage", "id": _id(coverage_urn),
        "extension": [{"url": COVERAGE_KIND, "valueCode": "insurance"}],
        "status": "active",
        # An estimate carries no member ID.
        "_subscriberId": _absent("unknown"),
        "beneficiary": _ref(patient_urn),
        "relationship": _concept(SUBSCRIBER_RELATIONSHIP, "self", "Self"),
        "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
        "payor": [_ref(insurer_urn)],
        "class": [{"type": _concept(COVERAGE_CLASS, "plan", "Plan"),
                   "value": plan.plan_id or "inline-benefits",
                   "name": plan.plan_name or "Benefits sent with the estimate request"}],
    }
    insurer: dict[str, Any] = {
        "resourceType": "Organization", "id": _id(insurer_urn), "active": True,
        "type": [_concept(ORG_TYPE, "pay", "Payer")],
        "name": plan.payer_name or plan.payer_id or "Payer not on file",
    }
    if plan.payer_id:
        insurer["identifier"] = [{"system": PAYER_ID_SYSTEM, "value": plan.payer_id}]
    return {
        "resourceType": "Bundle", "id": _id(_urn(doc, "bundle")),
        "identifier": {"system": ESTIMATE_ID_SYSTEM, "value": estimate_id},
        "type": "collection",
        "timestamp": created,
        "entry": [
            _entry(eob_urn, eob),
            _entry(claim_urn, claim),
            _entry(patient_urn, patient),
            _entry(coverage_urn, coverage),
            _entry(insurer_urn, insurer),
            _entry(provider_urn, organization(provider_urn, provider)),
        ],
    }
