"""Measurement only: the estimate route with its pricing and its storing taken out.

Loaded by the server's Python when this folder is on ``PYTHONPATH``:

    PYTHONPATH=bench/ceiling DATABASE_URL=... .venv/bin/python bench/http_bench.py --only "(IOP)"

``services.estimates.price`` answers each (program, level of care) with the document it
priced for the first request of that pair, under a new id, and ``EstimateWriter.store``
stores nothing. With ``CEILING_NO_CHECKS=1`` the body's checks (``problems_of``) find
nothing either, so their share shows too. What is left of a varied single estimate is what every estimate pays
around its pricing: uvicorn, the telemetry, Litestar, the body checks and conversion,
the response. Its ratio to ``/health`` bounds what pricing and storing could reach if
they cost nothing (docs/PERFORMANCE.md). Never load this into a real server: its
answers are wrong and nothing is stored.
"""

from __future__ import annotations

import builtins
import os
import sys

_real_import = builtins.__import__


def _hollow(module) -> None:
    real_price = module.price
    first: dict[tuple[str, str], object] = {}

    def price(catalog, request, today, *, include_claims=False):
        key = (request.program_id, request.level_of_care)
        done = first.get(key)
        if done is None:
            done = first[key] = real_price(catalog, request, today, include_claims=include_claims)
        estimate_id = module.time_ordered_uuid()
        return module.Priced(estimate_id, done.created_at, done.program_id, done.level_of_care,
                             module.document_head(estimate_id, done.created_at) + done.tail,
                             done.patient_pays, done.tail, done.digest)

    async def store(self, priced):
        return True

    module.price = price
    module.EstimateWriter.store = store


def _no_problems(data, annotation, path="", *, lax=False):
    from costsvc.api.validation import Problems

    return Problems()


# module -> (a name it defines once fully imported, what to change in it)
_pending = {"costsvc.services.estimates": ("EstimateWriter", _hollow)}
if os.environ.get("CEILING_NO_CHECKS"):
    _pending["costsvc.api.body"] = ("check_request", lambda body: setattr(body, "problems_of", _no_problems))


def _import(name, *args, **kwargs):
    module = _real_import(name, *args, **kwargs)
    for loaded, (marker, change) in list(_pending.items()):
        target = sys.modules.get(loaded)
        if target is not None and hasattr(target, marker):
            del _pending[loaded]
            change(target)
    if not _pending:
        builtins.__import__ = _real_import  # done: imports cost nothing extra from here on
    return module


builtins.__import__ = _import
