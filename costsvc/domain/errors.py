"""Errors the pricing core raises for requests it cannot price.

Every error names the offending ``field`` as a dotted path inside the estimate
request (``"episode.weeks"``, ``"household"``, ``"level_of_care"``) so the HTTP
layer can turn it into an RFC 9457 problem with the path of the invalid field.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the engine cannot price.  ``code`` is a stable machine-readable slug."""

    code = "invalid_request"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidEpisode(DomainError):
    """An episode field that does not fit the level of care, or is out of range."""

    code = "invalid_episode"


class EpisodeTooLong(InvalidEpisode):
    """The episode would expand into more units than the engine prices (see ``episode.MAX_UNITS``)."""

    code = "episode_too_long"


class LevelNotOffered(DomainError):
    """The program has no fee lines for the requested level of care."""

    code = "level_not_offered"


class InvalidBenefits(DomainError):
    """Benefits or tariff data the arithmetic cannot use (e.g. coinsurance above 100 %)."""

    code = "invalid_benefits"


class NoPovertyGuideline(DomainError):
    """No poverty guideline exists for the household's region and the episode's year."""

    code = "no_poverty_guideline"
