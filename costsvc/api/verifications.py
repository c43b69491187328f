"""Benefits verification routes for staff, and the audit trail for admins.

Thin: parse, authorize (guards), call ``costsvc.services.verifications``, render.
No query parameter carries PHI: a member is searched with a POST body, and an
unknown query parameter is refused by name, never echoed with its value.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, HttpMethod, Request, Response, get, post, route
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Reference, RequestBody, Schema
from litestar.params import FromPath

from costsvc.api.clients import client_of
from costsvc.api.problems import problem, problem_response, problem_responses
from costsvc.api.validation import validate
from costsvc.auth import ApiKeyPrincipal, current_principal, require_role
from costsvc.services import verifications as service
from costsvc.services.errors import FieldProblem, InvalidInput

JSON = "application/json"
X12 = "application/edi-x12"
_encoder = msgspec.json.Encoder(decimal_format="string")


async def actor_of(request: Request[Any, Any, Any]) -> service.Actor:
    principal: ApiKeyPrincipal = await current_principal(request)
    return service.Actor(principal.key_id, principal.name, client_of(request))


class VerificationList(msgspec.Struct):
    verifications: list[service.Verification]


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(_encoder.encode(value), status_code=status, media_type=JSON, headers=headers)


def _query(request: Request[Any, Any, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    params = request.query_params
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        # Named, never echoed: a member id typed into the URL must not come back in a problem.
        raise InvalidInput([FieldProblem(k, f"is not a query parameter of this route (expected: "
                                            f"{', '.join(allowed)})") for k in unknown])
    return {k: params[k] for k in allowed if params.get(k) not in (None, "")}


def _instant(value: str | None, field: str, *, end: bool = False) -> dt.datetime | None:
    """An ISO date (the whole day; ``to`` includes it) or date-time, as UTC."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput.one(field, "expected an ISO date (2026-11-02) or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _limit(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= service.MAX_PAGE:
        raise InvalidInput.one("limit", f"expected a whole number from 1 to {service.MAX_PAGE}")
    return int(value)


def _decode_json(body: bytes) -> Any:
    if not body.strip():
        raise InvalidInput.one("", "the request body is empty; expected a JSON object")
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidInput.one("", "the request body is not valid JSON", code="malformed-json") from None


def _json_body(struct: type) -> OpenAPIMediaType:
    return OpenAPIMediaType(schema=Reference(f"#/components/schemas/{struct.__name__}"))


@dataclass
class RecordOperation(Operation):
    """The two bodies of ``POST /v1/verifications``, which the handler reads itself."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={
            JSON: _json_body(service.RecordVerification),
            X12: OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.STRING, min_length=1,
                description="An X12 005010X279A1 271 response: one verification per subscriber or dependent.")),
        })


@dataclass
class SearchOperation(Operation):
    """The body of ``POST /v1/verifications/search``: the member id, never in the URL."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={JSON: _json_body(service.MemberSearch)})


class VerificationController(Controller):
    path = "/v1/verifications"
    tags = ["verifications"]
    guards = [require_role("staff")]  # noqa: RUF012 - Litestar's declaration style
    security = [{"apiKey": []}]  # noqa: RUF012

    @route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False)
    async def allowed_methods(self) -> Response[None]:
        """Litestar 2 builds the automatic OPTIONS answer of a path from the first route it
        made for it, so on a path with a GET and a POST it says POST only."""
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @post(status_code=201, summary="Record a verification (JSON, or an X12 271 as application/edi-x12)",
          operation_class=RecordOperation,
          responses={201: ResponseSpec(VerificationList, description="One verification per person in the body",
                                       generate_examples=False),
                     **problem_responses(400, 401, 403, 404, 413, 415, 422, 503)})
    async def create(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        state = request.app.state
        vault = service.require_vault(state.phi_vault)
        actor = await actor_of(request)
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        body = await request.body()
        catalog = state.catalog.current
        today = dt.date.today()
        if media in (X12, "application/edi-x12+text", "text/x12"):
            query = _query(request, ("plan_id", "verified_by"))
            drafts = service.drafts_from_271(catalog, body, plan_id=query.get("plan_id"),
                                             verified_by=query.get("verified_by"), today=today)
        elif media in (JSON, ""):
            _query(request, ())
            command = validate(_decode_json(body), service.RecordVerification)
            drafts = [service.draft_from_json(catalog, command, today)]
        else:
            return _json_problem(415, f"expected {JSON} or {X12}", request)
        stored = await service.store(state.pool, vault, drafts, actor, keep_x12=state.settings.keep_x12)
        headers = {"Location": f"{self.path}/{stored[0].verification_id}"} if len(stored) == 1 else None
        return _json({"verifications": stored}, 201, headers)

    @get(summary="Verifications, newest first (cursor pagination; no PHI in the query)",
         responses={200: ResponseSpec(service.VerificationPage, description="A page, newest first",
                                      generate_examples=False),
                    **problem_responses(400, 401, 403, 422, 503)})
    async def list_verifications(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        q = _query(request, ("plan_id", "status", "from", "to", "limit", "cursor"))
        status = q.get("status")
        if status not in (None, "active", "inactive"):
            raise InvalidInput.one("status", "expected active or inactive")
        filters = service.VerificationFilter(
            plan_id=q.get("plan_id"), status=status,  # type: ignore[arg-type]
            from_=_instant(q.get("from"), "from"), to=_instant(q.get("to"), "to", end=True),
            limit=_limit(q.get("limit"), 50), cursor=q.get("cursor"),
        )
        state = request.app.state
        return _json(await service.page(state.pool, state.phi_vault, filters, await actor_of(request)))

    @post("/search", status_code=200, summary="A member's verifications, found through the keyed hash",
          operation_class=SearchOperation,
          responses={200: ResponseSpec(VerificationList, description="The member's verifications, newest first",
                                       generate_examples=False),
                     **problem_responses(400, 401, 403, 413, 415, 422, 503)})
    async def search(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        _query(request, ())
        data = validate(_decode_json(await request.body()), service.MemberSearch)
        state = request.app.state
        found = await service.search(state.pool, state.phi_vault, data.member_id, await actor_of(request))
        return _json({"verifications": found})

    @get("/{verification_id:str}", summary="One verification (?reveal=member_id shows it whole, audited)",
         responses={200: ResponseSpec(service.Verification, description="The verification", generate_examples=False),
                    **problem_responses(401, 403, 404, 422, 503)})
    async def get_verification(self, request: Request[Any, Any, Any], verification_id: FromPath[str]) -> Response[bytes]:
        reveal = service.parse_reveal(_query(request, ("reveal",)).get("reveal"))
        state = request.app.state
        return _json(await service.get(state.pool, state.phi_vault, verification_id, await actor_of(request), reveal))


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["verifications"]
    guards = [require_role("admin")]  # noqa: RUF012
    security = [{"apiKey": []}]  # noqa: RUF012

    @get(summary="Audit records of verification access, newest first (admin)",
         responses={200: ResponseSpec(service.AuditPage, description="A page of audit records, newest first",
                                      generate_examples=False),
                    **problem_responses(400, 401, 403, 422, 503)})
    async def audit(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        q = _query(request, ("from", "to", "key_id", "limit", "cursor"))
        key_id = None
        if "key_id" in q:
            try:
                key_id = uuid.UUID(q["key_id"])
            except ValueError:
                raise InvalidInput.one("key_id", "expected an API key id (a UUID)") from None
        filters = service.AuditFilter(
            from_=_instant(q.get("from"), "from"), to=_instant(q.get("to"), "to", end=True), key_id=key_id,
            limit=_limit(q.get("limit"), 100), cursor=q.get("cursor"),
        )
        return _json(await service.audit_page(request.app.state.pool, filters))


def _json_problem(status: int, detail: str, request: Request[Any, Any, Any]) -> Response[bytes]:
    return problem_response(problem(status, detail, instance=request.url.path))
