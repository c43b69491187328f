"""The errors use cases raise.  The HTTP layer maps each to a problem type;
the CLI and the jobs report them in their own words.  None of them carries PHI:
messages name fields and identifiers the caller sent in the open (program ids,
plan ids), never member ids, names or dates of birth."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec


class FieldProblem(msgspec.Struct, frozen=True):
    """One invalid field: its dotted path in the request (``""`` for the whole body)
    and a sentence saying what is wrong."""

    field: str
    message: str


class ServiceError(Exception):
    """Base of every use-case error.  ``code`` is the stable slug of the problem type."""

    code = "service-error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    """A resource the request names does not exist (program, plan, estimate, import…)."""

    code = "not-found"

    def __init__(self, detail: str, field: str | None = None):
        super().__init__(detail)
        self.field = field


class InvalidInput(ServiceError):
    """The request is well-formed but some fields cannot be used."""

    code = "invalid-request"

    def __init__(self, errors: Sequence[FieldProblem], *, code: str | None = None, detail: str | None = None):
        self.errors = list(errors)
        if code:
            self.code = code
        super().__init__(detail or "; ".join(f"{e.field or '(body)'}: {e.message}" for e in self.errors))

    @classmethod
    def one(cls, field: str, message: str, *, code: str | None = None) -> InvalidInput:
        return cls([FieldProblem(field, message)], code=code)


class Conflict(ServiceError):
    """The request conflicts with the resource's current state (an import already running…)."""

    code = "conflict"


class Forbidden(ServiceError):
    """The caller may not do this (its role, or what it names lies outside what it may use)."""

    code = "forbidden"

    def __init__(self, detail: str, field: str | None = None):
        super().__init__(detail)
        self.field = field


class Unavailable(ServiceError):
    """A dependency (database, broker) cannot serve the request now; worth retrying."""

    code = "unavailable"

    def __init__(self, detail: str, retry_after: int = 5):
        super().__init__(detail)
        self.retry_after = retry_after
