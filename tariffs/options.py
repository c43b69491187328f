"""Import options as the parsers compare them, normalized in one place.

The HTTP API, the command line and the refresh sources all accept ``payer_names``
(payer name as a hospital file writes it -> our ``payer_id``); the HPT parser looks
names up in it.  A hospital writes "Aetna ", "AETNA" or "aetna" for the same payer,
so names are compared by :func:`payer_name_key` (stripped, case-folded, inner runs of
whitespace as one space) and ids are stripped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["normalize_payer_names", "parse_payer_name_pairs", "payer_name_key"]

_SPACES = re.compile(r"\s+")


def payer_name_key(name: object) -> str:
    """How a payer name is compared: ``"  Blue  Cross "`` -> ``"blue cross"``."""
    return _SPACES.sub(" ", str(name).strip()).casefold()


def normalize_payer_names(names: Mapping[str, str] | None) -> dict[str, str] | None:
    """``payer_names`` with keys as :func:`payer_name_key` compares them and ids
    stripped; empty names are dropped.  None (or an empty mapping) stays None."""
    if not names:
        return None
    out: dict[str, str] = {}
    for name, payer_id in names.items():
        key = payer_name_key(name)
        if key:
            out.setdefault(key, str(payer_id).strip())
    return out or None


def parse_payer_name_pairs(pairs: Iterable[str]) -> dict[str, str] | None:
    """``["Acme Health=acme", ...]`` (the command line's ``--payer-name``) as
    normalized ``payer_names``."""
    names: dict[str, str] = {}
    for item in pairs:
        name, _, payer_id = item.partition("=")
        names[name] = payer_id
    return normalize_payer_names(names)
