"""The request validator and the problem mapping, without HTTP: properties of the
amount grammar in requests, and every use-case error's problem."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from costsvc.api.problems import PROBLEM_BASE, domain_problem, service_problem
from costsvc.api.validation import MAX_REPORTED, problems_of
from costsvc.domain.errors import EpisodeTooLong, LevelNotOffered
from costsvc.services.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from costsvc.services.requests import EstimateRequest

MONEY = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
PERCENT = re.compile(r"[0-9]+(\.[0-9]{1,3})?")


def _request(income=None, coinsurance=None) -> dict:
    body: dict = {"program_id": "p", "level_of_care": "iop"}
    if income is not None:
        body["household"] = {"size": 2, "annual_income": income, "state": "CA"}
    if coinsurance is not None:
        body["coverage"] = {"benefits": {"in_network": {"levels": {"iop": {"coinsurance_pct": coinsurance}}}}}
    return body


def _fields(body: dict) -> set[str]:
    return {p.field for p in problems_of(body, EstimateRequest).items}


amount_like = st.one_of(
    st.text(alphabet="0123456789.-+eE_ ,$", max_size=14),
    st.text(max_size=8),  # anything, Unicode digits and controls included
    st.from_regex(MONEY, fullmatch=True),
)


@given(amount_like)
def test_money_is_accepted_exactly_when_it_fits_the_grammar(text):
    assert ("household.annual_income" not in _fields(_request(income=text))) == bool(MONEY.fullmatch(text))


@given(st.one_of(amount_like, st.from_regex(PERCENT, fullmatch=True)))
def test_percentages_as_text_follow_the_grammar_and_the_range(text):
    ok = bool(PERCENT.fullmatch(text)) and float(text) <= 100
    field = "coverage.benefits.in_network.levels.iop.coinsurance_pct"
    assert (field not in _fields(_request(coinsurance=text))) == ok


@given(st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True)))
def test_percentages_as_numbers_are_whole_and_in_range(number):
    ok = float(number).is_integer() and 0 <= number <= 100 and str(number)[0] != "-"
    field = "coverage.benefits.in_network.levels.iop.coinsurance_pct"
    assert (field not in _fields(_request(coinsurance=number))) == ok


@given(st.one_of(st.integers(), st.floats(), st.booleans()))
def test_money_as_a_json_number_is_never_accepted(number):
    assert "household.annual_income" in _fields(_request(income=number))


def test_problem_list_is_capped_and_counted():
    problems = problems_of({f"x{i}": 1 for i in range(1000)}, EstimateRequest)
    assert len(problems.items) == MAX_REPORTED and problems.total == 1000 + 2  # and two required fields


def test_every_service_error_has_its_status_and_type():
    cases = [
        (NotFound("no plan 'x'", field="coverage.plan_id"), 404, "not-found"),
        (InvalidInput.one("household.state", "unknown state 'ZZ'"), 422, "invalid-request"),
        (Conflict("an import is running"), 409, "conflict"),
        (Forbidden("admins only"), 403, "forbidden"),
        (Unavailable("database down", retry_after=7), 503, "unavailable"),
    ]
    for exc, status, code in cases:
        p = service_problem(exc, "/v1/x")
        assert (p.status, p.type, p.instance) == (status, PROBLEM_BASE + code, "/v1/x")
        assert p.title and p.detail


def test_domain_errors_carry_their_own_code():
    p = domain_problem(LevelNotOffered("level_of_care", "no detox here"), "/v1/estimates")
    assert p.type == PROBLEM_BASE + "level-not-offered" and p.errors[0].field == "level_of_care"
    assert domain_problem(EpisodeTooLong("episode.weeks", "too long")).type.endswith("/episode-too-long")


def test_unavailable_answers_503_with_retry_after():
    from litestar import get
    from litestar.testing import create_test_client

    from costsvc.api.problems import EXCEPTION_HANDLERS

    @get("/down")
    async def down() -> None:
        raise Unavailable("the broker does not answer", retry_after=9)

    with create_test_client([down], exception_handlers=EXCEPTION_HANDLERS) as client:
        r = client.get("/down")
    assert r.status_code == 503 and r.headers["retry-after"] == "9"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == PROBLEM_BASE + "unavailable"


def test_episode_bounds_are_the_engines():
    import typing

    import msgspec

    from costsvc.domain.episode import MAX_UNITS, MAX_WEEKS
    from costsvc.domain.model import EpisodeRequest

    def upper(field: str) -> int:
        annotation = next(f.type for f in msgspec.structs.fields(EpisodeRequest) if f.name == field)
        inner = next(a for a in typing.get_args(annotation) if a is not type(None))
        return next(m.le for m in typing.get_args(inner)[1:] if isinstance(m, msgspec.Meta))

    assert (upper("weeks"), upper("days")) == (MAX_WEEKS, MAX_UNITS)
