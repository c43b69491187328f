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
import datetime as dt
import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, FromQuery, QueryParameter
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from costsvc.api.problems import NotFound, problem, problem_response
from costsvc.api.validation import FieldError, RequestInvalid, validate
from costsvc.auth import current_principal, require_role
from costsvc.db.queries import Q
from costsvc.settings import Settings, get_settings
from jobs.enqueue import EnqueueFailed, eager_runner, enqueue_import, is_eager, revive_if_stuck
from tariffs.options import normalize_payer_names
from tariffs.pipeline import ImportOptions, create_import, sha256_of
from tariffs.pipeline import activate as activate_version

UPLOAD_MAX_BYTES = get_settings().max_upload_bytes  # 20 GiB unless COSTSVC_MAX_UPLOAD_BYTES says otherwise
_FIELD_MAX_BYTES = 64 * 1024  # a text field, or a JSON request
_FLUSH_BYTES = 1 << 20  # write and hash the upload in 1 MiB blocks, off the event loop
_MAX_PARTS = 16
ImportStatusName = Literal["queued", "running", "succeeded", "rejected", "failed", "noop"]


class ImportRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The fields of ``POST /v1/imports`` (JSON body, or multipart fields beside ``file``)."""

    kind: str
    source_path: str | None = None
    allow_partial: bool = False
    payer_id: str | None = None
    program_id: str | None = None
    payer_names: dict[str, str] | None = None

    def options(self) -> ImportOptions:
        return ImportOptions(allow_partial=self.allow_partial, payer_id=self.payer_id, program_id=self.program_id,
                             payer_names=normalize_payer_names(self.payer_names))  # fmt: skip


class VersionOut(msgspec.Struct):
    version_id: int
    created_at: dt.datetime | None
    activated_at: dt.datetime | None
    current: bool  # the version estimates read for at least one of its keys


class ErrorOut(msgspec.Struct):
    seq: int
    file: str
    line: int | None
    column: str | None
    message: str


class ErrorPage(msgspec.Struct):
    total: int  # errors stored (the first 10,000); rows_rejected counts them all
    offset: int
    limit: int
    items: list[ErrorOut]


class ImportOut(msgspec.Struct):
    import_id: uuid.UUID
    kind: str
    source: str
    sha256: str
    options: dict[str, Any]
    status: str
    started_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    message: str | None = None
    version: VersionOut | None = None  # the version the import created
    deduplicated: bool = False  # POST only: the same file was imported or queued already


class ImportDetail(ImportOut):
    errors: ErrorPage | None = None  # its row errors, a page at a time


class ImportPage(msgspec.Struct):
    total: int
    offset: int
    limit: int
    imports: list[ImportOut]


def _import_out(row: Any, out: type[ImportOut] = ImportOut, **extra: Any) -> Any:
    version = None
    if row["version_id"] is not None:
        version = VersionOut(
            row["version_id"],
            row["version_created_at"],
            row["version_activated_at"],
            bool(row["version_current"]),
        )
    return out(
        import_id=row["import_id"],
        kind=row["kind"],
        source=row["source"],
        sha256=row["sha256"],
        options=row["options"] or {},
        status=row["status"],
        started_by=row["started_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        rows_read=row["rows_read"],
        rows_accepted=row["rows_accepted"],
        rows_rejected=row["rows_rejected"],
        message=row["message"],
        version=version,
        **extra,
    )


def _json(
    value: Any, status: int, headers: dict[str, str] | None = None, background: BackgroundTask | None = None
) -> Response[bytes]:
    return Response(
        msgspec.json.encode(value),
        status_code=status,
        media_type="application/json",
        headers=headers,
        background=background,
    )


def safe_filename(name: str | None) -> str:
    """The base name of a client's file name, reduced to ``[A-Za-z0-9._-]`` (the extension is kept:
    parsers look at it)."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._")[-200:]
    return cleaned or "upload"


# ----------------------------------------------------------------------------- the upload


class _Upload:
    """A file part streamed to disk while hashed (SHA-256)."""

    def __init__(self, folder: Path, filename: str):
        folder.mkdir(parents=True, exist_ok=True)
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

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


def _invalid(field: str, message: str) -> RequestInvalid:
    return RequestInvalid([FieldError(field, message)])


async def _read_multipart(
    request: Request[Any, Any, Any], content_type: str, incoming: Path
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
                            upload, to_file = _Upload(incoming, safe_filename(event.filename)), True
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


def _form_to_request(fields: dict[str, str], has_file: bool) -> ImportRequest:
    data: dict[str, Any] = {k: v for k, v in fields.items() if v != "" or k == "kind"}
    if "payer_names" in data:
        try:
            data["payer_names"] = msgspec.json.decode(data["payer_names"])
        except msgspec.DecodeError:
            raise _invalid("payer_names", "must be a JSON object of name → payer id") from None
    return _validated(data, has_file)


def _validated(data: dict[str, Any], has_file: bool) -> ImportRequest:
    """The request, or RequestInvalid listing every invalid field at once."""
    from tariffs.loaders import LOADERS

    errors: list[FieldError] = []
    try:
        req: ImportRequest | None = validate(data, ImportRequest)
    except RequestInvalid as invalid:
        errors.extend(invalid.errors)
        req = None
    kind, source_path = data.get("kind"), data.get("source_path")
    if isinstance(kind, str) and kind not in LOADERS:
        errors.append(FieldError("kind", f"must be one of {', '.join(sorted(LOADERS))}"))
    if has_file and source_path:
        errors.append(FieldError("source_path", "send either a file or a source_path, not both"))
    if not has_file and not source_path:
        errors.append(
            FieldError("file", "send a file (multipart part 'file') or a source_path on the server")
        )
    if errors:
        raise RequestInvalid(errors)
    assert req is not None
    return req


class _ForbiddenPath(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def resolve_source_path(settings: Settings, source_path: str) -> Path:
    """The real path of a server-side source, which must lie under the import root
    (after resolving ``..`` and symlinks).  Raises _ForbiddenPath or RequestInvalid."""
    if not settings.import_root:
        raise _ForbiddenPath("server-side imports are disabled: COSTSVC_IMPORT_ROOT is not set")
    root = Path(settings.import_root).resolve()
    try:
        candidate = (root / source_path).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # symlink loop, NUL byte
        raise _invalid("source_path", f"is not a usable path: {exc}") from None
    if not candidate.is_relative_to(root):
        raise _ForbiddenPath("must be a file under the import root")
    if not candidate.is_file():
        raise _invalid("source_path", "no such file under the import root")
    return candidate


@dataclass
class UploadOperation(Operation):
    """Documents the two request bodies, which the handler reads itself (streamed)."""

    def __post_init__(self) -> None:
        fields = {
            "kind": Schema(type=OpenAPIType.STRING, description="import kind, e.g. fee_schedule"),
            "source_path": Schema(
                type=OpenAPIType.STRING, description="a file under COSTSVC_IMPORT_ROOT (instead of uploading)"
            ),
            "allow_partial": Schema(type=OpenAPIType.BOOLEAN),
            "payer_id": Schema(type=OpenAPIType.STRING),
            "program_id": Schema(type=OpenAPIType.STRING),
        }
        self.request_body = RequestBody(
            required=True,
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["kind"],
                        properties={
                            **fields,
                            "file": Schema(type=OpenAPIType.STRING, format="binary"),
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
                        required=["kind", "source_path"],
                        properties={
                            **fields,
                            "payer_names": Schema(
                                type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING)
                            ),
                        },
                    )
                ),
            },
        )


def _settings(state: State) -> Settings:
    return state.get("settings") or get_settings()


class ImportController(Controller):
    path = "/v1/imports"
    tags = ["imports"]
    guards = [require_role("admin")]
    security = [{"apiKey": []}]

    @post(
        "/",
        status_code=202,
        request_max_body_size=UPLOAD_MAX_BYTES,
        operation_class=UploadOperation,
        summary="Import a tariff file (upload, or a server-side path)",
        responses={
            202: ResponseSpec(ImportOut, description="Recorded and enqueued"),
            200: ResponseSpec(ImportOut, description="The same file was imported or queued already"),
            # 202 with deduplicated: true — the same file's earlier import was stuck and is re-enqueued
        },
    )
    async def create(self, request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        settings = _settings(state)
        principal = await current_principal(request)
        uploads = Path(settings.data_dir) / "uploads"
        content_type = request.headers.get("content-type", "")
        upload: _Upload | None = None
        if content_type.lower().startswith("multipart/form-data"):
            fields, upload = await _read_multipart(request, content_type, uploads / ".incoming")
            try:
                req = _form_to_request(fields, upload is not None)
            except BaseException:
                if upload is not None:
                    upload.discard()
                raise
        elif content_type.lower().startswith("application/json"):
            req = _validated(await _read_json(request), False)
        else:
            detail = (
                "Send multipart/form-data (a file upload) or application/json (a source_path on the server)."
            )
            return problem_response(problem(415, detail, instance=request.url.path))

        new_id = uuid.uuid4()
        stored: Path | None = None  # the upload's folder, <data_dir>/uploads/<new_id>
        if upload is not None:
            # In place before the import is recorded: the row names a file that exists
            # (a lost job is re-enqueued from it: jobs.enqueue.requeue_stale_imports).
            stored = uploads / str(new_id)
            path = stored / upload.filename
            try:
                stored.mkdir(parents=True, exist_ok=True)
                os.replace(upload.path, path)  # same file system: atomic
            except BaseException:
                upload.discard()
                raise
            source, digest = upload.filename, upload.sha256
        else:
            assert req.source_path is not None
            try:
                path = resolve_source_path(settings, req.source_path)
            except _ForbiddenPath as exc:
                errors = [FieldError("source_path", exc.message)]
                return problem_response(
                    problem(403, f"source_path {exc.message}", instance=request.url.path, errors=errors)
                )
            source, digest = str(path), await asyncio.to_thread(sha256_of, path)

        def adopt(existing_id: uuid.UUID) -> Path:
            """A stuck earlier import of this same file (kind, SHA-256, scope) runs from this copy."""
            if stored is None:
                return path  # the server-side source, just hashed
            target = uploads / str(existing_id) / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            return target

        created, revived = False, None
        try:
            async with state.pool.acquire() as conn:
                import_id, status, created = await create_import(
                    conn, req.kind, path, options=req.options(), source=source,
                    started_by=principal.label, sha256=digest, import_id=new_id,
                )  # fmt: skip
                if not created and status in ("queued", "running"):
                    # Deduplicated to an import still to run: if its job was lost (nobody
                    # runs it, and it is past the grace period), run it now, not never.
                    revived = await revive_if_stuck(
                        conn, import_id, adopt=adopt, stale_after=settings.stale_import_seconds
                    )
        finally:
            if stored is not None and not created:
                # The same file is imported or on its way already (or this copy was adopted).
                shutil.rmtree(stored, ignore_errors=True)

        run_path = str(path) if created else revived
        background = None
        if run_path is not None:  # the import is committed: only now may a worker hear of it
            if is_eager():
                background = BackgroundTask(
                    eager_runner(import_id, run_path, database_url=state.database_url)
                )
            else:
                try:
                    await enqueue_import(import_id, run_path)
                except EnqueueFailed as exc:
                    async with state.pool.acquire() as conn:
                        await conn.execute(Q.jobs_mark_import_failed, import_id, str(exc))
                    detail = (
                        f"{exc}. The import {import_id} was recorded as failed; send the file again later."
                    )
                    return problem_response(problem(503, detail, instance=request.url.path))
        async with state.pool.acquire() as conn:
            row = await conn.fetchrow(Q.imports_api_get, import_id)
        headers = {"Location": f"/v1/imports/{import_id}"}
        accepted = 202 if run_path is not None else 200  # something was enqueued
        return _json(_import_out(row, deduplicated=not created), accepted, headers, background)

    @get("/", summary="Imports, newest first (filter by kind and status)")
    async def list_imports(
        self,
        state: State,
        kind: FromQuery[str | None] = None,
        status: FromQuery[ImportStatusName | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> ImportPage:
        async with state.pool.acquire() as conn:
            rows = await conn.fetch(Q.imports_api_list, kind, status, limit, offset)
            total = await conn.fetchval(Q.imports_api_count, kind, status)
        return ImportPage(total=total, offset=offset, limit=limit, imports=[_import_out(r) for r in rows])

    @get("/{import_id:uuid}", summary="One import: status, counts, the version it created, its row errors")
    async def get_import(
        self,
        state: State,
        import_id: FromPath[uuid.UUID],
        errors_offset: Annotated[int, QueryParameter(ge=0)] = 0,
        errors_limit: Annotated[int, QueryParameter(ge=0, le=1000)] = 100,
    ) -> ImportDetail:
        async with state.pool.acquire() as conn:
            row = await conn.fetchrow(Q.imports_api_get, import_id)
            if row is None:
                raise NotFound(f"no import {import_id}", field="import_id")
            errors = await conn.fetch(Q.imports_api_errors, import_id, errors_limit, errors_offset)
            total = await conn.fetchval(Q.imports_api_error_count, import_id)
        page = ErrorPage(
            total=total,
            offset=errors_offset,
            limit=errors_limit,
            items=[ErrorOut(e["seq"], e["file"], e["line"], e["column"], e["message"]) for e in errors],
        )
        return _import_out(row, ImportDetail, errors=page)

    @post(
        "/{import_id:uuid}/activate",
        status_code=200,
        summary="Make the version this import created current again (roll back or forward)",
        responses={200: ResponseSpec(ImportOut, description="The import, its version now current")},
    )
    async def activate(
        self, state: State, request: Request[Any, Any, Any], import_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        async with state.pool.acquire() as conn:
            row = await conn.fetchrow(Q.imports_api_get, import_id)
            if row is None:
                raise NotFound(f"no import {import_id}", field="import_id")
            if row["version_id"] is None:
                return problem_response(
                    problem(
                        409,
                        f"import {import_id} is {row['status']}: it created no version to activate",
                        instance=request.url.path,
                        type_="no-version",
                    )
                )
            await activate_version(conn, row["version_id"])
            row = await conn.fetchrow(Q.imports_api_get, import_id)
        return _json(_import_out(row), 200)
