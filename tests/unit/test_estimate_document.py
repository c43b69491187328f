"""The estimate document is encoded straight from the engine's Structs; it must be the
same bytes as the document built through a dict of builtins (how it was built before,
and how a reader of the JSON sees it): same keys, order, money strings and dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from costsvc.domain.engine import price_episode
from costsvc.domain.errors import DomainError
from costsvc.services.estimates import NOT_STORED, document_tail, not_stored_document
from tests.unit.test_engine_properties import SETTINGS, requests


def through_builtins(priced, plan_id, payer_id, include_claims: bool) -> bytes:
    document = msgspec.to_builtins(priced, builtin_types=(Decimal, dt.date))
    if not include_claims:
        document.pop("claims", None)
    document["plan_id"] = plan_id
    document["payer_id"] = payer_id
    return b"," + msgspec.json.Encoder(decimal_format="string").encode(document)[1:]


@SETTINGS
@given(requests(), st.booleans(), st.none() | st.just("acme-ppo-gold"))
def test_document_encoded_from_structs_equals_the_builtins_document(req, include_claims, plan_id):
    req.include_claims = include_claims
    try:
        priced = price_episode(req)
    except DomainError:
        return
    payer_id = req.benefits.payer_id if req.benefits else None
    tail = document_tail(priced, plan_id, payer_id)
    assert tail == through_builtins(priced, plan_id, payer_id, include_claims)
    assert (b'"claims":[' in tail) == include_claims
    msgspec.json.decode(b'{"estimate_id":"x"' + tail)  # a whole JSON object once the head is on


@SETTINGS
@given(requests())
def test_an_estimate_not_stored_is_the_same_document_marked_so(req):
    """With the database away the answer is the priced document itself, plus
    ``"stored": false`` and the ``not_stored`` notice after the engine's own notices."""
    try:
        priced = price_episode(req)
    except DomainError:
        return
    body = b'{"estimate_id":"x","created_at":"2026-12-01T00:00:00+00:00"' + document_tail(priced, None, None)
    stored, degraded = msgspec.json.decode(body), msgspec.json.decode(not_stored_document(body))
    assert degraded.pop("stored") is False
    assert degraded.pop("notices") == [*stored.pop("notices"), NOT_STORED]
    assert degraded == stored
