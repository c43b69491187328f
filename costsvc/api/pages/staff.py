"""The staff console at ``/staff``: benefits staff record and read verifications,
price estimates from them, and (admins) page through the audit trail.

Thin like the JSON routes: read the form, build the command the JSON route takes,
validate it with the same checks, call ``costsvc.services`` directly, render.
Every request is signed in through the session cookie (``session.py``), whose API
key is checked on each request by ``costsvc.auth.authenticate``; every POST carries
the session's CSRF token.  PHI travels only in POST bodies and responses: a URL
names a verification or an estimate by id, never a person, and the reveal of a
member ID is a POST, audited like the API's ``?reveal=``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, ResponseHeader, UploadFile
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from costsvc.api.pages import staff_forms as forms
from costsvc.api.pages.session import (
    COOKIE,
    COOKIE_PATH,
    CSRF_FIELD,
    MESSAGES,
    Session,
    SessionCodec,
    SessionRefused,
    csrf_matches,
)
from costsvc.api.problems import service_problem
from costsvc.api.validation import RequestInvalid, validate
from costsvc.auth import ApiKeyPrincipal, authenticate, role_satisfies
from costsvc.domain.errors import DomainError
from costsvc.services import estimates as estimate_service
from costsvc.services import verifications as service
from costsvc.services.errors import FieldProblem, InvalidInput, NotFound, ServiceError
from costsvc.services.requests import EstimateRequest

log = logging.getLogger(__name__)  # route templates and key names only: never a form value
SIGN_IN = f"{COOKIE_PATH}/sign-in"
LIST_PAGE = 20
AUDIT_PAGE = 50


class SignInNeeded(Exception):
    """No signed-in session: back to the sign-in page (``reason`` says why, if known)."""

    def __init__(self, reason: str | None = None):
        super().__init__(reason)
        self.reason = reason


class PageRefused(Exception):
    """A page answered with an error page: ``status`` and what to tell the person."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class Staff(msgspec.Struct, frozen=True):
    session: Session
    principal: ApiKeyPrincipal
    actor: service.Actor

    @property
    def is_admin(self) -> bool:
        return role_satisfies(self.principal.role, "admin")


# --------------------------------------------------------------------------- sessions


def codec_of(request: Request[Any, Any, Any]) -> SessionCodec:
    state = request.app.state
    codec = state.get("staff_sessions")
    if codec is None:
        try:
            codec = SessionCodec.from_settings(state.settings, state.get("phi_vault"))
        except ValueError as exc:  # the setting's name and what is wrong, never the value
            log.error("staff console: %s", exc)
            raise PageRefused(503, "Console not configured", str(exc)) from None
        if codec is None:
            raise PageRefused(503, "Console not configured", MESSAGES["unavailable"])
        state["staff_sessions"] = codec
    return codec


def _cookie(codec: SessionCodec, session: Session) -> Cookie:
    return Cookie(key=COOKIE, value=codec.seal(session), path=COOKIE_PATH, max_age=codec.ttl, httponly=True,
                  samesite="strict", secure=codec.secure)


def _clearing_cookie(codec: SessionCodec) -> Cookie:
    return Cookie(key=COOKIE, value="", path=COOKIE_PATH, max_age=0, httponly=True, samesite="strict",
                  secure=codec.secure)


def open_session(request: Request[Any, Any, Any]) -> Session | None:
    value = request.cookies.get(COOKIE)
    return codec_of(request).open(value) if value else None


async def signed_in(request: Request[Any, Any, Any], role: str = "staff") -> Staff:
    session = open_session(request)
    if session is None or session.key is None:
        raise SignInNeeded()
    state = request.app.state
    principal = await authenticate(state.pool, session.key, state.get("api_key_cache"))
    if principal is None:
        raise SessionRefused("revoked")
    client = request.client.host if request.client else None
    staff = Staff(session, principal, service.Actor(principal.key_id, principal.name, client))
    request.scope["staff_page_user"] = staff  # type: ignore[typeddict-unknown-key] - for an error page's menu
    if not role_satisfies(principal.role, role):
        raise PageRefused(403, "Not allowed", f"This page needs the '{role}' role; you are signed in with the "
                          f"key '{principal.name}', which has '{principal.role}'.")
    return staff


def check_csrf(session: Session | None, form: Any) -> None:
    if session is None or not csrf_matches(session, form.get(CSRF_FIELD)):
        raise PageRefused(403, "Form refused", "This form's security token is missing or does not match your "
                          "session, so nothing was done. Reload the page and submit the form again.")


async def signed_in_post(request: Request[Any, Any, Any], role: str = "staff") -> tuple[Staff, Any]:
    """The signed-in staff member and the form, its CSRF token checked."""
    staff = await signed_in(request, role)
    form = await request.form()
    check_csrf(staff.session, form)
    return staff, form


# --------------------------------------------------------------------------- rendering


def page(request: Request[Any, Any, Any], template: str, staff: Staff | None, status: int = 200,
         cookies: list[Cookie] | None = None, **context: Any) -> Template:
    catalog = request.app.state.catalog.current
    context.setdefault("errors", forms.FormErrors())
    context.setdefault("values", {})
    return Template(
        f"staff/{template}", status_code=status, cookies=cookies or [],
        context={"staff": staff, "csrf": staff.session.csrf if staff else context.pop("csrf", ""),
                 "csrf_field": CSRF_FIELD, "plans": sorted(catalog.plans.values(), key=lambda p: p.plan_id),
                 "programs": sorted(catalog.programs.values(), key=lambda p: p.name),
                 "payers": catalog.payers, "levels": forms.LEVEL_NAMES, "networks": forms.NETWORK_NAMES,
                 "fragment": request.headers.get("x-costsvc-fragment") == "1", **context},
    )


_encoder = msgspec.json.Encoder(decimal_format="string")


def _plain(data: Any) -> Any:
    """``data`` as the JSON routes show it (money as strings with two decimals, times ISO)."""
    return msgspec.json.decode(_encoder.encode(data))


def _problems(exc: ServiceError | DomainError) -> list[FieldProblem]:
    if isinstance(exc, DomainError):
        return [FieldProblem(exc.field or "", exc.message)]
    if isinstance(exc, InvalidInput):
        return list(exc.errors) or [FieldProblem("", exc.detail)]
    if isinstance(exc, NotFound):
        return [FieldProblem(exc.field or "", exc.detail)]
    return [FieldProblem("", service_problem(exc).detail)]


# --------------------------------------------------------------------------- the console


class StaffPages(Controller):
    path = COOKIE_PATH
    include_in_schema = False
    # Pages holding PHI are never stored by a browser or a proxy, nor framed by another site.
    response_headers = [  # noqa: RUF012 - Litestar's declaration style
        ResponseHeader(name="Cache-Control", value="no-store"),
        ResponseHeader(name="Content-Security-Policy", value="frame-ancestors 'none'"),
        ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ]

    # ---- signing in and out

    @get("/sign-in")
    async def sign_in_form(self, request: Request[Any, Any, Any]) -> Template:
        reason = request.query_params.get("reason")
        message = MESSAGES.get(reason) if reason else None
        codec = codec_of(request)
        try:
            session = open_session(request)
        except SessionRefused:
            session = None
        fresh = session is None or session.key is not None
        if fresh:
            session = codec.new()
        assert session is not None
        return page(request, "sign_in.html", None, csrf=session.csrf, message=message,
                    cookies=[_cookie(codec, session)] if fresh else None)

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Response[Any]:
        codec = codec_of(request)
        session = open_session(request)  # a forged or expired one: back to this form, said so
        form = await request.form()
        check_csrf(session, form)
        assert session is not None
        key = form.get("api_key")
        key = key.strip() if isinstance(key, str) else ""
        principal = await authenticate(request.app.state.pool, key, request.app.state.get("api_key_cache")) \
            if key else None
        if principal is None:
            errors = forms.FormErrors()
            errors.add("api_key", "is required: paste your costsvc API key (csk_…)" if not key
                       else "is unknown or revoked: check it, or ask an admin for a current key")
            return page(request, "sign_in.html", None, 422, csrf=session.csrf, errors=errors, message=None)
        log.info("staff console: key %s signed in", principal.name)
        return Redirect(COOKIE_PATH, status_code=303, cookies=[_cookie(codec, codec.new(key))])

    @post("/sign-out")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        staff, _ = await signed_in_post(request)
        log.info("staff console: key %s signed out", staff.principal.name)
        return Redirect(f"{SIGN_IN}?reason=signed-out", status_code=303, cookies=[_clearing_cookie(codec_of(request))])

    # ---- verifications

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        staff = await signed_in(request)
        cursor = request.query_params.get("cursor") or None
        state = request.app.state
        try:
            found = await service.page(state.pool, state.phi_vault,
                                       service.VerificationFilter(limit=LIST_PAGE, cursor=cursor), staff.actor)
        except InvalidInput:
            raise PageRefused(400, "Bad link", "This page link is not one the console made; start from the "
                              "first page.") from None
        return page(request, "home.html", staff, verifications=_plain(found.verifications),
                    next_cursor=found.next_cursor, searched=False)

    @post("/search")
    async def search(self, request: Request[Any, Any, Any]) -> Template:
        staff, form = await signed_in_post(request)
        member_id = form.get("member_id")
        member_id = member_id.strip() if isinstance(member_id, str) else ""
        state = request.app.state
        errors = forms.FormErrors()
        try:
            data = validate({"member_id": member_id}, service.MemberSearch)
            found = await service.search(state.pool, state.phi_vault, data.member_id, staff.actor)
        except RequestInvalid as exc:
            forms.place(errors, exc.errors, {"member_id": "member_id"})
            return page(request, "home.html", staff, 422, verifications=[], next_cursor=None, errors=errors,
                        searched=True)
        return page(request, "home.html", staff, verifications=_plain(found), next_cursor=None, searched=True)

    @get("/record/271")
    async def record_271_form(self, request: Request[Any, Any, Any]) -> Template:
        return page(request, "record_271.html", await signed_in(request))

    @post("/record/271")
    async def record_271(self, request: Request[Any, Any, Any]) -> Response[Any]:
        staff, form = await signed_in_post(request)
        upload = form.get("x12_file")
        body = b""
        if isinstance(upload, UploadFile) and upload.filename:
            body = await upload.read()
        pasted = form.get("x12_text")
        if not body.strip() and isinstance(pasted, str):
            body = pasted.strip().encode("utf-8")
        values = {k: form.get(k) or "" for k in ("plan_id", "verified_by")}
        values["x12_text"] = pasted if isinstance(pasted, str) else ""
        errors = forms.FormErrors()
        if not body.strip():
            errors.add("x12_text", "is empty: paste the 271, or choose its file below")
            return page(request, "record_271.html", staff, 422, errors=errors, values=values)
        state = request.app.state
        try:
            vault = service.require_vault(state.phi_vault)
            drafts = service.drafts_from_271(state.catalog.current, body, plan_id=values["plan_id"] or None,
                                             verified_by=values["verified_by"] or None, today=dt.date.today())
            stored = await service.store(state.pool, vault, drafts, staff.actor, keep_x12=state.settings.keep_x12)
        except (ServiceError, DomainError) as exc:
            paths = {"plan_id": "plan_id", "verified_by": "verified_by"}
            for p in _problems(exc):  # the file's own problems (a segment, a person) belong to the file
                errors.add(paths.get(p.field) or "x12_text",
                           p.message if p.field in paths else (f"{p.field}: {p.message}" if p.field else p.message))
            if isinstance(exc, InvalidInput) and exc.code == "x12-rejected" and not errors.get("x12_text"):
                errors.add("x12_text", exc.detail)
            return page(request, "record_271.html", staff, 422, errors=errors, values=values)
        return _recorded(request, staff, stored)

    @get("/record/phone")
    async def record_phone_form(self, request: Request[Any, Any, Any]) -> Template:
        return page(request, "record_phone.html", await signed_in(request), values={"status": "active"})

    @post("/record/phone")
    async def record_phone(self, request: Request[Any, Any, Any]) -> Response[Any]:
        staff, form = await signed_in_post(request)
        body, paths, errors = forms.phone_command(form)
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
        state = request.app.state
        if not errors:
            try:
                vault = service.require_vault(state.phi_vault)
                command = validate(body, service.RecordVerification)
                draft = service.draft_from_json(state.catalog.current, command, dt.date.today())
                stored = await service.store(state.pool, vault, [draft], staff.actor)
                return _recorded(request, staff, stored)
            except (ServiceError, DomainError) as exc:
                forms.place(errors, _problems(exc), paths)
        return page(request, "record_phone.html", staff, 422, errors=errors, values=values)

    @get("/verifications/{verification_id:str}")
    async def verification(self, request: Request[Any, Any, Any], verification_id: FromPath[str]) -> Template:
        staff = await signed_in(request)
        return await _verification_page(request, staff, verification_id)

    @post("/verifications/{verification_id:str}/reveal")
    async def reveal(self, request: Request[Any, Any, Any], verification_id: FromPath[str]) -> Template:
        staff, form = await signed_in_post(request)
        what = form.getall("reveal", []) if hasattr(form, "getall") else [form.get("reveal")]
        try:
            reveal = service.parse_reveal(",".join(w for w in what if isinstance(w, str)) or "member_id")
        except InvalidInput:
            raise PageRefused(400, "Nothing to reveal", "The form asked to reveal something the console does "
                              "not show; reload the page and use its buttons.") from None
        return await _verification_page(request, staff, verification_id, reveal=reveal)

    # ---- estimates

    @post("/estimates")
    async def price(self, request: Request[Any, Any, Any]) -> Response[Any]:
        staff, form = await signed_in_post(request)
        raw, paths = forms.estimate_command(form)
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
        state = request.app.state
        errors = forms.FormErrors()
        verification_id = values.get("verification_id", "")
        try:
            data = validate(raw, EstimateRequest)
            coverage = await service.resolve_coverage(state.pool, data.coverage, staff.actor)
            data = msgspec.structs.replace(data, coverage=coverage)
            priced = estimate_service.price(state.catalog.current, data, dt.date.today())
            await state.estimate_writer.store([priced])
        except (ServiceError, DomainError) as exc:
            forms.place(errors, _problems(exc), paths)
            if "verification_id" in errors.by_field:  # a tampered hidden field: no verification to show
                raise PageRefused(404, "Verification not found", "The estimate form names a verification that "
                                  "does not exist; open the verification again and price from its page.") from None
            if request.headers.get("x-costsvc-fragment") == "1":  # site.js swaps the form in place
                return page(request, "estimate.html", staff, 422, estimate=None, errors=errors, values=values)
            return await _verification_page(request, staff, verification_id, status=422, errors=errors,
                                            values=values)
        return Redirect(f"{COOKIE_PATH}/estimates/{priced.estimate_id}", status_code=303)

    @get("/estimates/{estimate_id:uuid}")
    async def estimate(self, request: Request[Any, Any, Any], estimate_id: FromPath[Any]) -> Template:
        staff = await signed_in(request)
        document = msgspec.json.decode(await estimate_service.fetch(request.app.state.pool, str(estimate_id)))
        program = request.app.state.catalog.current.programs.get(document.get("program_id"))
        values = {"verification_id": document.get("verification_id") or "", "program_id": document["program_id"],
                  "level_of_care": document["level_of_care"], "network": "auto", "tier": "individual"}
        return page(request, "estimate.html", staff, estimate=document, values=values,
                    program_name=program.name if program else document["program_id"])

    # ---- the audit trail (admins)

    @get("/audit")
    async def audit(self, request: Request[Any, Any, Any]) -> Template:
        staff = await signed_in(request, "admin")
        query = request.query_params
        limit = query.get("limit") or str(AUDIT_PAGE)
        if not limit.isdigit() or not 1 <= int(limit) <= service.MAX_PAGE:
            raise PageRefused(400, "Bad link", f"The page size must be a whole number from 1 to {service.MAX_PAGE}.")
        try:
            found = await service.audit_page(request.app.state.pool,
                                             service.AuditFilter(limit=int(limit), cursor=query.get("cursor") or None))
        except InvalidInput:
            raise PageRefused(400, "Bad link", "This page link is not one the console made; start from the "
                              "first page.") from None
        next_link = (f"{COOKIE_PATH}/audit?{urlencode({'cursor': found.next_cursor, 'limit': limit})}"
                     if found.next_cursor else None)
        return page(request, "audit.html", staff, records=_plain(found.records), next_link=next_link,
                    first=not query.get("cursor"))


def _recorded(request: Request[Any, Any, Any], staff: Staff, stored: list[service.Verification]) -> Response[Any]:
    if len(stored) == 1:
        return Redirect(f"{COOKIE_PATH}/verifications/{stored[0].verification_id}", status_code=303)
    return page(request, "recorded.html", staff, verifications=_plain(stored), searched=False)


async def _verification_page(request: Request[Any, Any, Any], staff: Staff, verification_id: str, *,
                             reveal: frozenset[str] = frozenset(), status: int = 200,
                             errors: forms.FormErrors | None = None, values: dict[str, Any] | None = None) -> Template:
    state = request.app.state
    try:
        found = await service.get(state.pool, state.phi_vault, verification_id, staff.actor, reveal)
    except NotFound:
        raise PageRefused(404, "Verification not found", "No verification has this id. Find it from the "
                          "console's home page.") from None
    defaults = {"level_of_care": "iop", "network": "auto", "tier": "individual", "verification_id": verification_id}
    return page(request, "verification.html", staff, status, v=_plain(found), revealed=sorted(reveal), estimate=None,
                errors=errors or forms.FormErrors(), values={**defaults, **(values or {})})


# --------------------------------------------------------------------------- errors as pages


def _error_page(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Response[Any]:
    staff = request.scope.get("staff_page_user")
    try:
        return page(request, "error.html", staff if isinstance(staff, Staff) else None, status,
                    title=title, message=message)
    except Exception:  # noqa: BLE001 - the catalog is down too: words, still no stack trace
        return Response(f"{title}: {message}", status_code=status, media_type="text/plain")


def _to_sign_in(request: Request[Any, Any, Any], reason: str | None) -> Response[Any]:
    location = f"{SIGN_IN}?{urlencode({'reason': reason})}" if reason else SIGN_IN
    try:
        cookies = [_clearing_cookie(codec_of(request))]
    except PageRefused:
        cookies = []
    return Redirect(location, status_code=303, cookies=cookies)


def on_session_refused(request: Request[Any, Any, Any], exc: SessionRefused) -> Response[Any]:
    if exc.reason == "unavailable":
        return _error_page(request, 503, "Console not configured", MESSAGES["unavailable"])
    return _to_sign_in(request, exc.reason)


def on_sign_in_needed(request: Request[Any, Any, Any], exc: SignInNeeded) -> Response[Any]:
    return _to_sign_in(request, exc.reason)


def on_refused(request: Request[Any, Any, Any], exc: PageRefused) -> Response[Any]:
    return _error_page(request, exc.status, exc.title, exc.message)


def on_service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    problem = service_problem(exc)
    return _error_page(request, problem.status, problem.title, problem.detail)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    words = {413: "The form or file is larger than this server accepts "
                  f"({request.app.state.settings.max_body_bytes // 1024} KiB).",
             404: "There is no page at this address.", 405: "This page does not take that kind of request."}
    message = words.get(exc.status_code, "The request could not be handled.")
    return _error_page(request, exc.status_code, "Request refused", message)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    route = request.scope.get("path_template") or COOKIE_PATH
    log.exception("staff console: unhandled error on %s %s", request.method, route)
    return _error_page(request, 500, "Something went wrong", "The console could not finish this request; "
                       "nothing shown here was changed by it. Try again, and tell an admin if it keeps happening.")


def is_console_path(path: str) -> bool:
    return path == COOKIE_PATH or path.startswith(COOKIE_PATH + "/")


def on_unrouted(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any] | None:
    """The console's error page for an address under it that no route takes (404) or a
    method no route there accepts (405): raised while routing, before any controller, so
    the app's handler asks here first.  None: not the console's; answer as the API does."""
    if exc.status_code in (404, 405) and is_console_path(request.url.path):
        return on_http_error(request, exc)
    return None


StaffPages.exception_handlers = {  # type: ignore[assignment]
    SessionRefused: on_session_refused, SignInNeeded: on_sign_in_needed, PageRefused: on_refused,
    ServiceError: on_service_error, HTTPException: on_http_error, Exception: on_unexpected,
}
