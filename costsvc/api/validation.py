"""Request validation that reports *every* invalid field with its path.

msgspec stops at the first error, but a caller fixing a form wants them all.
``validate(data, T)`` walks decoded JSON against the annotations of the Struct
``T`` (the same types the engine uses), converting leaves with msgspec and
checking the money and percent rules that the annotations mark
(``Meta.extra["kind"]``): money is finite, not negative, at most two decimals and
below an absurd ceiling; percentages are 0-100.
"""

from __future__ import annotations

import types
import typing
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal, Union

import msgspec

from costsvc.domain.model import amount_problem


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class RequestInvalid(Exception):
    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


@cache
def _struct_fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    return tuple(
        (f.encode_name, f.type, f.required) for f in msgspec.structs.fields(cls)
    )


def _leaf_message(err: msgspec.ValidationError) -> str:
    text = str(err)
    return text.split(" - at `", 1)[0]


def _walk(value: Any, annotation: Any, path: str, errors: list[FieldError]) -> None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        kind = next((m.extra.get("kind") for m in meta if isinstance(m, msgspec.Meta) and m.extra), None)
        before = len(errors)
        _walk(value, base, path, errors)
        if kind and len(errors) == before and value is not None:
            try:
                number = msgspec.convert(value, Decimal, strict=False)
            except (msgspec.ValidationError, InvalidOperation):
                return
            problem = amount_problem(kind, number)
            if problem:
                errors.append(FieldError(path, problem))
        # Other constraints (ge/le/pattern) are checked by msgspec itself:
        if len(errors) == before and not kind:
            _convert_leaf(value, annotation, path, errors)
        return
    if origin in (Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None:
            if type(None) not in args:
                errors.append(FieldError(path, "must not be null"))
            return
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:
            _walk(value, others[0], path, errors)
        else:
            _convert_leaf(value, annotation, path, errors)
        return
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        if not isinstance(value, dict):
            errors.append(FieldError(path, "must be an object"))
            return
        fields = _struct_fields(annotation)
        known = set()
        for name, ftype, required in fields:
            known.add(name)
            if name in value:
                _walk(value[name], ftype, _join(path, name), errors)
            elif required:
                errors.append(FieldError(_join(path, name), "is required"))
        if annotation.__struct_config__.forbid_unknown_fields:
            for name in value:
                if name not in known:
                    errors.append(FieldError(_join(path, name), "is not a known field"))
        return
    if origin is dict:
        key_type, value_type = typing.get_args(annotation)
        if not isinstance(value, dict):
            errors.append(FieldError(path, "must be an object"))
            return
        for key, item in value.items():
            try:
                msgspec.convert(key, key_type)
            except msgspec.ValidationError as err:
                allowed = typing.get_args(key_type) if typing.get_origin(key_type) is Literal else None
                hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
                errors.append(FieldError(_join(path, key), f"is not a valid key ({_leaf_message(err)}){hint}"))
                continue
            _walk(item, value_type, _join(path, key), errors)
        return
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        if not isinstance(value, list):
            errors.append(FieldError(path, "must be an array"))
            return
        item_type = args[0] if args else Any
        for i, item in enumerate(value):
            _walk(item, item_type, _join(path, i), errors)
        return
    _convert_leaf(value, annotation, path, errors)


def _convert_leaf(value: Any, annotation: Any, path: str, errors: list[FieldError]) -> None:
    try:
        msgspec.convert(value, annotation, strict=False)
    except msgspec.ValidationError as err:
        message = _leaf_message(err)
        if typing.get_origin(annotation) is Literal:
            message = f"must be one of {', '.join(map(str, typing.get_args(annotation)))}"
        errors.append(FieldError(path, message))


T = typing.TypeVar("T")


def validate(data: Any, annotation: type[T], path: str = "") -> T:
    """Return ``data`` converted to ``annotation`` or raise RequestInvalid with every error."""
    errors: list[FieldError] = []
    _walk(data, annotation, path, errors)
    if errors:
        raise RequestInvalid(errors)
    return msgspec.convert(data, annotation, strict=False)
