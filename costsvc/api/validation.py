"""Request validation that reports *every* invalid field with its path, in words a
front end can show.

msgspec stops at the first error and words it for programmers ("Expected `int` >= 1");
a caller fixing a form wants every field at once, each with a sentence ("must be at
least 1").  ``validate(data, T)`` walks decoded JSON against the annotations of the
Struct ``T`` (the same types the engine uses).  The walk is compiled once per
annotation (``_checker``), so a request costs a few microseconds per field.

The classes of input checked wherever they occur:

- money (``Money``) is a JSON string in the one amount grammar
  (``costsvc.domain.money.parse_amount``): ASCII digits, at most two decimals; no
  sign, exponent, underscore, Unicode digit or surrounding space;
- percentages (``Percent``, ``AllowedPercent``) are the same grammar, as a string or a
  JSON number;
- text never contains a control character (NUL included), whatever field carries it;
- identifiers, integers and lists carry their bounds in the annotation (``Meta``);
- unknown fields of a strict struct are named.

The list of problems is capped (``MAX_REPORTED``) but still counted, so a hostile body
cannot make a large answer.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any, Literal, Union

import msgspec

from costsvc.domain.model import amount_problem
from costsvc.services.errors import FieldProblem, InvalidInput

#: Problems listed in one answer; the rest are only counted (``InvalidInput.total``).
MAX_REPORTED = 50
#: A field path longer than this (an unknown key can be anything) is shortened.
MAX_PATH_CHARS = 200


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The JSON Schema pattern of text without control characters (documented on free-text fields).
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


class RequestInvalid(InvalidInput):
    """Invalid fields of a request, as ``InvalidInput`` (the HTTP layer answers 422)."""

    def __init__(self, errors: list[FieldProblem], total: int | None = None):
        super().__init__(errors)
        self.total = total if total is not None else len(errors)


class Problems:
    """Collects at most ``MAX_REPORTED`` problems and counts all of them."""

    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: list[FieldProblem] = []
        self.total = 0

    def add(self, path: Path, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED:
            text = render_path(path)
            if len(text) > MAX_PATH_CHARS:
                text = text[: MAX_PATH_CHARS - 1] + "…"
            self.items.append(FieldProblem(text, message))


#: A field's path, built as ``(parent, name)`` pairs and written out only for a problem.
Path = str | tuple[Any, str | int]


def _join(path: Path, name: str | int) -> Path:
    return (path, name)


def render_path(path: Path) -> str:
    """``coverage.benefits.in_network.levels.iop.copay``, ``items[3].program_id``."""
    names: list[str | int] = []
    while isinstance(path, tuple):
        path, name = path
        names.append(name)
    text = path
    for name in reversed(names):
        if isinstance(name, int):
            text = f"{text}[{name}]"
        else:
            name = name if len(name) <= MAX_PATH_CHARS else name[:MAX_PATH_CHARS] + "…"
            text = f"{text}.{name}" if text else name
    return text


def text_problem(value: str) -> str | None:
    """What is wrong with free text anywhere in a request, or None."""
    if CONTROL_CHARACTERS.search(value):
        return "must not contain control characters (such as NUL, tab or line breaks)"
    return None


Check = Callable[[Any, Path, Problems], None]


def _describe_int_bounds(ge: int | None, le: int | None) -> str:
    if ge is not None and le is not None:
        return f"must be a whole number from {ge} to {le}"
    if ge is not None:
        return f"must be a whole number of at least {ge}"
    if le is not None:
        return f"must be a whole number of at most {le}"
    return "must be a whole number"


def _int_checker(meta: msgspec.Meta | None, lax: bool) -> Check:
    ge = meta.ge if meta is not None else None
    le = meta.le if meta is not None else None
    message = _describe_int_bounds(ge, le)

    def check(value: Any, path: Path, problems: Problems) -> None:
        # JSON does not tell 3 from 3.0 (JSON Schema's "integer" admits both; so does msgspec).
        if type(value) is float and value.is_integer():
            value = int(value)
        elif lax and type(value) is str and value.isascii() and value.lstrip("-").isdigit():
            value = int(value)
        if type(value) is not int or (ge is not None and value < ge) or (le is not None and value > le):
            problems.add(path, message)

    return check


def _length_words(low: int | None, high: int | None, unit: str) -> str | None:
    if low is not None and high is not None:
        if low == high:
            return f"must be exactly {low} {unit}"
        return f"must be {low} to {high} {unit}"
    if high is not None:
        return f"must be at most {high} {unit}"
    if low is not None:
        return f"must be at least {low} {unit}"
    return None


def _str_checker(meta: msgspec.Meta | None) -> Check:
    low = meta.min_length if meta is not None else None
    high = meta.max_length if meta is not None else None
    pattern = re.compile(meta.pattern) if meta is not None and meta.pattern else None
    hint = (meta.extra or {}).get("hint") if meta is not None else None
    length_message = _length_words(low, high, "characters")
    pattern_message = f"must be {hint}" if hint else f"must match the pattern {pattern.pattern}" if pattern else ""

    def check(value: Any, path: Path, problems: Problems) -> None:
        if type(value) is not str:
            problems.add(path, "must be a string")
            return
        bad_text = text_problem(value)
        if bad_text:
            problems.add(path, bad_text)
        elif (low is not None and len(value) < low) or (high is not None and len(value) > high):
            problems.add(path, length_message or "has the wrong length")
        elif pattern is not None and not pattern.search(value):
            problems.add(path, pattern_message)

    return check


def _date_check(value: Any, path: Path, problems: Problems) -> None:
    if type(value) is str and len(value) == 10 and value.isascii():
        try:
            dt.date.fromisoformat(value)
            return
        except ValueError:
            pass
    problems.add(path, "must be a calendar date written YYYY-MM-DD")


def _bool_check(value: Any, path: Path, problems: Problems) -> None:
    if type(value) is not bool:
        problems.add(path, "must be true or false")


_FORM_BOOLEANS = frozenset({"true", "false", "1", "0"})


def _form_bool_check(value: Any, path: Path, problems: Problems) -> None:
    if type(value) is not bool and not (type(value) is str and value.lower() in _FORM_BOOLEANS):
        problems.add(path, "must be true or false")


def _amount_checker(kind: str) -> Check:
    def check(value: Any, path: Path, problems: Problems) -> None:
        problem = amount_problem(kind, value)
        if problem:
            problems.add(path, problem)

    return check


def _literal_checker(allowed: tuple[Any, ...]) -> Check:
    choices = frozenset(allowed)
    message = f"must be one of {', '.join(map(str, allowed))}"

    def check(value: Any, path: Path, problems: Problems) -> None:
        if type(value) is not str or value not in choices:
            problems.add(path, message)

    return check


def _optional_checker(inner: Check) -> Check:
    def check(value: Any, path: Path, problems: Problems) -> None:
        if value is not None:
            inner(value, path, problems)

    return check


def _not_null_checker(inner: Check) -> Check:
    def check(value: Any, path: Path, problems: Problems) -> None:
        if value is None:
            problems.add(path, "must not be null")
        else:
            inner(value, path, problems)

    return check


def _struct_checker(cls: type[msgspec.Struct], lax: bool) -> Check:
    strict = cls.__struct_config__.forbid_unknown_fields
    fields: list[tuple[str, bool, Check]] = []
    known: set[str] = set()
    # A struct may state rules across its fields, over the decoded JSON (CoverageRequest).
    cross_field = getattr(cls, "cross_field_problems", None)

    def check(value: Any, path: Path, problems: Problems) -> None:
        if not fields and msgspec.structs.fields(cls):  # resolved lazily: structs may refer to themselves
            for f in msgspec.structs.fields(cls):
                fields.append((f.encode_name, f.required, _checker(f.type, lax)))
                known.add(f.encode_name)
        if type(value) is not dict:
            problems.add(path, "must be an object")
            return
        before = problems.total
        for name, required, field_check in fields:
            if name in value:
                field_check(value[name], _join(path, name), problems)
            elif required:
                problems.add(_join(path, name), "is required")
        if cross_field is not None and problems.total == before:
            for field, message in cross_field(value):
                problems.add(_join(path, field) if field else path, message)
        if strict:
            for name in value:
                if name not in known:
                    problems.add(_join(path, str(name)), "is not a known field")

    return check


def _dict_checker(key_type: Any, value_type: Any, lax: bool) -> Check:
    key_check = _checker(key_type, lax)
    value_check = _checker(value_type, lax)
    allowed = typing.get_args(key_type) if typing.get_origin(key_type) is Literal else None
    key_message = f"is not a valid key; expected one of {', '.join(allowed)}" if allowed else "is not a valid key"

    def check(value: Any, path: Path, problems: Problems) -> None:
        if type(value) is not dict:
            problems.add(path, "must be an object")
            return
        for key, item in value.items():
            key_problems = Problems()
            key_check(key, path, key_problems)
            if key_problems.total:
                problems.add(_join(path, key), key_message)
                continue
            value_check(item, _join(path, key), problems)

    return check


def _list_checker(item_type: Any, meta: msgspec.Meta | None, lax: bool) -> Check:
    item_check = _checker(item_type, lax)
    low = meta.min_length if meta is not None else None
    high = meta.max_length if meta is not None else None
    size_message = _length_words(low, high, "items")

    def check(value: Any, path: Path, problems: Problems) -> None:
        if type(value) is not list:
            problems.add(path, "must be an array")
            return
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            problems.add(path, size_message or "has the wrong number of items")
            return
        for i, item in enumerate(value):
            item_check(item, _join(path, i), problems)

    return check


def _any_check(value: Any, path: Path, problems: Problems) -> None:
    return None


@cache
def _checker(annotation: Any, lax: bool = False) -> Check:
    """The check of one annotation, built once.  ``lax``: form fields, where booleans and
    integers arrive as text ("true", "3")."""
    meta: msgspec.Meta | None = None
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metas = typing.get_args(annotation)
        found = [m for m in metas if isinstance(m, msgspec.Meta)]
        meta = found[0] if found else None
        kind = (meta.extra or {}).get("kind") if meta is not None else None
        if kind:
            return _amount_checker(kind)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = typing.get_args(annotation)
        others = [a for a in args if a is not type(None)]
        if len(others) != 1:
            raise TypeError(f"validate: unions of several types are not supported ({annotation})")
        inner = _checker(others[0], lax)
        return _optional_checker(inner) if type(None) in args else _not_null_checker(inner)
    if origin is Literal:
        return _literal_checker(typing.get_args(annotation))
    if origin is dict:
        key_type, value_type = typing.get_args(annotation)
        return _dict_checker(key_type, value_type, lax)
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return _list_checker(args[0] if args else Any, meta, lax)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return _not_null_checker(_struct_checker(annotation, lax))
    if annotation is bool:
        return _not_null_checker(_form_bool_check if lax else _bool_check)
    if annotation is int:
        return _not_null_checker(_int_checker(meta, lax))
    if annotation is str:
        return _not_null_checker(_str_checker(meta))
    if annotation is dt.date:
        return _not_null_checker(_date_check)
    if annotation is Decimal:
        return _not_null_checker(_amount_checker("number"))
    if annotation is Any:
        return _any_check
    raise TypeError(f"validate: no check for {annotation!r}")


def problems_of(data: Any, annotation: Any, path: str = "", *, lax: bool = False) -> Problems:
    problems = Problems()
    _checker(annotation, lax)(data, path, problems)
    return problems


T = typing.TypeVar("T")


def validate(data: Any, annotation: type[T], path: str = "") -> T:
    """Return ``data`` converted to ``annotation`` or raise RequestInvalid with every error.

    Lax about booleans and integers written as text, as form fields are (the import
    API's multipart fields); JSON bodies are checked strictly (``problems_of``)."""
    problems = problems_of(data, annotation, path, lax=True)
    if problems.total:
        raise RequestInvalid(problems.items, problems.total)
    return msgspec.convert(data, annotation, strict=False)
