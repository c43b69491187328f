"""Properties of the 271 reader (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffs.x12 import X12Rejected, read_271
from tests.unit.x12_builder import body_271, interchange, render, transaction

EBS = (
    "DTP*307*D8*20261101",
    "EB*1**30**GOLD PPO",
    "EB*B**A8^BB***27*35*****Y",
    "EB*A**30***27**.2*****N",
    "EB*C*IND*30***23*1500*****Y",
    "EB*C*IND*30***29*300*****Y",
    "EB*F**CH***23***VS*30",
    "EB*CB**30**********HC:90837",
    "EB*ZZ**30",
)
# Characters that never occur in the segments' data (letters, digits, spaces, dots)
SEPARATOR_POOL = list("!\"#$%&'()+,/;<=>?@[\\]_`{|}~*^:") + ["\x1c", "\x1d", "\x1e", "\x1f"]


def reading(data: bytes):
    return msgspec.to_builtins(read_271(data))


BASELINE = reading(body_271(*EBS))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SEPARATOR_POOL), min_size=4, max_size=4, unique=True),
       st.sampled_from(["", "\n", "\r\n"]), st.booleans())
def test_any_choice_of_separators_reads_the_same(separators, newline, bom):
    element, repetition, component, terminator = separators
    data = body_271(*EBS, element=element, repetition=repetition, component=component,
                    terminator=terminator, newline=newline, bom=bom)
    assert reading(data) == BASELINE


IRRELEVANT_2100C = ("TRN*2*93175-012547*9877281234", "N3*15197 BROADWAY AVENUE*APT 215", "N4*KANSAS CITY*MO*64108",
                    "INS*Y*18", "DTP*346*D8*20260101", "PRV*PE*PXC*101YA0400X")
# EB segments that state disjoint benefits: their order does not matter
DISJOINT_EBS = ("EB*1**30**GOLD PPO", "EB*B**RT***7*100*****Y", "EB*A**BB***27**.1*****Y", "EB*F**A6***23***VS*20",
                "EB*G*FAM*30***23*9000*****N", "EB*I**CG")


@settings(max_examples=100, deadline=None)
@given(st.permutations(IRRELEVANT_2100C), st.permutations(DISJOINT_EBS))
def test_reordering_irrelevant_segments_does_not_change_the_reading(segments_2100, ebs):
    expected = msgspec.to_builtins(read_271(body_271(*IRRELEVANT_2100C, *DISJOINT_EBS)).people[0])
    got = msgspec.to_builtins(read_271(body_271(*segments_2100, *ebs)).people[0])
    got.pop("unmapped"), expected.pop("unmapped")
    assert got == expected


amounts = st.decimals(min_value=0, max_value=99999, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(amounts, amounts, st.sampled_from(["C", "G"]), st.sampled_from(["IND", "FAM"]), st.sampled_from(["Y", "N"]))
def test_met_is_plan_less_remaining_never_below_zero(plan, remaining, eb01, eb02, eb12):
    [p] = read_271(body_271(f"EB*{eb01}*{eb02}*30***23*{plan}*****{eb12}",
                            f"EB*{eb01}*{eb02}*30***29*{remaining}*****{eb12}")).people
    network = "in_network" if eb12 == "Y" else "out_of_network"
    field = {"C": "deductible_met", "G": "oop_met"}[eb01]
    if eb02 == "FAM":
        field = "family_" + field
    met = p.accumulators[network][field]
    assert Decimal(met) == max(plan - remaining, Decimal(0))
    assert met == f"{max(plan - remaining, Decimal(0)):.2f}"


names = st.text(alphabet="QXZJKVW", min_size=10, max_size=20)


@settings(max_examples=50, deadline=None)
@given(names, names, st.text(alphabet="0123456789QX", min_size=10, max_size=15))
def test_phi_never_reaches_warnings_unmapped_or_repr(last, first, member_id):
    body = render(interchange(transaction(
        "EB*B**ZZ***27*5", "EB*C*IND*30***29*100", "DTP*307*D8*20261399",
        subscriber=(f"NM1*IL*1*{last}*{first}****MI*{member_id}", "DMG*D8*19801345*F"),
        dependents=((f"NM1*03*1*{last}*{first}", "EB*F**RT***29***DY*3"),), se_count=1,
    )))
    result = read_271(body)
    assert [p.member_id for p in result.people] == [member_id, member_id]
    texts = [repr(result), str(result.people[0]), *result.warnings]
    for p in result.people:
        texts += [repr(p), *p.warnings, *(u.segment + u.reason for u in p.unmapped)]
    assert len(texts) > 6
    for text in texts:
        assert last not in text and first not in text and member_id not in text


FIXTURE_BODIES = [p.read_bytes() for p in sorted((Path(__file__).parent.parent / "fixtures" / "x12-271").iterdir())
                  if p.name != "SOURCES.md"]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FIXTURE_BODIES), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 40), st.binary(max_size=12)),
                                                 max_size=4))
def test_damaged_bodies_are_read_or_rejected_never_crash(body, edits):
    """Deleting, replacing or inserting bytes anywhere gives a reading or an X12Rejected."""
    data = bytearray(body)
    for at, length, insert in edits:
        at = at % (len(data) + 1)
        data[at : at + length] = insert
    try:
        result = read_271(bytes(data))
    except X12Rejected as e:
        assert e.message
    else:
        assert result.people


# The reader's shortcuts give what the general paths give (tariffs/x12/benefits.py, envelope.py).

@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789.", max_size=24), st.from_regex(r"\A[0-9]{0,20}\.[0-9]{2}\Z"),
                 st.text(max_size=8)))
def test_two_decimal_amounts_read_directly_are_the_amount_grammar(text):
    from costsvc.domain.money import AmountSyntaxError, cents
    from tariffs.x12.benefits import money, x12_number

    def outcome(read):
        try:
            return str(read(text))
        except AmountSyntaxError as e:
            return e.reason

    assert outcome(money) == outcome(lambda t: cents(x12_number(t, places=2)))


@pytest.mark.parametrize("text", ["9" * 40, "9" * 40 + ".00", "1" + "0" * 9, "0" * 30 + "1" * 10 + ".5"])
def test_an_amount_of_a_billion_or_more_is_refused_in_words(text):
    """Not a decimal.InvalidOperation deep in the rounding (a 500): the API's bound, said."""
    from costsvc.domain.money import AmountSyntaxError
    from tariffs.x12.benefits import money

    with pytest.raises(AmountSyntaxError, match="at most 9 digits before the decimal point"):
        money(text)
    assert money("0" * 30 + "999999999.99") == Decimal("999999999.99")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="*A:^ \t1", min_size=1, max_size=12).map(lambda t: t.strip(" \t")).filter(bool),
       st.sampled_from(["*", "|"]))
def test_canonical_text_is_the_elements_rejoined_without_trailing_empties(raw, element):
    from tariffs.x12.envelope import Delimiters, Segment

    raw = raw.replace("*", element)
    segment = Segment(1, "EB", raw, Delimiters(element, ":", "~", "^"))
    parts = list(segment.elements)
    while len(parts) > 1 and not parts[-1]:
        parts.pop()
    assert segment.canonical() == "*".join(parts)


def test_a_copay_of_forty_digits_is_kept_as_unmapped_not_raised():
    raw = (Path(__file__).parents[1] / "fixtures" / "x12-271" / "subscriber-health-benefit-check.271").read_bytes()
    huge = raw.replace(b"*27*10.00*", b"*27*" + b"9" * 40 + b"*", 1)
    assert huge != raw
    result = read_271(huge)
    (person,) = [p for p in result.people if p.unmapped]
    assert any("at most 9 digits before the decimal point" in u.reason for u in person.unmapped)
