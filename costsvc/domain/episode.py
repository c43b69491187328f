"""Episode expansion: resolve the request's episode against the level's defaults and
lay its billable units on dates (docs/API.md, "Episodes and claims").

Unit ``k`` (0-based) of ``n`` falls on ``start + 7·floor(k/f) + (k mod f)`` days for
the weekly levels (``f`` = days or sessions per week) and on ``start + k`` for the
day-consecutive levels.  The formula is applied as written even when ``f > 7``
(outpatient may have up to 14 sessions a week): units then share dates, and the
engine sorts claims by date.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property, lru_cache

import msgspec

from costsvc.domain.errors import EpisodeTooLong, InvalidEpisode
from costsvc.domain.levels import LEVELS, LevelInfo
from costsvc.domain.model import EpisodeRequest

MAX_UNITS = 730  # two years of daily care
MAX_WEEKS = 104

_FIELDS_BY_BASIS = {
    # fields that make sense for the level; the others are rejected
    "detox": frozenset({"start_date", "days"}),
    "residential": frozenset({"start_date", "days"}),
    "php": frozenset({"start_date", "weeks", "days_per_week"}),
    "iop": frozenset({"start_date", "weeks", "days_per_week"}),
    "outpatient": frozenset({"start_date", "weeks", "sessions_per_week"}),
}
_LENGTH_FIELDS = ("days", "weeks", "days_per_week", "sessions_per_week")


class Episode(msgspec.Struct, frozen=True, dict=True):
    """A resolved episode: ``units`` per-service units from ``start_date``.

    ``weeks``/``per_week`` are set for the weekly levels, ``days`` for the
    day-consecutive ones.  ``fixed_length`` is True when the request chose the
    length (``weeks`` or ``days``), which pins the price range to the estimate.
    Unit dates follow from the formula (``offset``); ``dates`` lists them all, built
    only when asked for (the engine works with offsets).
    """

    level: LevelInfo
    start_date: dt.date
    units: int
    weeks: int | None
    per_week: int | None
    days: int | None
    fixed_length: bool

    @cached_property
    def dates(self) -> tuple[dt.date, ...]:
        """One date per unit, in unit order (not necessarily sorted when per_week > 7)."""
        start = self.start_date
        return tuple([start + off for off in _offsets(self.units, self.per_week)])

    def offset(self, k: int) -> int:
        """Days from the start date to unit ``k``."""
        f = self.per_week
        return k if f is None else 7 * (k // f) + k % f

    @property
    def end_date(self) -> dt.date:
        if not self.units:
            return self.start_date
        return self.start_date + dt.timedelta(days=_last_offset(self.units, self.per_week))

    @property
    def dates_sorted(self) -> bool:
        return self.per_week is None or self.per_week <= 7


@lru_cache(maxsize=512)
def _offsets(units: int, per_week: int | None) -> tuple[dt.timedelta, ...]:
    if per_week is None:
        return tuple(dt.timedelta(days=k) for k in range(units))
    return tuple(dt.timedelta(days=7 * (k // per_week) + k % per_week) for k in range(units))


@lru_cache(maxsize=512)
def _last_offset(units: int, per_week: int | None) -> int:
    """Days from the start to the latest unit (not the last one when per_week > 7)."""
    if per_week is None:
        return units - 1
    return max(7 * (k // per_week) + k % per_week for k in range(max(units - per_week, 0), units))


def _check_fits(start: dt.date, units: int, per_week: int | None, field: str) -> None:
    if units:
        try:
            start + dt.timedelta(days=_last_offset(units, per_week))
        except OverflowError:
            raise InvalidEpisode(field, "the episode would run past the last representable date") from None


def build_episode(
    level: LevelInfo,
    start: dt.date,
    *,
    weeks: int | None = None,
    per_week: int | None = None,
    days: int | None = None,
    fixed_length: bool = False,
) -> Episode:
    """An episode of an explicit length (days for detox/residential, weeks × per_week otherwise)."""
    if level.length_unit == "days":
        assert days is not None
        units = days
        if days > MAX_UNITS:
            raise EpisodeTooLong("episode.days", f"at most {MAX_UNITS} days can be estimated; got {days}")
        _check_fits(start, units, None, "episode.start_date")
        return Episode(level, start, units, None, None, days, fixed_length)
    assert weeks is not None and per_week is not None
    if weeks > MAX_WEEKS:
        raise EpisodeTooLong("episode.weeks", f"at most {MAX_WEEKS} weeks can be estimated; got {weeks}")
    units = weeks * per_week
    if units > MAX_UNITS:
        raise EpisodeTooLong(
            "episode.weeks",
            f"{weeks} weeks × {per_week} {level.unit}s a week is {units} units; at most {MAX_UNITS} can be estimated",
        )
    _check_fits(start, units, per_week, "episode.start_date")
    return Episode(level, start, units, weeks, per_week, None, fixed_length)


def resolve_episode(req: EpisodeRequest, level_of_care: str, today: dt.date) -> Episode:
    """Apply the level's defaults to the request's episode, validate it, and lay out its units.

    Raises ``InvalidEpisode`` for a field that does not fit the level (``days`` for
    IOP, ``weeks`` for residential, ...) or is below 1, and ``EpisodeTooLong`` past
    ``MAX_UNITS`` units or ``MAX_WEEKS`` weeks.
    """
    level = LEVELS[level_of_care]
    allowed = _FIELDS_BY_BASIS[level_of_care]
    for name in _LENGTH_FIELDS:
        value = getattr(req, name)
        if value is None:
            continue
        if name not in allowed:
            raise InvalidEpisode(f"episode.{name}", _misfit_message(level, name))
        if value < 1:
            raise InvalidEpisode(f"episode.{name}", "must be at least 1")
    if req.days_per_week is not None and req.days_per_week > 7:
        raise InvalidEpisode("episode.days_per_week", "a week has at most 7 days")
    start = req.start_date or today
    if level.length_unit == "days":
        days = req.days if req.days is not None else level.default_days
        return build_episode(level, start, days=days, fixed_length=req.days is not None)
    per_week = req.days_per_week if level.unit == "day" else req.sessions_per_week
    return build_episode(
        level,
        start,
        weeks=req.weeks if req.weeks is not None else level.default_weeks,
        per_week=per_week if per_week is not None else level.default_per_week,
        fixed_length=req.weeks is not None,
    )


def range_episodes(ep: Episode) -> tuple[Episode, Episode]:
    """The episode at the level's low and high typical length, same start and frequency.

    Both are ``ep`` itself when the request fixed the length.  For the weekly levels
    the range is in weeks at the episode's units per week.
    """
    if ep.fixed_length:
        return ep, ep
    level = ep.level
    out = []
    for length in (level.range_low, level.range_high):
        if level.length_unit == "days":
            same = length == ep.days
            out.append(ep if same else build_episode(level, ep.start_date, days=length))
        else:
            same = length == ep.weeks
            out.append(ep if same else build_episode(level, ep.start_date, weeks=length, per_week=ep.per_week))
    return out[0], out[1]


def episode_for_level(req: EpisodeRequest, level_of_care: str) -> EpisodeRequest:
    """``req`` without the fields that do not apply to ``level_of_care``.

    For callers that price one episode across several levels (compare, batch) and
    would rather ignore ``days_per_week`` for residential than fail the item.
    """
    allowed = _FIELDS_BY_BASIS[level_of_care]
    drop = {name: None for name in _LENGTH_FIELDS if name not in allowed and getattr(req, name) is not None}
    return msgspec.structs.replace(req, **drop) if drop else req


def _misfit_message(level: LevelInfo, name: str) -> str:
    if level.length_unit == "days":
        return f"{level.code} is billed per consecutive day: give its length as `days`"
    per_week = level.per_week_field
    if name == "days":
        return f"{level.code} is billed per {level.billed_per}: give its length as `weeks` and `{per_week}`"
    return f"{level.code} takes `{per_week}`, not `{name}`"
