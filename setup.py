"""Packaging that pyproject.toml cannot say alone: the SQL of the top-level ``sql/``
folder ships inside the package as ``costsvc.sql``, so an installed (not editable)
``costsvc`` finds its migrations and queries from any working directory."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["costsvc*", "tariffs*", "jobs*"]), "costsvc.sql"],
    package_dir={"costsvc.sql": "sql"},
)
