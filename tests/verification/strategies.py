"""Hypothesis strategies for benefits, partial (verified) benefits and accumulators."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from costsvc.domain.model import (
    LEVELS_OF_CARE,
    Accumulators,
    AllowedRule,
    Amounts,
    Benefits,
    LevelBenefit,
    NetworkAccumulators,
    NetworkBenefits,
)
from costsvc.domain.verification import PartialBenefits, PartialLevelBenefit, PartialNetworkBenefits

money = st.integers(min_value=0, max_value=1_000_000).map(lambda c: Decimal(c) / 100)
small_money = st.integers(min_value=0, max_value=300_00).map(lambda c: Decimal(c) / 100)
percent = st.integers(min_value=0, max_value=1000).map(lambda t: Decimal(t) / 10)
units = st.integers(min_value=0, max_value=120)
levels = st.sampled_from(LEVELS_OF_CARE)
copay_units = st.sampled_from(["per_day", "per_visit", "per_admission"])


def maybe(strategy):
    return st.none() | strategy


amounts = st.builds(Amounts, individual=maybe(money), family=maybe(money))
allowed_rules = st.builds(AllowedRule, method=st.sampled_from(["percent_of_billed", "percent_of_reference"]),
                          percent=st.integers(min_value=0, max_value=100).map(Decimal))

level_benefits = st.builds(
    LevelBenefit, covered=st.booleans(), copay=small_money, copay_unit=copay_units,
    deductible_applies=st.booleans(), coinsurance_pct=percent, limit_units=maybe(units), prior_auth=st.booleans(),
)
network_benefits = st.builds(
    NetworkBenefits, deductible=maybe(amounts), oop_max=maybe(amounts), allowed=maybe(allowed_rules),
    balance_billing=st.booleans(), levels=st.dictionaries(levels, level_benefits, max_size=5),
)
benefits = st.builds(Benefits, payer_id=st.just("acme"), plan_year_start=st.sampled_from(["01-01", "07-01"]),
                     in_network=maybe(network_benefits), out_of_network=maybe(network_benefits))

partial_levels = st.builds(
    PartialLevelBenefit, covered=maybe(st.booleans()), copay=maybe(small_money), copay_unit=maybe(copay_units),
    deductible_applies=maybe(st.booleans()), coinsurance_pct=maybe(percent), limit_units=maybe(units),
    prior_auth=maybe(st.booleans()),
)
partial_networks = st.builds(
    PartialNetworkBenefits, deductible=maybe(amounts), oop_max=maybe(amounts), allowed=maybe(allowed_rules),
    balance_billing=maybe(st.booleans()), levels=st.dictionaries(levels, partial_levels, max_size=5),
)
partial_benefits = st.builds(PartialBenefits, plan_year_start=maybe(st.sampled_from(["01-01", "04-01"])),
                             in_network=maybe(partial_networks), out_of_network=maybe(partial_networks))

network_accumulators = st.builds(NetworkAccumulators, deductible_met=money, oop_met=money,
                                 family_deductible_met=money, family_oop_met=money)
accumulators = st.builds(Accumulators, as_of=st.none(), in_network=network_accumulators,
                         out_of_network=network_accumulators, units_used=st.dictionaries(levels, units, max_size=5))
