"""The OpenAPI document and the pages that render it, offline.

Litestar builds the paths; the schemas of our own Structs are then replaced by
msgspec's (``msgspec.json.schema_components``), which say everything the server
enforces: ``additionalProperties: false`` on strict request structs, the amount
grammar's pattern on money, each field's bounds, descriptions and examples.  Field
descriptions of the result structs (which the engine shares) live here in
``FIELD_DESCRIPTIONS``.

The documentation pages load their scripts from this service (``/schema/static``):
Swagger UI from the ``swagger-ui-bundle-v2`` package, Redoc vendored in
``costsvc/api/static/redoc`` (with its licence).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from costsvc import __version__
from costsvc.api.health import Ready
from costsvc.api.problems import PROBLEM_JSON, Problem
from costsvc.api.schemas import (
    BatchItemError,
    BatchResults,
    Comparison,
    Estimate,
    LevelList,
    PayerList,
    PlanList,
    PlanPage,
    ProgramOut,
    ProgramPage,
)
from costsvc.api.validation import NO_CONTROL_PATTERN
from costsvc.domain.model import US_STATES
from costsvc.services.policies import (
    PaymentQuoteRequest,
    PaymentQuotes,
    SlidingScaleRequest,
    SlidingScaleResult,
)
from costsvc.services.requests import BatchRequest, CompareRequest, EstimateRequest
from costsvc.services.verifications import MemberSearch, RecordVerification

STATIC = "/schema/static"
_REDOC_DIR = Path(__file__).resolve().parent / "static" / "redoc"
_FAVICON = f"<link rel='icon' type='image/png' href='{STATIC}/swagger/favicon-32x32.png'>"


def docs_static_router() -> Any:
    return [
        create_static_files_router(path=f"{STATIC}/swagger", directories=[swagger_ui_path],
                                   include_in_schema=False, name="swagger-static"),
        create_static_files_router(path=f"{STATIC}/redoc", directories=[_REDOC_DIR],
                                   include_in_schema=False, name="redoc-static"),
    ]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="costsvc",
        version=__version__,
        description=(
            "What will treatment cost me, with my insurance or without it? Every error is an RFC 9457 "
            "problem (`application/problem+json`); limits and grammar are in docs/API.md."
        ),
        path="/schema",
        render_plugins=[
            RedocRenderPlugin(path="/", js_url=f"{STATIC}/redoc/redoc.standalone.js", google_fonts=False,
                              favicon=_FAVICON),
            SwaggerRenderPlugin(
                path="/swagger",
                js_url=f"{STATIC}/swagger/swagger-ui-bundle.js",
                css_url=f"{STATIC}/swagger/swagger-ui.css",
                standalone_preset_js_url=f"{STATIC}/swagger/swagger-ui-standalone-preset.js",
                favicon=_FAVICON,
            ),
        ],
        components=Components(security_schemes={
            "apiKey": SecurityScheme(type="http", scheme="bearer", description="costsvc API key"),
        }),
    )


MONEY_OUT = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["1234.50"]}
DECIMAL_OUT = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["20"]}

#: Descriptions of the fields of result structs, by schema name and field.
FIELD_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Estimate": {
        "estimate_id": "The estimate's id: GET /v1/estimates/{estimate_id} returns the same document.",
        "created_at": "When it was priced (UTC).",
        "plan_id": "The stored plan priced with, or null (inline benefits or self-pay).",
        "payer_id": "The payer of the benefits priced with, or null (self-pay).",
        "program_id": "The program priced.",
        "level_of_care": "The level of care priced.",
        "network_status": "Whether the program was priced in network, out of network, or self-pay.",
        "episode": "The episode priced: its dates and units.",
        "lines": "One line per billing code, summed over the episode's claims.",
        "totals": "The episode's totals.",
        "accumulators_after": "The member's accumulators after this episode.",
        "by_month": "What the patient pays in each calendar month.",
        "range": "What the patient would pay at the level's typical short and long episode.",
        "selfpay": "What self-pay would cost (present for a self-pay estimate or when a household was sent).",
        "payment_plans": "Payment plans for what the patient pays (empty when nothing is owed).",
        "notices": "Notices to show with the estimate (prior authorization, out of network...).",
        "disclaimer": "The Good Faith Estimate disclaimer to show with the estimate.",
        "claims": "Claim-by-claim detail, only with ?include=claims.",
    },
    "EpisodeSummary": {"start_date": "First day of care.", "end_date": "Last day of care.",
                       "units": "Billable units (days or sessions).", "unit": "What a unit is."},
    "EstimateLine": {"billing_code": "HCPCS/CPT or revenue code.", "description": "What the line is.",
                     "frequency": "Billed per service or once per episode.", "quantity": "Units billed.",
                     "billed": "The program's gross charge.", "allowed": "The amount the plan allows.",
                     "plan_pays": "What the plan pays.", "patient_pays": "What the patient pays."},
    "Totals": {"billed": "Gross charges.", "allowed": "Allowed amounts.", "plan_pays": "What the plan pays.",
               "patient_pays": "What the patient pays in all.", "deductible": "Of which deductible.",
               "copay": "Of which copays.", "coinsurance": "Of which coinsurance.",
               "not_covered": "Of which not covered by the plan.",
               "balance_bill": "Of which balance billing (out of network)."},
    "AccumulatedAmounts": {"deductible_met": "Individual deductible met.", "oop_met": "Individual out-of-pocket met.",
                           "family_deductible_met": "Family deductible met.",
                           "family_oop_met": "Family out-of-pocket met."},
    "AccumulatorsAfter": {"in_network": "In-network accumulators.", "out_of_network": "Out-of-network accumulators.",
                          "units_used": "Units used per level of care (benefit limits)."},
    "MonthTotal": {"month": "The month, YYYY-MM.", "patient_pays": "What the patient pays that month."},
    "RangePoint": {"units": "Units of the episode.", "patient_pays": "What the patient would pay."},
    "PriceRange": {"low": "At the level's typical short episode.", "high": "At the level's typical long episode."},
    "SelfPay": {"cash_total": "The cash price of the episode.",
                "fpl_percent": "Household income as a percentage of the federal poverty guideline.",
                "tier": "The sliding-fee tier that applies, or null above the last.",
                "discount_percent": "The tier's discount.", "patient_pays": "What the patient pays self-pay.",
                "nominal_fee": "The tier's flat fee per claim, when it has one."},
    "PaymentPlanQuote": {"months": "Number of monthly payments.", "apr": "Annual percentage rate.",
                         "down_payment": "Paid up front.", "monthly_payment": "Each month's payment.",
                         "final_payment": "The last payment (clears the balance).",
                         "total_interest": "Interest over the plan.", "total_paid": "Everything paid."},
    "Notice": {"code": "A stable code to switch on.", "message": "The notice, to show."},
    # requests
    "EstimateRequest": {
        "program_id": "The program to price (GET /v1/programs lists them).",
        "level_of_care": "The level of care to price.",
        "coverage": "The insurance to price with; absent or null prices self-pay.",
        "episode": "The episode's start and length; absent fields take the level's defaults.",
        "household": "Size, income and state: adds the sliding-scale self-pay price.",
        "payment_plan": "The down payment the payment-plan quotes assume.",
    },
    "CompareRequest": {"program_id": "The program to price at every level it offers.",
                       "coverage": "As in an estimate request.", "episode": "As in an estimate request; "
                       "only the fields that size each level apply to it.",
                       "household": "As in an estimate request.", "payment_plan": "As in an estimate request."},
    "BatchRequest": {"items": "The programs and levels to price, 1-200, each with the shared coverage, "
                              "episode, household and payment plan.",
                     "coverage": "As in an estimate request, for every item.",
                     "episode": "As in an estimate request, for every item.",
                     "household": "As in an estimate request, for every item.",
                     "payment_plan": "As in an estimate request, for every item."},
    "BatchItem": {"program_id": "A program id.", "level_of_care": "A level of care."},
    "CoverageRequest": {"plan_id": "A stored plan (GET /v1/plans); or send benefits.",
                        "benefits": "Benefits verified by staff, sent inline; or send plan_id.",
                        "network": "Price in or out of network; auto: in network when the payer has rates there.",
                        "tier": "Which deductible and out-of-pocket maximum apply.",
                        "accumulators": "What the member has met this plan year."},
    "EpisodeRequest": {"start_date": "First day of care (default: today).",
                       "weeks": "Length in weeks (php, iop, outpatient).",
                       "days_per_week": "Treatment days a week (php, iop).",
                       "sessions_per_week": "Sessions a week (outpatient).",
                       "days": "Consecutive days (detox, residential)."},
    "Household": {"size": "People in the household.", "annual_income": "Household income a year.",
                  "state": "Two-letter US state (50 states and DC)."},
    "PaymentPlanRequest": {"down_payment": "Paid up front; the quotes finance the rest."},
    "Benefits": {"payer_id": "The payer: its negotiated rates decide in or out of network.",
                 "plan_year_start": "When the plan year starts, MM-DD.",
                 "in_network": "Benefits in network.", "out_of_network": "Benefits out of network."},
    "NetworkBenefits": {"deductible": "Deductibles.", "oop_max": "Out-of-pocket maximums.",
                        "allowed": "How the allowed amount is found without a negotiated rate.",
                        "balance_billing": "Whether the provider may bill above the allowed amount.",
                        "levels": "Cost-sharing per level of care."},
    "LevelBenefit": {"covered": "Whether the level is covered.", "copay": "Copay per copay_unit.",
                     "copay_unit": "What a copay is charged per.",
                     "deductible_applies": "Whether claims go to the deductible first.",
                     "coinsurance_pct": "The patient's share after the deductible.",
                     "limit_units": "Units covered a plan year (null: no limit).",
                     "prior_auth": "Whether prior authorization is required."},
    "Amounts": {"individual": "For one member.", "family": "For the family."},
    "AllowedRule": {"method": "What the allowed amount is a percentage of.", "percent": "The percentage."},
    "Accumulators": {"as_of": "The date the amounts were read.", "in_network": "Met in network.",
                     "out_of_network": "Met out of network.", "units_used": "Units used per level this plan year."},
    "NetworkAccumulators": {"deductible_met": "Individual deductible met.", "oop_met": "Individual out-of-pocket met.",
                            "family_deductible_met": "Family deductible met.",
                            "family_oop_met": "Family out-of-pocket met."},
    # discovery and reference
    "ProgramSummary": {"program_id": "The id to send as program_id.", "name": "The program's name.",
                       "state": "Two-letter state.", "levels_of_care": "The levels it offers.",
                       "in_network_payers": "Payers with negotiated rates there."},
    "ProgramPage": {"total": "Programs matched.", "offset": "Programs skipped.", "limit": "Page size.",
                    "programs": "This page."},
    "PlanPage": {"total": "Plans matched.", "offset": "Plans skipped.", "limit": "Page size.", "plans": "This page."},
    "PlanOut": {"plan_id": "The id to send as coverage.plan_id.", "payer_id": "The plan's payer.",
                "plan_name": "The plan's name.", "plan_type": "HMO, PPO, EPO, HDHP...",
                "effective_date": "When these benefits take effect.", "benefits": "The plan's benefits."},
    "PayerList": {"payers": "Payers, by id."},
    "ProgramOut": {"program_id": "The program's id.", "name": "The program's name.", "state": "Two-letter state.",
                   "npi": "National Provider Identifier, when known.", "tin": "Tax id, when known.",
                   "levels_of_care": "The levels it offers.", "fee_schedule": "Its fee lines, per level.",
                   "sliding_scale": "The sliding scale in force: the program's own, or the default.",
                   "payment_terms": "The payment-plan terms in force: the program's own, or the default."},
    # policies
    "SlidingScaleRequest": {"program_id": "The program whose sliding scale applies.",
                            "household": "Size, income and state of the household.",
                            "year": "The guideline year (default: this year); the latest published "
                                    "year not after it is used."},
    "SlidingScaleResult": {"program_id": "The program.", "year": "The poverty-guideline year used.",
                           "region": "The guideline region: 48 (the 48 states and DC), AK or HI.",
                           "fpl_percent": "Household income as a percentage of the guideline, unrounded.",
                           "guideline": "The poverty guideline for the household's size, a year.",
                           "tier": "The tier the household falls in, or null above the last.",
                           "discount_percent": "The tier's discount on each claim, or null.",
                           "nominal_fee": "The tier's flat fee per claim (never above the cash price), or null.",
                           "policy": "program: the program's own sliding scale; default: the service's."},
    "PaymentQuoteRequest": {"program_id": "The program whose terms apply.", "amount": "The amount owed.",
                            "down_payment": "Paid up front (default: the program's minimum, else 0); "
                                            "below the program's minimum or above the amount is 422."},
    "PaymentQuotes": {"program_id": "The program.", "amount": "The amount owed.",
                      "down_payment": "The down payment the quotes assume.",
                      "policy": "program: the program's own terms; default: the service's.",
                      "quotes": "One per term whose monthly payment meets its minimum."},
    "SlidingScaleInForce": {"policy": "program: imported for the program; default: the service's.",
                            "tiers": "The tiers, lowest first; the first with fpl_percent <= max_fpl_percent applies.",
                            "effective_date": "The date the program's file gives (null for the default).",
                            "version_id": "The tariff version in force (null for the default).",
                            "import_id": "The import that created it (GET /v1/imports/{import_id})."},
    "PaymentTermsInForce": {"policy": "program: imported for the program; default: the service's.",
                            "terms": "The terms offered.", "min_down_payment": "The least down payment, or null.",
                            "effective_date": "The date the program's file gives (null for the default).",
                            "version_id": "The tariff version in force (null for the default).",
                            "import_id": "The import that created it (GET /v1/imports/{import_id})."},
    "SlidingTier": {"max_fpl_percent": "The tier's upper bound, FPL %; null: open-ended (the last tier).",
                    "discount_percent": "Discount on each claim, or null.",
                    "nominal_fee": "Flat fee per claim, or null.", "name": "The tier's label."},
    "PaymentTerm": {"months": "Number of monthly payments.", "apr": "Annual percentage rate, 0-36.",
                    "min_monthly": "The least monthly payment: a term below it is not offered."},
    "PayerOut": {"payer_id": "The payer's id.", "name": "The payer's name.", "plans": "How many plans are stored."},
    "FeeLine": {"billing_code": "HCPCS/CPT or revenue code.", "description": "What the line is.",
                "frequency": "Billed per service or once per episode.", "gross_charge": "The program's charge.",
                "cash_price": "The self-pay price, when it differs."},
    "Comparison": {"program_id": "The program compared.", "estimates": "One estimate per level, cheapest first."},
    "BatchResults": {"results": "One per item, in item order: an estimate or {\"error\": problem}."},
    "Claim": {"date": "Date of service.", "billing_code": "Billing code.", "frequency": "Per service or per episode.",
              "billed": "Gross charge.", "allowed": "Allowed amount.", "plan_pays": "What the plan pays.",
              "patient_pays": "What the patient pays.", "deductible": "Of which deductible.",
              "copay": "Of which copay.", "coinsurance": "Of which coinsurance.",
              "not_covered": "Of which not covered.", "balance_bill": "Of which balance billing."},
}
#: Result fields that are money (always two decimals) rather than other decimals.
_DECIMAL_NOT_MONEY = {("SelfPay", "fpl_percent"), ("SelfPay", "discount_percent"), ("PaymentPlanQuote", "apr"),
                      ("SlidingScaleResult", "fpl_percent"), ("SlidingScaleResult", "discount_percent"),
                      ("SlidingTier", "max_fpl_percent"), ("SlidingTier", "discount_percent"),
                      ("PaymentTerm", "apr")}


def _state_pattern() -> str:
    # Any case: the service reads "ca" as "CA".  ECMA regexes have no inline (?i).
    return "^(?:" + "|".join(f"[{a.upper()}{a.lower()}][{b.upper()}{b.lower()}]" for a, b in sorted(US_STATES)) + ")$"


def _schema_rules() -> dict[str, dict[str, Any]]:
    """What the service checks beyond each field's own type, said in JSON Schema."""
    return {
        # exactly one of plan_id, benefits and verification_id (CoverageRequest.cross_field_problems)
        "CoverageRequest": {"oneOf": [
            {"required": ["plan_id"], "properties": {"plan_id": {"type": "string"}}},
            {"required": ["benefits"], "properties": {"benefits": {"type": "object"}}},
            {"required": ["verification_id"], "properties": {"verification_id": {"type": "string"}}},
        ]},
        # a stored plan, or the payer's and the plan's names (verifications.draft_from_json)
        "RecordVerification": {"anyOf": [
            {"required": ["plan_id"], "properties": {"plan_id": {"type": "string"}}},
            {"required": ["payer_name", "plan_name"], "properties": {"payer_name": {"type": "string", "minLength": 1},
                                                                  "plan_name": {"type": "string", "minLength": 1}}},
        ]},
    }


def _forbid_controls(schema: dict[str, Any]) -> None:
    """A string without a grammar of its own admits no control characters (costsvc.api.validation)."""
    for variant in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        if variant.get("type") == "string" and not {"pattern", "enum", "format"} & variant.keys():
            variant["pattern"] = NO_CONTROL_PATTERN


def _own_types() -> list[Any]:
    return [EstimateRequest, BatchRequest, CompareRequest, Estimate, BatchResults, BatchItemError, Comparison,
            Problem, Ready, LevelList, PayerList, PlanList, PlanPage, ProgramOut, ProgramPage,
            SlidingScaleRequest, SlidingScaleResult, PaymentQuoteRequest, PaymentQuotes,
            RecordVerification, MemberSearch]


def _decimal_strings(name: str, schema: dict[str, Any]) -> None:
    """Decimals are strings in JSON: say which grammar each follows.  msgspec merges a
    field's ``extra_json_schema`` into its ``{"type": "string", "format": "decimal"}``:
    request fields (Money, Percent) bring their own grammar, result fields get one here."""
    for field, prop in schema.get("properties", {}).items():
        for variant in [prop, *prop.get("anyOf", [])]:
            if variant.get("format") != "decimal":
                continue
            del variant["format"]
            if "anyOf" in variant:  # a percentage: a string or a number, as its anyOf says
                variant.pop("type", None)
                variant.pop("pattern", None)
            elif "pattern" not in variant:
                money = name in FIELD_DESCRIPTIONS and (name, field) not in _DECIMAL_NOT_MONEY
                variant.update(MONEY_OUT if money else DECIMAL_OUT)


#: Real documents from the demo data (an estimate, a request, pages): each field's example.
EXAMPLES_FILE = Path(__file__).resolve().parent / "examples.json"


def _attach_examples(components: dict[str, Any], name: str, value: Any, seen: set[str]) -> None:
    """Give every property of ``name`` met in ``value`` an example, following refs and arrays."""
    schema = components.get(name)
    if schema is None or not isinstance(value, dict) or name in seen:
        return
    seen = seen | {name}
    for field, item in value.items():
        prop = schema.get("properties", {}).get(field)
        if prop is None:
            continue
        ref = _ref_of(prop)
        if ref is not None and isinstance(item, dict):
            _attach_examples(components, ref, item, seen)
            if isinstance(prop.get("additionalProperties"), dict):  # a map of structs (or of lists of them)
                for member in item.values():
                    _attach_examples(components, ref, member[0] if isinstance(member, list) and member
                                     else member, seen)
        elif ref is not None and isinstance(item, list) and item:
            for member in item[:1]:
                _attach_examples(components, ref, member, seen)
        elif not isinstance(item, dict | list) or not item or ref is None:
            prop.setdefault("examples", [item])


def _ref_of(prop: dict[str, Any]) -> str | None:
    """The component a property refers to, directly, through null, an array or a map."""
    pending = [prop]
    while pending:
        node = pending.pop()
        if "$ref" in node:
            return node["$ref"].rsplit("/", 1)[-1]
        pending.extend(n for n in (*node.get("anyOf", []), node.get("items"), node.get("additionalProperties"))
                       if isinstance(n, dict))
    return None


#: Paths whose routes read or write the database (the others answer from memory).
_NEEDS_DATABASE = ("/v1/estimates/{", "/v1/imports", "/v1/verifications", "/v1/audit", "/v1/gfe")


def complete_document(app: Litestar, *, import_kinds: list[str]) -> None:
    """Replace Litestar's schemas of our Structs by msgspec's, before the first request.
    ``import_kinds`` are the kinds the app factory wired (``POST /v1/imports``'s ``kind``)."""
    # The plugin keeps the document it serves: completed here in place, once.
    document = app.plugins.get("OpenAPIPlugin").provide_openapi_schema()
    for media in document["paths"]["/v1/imports"]["post"]["requestBody"]["content"].values():
        media["schema"]["properties"]["kind"]["enum"] = import_kinds
    _, components = msgspec.json.schema_components(_own_types(), ref_template="#/components/schemas/{name}")
    rules = _schema_rules()
    for name, schema in components.items():
        _decimal_strings(name, schema)
        if schema.get("additionalProperties") is False:  # a request struct
            for prop in schema.get("properties", {}).values():
                _forbid_controls(prop)
        schema.update(rules.get(name, {}))
        if name == "Household":
            schema["properties"]["state"]["pattern"] = _state_pattern()
        for field, description in FIELD_DESCRIPTIONS.get(name, {}).items():
            prop = schema.get("properties", {}).get(field)
            if prop is not None:
                prop.setdefault("description", description)
    for name, example in msgspec.json.decode(EXAMPLES_FILE.read_bytes()).items():
        _attach_examples(components, name, example, set())
    document.setdefault("components", {}).setdefault("schemas", {}).update(components)
    for path, path_item in document.get("paths", {}).items():
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                _drop_litestar_defaults(operation["responses"])
                if path.startswith(_NEEDS_DATABASE):
                    operation["responses"].setdefault("503", {
                        "description": "The database is unavailable; `Retry-After` says when to retry.",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
                        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    })
                for parameter in operation.get("parameters", []):
                    _forbid_controls(parameter.get("schema", {}))


def _drop_litestar_defaults(responses: dict[str, Any]) -> None:
    """Litestar documents a 400 in its own error shape on routes with parameters; ours answer problems."""
    bad = responses.get("400")
    if bad and "application/json" in (bad.get("content") or {}):
        del responses["400"]
