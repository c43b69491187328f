"""The guard against running a compiled module older than its source (setup.py COMPILED)."""

from __future__ import annotations

import os
from pathlib import Path

from costsvc import stale_compiled_modules


def _tree(root: Path, *, source_newer: bool, checkout: bool = True) -> Path:
    package = root / "costsvc"
    (package / "domain").mkdir(parents=True)
    source = package / "domain" / "engine.py"
    compiled = package / "domain" / "engine.cpython-311-x86_64-linux-gnu.so"
    source.write_text("")
    compiled.write_bytes(b"")
    if checkout:
        (root / "setup.py").write_text("")
    os.utime(source, (1_000_000, 2_000_000 if source_newer else 1_000_000))
    os.utime(compiled, (1_000_000, 1_500_000))
    return package


def test_a_source_edited_after_compiling_is_named(tmp_path: Path) -> None:
    assert stale_compiled_modules(_tree(tmp_path, source_newer=True)) == ["costsvc/domain/engine.py"]


def test_a_module_compiled_after_its_last_edit_is_not(tmp_path: Path) -> None:
    assert stale_compiled_modules(_tree(tmp_path, source_newer=False)) == []


def test_an_installed_package_is_not_looked_at(tmp_path: Path) -> None:
    # A wheel's files carry the time they were installed, in no particular order.
    assert stale_compiled_modules(_tree(tmp_path, source_newer=True, checkout=False)) == []
