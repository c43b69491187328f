"""A lean path for the hottest route: ``POST /v1/estimates`` with a valid body.

Litestar's request cycle (routing, the request and response objects, the
``before_request`` hook, the signature model that converts ``data``, the
exception and CORS middleware) cost more than pricing a varied estimate
(docs/PERFORMANCE.md, "Where a varied estimate's time goes").  This ASGI layer,
installed in front of Litestar's middleware stack by ``create_app``, answers the
common case itself with the same steps the controller takes, on the same bytes:

- the body is read once, decoded once with msgspec, checked by the same validator
  (``validation.problems_of``) and converted to ``EstimateRequest`` as the
  controller's ``data`` would be;
- it is priced by ``services.estimates.price`` and stored by the estimate writer;
- the answer is ``201`` with the same headers (``location``, ``content-type``,
  ``content-length``) and the same document bytes.

Anything else goes to Litestar unchanged, with the body handed back as it was
read: another route or method, a query other than ``include=claims``, a body that
is not ``application/json``, too large, malformed, nested too deep or invalid
(Litestar answers the 400/413/415/422 problem), a ``verification_id`` (needs a key
and the database), an ``Origin`` header (CORS), and any error while pricing or
storing (Litestar answers the problem, pricing again).  Nothing is sent before the
lean path answers, so handing over is safe; a store that failed is tried once more
through Litestar, as a client's retry would be (the writer fails a store when it
cannot confirm the commit, so at worst an unreturned estimate row is left).  ``tests/api/test_estimates_http.py`` runs every
estimate test through it; ``tests/api/test_fast_estimate.py`` checks that what it
answers is what Litestar answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from costsvc.api.body import MAX_JSON_DEPTH, is_json_media_type
from costsvc.api.validation import problems_of
from costsvc.services import estimates as service
from costsvc.services.requests import EstimateRequest

PATH = "/v1/estimates"
_QUERIES = {b"": False, b"include=claims": True}  # query string -> include_claims
_JSON = b"application/json"
_decode = msgspec.json.Decoder().decode


class _HandOver(Exception):
    """The lean path does not answer this request: Litestar does."""


class EstimateFastPath:
    """ASGI: answers a valid ``POST /v1/estimates`` itself, hands everything else to ``app``."""

    def __init__(self, app: Any, litestar: Any, max_body_bytes: int):
        self.app = app
        self.litestar = litestar  # its ``state`` (catalog, estimate writer) is filled by the lifespan
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        include_claims = _QUERIES.get(scope.get("query_string", b""))
        if include_claims is None or not self._plain(scope["headers"]):
            return await self.app(scope, receive, send)
        messages: list[Any] = []
        try:
            body = await self._body(receive, messages)
            priced = await self._answer(body, include_claims)
        except _HandOver:
            return await self.app(scope, _replay(messages, receive), send)
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"location", f"{PATH}/{priced.estimate_id}".encode()),
            (b"content-type", _JSON),
            (b"content-length", str(len(priced.body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": priced.body})
        return None

    def _plain(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """A JSON body no larger than the limit, and no CORS request."""
        json_body = False
        for name, value in headers:
            if name == b"content-type":
                json_body = value == _JSON or is_json_media_type(value.decode("latin-1"))
            elif name == b"origin":
                return False
            elif name == b"content-length" and (not value.isdigit() or int(value) > self.max_body_bytes):
                return False
        return json_body

    async def _body(self, receive: Any, messages: list[Any]) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                raise _HandOver
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _HandOver
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _answer(self, body: bytes, include_claims: bool) -> service.Priced:
        # Nesting can be no deeper than the number of brackets (as in api/body.py); a body
        # that might nest too deep is left to Litestar's full check.
        if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
            raise _HandOver
        try:
            data = _decode(body)
        except msgspec.DecodeError:
            raise _HandOver from None
        if type(data) is not dict:
            raise _HandOver
        coverage = data.get("coverage")
        if type(coverage) is dict and coverage.get("verification_id") is not None:
            raise _HandOver
        if problems_of(data, EstimateRequest).total:
            raise _HandOver
        try:
            request = msgspec.convert(data, EstimateRequest, strict=False)
            state = self.litestar.state
            priced = service.price(state.catalog.current, request, dt.date.today(), include_claims=include_claims)
            await state.estimate_writer.store([priced])
        except Exception:  # noqa: BLE001 - Litestar answers the problem (and logs a 500)
            raise _HandOver from None
        return priced


def _replay(messages: list[Any], receive: Any) -> Any:
    """A ``receive`` that gives back the messages already read, then reads on."""
    pending = list(messages)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
