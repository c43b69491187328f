"""The JSON request body, checked by class before any handler runs.

A route declares the Struct its body must fit with ``opt={"body_type": T}``; the
app's ``before_request`` hook (``check_request``) then answers, in this order:

- 415 when the body is not ``application/json`` (``+json`` types included);
- 400 when the body is empty ("a body is required");
- 413 when it is larger than the limit: the app's ``COSTSVC_MAX_BODY_BYTES`` (Litestar,
  while reading it), or, on a route declaring ``opt={"small_body": True}`` (one
  estimate, a compare, a GFE request), ``COSTSVC_MAX_ESTIMATE_BODY_BYTES``;
- 400 when it is not JSON (with the position msgspec reports) or is nested deeper
  than ``MAX_JSON_DEPTH`` (msgspec would recurse until Python gives up);
- 422 listing every invalid field (``costsvc.api.validation``).

It reads the body with ``request.json()`` and, once checked, leaves the body's Struct
where Litestar keeps the decoded JSON for the handler's ``data`` parameter: the body is
decoded, checked and converted once.  On every route, query
parameters are checked for control characters first (422).

On a route declaring ``opt={"remember_body": True}`` (the public estimate routes, whose
bodies carry no PHI), a valid body's Struct is also kept by its exact bytes
(``CheckedBodies``): the locator sends the same question again and again (a plan's search
results, a page reloaded), and the checks are a pure function of the bytes and the route's
type.  The next identical body skips decoding, the checks and the conversion; the media
type and size checks still run.  Handlers treat request Structs as values
(``msgspec.structs.replace``, never assignment), so one Struct can serve many requests.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, HTTPException, SerializationException

from costsvc.api.validation import Problems, RequestInvalid, problems_of, text_problem
from costsvc.domain.model import convert_checked

#: The deepest nesting of arrays and objects a request body may have.
MAX_JSON_DEPTH = 32


class CheckedBodies:
    """Valid bodies' Structs by (body type, exact bytes), least recently used out first,
    within a budget of memory: each entry costs its body's bytes and ``STRUCT_BYTES`` for its
    Struct (4 MiB: about 2,200 single estimates).  A body above ``largest`` bytes is not
    kept: a big batch is rarely sent twice, and one would push out many single estimates."""

    #: What one kept Struct costs besides its body, measured with tracemalloc (a plan
    #: estimate with accumulators and a household: 1.4 kB).
    STRUCT_BYTES = 1536

    def __init__(self, budget: int = 4 * 1024 * 1024, largest: int = 16 * 1024):
        self.budget, self.largest = budget, largest
        self._structs: OrderedDict[tuple[type, bytes], Any] = OrderedDict()
        self._bytes = 0

    def get(self, body_type: type, body: bytes) -> Any:
        struct = self._structs.get(key := (body_type, body))
        if struct is not None:
            self._structs.move_to_end(key)
        return struct

    def keep(self, body_type: type, body: bytes, struct: Any) -> None:
        if len(body) > self.largest or (body_type, body) in self._structs:
            return
        cost = len(body) + self.STRUCT_BYTES
        while self._structs and self._bytes + cost > self.budget:
            (_, oldest), _ = self._structs.popitem(last=False)
            self._bytes -= len(oldest) + self.STRUCT_BYTES
        self._structs[(body_type, body)] = struct
        self._bytes += cost

    def __len__(self) -> int:
        return len(self._structs)


checked_bodies = CheckedBodies()


class BadBody(ClientException):
    """A 400 about the body itself; ``problem_code`` is the problem type's slug."""

    def __init__(self, detail: str, problem_code: str):
        super().__init__(detail)
        self.problem_code = problem_code


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests arrays/objects deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if type(node) is dict:
            stack.extend((child, depth + 1) for child in node.values() if type(child) in (dict, list))
        elif type(node) is list:
            stack.extend((child, depth + 1) for child in node if type(child) in (dict, list))
    return False


async def decode_body(request: Request[Any, Any, Any]) -> Any:
    """The request's decoded JSON, or BadBody (400) saying what is wrong with it.

    Decoded by ``request.json()``, which keeps the result for Litestar's extraction of
    the handler's ``data``: the body is decoded once."""
    body = await request.body()
    if not body.strip():
        raise _body_required()
    # Nesting can be no deeper than the number of brackets: most bodies need no walk.
    might_nest = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    try:
        data = await request.json()
    except RecursionError:
        raise _too_deep() from None
    except SerializationException as exc:
        reason = str(exc).removeprefix("JSON is malformed: ").rstrip(".")
        raise BadBody(f"The request body is not valid JSON: {reason}.", "malformed-json") from None
    if might_nest and depth_exceeds(data, MAX_JSON_DEPTH):
        raise _too_deep()
    return data


def _body_required() -> BadBody:
    return BadBody("The request body is required: send a JSON object.", "body-required")


def _too_deep() -> BadBody:
    return BadBody(f"The request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels.",
                   "nesting-too-deep")


async def check_small_body(request: Request[Any, Any, Any]) -> None:
    """413 when the body is over ``max_estimate_body_bytes``: by its declared length before
    anything is read, else once read (a chunked body; the app-wide limit bounds the read)."""
    limit = request.app.state.settings.max_estimate_body_bytes
    declared = request.headers.get("content-length", "")
    if (declared.isdigit() and int(declared) > limit) or len(await request.body()) > limit:
        raise HTTPException(status_code=413, detail=f"This route's request body is limited to {limit} bytes.")


def check_query(request: Request[Any, Any, Any]) -> None:
    """Control characters in any query parameter: 422 naming it."""
    problems = Problems()
    for name, value in request.query_params.multi_items():
        if text_problem(name):
            problems.add("(query)", "has a parameter name with control characters")
        elif text_problem(value):
            problems.add(name, "must not contain control characters")
    if problems.total:
        raise RequestInvalid(problems.items, problems.total)


async def check_request(request: Request[Any, Any, Any]) -> None:
    """The app's ``before_request`` hook (see the module docstring)."""
    if request.scope.get("query_string"):
        check_query(request)
    body_type = request.route_handler.opt.get("body_type")
    if body_type is None:
        return None
    content_type = request.headers.get("content-type")
    if content_type is None or not is_json_media_type(content_type):
        if content_type is None and not (await request.body()).strip():
            raise _body_required()
        raise HTTPException(status_code=415, detail="Send the request body as application/json.")
    if request.route_handler.opt.get("small_body"):
        await check_small_body(request)
    remember = request.route_handler.opt.get("remember_body", False)
    if remember:
        body = await request.body()
        struct = checked_bodies.get(body_type, body)
        if struct is not None:
            request._json = request._connection_state.json = struct
            return None
    data = await decode_body(request)
    problems = problems_of(data, body_type)
    if problems.total:
        raise RequestInvalid(problems.items, problems.total)
    # The body as its Struct, in place of the decoded JSON Litestar keeps for the handler's
    # ``data``: its conversion then passes the Struct through instead of converting (and
    # checking every amount of) the body a second time.  Should msgspec refuse what the
    # checks passed, the JSON stays, for Litestar's conversion to answer as it would.
    try:
        struct = convert_checked(data, body_type)
    except msgspec.ValidationError:
        return None
    request._json = request._connection_state.json = struct
    if remember:
        checked_bodies.keep(body_type, body, struct)
    return None
