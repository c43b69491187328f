"""A second opinion on the 4010 fixtures from pyx12 (a maintained X12 validator with a
004010X092A1 map; it has no 5010 271 map): it must agree with our reader on the control
counts, on who the people are, and on which EB segments belong to each person's loop."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest
import pyx12.params
import pyx12.x12n_document

from tariffs.x12 import read_271

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x12-271"
# file -> the (SE01, counted) mismatch both must see
FILES_4010 = {"271-example-2.txt": [], "271-dependent-benefits.txt": [("79", "81")], "271-related-entity.txt": [("77", "62")]}


def pyx12_view(path: Path, caplog) -> tuple[list[dict], list[str]]:
    """Each 2000C/2000D loop pyx12 finds (its NM1 elements and its 2110 EB segments), and
    the errors it logs."""
    people: list[dict] = []

    def on_segment(seg, src, node, valid):
        loop_path = node.get_path() if node is not None else ""
        seg_id = seg.get_seg_id()
        if seg_id == "HL" and re.search(r"/2000[CD]/HL$", loop_path):
            people.append({"loop": loop_path.split("/")[-2], "nm1": None, "ebs": []})
        elif seg_id == "NM1" and re.search(r"/2100[CD]/NM1$", loop_path):
            people[-1]["nm1"] = seg.format().rstrip("~").split("|")
        elif seg_id == "EB" and re.search(r"/2110[CD]/EB$", loop_path):
            people[-1]["ebs"].append(seg.format().rstrip("~").replace("|", "*").rstrip("*"))

    with caplog.at_level(logging.ERROR, logger="pyx12"):
        caplog.clear()
        pyx12.x12n_document.x12n_document(pyx12.params.params(), str(path), io.StringIO(), None, callback=on_segment)
        errors = [r.getMessage() for r in caplog.records]
    return people, errors


@pytest.mark.parametrize("name", sorted(FILES_4010))
def test_pyx12_agrees_on_people_loops_and_counts(name, caplog):
    path = FIXTURES / name
    theirs, errors = pyx12_view(path, caplog)
    ours = read_271(path.read_bytes())

    assert theirs and sum(len(p["ebs"]) for p in theirs) > 10
    assert [p["loop"] for p in theirs] == [{"subscriber": "2000C", "dependent": "2000D"}[p.relationship] for p in ours.people]
    for their, our in zip(theirs, ours.people):
        nm1 = their["nm1"] + [""] * 10
        assert (our.last_name, our.first_name) == (nm1[3] or None, nm1[4] or None)
        if nm1[8] == "MI":
            assert our.member_id == nm1[9]
        # every segment we call unmapped is one of the EBs pyx12 puts in this person's 2110 loop
        assert [u.segment for u in our.unmapped if u.segment in their["ebs"]] == [u.segment for u in our.unmapped]
        assert len(our.unmapped) < len(their["ebs"]) or not their["ebs"]

    # pyx12's segment counts are ours; it reports the same control-number mismatches
    their_counts = [re.search(r"SE count of (\d+) .* I count (\d+)", e).groups() for e in errors if "SE count" in e]
    our_counts = [re.search(r"SE01 at segment \d+ says (\d+) segments, the transaction has (\d+)", w).groups()
                  for w in ours.warnings if w.startswith("SE01")]
    assert our_counts == their_counts == FILES_4010[name]
    assert any("GE id" in e for e in errors) == any(w.startswith("GE02") for w in ours.warnings)
    assert any("IEA id" in e for e in errors) == any(w.startswith("IEA02") for w in ours.warnings)
