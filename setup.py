"""Packaging that pyproject.toml cannot say alone.

- The SQL of the top-level ``sql/`` folder ships inside the package as ``costsvc.sql``, so
  an installed (not editable) ``costsvc`` finds its migrations and queries from any
  working directory.
- The modules on an estimate's path (``COMPILED``) are compiled by Cython from the same
  ``.py`` files, unchanged: the engine runs 1.4-1.8x faster (docs/PERFORMANCE.md).  The
  compilation is optional: without a C compiler, or with ``COSTSVC_PURE_PYTHON=1``, the
  build goes on and the ``.py`` files are what runs; the answers are the same either way
  (the test suite runs on whichever was built).
"""

import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

#: Source files compiled to extension modules when a C compiler is at hand.
COMPILED = [
    "costsvc/domain/engine.py",
    "costsvc/domain/claims.py",
    "costsvc/domain/episode.py",
    "costsvc/domain/money.py",
    "costsvc/domain/payment_plans.py",
    "costsvc/domain/selfpay.py",
    "costsvc/api/validation.py",
    "costsvc/api/body.py",
    "costsvc/services/estimates.py",
]


#: What a missing or failing C compiler raises.
BUILD_FAILURES = (CCompilerError, CompileError, LinkError, ExecError, PlatformError, OSError)


class OptionalBuildExt(build_ext):
    """Builds what it can: a module that does not compile stays plain Python."""

    def run(self) -> None:
        try:
            super().run()
        except BUILD_FAILURES as exc:  # no compiler at all: the whole step is left out
            print(f"costsvc: not compiling ({exc}); the plain Python modules will run", file=sys.stderr)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except BUILD_FAILURES as exc:
            print(f"costsvc: {ext.name} not compiled ({exc}); its .py will run", file=sys.stderr)


def compiled_modules() -> list:
    if os.environ.get("COSTSVC_PURE_PYTHON"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    return cythonize(COMPILED, language_level=3, quiet=True, nthreads=os.cpu_count() or 1)


setup(
    packages=[*find_packages(include=["costsvc*", "tariffs*", "jobs*"]), "costsvc.sql"],
    package_dir={"costsvc.sql": "sql"},
    ext_modules=compiled_modules(),
    cmdclass={"build_ext": OptionalBuildExt},
)
