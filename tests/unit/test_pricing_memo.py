"""The pricing memo holds about as many bytes as it is given, whatever the traffic: the
least recently used answers go, the popular ones stay, and a document too large for it
is priced and answered but not kept."""

from __future__ import annotations

import datetime as dt

import msgspec

from costsvc.catalog import MEMO_ENTRY_OVERHEAD, new_pricing_memo
from costsvc.domain.model import EpisodeRequest
from costsvc.services.estimates import price
from costsvc.services.requests import CoverageRequest, EstimateRequest
from tests.unit.test_pricing_requests import TODAY, catalog


def with_memo(max_bytes: int):
    return msgspec.structs.replace(catalog(), pricing_memo=new_pricing_memo(max_bytes))


def varied(i: int) -> EstimateRequest:
    """A request no earlier one asked: another start date and length each time."""
    episode = EpisodeRequest(start_date=TODAY + dt.timedelta(days=i % 300), weeks=1 + i % 40)
    coverage = CoverageRequest(plan_id="gold") if i % 2 else None
    return EstimateRequest("sunrise", "iop", coverage=coverage, episode=episode)


def test_varied_traffic_fills_the_memo_to_its_bound_and_no_further():
    limit = 64 * 1024
    snapshot = with_memo(limit)
    memo = snapshot.pricing_memo
    sizes = []
    for i in range(2000):
        price(snapshot, varied(i), TODAY)
        sizes.append(memo.currsize)
    assert max(sizes) <= limit
    assert len(memo) < 2000  # entries were dropped...
    assert memo.currsize > limit - 4096  # ...but only as many as the bound asked
    # What it holds is what it says it holds.
    assert memo.currsize == sum(len(entry[1]) + MEMO_ENTRY_OVERHEAD for entry in memo.values())


def test_an_answer_asked_again_and_again_stays_while_others_pass_through():
    snapshot = with_memo(32 * 1024)
    popular = EstimateRequest("sunrise", "iop", coverage=CoverageRequest(plan_id="gold"))
    first = price(snapshot, popular, TODAY)
    for i in range(1, 500):
        price(snapshot, varied(i), TODAY)
        if i % 5 == 0:
            price(snapshot, popular, TODAY)
    (entry,) = [e for e in snapshot.pricing_memo.values() if e[1] == first.tail]  # still in the memo
    again = price(snapshot, popular, TODAY)
    assert again.tail is entry[1] and again.estimate_id != first.estimate_id


def test_a_document_larger_than_the_memo_is_answered_and_not_kept():
    snapshot = with_memo(1024)
    long = EstimateRequest("sunrise", "iop", episode=EpisodeRequest(weeks=104))
    priced = price(snapshot, long, TODAY, include_claims=True)
    assert b'"claims":[' in priced.body
    assert len(snapshot.pricing_memo) == 0


def test_a_memo_of_zero_bytes_keeps_nothing_and_prices_the_same():
    unbounded, none = catalog(), with_memo(0)
    for i in range(50):
        assert price(none, varied(i), TODAY).tail == price(unbounded, varied(i), TODAY).tail
    assert len(none.pricing_memo) == 0 and len(unbounded.pricing_memo) == 50


def test_a_batch_counts_each_item_once_in_the_metrics():
    from prometheus_client import REGISTRY

    from costsvc.services.estimates import price_batch
    from costsvc.services.requests import BatchItem, BatchRequest

    def counted(result: str) -> float:
        return REGISTRY.get_sample_value("costsvc_estimate_memo_total", {"result": result}) or 0.0

    snapshot = with_memo(1 << 20)
    items = [BatchItem("sunrise", "iop")] * 5 + [BatchItem("nowhere", "iop")]
    batch = BatchRequest(items=items, coverage=CoverageRequest(plan_id="gold"),
                         episode=EpisodeRequest(start_date=TODAY, weeks=3))
    hits, misses = counted("hit"), counted("miss")
    results = price_batch(snapshot, batch, TODAY)
    assert len(results) == 6 and isinstance(results[-1], Exception)
    assert (counted("miss") - misses, counted("hit") - hits) == (1, 4)  # the unknown program is not an estimate
