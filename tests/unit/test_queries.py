"""Every query the code names exists in sql/queries, and every query there is used."""

import re
from pathlib import Path

from costsvc.db.queries import load_queries

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("costsvc", "tariffs", "jobs")
_USE = re.compile(r"\bQ\.([a-z_][a-z0-9_]*)")


def _names_used(folders: tuple[str, ...]) -> dict[str, str]:
    used: dict[str, str] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "queries.py" and path.parent.name == "db":
                continue  # its docstring shows the syntax
            for name in _USE.findall(path.read_text(encoding="utf-8")):
                used.setdefault(name, str(path.relative_to(ROOT)))
    return used


def test_every_named_query_exists():
    defined = load_queries()
    missing = {name: where for name, where in _names_used((*PRODUCT, "tests", "bench")).items() if name not in defined}
    assert missing == {}


def test_every_query_is_used_by_the_product():
    used = _names_used(PRODUCT)
    assert sorted(set(load_queries()) - set(used)) == []
