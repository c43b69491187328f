from pathlib import Path

__version__ = "0.1.0"


def stale_compiled_modules(package: Path) -> list[str]:
    """Compiled modules (setup.py's ``COMPILED``) older than their ``.py``, in a source tree.

    Python imports a module's ``.so`` before its ``.py``, so after an edit the old compiled
    code would run; ``make`` compiles again (``build_ext --inplace``).  Only a checkout is
    looked at: an installed wheel's files carry the install's times, not the sources'."""
    if not (package.parent / "setup.py").exists():
        return []
    stale = []
    for compiled in package.glob("*/*.cpython-*.so"):
        source = compiled.with_name(compiled.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > compiled.stat().st_mtime:
            stale.append(str(source.relative_to(package.parent)))
    return stale


if _stale := stale_compiled_modules(Path(__file__).parent):
    raise ImportError(f"{', '.join(_stale)} changed after it was compiled: run `make install` to compile again, "
                      "or delete its .so to run the .py")
