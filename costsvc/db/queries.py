"""Named SQL queries, loaded from ``sql/queries/*.sql`` (installed as ``costsvc.sql``).

A file holds blocks that start with a ``-- name: some_query`` line; the SQL that
follows (up to the next name line) is the query, with asyncpg ``$n`` parameters.
``Q.some_query`` is the SQL text.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

# The top-level sql/ folder, installed as the package costsvc.sql (setup.py): a real
# directory both in a checkout (editable install) and in site-packages.
SQL_DIR = Path(str(files("costsvc.sql")))
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def load_queries(folder: Path = SQL_DIR / "queries") -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        parts = _NAME.split(text)
        for name, body in zip(parts[1::2], parts[2::2]):
            if name in queries:
                raise ValueError(f"query {name!r} defined twice ({path.name})")
            queries[name] = body.strip().rstrip(";")
    return queries


class _Queries:
    def __init__(self) -> None:
        self._queries = load_queries()

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r} in {SQL_DIR / 'queries'}") from None


Q = _Queries()
