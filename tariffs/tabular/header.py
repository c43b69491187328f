"""Header checks: column names normalized, the known columns found by name.

Columns are found by name, never by position: unknown columns are ignored, a known
column given twice or a required one missing rejects the file at the header's line,
with a hint when the header looks like the wrong separator, the wrong sheet or simply
other columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tariffs.records import FileRejected, RowError

__all__ = ["ColumnPlan", "header_hint", "locate_columns", "normalize_header"]


def normalize_header(name: Any) -> str:
    """``" Gross Charge "`` -> ``"gross_charge"``: strip, lower-case, inner runs of
    spaces or hyphens become one underscore."""
    s = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", s)


class ColumnPlan:
    """Where the known columns are: ``names`` (in the order they were asked for) at
    ``positions``; ``ignored`` are the other non-empty header names."""

    __slots__ = ("ignored", "names", "positions")

    def __init__(self, names: list[str], positions: list[int], ignored: list[str]) -> None:
        self.names, self.positions, self.ignored = names, positions, ignored


def locate_columns(
    file: str,
    header: list[str],
    header_line: int,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    one_of: Sequence[Sequence[str]] = (),
    where: str = " in the header",
    hint: str = "",
) -> ColumnPlan:
    """Find ``required``, ``optional`` and ``one_of`` columns in the normalized
    ``header``; raise ``FileRejected`` (one error per problem, at ``header_line``) for a
    known column given twice, a missing required column or a ``one_of`` group none of
    whose columns is there.  ``hint`` is appended to the first missing-column error."""
    known = list(dict.fromkeys([*required, *optional, *(c for group in one_of for c in group)]))
    known_set = set(known)
    positions: dict[str, int] = {}
    errors: list[RowError] = []
    for pos, name in enumerate(header):
        if name in known_set:
            if name in positions:
                errors.append(
                    RowError(
                        file,
                        header_line,
                        name,
                        f"column '{name}' appears more than once in the header "
                        f"(columns {positions[name] + 1} and {pos + 1}); expected it once",
                    )
                )
            else:
                positions[name] = pos
    if errors:
        raise FileRejected(errors)

    for c in required:
        if c not in positions:
            errors.append(RowError(file, header_line, c, f"required column '{c}' is missing{where}"))
    for group in one_of:
        if not any(c in positions for c in group):
            errors.append(
                RowError(
                    file,
                    header_line,
                    group[0],
                    "expected at least one of the columns " + ", ".join(f"'{c}'" for c in group) + where,
                )
            )
    if errors:
        if hint:
            first = errors[0]
            errors[0] = RowError(first.file, first.line, first.column, first.message + hint)
        raise FileRejected(errors)

    names = [c for c in known if c in positions]
    ignored = [h for h in dict.fromkeys(header) if h and h not in known_set]
    return ColumnPlan(names, [positions[c] for c in names], ignored)


def header_hint(header: list[str], fmt: str, other_sheets: list[str]) -> str:
    """Why the columns may not have been found: another separator, another sheet, or
    the columns that are there."""
    non_empty = [h for h in header if h]
    hint = ""
    if len(non_empty) == 1 and fmt == "csv":
        only = non_empty[0]
        if ";" in only:
            hint = " (the header looks semicolon-separated; expected commas)"
        elif "\t" in only:
            hint = " (the header looks tab-separated; expected commas)"
    if other_sheets:
        hint += (
            " (only the first sheet is read; the workbook also has "
            + ", ".join(f"'{s}'" for s in other_sheets)
            + ")"
        )
    if not hint:
        shown = ", ".join(non_empty[:20]) + (", ..." if len(non_empty) > 20 else "")
        hint = f" (found columns: {shown})" if shown else " (the header row is empty)"
    return hint
