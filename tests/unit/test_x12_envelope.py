"""Envelopes, delimiters, leniency and rejections of the 271 reader."""

from __future__ import annotations

import time
import tracemalloc

import msgspec
import pytest

from tariffs.x12 import X12Rejected, read_271
from tests.unit.x12_builder import V4010, V5010, body_271, interchange, render, transaction

EBS = ("DTP*307*D8*20261101", "EB*1**30**GOLD PPO", "EB*B**A8^BB***27*35*****Y", "EB*A**30***27**.2*****N",
       "EB*C*IND*30***23*1500*****Y", "EB*C*IND*30***29*300*****Y", "EB*F**CH***23***VS*30", "EB*ZZ**30")


def reading(data: bytes):
    return msgspec.to_builtins(read_271(data))


def rejected(data: bytes) -> X12Rejected:
    with pytest.raises(X12Rejected) as caught:
        read_271(data)
    return caught.value


# --------------------------------------------------------------------------- delimiters and whitespace


@pytest.mark.parametrize(
    "separators",
    [
        {"element": "|", "repetition": "!", "component": ">", "terminator": "'"},
        {"element": "^", "repetition": "{", "component": "\\", "terminator": "\n", "newline": ""},
        {"element": "\x1d", "repetition": "\x1f", "component": "\x1e", "terminator": "\x1c", "newline": ""},
    ],
)
def test_other_isa_separators_read_the_same(separators):
    assert reading(body_271(*EBS, **separators)) == reading(body_271(*EBS))


def test_bom_crlf_indentation_and_trailing_whitespace_are_tolerated():
    plain = reading(body_271(*EBS, newline=""))
    assert reading(body_271(*EBS, bom=True, newline="\r\n", indent="   ")) == plain
    assert reading(body_271(*EBS, newline="  \t\r\n") + b"\r\n\r\n   ") == plain


def test_unmapped_segments_are_written_with_canonical_separators():
    [p] = read_271(body_271("EB*B**47^ZZ***27*5", element="|", repetition="!")).people
    assert [u.segment for u in p.unmapped] == ["EB*B**47^ZZ***27*5"]


def test_4010_has_no_repetition_separator():
    # ISA11 is U: a caret in EB03 is data, so "A8^BB" is one unknown code
    [p] = read_271(body_271("EB*B**A8^BB***27*35", version=V4010)).people
    assert p.benefits == {}
    assert p.unmapped[0].reason == "service type A8^BB is not behavioral"


def test_final_segment_without_terminator_is_accepted():
    data = body_271(*EBS, newline="")
    assert data.endswith(b"~")
    assert reading(data[:-1]) == reading(data)


# --------------------------------------------------------------------------- counts and envelopes: warnings


def test_wrong_se_ge_iea_counts_and_control_numbers_are_warnings():
    tx = transaction(*EBS, se_count=99)
    tx[-1] = "SE*99*0002"
    segments = interchange(tx, group_count=3)
    segments[-1] = "GE*3*7"
    data = render(segments).replace(b"IEA*1*000000001", b"IEA*2*000000002")
    result = read_271(data)
    assert result.warnings == [
        "SE01 at segment 20 says 99 segments, the transaction has 18",
        "SE02 at segment 20 (0002) does not match ST02 (0001)",
        "GE01 at segment 21 says 3 transactions, the envelope has 1",
        "GE02 at segment 21 (7) does not match GS06 (1)",
        "IEA01 at segment 22 says 2 functional groups, the envelope has 1",
        "IEA02 at segment 22 (000000002) does not match ISA13 (000000001)",
    ]
    assert len(result.people) == 1 and result.people[0].status == "active"


def test_several_transactions_groups_and_mixed_versions():
    group_5010 = interchange(transaction("EB*1**30"), transaction("EB*6**30", control="0002"))
    group_4010 = interchange(transaction("EB*1**A4", version=V4010), version=V4010)
    group_4010[0] = group_4010[0].replace("*1*X*", "*2*X*")
    group_4010[-1] = "GE*1*2"
    data = render(group_5010 + group_4010).replace(b"IEA*2*", b"IEA*2*")
    result = read_271(data)
    assert [p.status for p in result.people] == ["active", "inactive", "active"]
    assert result.version == V5010
    assert result.warnings == [
        "mixed envelope versions: ISA12 00501 with 004010X092A1 in the transaction at segment 27",
        f"mixed envelope versions: {V5010}, {V4010}",
    ]


def test_several_interchanges_with_their_own_delimiters():
    first = body_271("EB*1**30**GOLD")
    second = body_271("EB*1**30**SILVER", element="|", repetition="!", component=">", terminator="'")
    result = read_271(first + second)
    assert [p.plan_name for p in result.people] == ["GOLD", "SILVER"]
    assert result.warnings == []


def test_a_second_interchange_with_the_same_terminator_but_other_separators():
    # both in the tokenizer's first window: the second ISA's delimiters must still be read
    first = body_271("EB*1**30**GOLD")
    second = body_271("EB*1**30**SILVER", element="|", repetition="!", component=">")
    result = read_271(first + second + first)
    assert [p.plan_name for p in result.people] == ["GOLD", "SILVER", "GOLD"]
    assert result.warnings == []


def test_missing_trailer_segments_are_warnings():
    data = body_271(*EBS, iea=False)
    cut = data[: data.index(b"\nSE*") + 1]
    result = read_271(cut)
    assert result.warnings == [
        "the transaction starting at segment 3 has no SE: the body ends at segment 19",
        "the functional group starting at segment 2 has no GE",
        "the interchange starting at segment 1 has no IEA",
    ]
    assert result.people[0].plan_name == "GOLD PPO"


def test_cut_after_the_first_subscriber_reads_what_is_complete():
    data = body_271(*EBS)
    cut = data[: data.index(b"EB*F") + 7]  # "EB*F**C"
    result = read_271(cut)
    [p] = result.people
    assert result.warnings[0] == "the body is cut in the middle of segment 18 (EB); that segment is ignored"
    assert p.warnings == ["this loop is cut off by the end of the body at segment 18: benefits after it are missing"]
    assert "limit_units" not in str(p.benefits)
    assert p.benefits["in_network"]["levels"]["iop"]["copay"] == "35.00"


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize("data", [b"", b"   \r\n\t", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"])
def test_empty_body(data):
    e = rejected(data)
    assert e.message == "the body is empty: an X12 271 eligibility response was expected"
    assert e.segment_index is None


@pytest.mark.parametrize("data", [b"hello world", b'{"member_id": "123"}', b"<xml/>", b"\x00\x01\x02", b"GS*HB*X~ST*271*1~"])
def test_not_x12(data):
    e = rejected(data)
    assert e.message == "the body is not an X12 interchange: it does not start with an ISA segment"
    assert (e.segment_index, e.segment_id) == (1, None)


def test_st_other_than_271():
    e = rejected(body_271("EB*1**30", st01="270"))
    assert e.message == "ST*270 at segment 3: the transaction is a 270, not a 271 eligibility response"
    assert (e.segment_index, e.segment_id, e.reject_code) == (3, "ST", None)


def test_cut_mid_segment_before_the_first_subscriber():
    data = body_271(*EBS)
    e = rejected(data[: data.index(b"HL*3") + 4])
    assert e.message == "the body is cut in the middle of segment 9 (HL), before its first subscriber"
    assert (e.segment_index, e.segment_id) == (9, "HL")
    e = rejected(data[:50])
    assert e.message == "the body is cut in the middle of segment 1 (ISA)"
    assert (e.segment_index, e.segment_id) == (1, "ISA")


def test_truncated_at_a_segment_boundary_before_the_first_subscriber():
    data = body_271(*EBS)
    e = rejected(data[: data.index(b"HL*3")])
    assert e.message == "the 271 ends at segment 8 (NM1) before its first subscriber (HL level 22): no person to verify"
    assert (e.segment_index, e.segment_id) == (8, "NM1")


@pytest.mark.parametrize(
    ("aaa", "code", "meaning"),
    [("AAA*Y**75*C", "75", "subscriber not found"), ("AAA*N**72*C", "72", "invalid/missing member ID"),
     ("AAA*Y**42*R", "42", "unable to respond at current time"), ("AAA*N**58*C", "58", "invalid/missing date of birth"),
     ("AAA*N**Q9*C", "Q9", "reason code not recognised")],
)
def test_aaa_at_the_subscriber_level(aaa, code, meaning):
    e = rejected(body_271(aaa))
    assert e.message == f"{aaa} at segment 12: the payer rejected the request for the subscriber: {code} {meaning}"
    assert (e.segment_index, e.segment_id, e.reject_code) == (12, "AAA", code)


def test_aaa_at_the_dependent_level_rejects_the_whole_body():
    data = render(interchange(transaction("EB*1**30", dependents=(("NM1*03*1*DOE*SAM", "AAA*Y**77*C"),))))
    e = rejected(data)
    assert e.message == "AAA*Y**77*C at segment 15: the payer rejected the request for the dependent: 77 subscriber found, patient not found"


def test_aaa_text_never_carries_element_data():
    e = rejected(body_271("AAA*Y*JANE DOE 19800115*72*C"))
    assert e.message.startswith("AAA*Y*?*72*C at segment 12")


# --------------------------------------------------------------------------- bounded work


def _head() -> bytes:
    return body_271("EB*1**30")[: body_271("EB*1**30").index(b"EB*1")]


TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("one EB repeated in a subscriber loop", lambda n: _head() + b"EB*1**30~" * (n // 9)),
        ("one HL repeated", lambda n: _head() + b"HL*3*2*22*0~" * (n // 12)),
        ("one ST repeated", lambda n: _head() + b"ST*271*0001~" * (n // 12)),
        ("the ISA repeated", lambda n: body_271("EB*1**30")[:107] * (n // 107)),
        ("one segment without any ISA", lambda n: b"EB*1**30~" * (n // 9)),
        ("one unterminated segment", lambda n: _head() + b"MSG*" + b"A" * n),
        ("one NM1 repeated before any subscriber", lambda n: _head()[: _head().index(b"HL*3")] + b"NM1*PR*2*X~" * (n // 11)),
    ],
)
def test_ten_megabytes_of_one_segment_are_answered_quickly_in_bounded_memory(name, make):
    def cpu_seconds(data: bytes) -> float:
        started = time.process_time()  # CPU time: other processes on a shared machine do not count
        try:
            read_271(data)
        except X12Rejected as e:
            assert "JANE" not in e.message
        return time.process_time() - started

    data = make(TEN_MB)
    assert len(data) >= TEN_MB - 200
    # Bounded work: the reader gives up early or reads once, so ten times the input takes at
    # most about ten times the time (today about the same time), on a fast machine or a slow
    # one (a limit in seconds failed on a slow one).  Work that grows with the square of the
    # input would take about a hundred times.
    tenth, whole = cpu_seconds(make(TEN_MB // 10)), cpu_seconds(data)
    assert whole < 25 * max(tenth, 0.005), (name, tenth, whole)
    assert whole < 10.0, (name, whole)  # and nowhere near a stall (0.2 s at most on the slow VM of 2026-12-02)
    tracemalloc.start()
    cpu_seconds(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, (name, peak)  # the decoded text (10 MB) and little else


def test_many_distinct_unmapped_segments_are_kept_up_to_a_bound():
    head = _head()[: _head().index(b"HL*3")]
    people = []
    n = 0
    while len(people) < 220:  # 132,000 distinct EB segments, 3.7 MB
        hl = 3 + len(people)
        ebs = b"".join(b"EB*B**ZZ***27*%d~" % (n + i) for i in range(600))
        n += 600
        people.append(b"HL*%d*2*22*0~NM1*IL*1*DOE*JANE****MI*X~" % hl + ebs)
    data = head + b"".join(people)
    result = read_271(data)
    assert [len(p.unmapped) for p in result.people] == [500] * 200 + [0] * 20
    assert result.people[0].warnings[-1] == "100 more unmapped EB segments were not kept (at most 500 per person, 100000 per body)"
    assert result.people[-1].warnings[-1] == "600 more unmapped EB segments were not kept (at most 500 per person, 100000 per body)"


def test_messages_never_quote_text_that_is_not_a_segment_id():
    head = body_271("EB*1**30")[: body_271("EB*1**30").index(b"HL*3")]
    e = rejected(head + b"JANE DOE 1980-01-15~")
    assert e.message == "the 271 ends at segment 9 (unknown) before its first subscriber (HL level 22): no person to verify"
    assert e.segment_id is None
    e = rejected(head + b"SMITHJOHN*1~")
    assert "SMITH" not in e.message and e.segment_id is None
