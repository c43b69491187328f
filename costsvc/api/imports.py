"""The import API (role ``admin``): upload or name a tariff file, follow its import,
roll tariffs back or forward.

``POST /v1/imports`` takes either a ``multipart/form-data`` upload (a ``file`` part
plus the fields below) or ``application/json`` naming a server-side file under
``COSTSVC_IMPORT_ROOT``.  Fields: ``kind`` (required), ``source_path`` (server-side
path, relative to the import root or absolute under it), ``allow_partial``,
``payer_id``, ``program_id``, ``payer_names`` (JSON object: name in the file →
payer id).  The upload is streamed to ``<data_dir>/uploads`` while it is hashed,
never held in memory; the import is recorded (committed), then enqueued:
``202`` with the import.  The same file (kind, SHA-256, scope) already imported or
on its way answers ``200`` with that import (``deduplicated: true``) and runs nothing
— unless that import is stuck (``queued``/``running`` with nobody running it, past
``COSTSVC_STALE_IMPORT_SECONDS``: its job was lost): it is then re-enqueued with this
copy of the file, ``202`` with that import (``deduplicated: true``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, HttpMethod, Request, Response, get, post, route
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, FromQuery, QueryParameter
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from costsvc.api.problems import problem, problem_response, problem_responses
from costsvc.api.validation import RequestInvalid, validate
from costsvc.auth import current_principal, require_role
from costsvc.services.errors import FieldProblem
from costsvc.services.imports import (
    ImportDetail,
    ImportOut,
    ImportPage,
    ImportService,
    ImportStatusName,
    ReceivedFile,
    SubmitImport,
)

_FIELD_MAX_BYTES = 64 * 1024  # a text field, or a JSON request
_FLUSH_BYTES = 1 << 20  # write and hash the upload in 1 MiB blocks, off the event loop
_MAX_PARTS = 16


def _json(
    value: Any, status: int, headers: dict[str, str] | None = None, background: BackgroundTask | None = None
) -> Response[bytes]:
    return Response(
        msgspec.json.encode(value), status_code=status, media_type="application/json", headers=headers,
        background=background,
    )  # fmt: skip


def safe_filename(name: str | None) -> str:
    """The base name of a client's file name, reduced to ``[A-Za-z0-9._-]`` (the extension is kept:
    parsers look at it)."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._")[-200:]
    return cleaned or "upload"


# ----------------------------------------------------------------------------- the upload


class _Upload:
    """A file part streamed to disk while hashed (SHA-256)."""

    def __init__(self, folder: Path, filename: str, max_bytes: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.size = 0
        self.filename = filename
        self.path = folder / f"{uuid.uuid4().hex}.part"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in finish()/discard()
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self.sha256: str | None = None  # known once finished

    def _flush_sync(self, block: bytes) -> None:
        self._hash.update(block)
        self._file.write(block)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise HTTPException(status_code=413, detail=f"An upload is limited to {self.max_bytes} bytes.")
        self._buffer += data
        if len(self._buffer) >= _FLUSH_BYTES:
            block, self._buffer = bytes(self._buffer), bytearray()
            await asyncio.to_thread(self._flush_sync, block)

    async def finish(self) -> str:
        if self._buffer:
            await asyncio.to_thread(self._flush_sync, bytes(self._buffer))
            self._buffer = bytearray()
        await asyncio.to_thread(self._file.close)
        self.sha256 = self._hash.hexdigest()
        return self.sha256

    def received(self) -> ReceivedFile:
        assert self.sha256 is not None, "finish() first"
        return ReceivedFile(self.path, self.filename, self.sha256)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


def _invalid(field: str, message: str) -> RequestInvalid:
    return RequestInvalid([FieldProblem(field, message)])


async def _read_multipart(
    request: Request[Any, Any, Any], content_type: str, incoming: Path, max_bytes: int
) -> tuple[dict[str, str], _Upload | None]:
    _, params = parse_options_header(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise ClientException("multipart/form-data needs a boundary parameter in Content-Type")
    fields: dict[str, str] = {}
    upload: _Upload | None = None
    segment: MultipartSegment | None = None
    text = bytearray()
    to_file = False
    try:
        with PushMultipartParser(boundary, max_segment_count=_MAX_PARTS) as parser:
            async for chunk in request.stream():
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment, text, to_file = event, bytearray(), False
                        if event.filename:  # a browser sends filename="" when no file was chosen
                            if event.name != "file" or upload is not None:
                                raise _invalid(
                                    event.name or "file", "send one file, in the part named 'file'"
                                )
                            upload, to_file = _Upload(incoming, safe_filename(event.filename), max_bytes), True
                    elif event is None:
                        if segment is not None and segment.filename is None:
                            fields[segment.name or ""] = text.decode(segment.charset or "utf-8", "replace")
                        segment = None
                    elif to_file:
                        assert upload is not None
                        await upload.write(event)
                    elif segment is not None and segment.filename is not None:
                        continue  # the empty file part of a form sent without a file
                    else:
                        text += event
                        if len(text) > _FIELD_MAX_BYTES:
                            raise _invalid(
                                segment.name if segment else "", f"is longer than {_FIELD_MAX_BYTES} bytes"
                            )
                if parser.closed:
                    break
        if upload is not None:
            await upload.finish()
    except BaseException as exc:
        if upload is not None:
            upload.discard()
        if isinstance(exc, MultipartError):
            raise ClientException(f"invalid multipart/form-data: {exc}") from exc
        raise
    return fields, upload


async def _read_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _FIELD_MAX_BYTES:
            raise HTTPException(
                status_code=413,
                detail="A JSON import request is limited to 64 KiB; upload files as multipart/form-data.",
            )
    try:
        data = msgspec.json.decode(bytes(body))
    except msgspec.DecodeError as exc:
        raise ClientException(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _invalid("", "must be an object")
    return data


def _form_fields(fields: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in fields.items() if v != "" or k == "kind"}
    if "payer_names" in data:
        try:
            data["payer_names"] = msgspec.json.decode(data["payer_names"])
        except msgspec.DecodeError:
            raise _invalid("payer_names", "must be a JSON object of name → payer id") from None
    return data


def _command(service: ImportService, data: dict[str, Any], *, has_file: bool) -> SubmitImport:
    """The submission, or RequestInvalid listing every invalid field at once (schema and service)."""
    errors: list[FieldProblem] = []
    try:
        cmd: SubmitImport | None = validate(data, SubmitImport)
    except RequestInvalid as invalid:
        errors.extend(invalid.errors)
        cmd = None
    problems = service.submission_problems(data.get("kind"), data.get("source_path"), has_file=has_file)
    errors += [FieldProblem(p.field, p.message) for p in problems]
    if errors:
        raise RequestInvalid(errors)
    assert cmd is not None
    return cmd


@dataclass
class UploadOperation(Operation):
    """Documents the two request bodies, which the handler reads itself (streamed)."""

    def __post_init__(self) -> None:
        source_path = "a file under COSTSVC_IMPORT_ROOT (instead of uploading)"
        fields = {
            "kind": Schema(type=OpenAPIType.STRING, description="what the file is (the enum lists the kinds)"),
            "payer_id": Schema(type=OpenAPIType.STRING),
            "program_id": Schema(type=OpenAPIType.STRING),
        }
        self.request_body = RequestBody(
            required=True,
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        additional_properties=False,
                        required=["kind"],
                        description="A file, or a source_path on the server (not both: 422). Form fields "
                                    "are text and an empty one is left out.",
                        properties={
                            **fields,
                            "file": Schema(type=OpenAPIType.STRING, format="binary"),
                            "source_path": Schema(type=OpenAPIType.STRING, description=source_path),
                            # what validate(lax) reads as a boolean, or empty
                            "allow_partial": Schema(type=OpenAPIType.STRING,
                                                    pattern="^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)?$"),
                            "payer_names": Schema(
                                type=OpenAPIType.STRING,
                                description='JSON object, e.g. {"Acme Health": "acme"}',
                            ),
                        },
                    )
                ),
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        additional_properties=False,
                        required=["kind", "source_path"],
                        properties={
                            **fields,
                            "source_path": Schema(type=OpenAPIType.STRING, min_length=1, description=source_path),
                            "allow_partial": Schema(type=OpenAPIType.BOOLEAN),
                            "payer_names": Schema(
                                type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING)
                            ),
                        },
                    )
                ),
            },
        )


class ImportController(Controller):
    path = "/v1/imports"
    tags = ["imports"]
    guards = [require_role("admin")]
    security = [{"apiKey": []}]

    @route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False)
    async def allowed_methods(self) -> Response[None]:
        """Litestar 2 builds the automatic OPTIONS answer of a path from the first route it
        made for it, so on a path with a GET and a POST it says POST only."""
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @post(
        "/",
        status_code=202,
        request_max_body_size=None,  # uploads are bounded while streamed: settings.max_upload_bytes
        operation_class=UploadOperation,
        summary="Import a tariff file (upload, or a server-side path)",
        responses={
            **problem_responses(400, 401, 403, 413, 415, 422, 503),
            202: ResponseSpec(ImportOut, description="Recorded and enqueued"),
            200: ResponseSpec(ImportOut, description="The same file was imported or queued already"),
            # 202 with deduplicated: true — the same file's earlier import was stuck and is re-enqueued
        },
    )
    async def create(self, request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        service: ImportService = state.imports
        principal = await current_principal(request)
        content_type = request.headers.get("content-type", "")
        upload: _Upload | None = None
        try:
            if content_type.lower().startswith("multipart/form-data"):
                fields, upload = await _read_multipart(
                    request, content_type, service.uploads / ".incoming", service.settings.max_upload_bytes
                )
                cmd = _command(service, _form_fields(fields), has_file=upload is not None)
            elif content_type.lower().startswith("application/json"):
                cmd = _command(service, await _read_json(request), has_file=False)
            else:
                detail = (
                    "Send multipart/form-data (a file upload) or application/json (a source_path on the server)."
                )
                return problem_response(problem(415, detail, instance=request.url.path))
            received = upload.received() if upload is not None else None
            submitted = await service.submit(cmd, received, started_by=principal.label)
        except BaseException:
            if upload is not None:
                upload.discard()
            raise
        background = BackgroundTask(submitted.run_after_response) if submitted.run_after_response else None
        headers = {"Location": f"/v1/imports/{submitted.import_.import_id}"}
        return _json(submitted.import_, 202 if submitted.enqueued else 200, headers, background)

    @get("/", summary="Imports, newest first (filter by kind and status)",
         responses=problem_responses(400, 401, 403, 422))
    async def list_imports(
        self,
        state: State,
        kind: FromQuery[str | None] = None,
        status: FromQuery[ImportStatusName | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    ) -> ImportPage:
        return await state.imports.list(kind, status, limit, offset)

    @get("/{import_id:uuid}", summary="One import: status, counts, the version it created, its row errors",
         responses=problem_responses(400, 401, 403, 404, 422))
    async def get_import(
        self,
        state: State,
        import_id: FromPath[uuid.UUID],
        errors_offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
        errors_limit: Annotated[int, QueryParameter(ge=0, le=1000)] = 100,
    ) -> ImportDetail:
        return await state.imports.get(import_id, errors_offset, errors_limit)

    @post(
        "/{import_id:uuid}/activate",
        status_code=200,
        summary="Make the version this import created current again (roll back or forward)",
        responses={200: ResponseSpec(ImportOut, description="The import, its version now current"),
                   **problem_responses(401, 403, 404, 409)},
    )
    async def activate(self, state: State, import_id: FromPath[uuid.UUID]) -> ImportOut:
        return await state.imports.activate(import_id)
