"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from costsvc.api.validation import FieldError, RequestInvalid, validate
from costsvc.domain.errors import DomainError
from costsvc.services.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, Unavailable

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://costsvc.dev/problems/"


class Problem(msgspec.Struct, omit_defaults=True):
    title: str
    status: int
    type: str = "about:blank"
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Request body too large",
    415: "Unsupported media type", 422: "Invalid request", 429: "Too many requests",
    500: "Internal server error", 503: "Service unavailable",
}


def problem(status: int, detail: str | None = None, *, errors: list[FieldError] | None = None,
            type_: str | None = None, instance: str | None = None, title: str | None = None) -> Problem:
    return Problem(
        title=title or _TITLES.get(status, "Error"), status=status,
        type=PROBLEM_BASE + type_ if type_ else "about:blank",
        detail=detail, instance=instance, errors=errors,
    )


def problem_response(p: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(msgspec.json.encode(p), status_code=p.status, media_type=PROBLEM_JSON, headers=headers)


def invalid_problem(errors: list[FieldError], instance: str | None = None) -> Problem:
    return problem(422, f"{len(errors)} invalid field(s): " + ", ".join(e.field or "(body)" for e in errors),
                   errors=errors, type_="invalid-request", instance=instance)


def domain_problem(exc: DomainError, instance: str | None = None) -> Problem:
    return invalid_problem([FieldError(exc.field, exc.message)], instance)


def _body_errors(request: Request[Any, Any, Any], exc: ValidationException) -> list[FieldError]:
    """msgspec reports the first error; re-walk the cached body to report all of them."""
    body_type = request.route_handler.opt.get("body_type")
    body = request._connection_state.body  # cached by Litestar when it parsed the body
    if body_type is not None and isinstance(body, bytes | bytearray):
        try:
            validate(msgspec.json.decode(body), body_type)
        except RequestInvalid as invalid:
            return invalid.errors
        except msgspec.DecodeError:
            pass
    extra = exc.extra if isinstance(exc.extra, list) else []
    return [FieldError(str(e.get("key") or ""), str(e.get("message"))) for e in extra if isinstance(e, dict)]


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    return problem_response(invalid_problem(_body_errors(request, exc), request.url.path))


def handle_request_invalid(request: Request[Any, Any, Any], exc: RequestInvalid) -> Response[bytes]:
    return problem_response(invalid_problem(exc.errors, request.url.path))


def handle_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    return problem_response(domain_problem(exc, request.url.path))


_SERVICE_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (NotFound, 404), (InvalidInput, 422), (Conflict, 409), (Forbidden, 403), (Unavailable, 503),
)


def service_problem(exc: ServiceError, instance: str | None = None) -> Problem:
    status = next((code for cls, code in _SERVICE_STATUS if isinstance(exc, cls)), 500)
    errors = None
    if isinstance(exc, InvalidInput):
        errors = [FieldError(e.field, e.message) for e in exc.errors]
    elif isinstance(exc, NotFound | Forbidden) and exc.field:
        errors = [FieldError(exc.field, exc.detail)]
    detail = exc.detail
    if isinstance(exc, InvalidInput):
        detail = f"{len(exc.errors)} invalid field(s): " + ", ".join(e.field or "(body)" for e in exc.errors)
    return problem(status, detail, errors=errors, type_=exc.code, instance=instance)


def problem_for(exc: ServiceError | DomainError, instance: str | None = None) -> Problem:
    """The problem an error of a use case or of the domain becomes (a batch item's error, say)."""
    return service_problem(exc, instance) if isinstance(exc, ServiceError) else domain_problem(exc, instance)


def handle_service(request: Request[Any, Any, Any], exc: ServiceError) -> Response[bytes]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None
    return problem_response(service_problem(exc, request.url.path), headers)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    detail = exc.detail if exc.detail and exc.detail != _TITLES.get(status) else None
    if status == 400 and request.route_handler.opt.get("body_type") is not None:
        # The only 400 Litestar raises on a JSON-body route is a body msgspec cannot decode.
        detail = "The request body is not valid JSON: " + (detail or "").removeprefix("JSON is malformed: ")
    if status == 413:
        detail = "The request body exceeds the size limit."
    return problem_response(problem(status, detail, instance=request.url.path), getattr(exc, "headers", None))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # Never echo internals (or request data) back; the log line carries no body either.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(problem(500, "An unexpected error occurred.", instance=request.url.path))


EXCEPTION_HANDLERS = {
    ValidationException: handle_validation,
    RequestInvalid: handle_request_invalid,
    DomainError: handle_domain,
    ServiceError: handle_service,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
