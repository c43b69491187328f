"""RFC 9457 problem details for every error the API returns, in one shape.

Every problem has ``type``, ``title``, ``status``, ``detail`` and ``instance``.  ``type``
is ``PROBLEM_BASE`` + a stable slug: the code of the service or domain error
(``…/problems/level-not-offered``), or the HTTP condition (``…/problems/malformed-json``).
Invalid fields are listed in ``errors`` (the first ``MAX_REPORTED``) with their total in
``error_count``.  Nothing here echoes request data beyond identifiers the caller sent
in the open, each shortened (``shown``); internals never reach a problem.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec

from costsvc.api.validation import CONTROL_CHARACTERS, MAX_REPORTED, Problems
from costsvc.db.pool import UNAVAILABLE
from costsvc.domain.errors import DomainError
from costsvc.observe import logs
from costsvc.services import errors as service_errors
from costsvc.services.errors import FieldProblem

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://costsvc.dev/problems/"



class FieldProblemOut(msgspec.Struct, frozen=True):
    """One invalid field of the request."""

    field: Annotated[str, msgspec.Meta(
        description="Dotted path of the field in the request (`coverage.benefits.in_network.levels.iop.copay`), "
                    "a query or path parameter's name, or `\"\"` for the whole body.",
        examples=["household.annual_income"])]
    message: Annotated[str, msgspec.Meta(
        description="What is wrong, worded to follow the field's name: show `field` + ' ' + `message`.",
        examples=["must not be negative"])]


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem: every error the API returns has this shape."""

    type: Annotated[str, msgspec.Meta(
        description="A URI naming the kind of problem; its last segment is a stable code to switch on.",
        examples=["https://costsvc.dev/problems/invalid-request"])]
    title: Annotated[str, msgspec.Meta(description="A short summary of the kind of problem.",
                                       examples=["Invalid request"])]
    status: Annotated[int, msgspec.Meta(ge=400, le=599, description="The HTTP status code.", examples=[422])]
    detail: Annotated[str, msgspec.Meta(description="What went wrong with this request, in a sentence.",
                                        examples=["1 invalid field: household.annual_income"])]
    instance: Annotated[str, msgspec.Meta(
        description="The path of the request; for a batch item, a JSON Pointer to the item in the request (`#/items/3`).",
        examples=["/v1/estimates"])]
    errors: Annotated[list[FieldProblemOut], msgspec.Meta(
        max_length=MAX_REPORTED,
        description=f"The invalid fields (the first {MAX_REPORTED}); absent when the problem is not about fields.")] = []
    error_count: Annotated[int, msgspec.Meta(
        ge=0, description="How many fields are invalid in all (more than `errors` lists when over "
                          f"{MAX_REPORTED}); absent with `errors`.")] = 0
    request_id: Annotated[str, msgspec.Meta(
        description="The request's id, as in the `X-Request-ID` response header: quote it when reporting "
                    "a problem (the service's log lines of the request carry it).",
        examples=["5f0c1b2e7d9a4c3b8e6f1a2b3c4d5e6f"])] = ""


_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 413: "Request body too large",
    415: "Unsupported media type", 422: "Invalid request", 429: "Too many requests",
    500: "Internal server error", 503: "Service unavailable",
}
_DEFAULT_CODES = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    406: "not-acceptable", 409: "conflict", 413: "body-too-large", 415: "unsupported-media-type",
    422: "invalid-request", 429: "too-many-requests", 500: "internal-error", 503: "unavailable",
}
_DEFAULT_DETAILS = {
    401: "This endpoint needs an API key: send Authorization: Bearer <key>.",
    403: "This API key's role may not do this.",
    404: "Nothing is found at this path.",
    405: "This path does not accept that method.",
    406: "This endpoint answers application/json (errors application/problem+json).",
    413: "The request body exceeds the size limit.",
    415: "Send the request body as application/json.",
    429: "Too many requests: slow down and retry later.",
    503: "The service cannot answer now; retry later.",
}


def shown(value: str, limit: int = 100) -> str:
    """``value`` fit to quote in a message: control characters escaped, shortened."""
    value = CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def code_slug(code: str) -> str:
    """A problem-type slug from an error code (``level_not_offered`` → ``level-not-offered``)."""
    return code.replace("_", "-")


def problem(status: int, detail: str | None = None, *, errors: list[FieldProblem] | None = None,
            type_: str | None = None, instance: str | None = None, title: str | None = None,
            error_count: int | None = None) -> Problem:
    errors = list(errors or [])
    count = error_count if error_count is not None else len(errors)
    listed = [FieldProblemOut(e.field, e.message) for e in errors[:MAX_REPORTED]]
    return Problem(
        type=PROBLEM_BASE + (type_ or _DEFAULT_CODES.get(status, "error")),
        title=title or _TITLES.get(status, "Error"),
        status=status,
        detail=detail or _DEFAULT_DETAILS.get(status) or _TITLES.get(status, "Error"),
        instance=instance or "",
        errors=listed,
        error_count=count if listed else 0,
    )


def problem_response(p: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    request_id = logs.bound().get("request_id")
    if request_id and not p.request_id:
        p = msgspec.structs.replace(p, request_id=request_id)
    return Response(msgspec.json.encode(p), status_code=p.status, media_type=PROBLEM_JSON, headers=headers)


def _fields_sentence(errors: list[FieldProblem], total: int) -> str:
    if total == 1 and errors:  # one error: the error itself is the sentence
        e = errors[0]
        return f"{e.field}: {e.message}" if e.field else e.message
    names = [e.field or "(body)" for e in errors[:5]]
    more = f" and {total - len(names)} more" if total > len(names) else ""
    return f"{total} invalid field{'s' if total != 1 else ''}: {', '.join(names)}{more}."


def invalid_problem(errors: list[FieldProblem], instance: str | None = None, *, total: int | None = None,
                    code: str = "invalid-request", status: int = 422) -> Problem:
    total = total if total is not None else len(errors)
    return problem(status, _fields_sentence(errors, total), errors=errors, error_count=total,
                   type_=code_slug(code), instance=instance)


def domain_problem(exc: DomainError, instance: str | None = None) -> Problem:
    return problem(422, f"{exc.field}: {exc.message}" if exc.field else exc.message,
                   errors=[FieldProblem(exc.field, exc.message)], type_=code_slug(exc.code), instance=instance)


_SERVICE_STATUSES = (
    (service_errors.Conflict, 409), (service_errors.Forbidden, 403), (service_errors.Unavailable, 503),
)


def service_problem(exc: service_errors.ServiceError, instance: str | None = None) -> Problem:
    """The problem of any error a use case raises."""
    code = code_slug(exc.code)
    if isinstance(exc, service_errors.InvalidInput):
        return invalid_problem(exc.errors, instance, total=getattr(exc, "total", None), code=exc.code)
    if isinstance(exc, service_errors.NotFound):
        errors = [FieldProblem(exc.field, exc.detail)] if exc.field else None
        return problem(404, exc.detail, errors=errors, type_=code, instance=instance)
    status = next((s for cls, s in _SERVICE_STATUSES if isinstance(exc, cls)), 422)
    field = getattr(exc, "field", None)  # a Forbidden about one field (a path outside the import root)
    errors = [FieldProblem(field, exc.detail)] if field else None
    return problem(status, exc.detail, errors=errors, type_=code, instance=instance)


def problem_for(exc: service_errors.ServiceError | DomainError, instance: str | None = None) -> Problem:
    """The problem an error of a use case or of the domain becomes (a batch item's, say)."""
    if isinstance(exc, DomainError):
        return domain_problem(exc, instance)
    return service_problem(exc, instance)


# ----------------------------------------------------------------------------- handlers


def _instance(request: Request[Any, Any, Any]) -> str:
    """The problem's ``instance``: the route template when the path has parameters, so
    whatever a client typed into the URL (a member id, say) is not echoed back."""
    if request.scope.get("path_params"):
        return str(request.scope.get("path_template") or shown(request.url.path, 300))
    return shown(request.url.path, 300)


def handle_service_error(request: Request[Any, Any, Any], exc: service_errors.ServiceError) -> Response[bytes]:
    headers = None
    if isinstance(exc, service_errors.Unavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(service_problem(exc, _instance(request)), headers)


def handle_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    return problem_response(domain_problem(exc, _instance(request)))


def _parameter_problems(request: Request[Any, Any, Any], exc: ValidationException) -> Problems:
    """Litestar's own validation (query and path parameters): each parameter named as the
    client wrote it, and the programmer's wording ("Expected `int` >= 1") made a sentence."""
    problems = Problems()
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            key = _public_name(request, str(item.get("key") or ""))
            problems.add(key, _parameter_message(str(item.get("message") or "")))
    if not problems.total:
        problems.add("", "is not valid")
    return problems


def _public_name(request: Request[Any, Any, Any], key: str) -> str:
    """The query name of a handler argument (``program_state`` is ``?state=``)."""
    field = request.route_handler.parsed_fn_signature.parameters.get(key)
    definition = getattr(field, "kwarg_definition", None)
    return getattr(definition, "name", None) or getattr(definition, "query", None) or key


_PARAMETER_WORDING = (
    (re.compile(r"Expected `int` >= (-?\d+)"), "must be a whole number of at least {0}"),
    (re.compile(r"Expected `int` <= (-?\d+)"), "must be a whole number of at most {0}"),
    (re.compile(r"Expected `int`"), "must be a whole number"),
    (re.compile(r"Expected `str` of length >= (\d+)"), "must have at least {0} character(s)"),
    (re.compile(r"Expected `str` of length <= (\d+)"), "must have at most {0} characters"),
    (re.compile(r"Expected `str` matching regex"), "does not have the documented form"),
    (re.compile(r"Invalid enum value|Expected `(?:str|null)`"), "must be one of the documented values"),
    (re.compile(r"Missing required"), "is required"),
)


def _parameter_message(message: str) -> str:
    for pattern, sentence in _PARAMETER_WORDING:
        found = pattern.search(message)
        if found:
            return sentence.format(*found.groups())
    return "is not valid"


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    # Bodies are validated before Litestar sees them (costsvc.api.body); what reaches here
    # is a query or path parameter.
    problems = _parameter_problems(request, exc)
    return problem_response(invalid_problem(problems.items, _instance(request), total=problems.total))


def _is_generic(status: int, detail: str | None) -> bool:
    """Litestar's detail is often just the status's name: ours says more."""
    if not detail:
        return True
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return detail.casefold() in {_TITLES.get(status, "").casefold(), phrase.casefold()}


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    detail = None if _is_generic(status, exc.detail) else shown(exc.detail, 500)
    code = getattr(exc, "problem_code", None)
    headers = dict(exc.headers) if getattr(exc, "headers", None) else None
    if status == 429 and headers is not None and "Retry-After" not in headers:
        # The rate limit tells when its window resets; Retry-After is what clients read.
        headers["Retry-After"] = str(max(1, int(headers.get("RateLimit-Reset", "1") or 1)))
    return problem_response(problem(status, detail, type_=code, instance=_instance(request)), headers)


DATABASE_RETRY_AFTER = 5  # seconds: about how long a PostgreSQL restart or failover takes


def handle_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The database did not answer (stopped, frozen past a timeout, restarting): a 503 the
    client may retry, and one count for the outage's log lines, not a traceback."""
    outages = getattr(request.app.state, "outages", None)
    if outages is not None:
        outages["database"].failed(exc)
    return problem_response(
        problem(503, "The database is unavailable; retry later.", instance=_instance(request)),
        {"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # Never echo internals (or request data) back; the log line carries no body either.
    log.exception("unhandled error on %s %s", request.method, _instance(request))
    return problem_response(problem(500, "An unexpected error occurred.", instance=_instance(request)))


EXCEPTION_HANDLERS = {
    **{cls: handle_unavailable for cls in UNAVAILABLE},
    ValidationException: handle_validation,
    service_errors.ServiceError: handle_service_error,
    DomainError: handle_domain,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}


# ----------------------------------------------------------------------------- documentation

_WHEN = {
    400: "The body is not JSON, is empty, or is nested too deeply.",
    401: "No valid API key.",
    403: "The API key's role may not do this.",
    404: "A resource the request names does not exist.",
    406: "The client does not accept JSON.",
    409: "The request conflicts with the resource's state.",
    413: "The body exceeds the size limit.",
    415: "The body is not application/json.",
    422: "Some fields are invalid: `errors` names each.",
    429: "Too many requests.",
    503: "A dependency is unavailable; `Retry-After` says when to retry.",
}


def problem_responses(*statuses: int, **descriptions: str) -> dict[int, ResponseSpec]:
    """OpenAPI responses documenting ``statuses`` as problem details."""
    return {
        status: ResponseSpec(
            Problem, media_type=PROBLEM_JSON, generate_examples=False,
            description=descriptions.get(f"s{status}") or _WHEN.get(status) or _TITLES.get(status, "Error"),
        )
        for status in statuses
    }


#: The statuses any route that takes a JSON body can answer.
BODY_STATUSES = (400, 413, 415, 422)
