"""Episode expansion: defaults per level, unit dates, validation, limits, range lengths."""

from __future__ import annotations

import datetime as dt

import pytest

from costsvc.domain.episode import (
    MAX_UNITS,
    MAX_WEEKS,
    episode_for_level,
    range_episodes,
    resolve_episode,
)
from costsvc.domain.errors import DomainError, EpisodeTooLong, InvalidEpisode
from costsvc.domain.levels import LEVELS, LevelInfo
from costsvc.domain.model import LEVELS_OF_CARE, EpisodeRequest

TODAY = dt.date(2026, 3, 2)  # a Monday


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


@pytest.mark.parametrize(
    ("level", "units", "end_offset"),
    [
        ("detox", 5, 4),  # 5 consecutive days: start .. start+4
        ("residential", 30, 29),
        ("php", 20, 7 * 3 + 4),  # 5 days/wk × 4 wk: last unit k=19 -> 7·3 + 4
        ("iop", 36, 7 * 11 + 2),  # 3 days/wk × 12 wk: last unit k=35 -> 7·11 + 2
        ("outpatient", 12, 7 * 11),  # 1 session/wk × 12 wk: last unit k=11 -> 7·11
    ],
)
def test_defaults_per_level(level, units, end_offset):
    ep = resolve_episode(EpisodeRequest(), level, TODAY)
    assert ep.start_date == TODAY  # start_date defaults to today
    assert ep.units == units
    assert ep.end_date == day(end_offset)
    assert not ep.fixed_length


def test_iop_unit_dates_follow_the_formula():
    # f = 3: k -> 7·floor(k/3) + k mod 3 : 0,1,2, 7,8,9
    ep = resolve_episode(EpisodeRequest(start_date=TODAY, weeks=2, days_per_week=3), "iop", TODAY)
    assert ep.dates == tuple(day(o) for o in (0, 1, 2, 7, 8, 9))
    assert ep.fixed_length


def test_outpatient_two_sessions_a_week():
    ep = resolve_episode(EpisodeRequest(weeks=3, sessions_per_week=2), "outpatient", TODAY)
    assert ep.dates == tuple(day(o) for o in (0, 1, 7, 8, 14, 15))
    assert ep.level.unit == "session"


def test_more_than_seven_sessions_a_week_share_dates():
    # f = 10, 2 weeks: k=0..9 -> 0..9; k=10..19 -> 7..16.  Days 7, 8, 9 carry two sessions.
    ep = resolve_episode(EpisodeRequest(weeks=2, sessions_per_week=10), "outpatient", TODAY)
    assert ep.units == 20
    assert ep.dates[10] == day(7)
    assert sorted(ep.dates).count(day(8)) == 2
    assert ep.end_date == day(16)


def test_detox_days_are_consecutive():
    ep = resolve_episode(EpisodeRequest(start_date=dt.date(2026, 2, 27), days=4), "detox", TODAY)
    assert ep.dates == (dt.date(2026, 2, 27), dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 2))


@pytest.mark.parametrize(
    ("level", "episode", "field"),
    [
        ("iop", EpisodeRequest(days=10), "episode.days"),
        ("php", EpisodeRequest(days=10), "episode.days"),
        ("iop", EpisodeRequest(sessions_per_week=2), "episode.sessions_per_week"),
        ("outpatient", EpisodeRequest(days_per_week=2), "episode.days_per_week"),
        ("outpatient", EpisodeRequest(days=3), "episode.days"),
        ("residential", EpisodeRequest(weeks=4), "episode.weeks"),
        ("detox", EpisodeRequest(days_per_week=5), "episode.days_per_week"),
        ("iop", EpisodeRequest(weeks=0), "episode.weeks"),
        ("residential", EpisodeRequest(days=0), "episode.days"),
        ("php", EpisodeRequest(days_per_week=8), "episode.days_per_week"),
    ],
)
def test_fields_that_do_not_fit_the_level_are_rejected(level, episode, field):
    with pytest.raises(InvalidEpisode) as exc:
        resolve_episode(episode, level, TODAY)
    assert exc.value.field == field
    assert exc.value.message
    assert isinstance(exc.value, DomainError)


def test_limits_are_clear_errors():
    assert resolve_episode(EpisodeRequest(days=MAX_UNITS), "residential", TODAY).units == 730
    with pytest.raises(EpisodeTooLong) as exc:
        resolve_episode(EpisodeRequest(days=MAX_UNITS + 1), "residential", TODAY)
    assert exc.value.field == "episode.days"
    with pytest.raises(EpisodeTooLong) as exc:
        resolve_episode(EpisodeRequest(weeks=MAX_WEEKS + 1, sessions_per_week=1), "outpatient", TODAY)
    assert exc.value.field == "episode.weeks"
    # 104 weeks × 7 days = 728 units: allowed.  104 × 14 sessions = 1456 units: too long.
    assert resolve_episode(EpisodeRequest(weeks=104, days_per_week=7), "iop", TODAY).units == 728
    with pytest.raises(EpisodeTooLong) as exc:
        resolve_episode(EpisodeRequest(weeks=104, sessions_per_week=14), "outpatient", TODAY)
    assert "1456" in exc.value.message
    assert isinstance(exc.value, InvalidEpisode)


def test_episode_past_the_last_date_is_invalid_not_a_crash():
    with pytest.raises(InvalidEpisode) as exc:
        resolve_episode(EpisodeRequest(start_date=dt.date(9999, 12, 1), days=60), "residential", TODAY)
    assert exc.value.field == "episode.start_date"


def test_range_lengths():
    # IOP at 5 days a week, length not fixed: 12 and 16 weeks at 5 a week.
    ep = resolve_episode(EpisodeRequest(days_per_week=5), "iop", TODAY)
    low, high = range_episodes(ep)
    assert (low.units, high.units) == (60, 80)
    assert low.per_week == high.per_week == 5
    # Residential: 28 and 60 days.
    low, high = range_episodes(resolve_episode(EpisodeRequest(), "residential", TODAY))
    assert (low.units, high.units) == (28, 60)
    # Fixed length: both are the episode itself.
    ep = resolve_episode(EpisodeRequest(weeks=5), "php", TODAY)
    assert range_episodes(ep) == (ep, ep)


def test_episode_for_level_drops_foreign_fields():
    req = EpisodeRequest(start_date=TODAY, weeks=4, days_per_week=3)
    assert episode_for_level(req, "residential") == EpisodeRequest(start_date=TODAY)
    assert episode_for_level(req, "iop") is req
    assert episode_for_level(req, "outpatient") == EpisodeRequest(start_date=TODAY, weeks=4)


def test_levels_table_is_complete():
    assert set(LEVELS) == set(LEVELS_OF_CARE)
    for code, info in LEVELS.items():
        assert isinstance(info, LevelInfo) and info.code == code
        assert info.range_low <= info.range_high
        assert info.unit == ("session" if code == "outpatient" else "day")
    assert (LEVELS["php"].range_low, LEVELS["php"].range_high) == (2, 6)
    assert LEVELS["iop"].typical_codes == ("H0015", "S9480")
