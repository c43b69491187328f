"""Checks of the FHIR documents: R4B models (fhir.resources), the Da Vinci PCT STU 2 rules
the contract names, and the IG's own FHIRPath invariants (fhirpathpy), copied from its FSH
sources (HL7/davinci-pct, input/fsh).  docs/DOCUMENTS.md lists which checks are here and
which need the HL7 validator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhirpathpy import evaluate

PCT = "http://hl7.org/fhir/us/davinci-pct"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

# Invariant id -> (resource type it applies to, expression), verbatim from the IG.
BUNDLE_INVARIANTS = {
    "pct-gfe-bundle-1": "Bundle.entry.resource.ofType(Practitioner).exists() or "
                        "Bundle.entry.resource.ofType(Organization).exists()",
    "pct-gfe-bundle-2": "Bundle.entry.resource.descendants().reference.where($this.startsWith('#').not())"
                        ".all((%resource.entry.fullUrl.join('|')&'|').contains(($this&'|')))",
    "pct-gfe-bundle-3": "Bundle.entry[0].resource.ofType(Claim).type.coding.where(code='estimate-summary' and "
                        f"system='{PCT}/CodeSystem/PCTEstimateTypeSummaryCSTemporaryTrialUse').exists()",
}
COVERAGE_INVARIANTS = {
    "pct-coverage-1": "extension.where(url='http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.kind'"
                      "and value = 'insurance').exists() implies class.exists()",
    "pct-coverage-2": "extension.where(url='http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.kind'"
                      "and value = 'insurance').exists() implies period.exists()",
}
AEOB_INVARIANTS = {
    "pct-aeob-1": f"extension.where(url='{PCT}/StructureDefinition/serviceDescription').exists() or "
                  f"item.extension.where(url='{PCT}/StructureDefinition/serviceDescription').exists()",
    "pct-aeob-2": "adjudication.where(category.coding.where(code='submitted').exists()).exists() or "
                  "item.adjudication.where(category.coding.where(code='submitted').exists()).exists()",
    "pct-aeob-3": "adjudication.where(category.coding.where(code='memberliability').exists()).exists() or "
                  "item.adjudication.where(category.coding.where(code='memberliability').exists()).exists()",
}
CPT_DISPLAY = "system = 'http://www.ama-assn.org/go/cpt' implies display.exists()"  # pct-cpt-display


def _true(resource: dict[str, Any], expression: str, context: dict[str, Any] | None = None) -> bool:
    return evaluate(resource, expression, context or {}) == [True]


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _has_type(identifier: dict[str, Any], code: str) -> bool:
    return any(c.get("system") == V2_0203 and c.get("code") == code for c in identifier["type"]["coding"])


def money(value: Any) -> Decimal:
    return Decimal(str(value["value"]))


def check_common(bundle: dict[str, Any], raw: bytes) -> None:
    # The R4B models (structure, cardinalities, types, primitive formats).
    Bundle.model_validate_json(raw)
    assert bundle["type"] == "collection"
    assert bundle["identifier"]["value"] and bundle["timestamp"]
    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert all(full_urls) and len(set(full_urls)) == len(full_urls)
    for name, expression in BUNDLE_INVARIANTS.items():
        if name != "pct-gfe-bundle-3":
            assert _true(bundle, expression, {"resource": bundle}), name
    # Every reference resolves to an entry of the bundle (pct-gfe-bundle-2 again, directly).
    references = evaluate(bundle, "Bundle.entry.resource.descendants().reference")
    assert references and set(references) <= set(full_urls)
    for coverage in resources(bundle, "Coverage"):
        for name, expression in COVERAGE_INVARIANTS.items():
            assert _true(coverage, expression), name
    for claim in resources(bundle, "Claim") + resources(bundle, "ExplanationOfBenefit"):
        for coding in evaluate(claim, "descendants().ofType(Coding)"):
            assert evaluate(coding, CPT_DISPLAY) in ([True], []), coding
    for org in resources(bundle, "Organization"):
        assert org["name"] and org["type"]


def check_gfe_claim(claim: dict[str, Any], placer_id: str) -> None:
    """A PCT GFE Professional or Institutional Claim."""
    kind = claim["type"]["coding"][0]["code"]
    assert claim["type"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/claim-type"
    assert kind in ("professional", "institutional")
    assert claim["use"] == "predetermination"
    placers = [i for i in claim["identifier"] if _has_type(i, "PLAC")]
    assert len(placers) == 1 and placers[0]["value"] == placer_id
    assert claim["provider"]["reference"]
    assert any(e["url"] == f"{PCT}/StructureDefinition/providerTaxonomy" for e in claim["provider"]["extension"])
    assert claim["item"]
    total = Decimal("0")
    for item in claim["item"]:
        assert item["productOrService"]
        assert ("servicedDate" in item) != ("servicedPeriod" in item)
        assert item["quantity"]["value"] >= 1
        assert money(item["net"]) == money(item["unitPrice"]) * item["quantity"]["value"]
        location = item["locationCodeableConcept"]["coding"][0]
        assert location["system"] == "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
        assert location["code"] in {"11", "52", "55", "57"}
        assert any(e["url"] == f"{PCT}/StructureDefinition/serviceDescription" for e in item["extension"])
        if kind == "institutional":
            assert item["revenue"]["coding"][0]["system"] == "https://www.nubc.org/CodeSystem/RevenueCodes"
        total += money(item["net"])
    assert money(claim["total"]) == total
    if kind == "institutional":
        tob = [s for s in claim["supportingInfo"] if s["category"]["coding"][0]["code"] == "typeofbill"]
        assert len(tob) == 1 and tob[0]["code"]["coding"][0]["system"] == "https://www.nubc.org/CodeSystem/TypeOfBill"


def check_gfe_bundle(bundle: dict[str, Any], raw: bytes, gfe_id: str) -> dict[str, Any]:
    """A PCT GFE Bundle as the contract lists it; returns its GFE Claim."""
    check_common(bundle, raw)
    assert _true(bundle, BUNDLE_INVARIANTS["pct-gfe-bundle-3"], {"resource": bundle})
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[:2] == ["Claim", "Claim"]
    assert sorted(kinds[2:]) == ["Coverage", "Organization", "Patient"]
    summary, claim = bundle["entry"][0]["resource"], bundle["entry"][1]["resource"]
    assert summary["use"] == "predetermination"
    assert "item" not in summary
    assert summary["provider"]["extension"][0]["valueCode"] == "not-applicable"
    check_gfe_claim(claim, gfe_id)
    assert money(summary["total"]) == money(claim["total"])
    (org,) = resources(bundle, "Organization")
    systems = {i["system"] for i in org["identifier"]}
    assert {"http://hl7.org/fhir/sid/us-npi", "urn:oid:2.16.840.1.113883.4.4"} <= systems
    assert claim["provider"]["reference"] == bundle["entry"][kinds.index("Organization")]["fullUrl"]
    (coverage,) = resources(bundle, "Coverage")
    kind_ext = [e for e in coverage["extension"] if e["url"].endswith("extension-Coverage.kind")]
    assert kind_ext[0]["valueCode"] == "self-pay"
    patient_url = bundle["entry"][kinds.index("Patient")]["fullUrl"]
    assert coverage["payor"] == [{"reference": patient_url}]
    assert claim["insurance"][0]["coverage"]["reference"] == bundle["entry"][kinds.index("Coverage")]["fullUrl"]
    return claim


def check_aeob_bundle(bundle: dict[str, Any], raw: bytes, estimate_id: str) -> dict[str, Any]:
    """The Advanced EOB Bundle; returns the ExplanationOfBenefit."""
    check_common(bundle, raw)
    (eob,) = resources(bundle, "ExplanationOfBenefit")
    (claim,) = resources(bundle, "Claim")
    for name, expression in AEOB_INVARIANTS.items():
        assert _true(eob, expression), name
    assert eob["use"] == "predetermination"
    ucids = [i for i in eob["identifier"] if _has_type(i, "UCID")]
    assert len(ucids) == 1 and ucids[0]["value"] == estimate_id
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    assert by_url[eob["insurer"]["reference"]]["resourceType"] == "Organization"
    assert by_url[eob["provider"]["reference"]]["resourceType"] == "Organization"
    patient = by_url[eob["patient"]["reference"]]
    assert patient["resourceType"] == "Patient" and "name" not in patient and "birthDate" not in patient
    coverage = by_url[eob["insurance"][0]["coverage"]["reference"]]
    assert coverage["resourceType"] == "Coverage" and coverage["class"] and coverage["period"]
    assert by_url[eob["claim"]["reference"]] is claim
    check_gfe_claim(claim, estimate_id)
    assert eob["benefitPeriod"]["start"] <= eob["billablePeriod"]["start"] <= eob["benefitPeriod"]["end"]
    categories = {"submitted", "eligible", "benefit", "memberliability"}
    for item in eob["item"]:
        assert categories <= {a["category"]["coding"][0]["code"] for a in item["adjudication"]}
    totals = {t["category"]["coding"][0]["code"]: money(t["amount"]) for t in eob["total"]}
    assert categories <= set(totals)
    for category in categories:
        items = sum(money(a["amount"]) for item in eob["item"] for a in item["adjudication"]
                    if a["category"]["coding"][0]["code"] == category)
        assert items == totals[category], category
    assert totals["submitted"] == money(claim["total"])
    assert eob["processNote"] and eob["benefitBalance"]
    status = eob["adjudication"][0]
    assert status["category"]["coding"][0]["code"] == "billingnetworkstatus"
    assert status["reason"]["coding"][0]["code"] in ("innetwork", "outofnetwork")
    return eob
