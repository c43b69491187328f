"""The engine's month table (``_month_table``), computed from day counts without visiting
the units, against its definition: the months of the units' dates, in order."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costsvc.domain.engine import _month_table
from costsvc.domain.episode import MAX_UNITS, MAX_WEEKS
from costsvc.domain.errors import EpisodeTooLong


def months_by_their_dates(start: dt.date, units: int, per_week: int | None) -> tuple[list[int], list[tuple[int, int]]]:
    """Each month's first slot and (year, month), from the date of every unit."""
    def date(slot: int) -> dt.date:
        return start + dt.timedelta(days=slot if per_week is None else 7 * (slot // per_week) + slot % per_week)

    starts, keys = [], []
    for key, slots in groupby(range(units), key=lambda s: (date(s).year, date(s).month)):
        starts.append(next(slots))
        keys.append(key)
    return starts, keys


@st.composite
def episodes(draw) -> tuple[dt.date, int, int | None]:
    """Start, units and units a week of an episode ``resolve_episode`` admits (at most
    MAX_UNITS days, or MAX_WEEKS weeks of up to 7 units)."""
    start = draw(st.dates(min_value=dt.date(1999, 1, 1), max_value=dt.date(2101, 12, 31)))
    per_week = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=7)))
    most = MAX_UNITS if per_week is None else min(MAX_UNITS, MAX_WEEKS * per_week)
    return start, draw(st.integers(min_value=1, max_value=most)), per_week


@given(episodes())
def test_the_month_table_is_the_months_of_the_units_dates(episode):
    start, units, per_week = episode
    starts, lengths, keys, labels = _month_table(start, units, per_week)
    assert (starts, keys) == months_by_their_dates(start, units, per_week)
    assert sum(lengths) == units and all(n > 0 for n in lengths)
    assert labels == [f"{y:04d}-{m:02d}" for y, m in keys]


def test_a_table_longer_than_any_episode_is_refused_not_cut_short():
    with pytest.raises(EpisodeTooLong):
        _month_table(dt.date(2026, 1, 1), 200, 1)  # 200 weeks


def test_a_table_that_reaches_the_last_representable_month():
    starts, lengths, keys, _labels = _month_table(dt.date(9999, 11, 20), 42, None)
    assert keys == [(9999, 11), (9999, 12)] and starts == [0, 11] and lengths == [11, 31]
