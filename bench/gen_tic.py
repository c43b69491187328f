#!/usr/bin/env python3
"""Write a synthetic CMS Transparency in Coverage in-network file of a requested size.

The shape follows the CMS schema 2.x (``provider_references`` + ``in_network``), or
1.x with ``--inline`` (``provider_groups`` inline in every negotiated rate):

* ``--groups`` provider reference groups (default 5000), each with 1-4 provider
  groups of 5-60 NPIs and an EIN;
* ``in_network`` items, mostly with codes outside behavioral health (CPT 99213,
  70551, ...) and about 1 in ``--behavioral-every`` with a behavioral code (H0015,
  90837, RC 0906...), each with 5-80 negotiated rates of 1-3 prices;
* the NPIs given with ``--npi`` are placed in a few groups (and ``--tin`` as the
  EIN of one more group), and those groups are referenced now and then;
* ``provider_references`` is written before ``in_network`` unless
  ``--refs-after`` (real files do both).

Writing is streamed (constant memory); ``--size-mb`` counts uncompressed bytes.
``--gzip`` compresses on the fly (level 1, fast).  Deterministic for a given
``--seed``.  At the end the generator prints (to stderr) how many negotiated prices
a parser should keep for the given NPIs/TIN and the behavioral codes, so a parser
run can be checked: ``expected_records`` counts one record per matching
(npi, tin) pair and price, excluding ``derived`` prices.  A parser that drops exact
duplicates (same code, rate type, rate, expiration, NPI and TIN, as ``tariffs.tic``
does) keeps ``expected_unique_records`` of them; ``expected_unique_by_pair`` splits
that count by ``"npi/tin"`` (an empty side is ``-``), so an importer that maps NPIs
and TINs to programs can compute the rows it should store.

``--behavioral-code TYPE:CODE`` (repeatable, e.g. ``HCPCS:H0015``, ``RC:0906``)
replaces the built-in behavioral codes, e.g. with the codes the target programs
price, so that every behavioral item is one an importer keeps.

    python bench/gen_tic.py OUT.json --size-mb 1024 --npi 1234567893 --gzip
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tariffs.tabular.fields import npi_check_digit  # noqa: E402

COMMON_CODES = [
    ("CPT", "99213"),
    ("CPT", "99214"),
    ("CPT", "70551"),
    ("CPT", "27447"),
    ("CPT", "80053"),
    ("CPT", "93000"),
    ("CPT", "71046"),
    ("CPT", "36415"),
    ("CPT", "97110"),
    ("CPT", "99285"),
    ("HCPCS", "J3420"),
    ("HCPCS", "G0008"),
    ("RC", "0450"),
    ("RC", "0120"),
    ("MS-DRG", "470"),
]
BEHAVIORAL_CODES = [
    ("HCPCS", "H0015"),
    ("CPT", "90837"),
    ("CPT", "90834"),
    ("CPT", "90791"),
    ("HCPCS", "H0018"),
    ("HCPCS", "H0035"),
    ("HCPCS", "H0010"),
    ("RC", "0906"),
    ("RC", "1002"),
    ("HCPCS", "S9480"),
]
NEG_TYPES = ["negotiated"] * 8 + ["fee schedule", "percentage", "per diem", "derived"]
# negotiated_type -> the rate type a parser reports (tariffs.tic.RATE_TYPES); derived is skipped
_RATE_TYPE = {"negotiated": "dollar", "fee schedule": "dollar", "per diem": "dollar",
              "percentage": "percent_of_billed"}


def parse_code(text: str) -> tuple[str, str]:
    """``TYPE:CODE`` (``HCPCS:H0015``, ``CPT:90837``, ``RC:0906``; ``REV:0906`` = ``RC:0906``)."""
    ctype, sep, code = text.partition(":")
    if not sep or not ctype.strip() or not code.strip():
        raise argparse.ArgumentTypeError(f"expected TYPE:CODE such as HCPCS:H0015 or RC:0906, got {text!r}")
    ctype = ctype.strip().upper()
    return ("RC" if ctype == "REV" else ctype), code.strip()


def our_code(ctype: str, code: str) -> str:
    """The billing code as a parser reports it (revenue codes as ``REV:0906``)."""
    return "REV:" + code.zfill(4) if ctype.upper() == "RC" else code.upper()


class Sink:
    """Counts uncompressed bytes; writes to a file (optionally gzip) or nowhere."""

    def __init__(self, path: str | None, use_gzip: bool):
        self.count = 0
        self._f = None
        if path is not None:
            # closed by close(); the sink outlives any with-block
            self._f = (
                gzip.open(path, "wb", compresslevel=1)  # noqa: SIM115
                if use_gzip
                else open(path, "wb", buffering=1 << 20)  # noqa: SIM115
            )

    def write(self, s: str) -> None:
        b = s.encode()
        self.count += len(b)
        if self._f is not None:
            self._f.write(b)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


class Generator:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.match_npis = [str(n) for n in (args.npi or [])]
        self.match_tins = [str(t) for t in (args.tin or [])]
        self._match_set = set(self.match_npis)
        self.expected = 0
        self.behavioral_codes = list(getattr(args, "behavioral_code", None) or BEHAVIORAL_CODES)
        # (npi, tin) -> the distinct (code, rate_type, rate, expiration) a de-duplicating parser keeps
        self.unique: dict[tuple[str | None, str | None], set[tuple]] = {}
        self.behavioral_items = 0
        self.items = 0

    # -- provider groups --------------------------------------------------------------
    def _groups(self, rng: random.Random, gid: int) -> list[dict]:
        """The provider_groups of reference ``gid``; deterministic per gid."""
        groups = []
        for g in range(rng.randint(1, 4)):
            npis = [int(f"1{rng.randrange(10**8):08d}" + "0") for _ in range(rng.randint(5, 60))]
            npis = [int(str(n)[:9] + npi_check_digit(str(n)[:9])) for n in npis]
            npis = [n for n in npis if str(n) not in self._match_set] or [1000000004]
            groups.append(
                {
                    "npi": npis,
                    "tin": {
                        "type": "ein",
                        "value": f"{rng.randrange(10**9):09d}",
                        "business_name": f"Group {gid}-{g}",
                    },
                }
            )
        return groups

    def matching_gids(self) -> dict[int, list[tuple[str | None, str | None]]]:
        """Reference ids that carry the requested NPIs/TIN, with the (npi, tin) pairs a
        parser should report for them."""
        out: dict[int, list[tuple[str | None, str | None]]] = {}
        n = self.args.groups
        for i, npi in enumerate(self.match_npis):
            gid = 1 + (i * 997 + 17) % n
            out.setdefault(gid, []).append((npi, f"{880000000 + gid:09d}"))
        for i, tin in enumerate(self.match_tins):
            gid = 1 + (i * 991 + 523) % n
            out.setdefault(gid, []).append((None, tin))
        return out

    def group_of(self, gid: int) -> list[dict]:
        rng = random.Random(self.args.seed * 1_000_003 + gid)
        groups = self._groups(rng, gid)
        for npi, tin in self._matches.get(gid, []):
            if npi is not None:
                groups.append(
                    {
                        "npi": [int(npi)] + groups[0]["npi"][:3],
                        "tin": {"type": "ein", "value": tin, "business_name": "Match Co"},
                    }
                )
            else:
                groups.append(
                    {
                        "npi": groups[0]["npi"][3:6] or [1000000004],
                        "tin": {"type": "ein", "value": tin, "business_name": "Match by TIN"},
                    }
                )
        return groups

    def write_refs(self, out: Sink) -> None:
        out.write('"provider_references":[')
        for gid in range(1, self.args.groups + 1):
            if gid > 1:
                out.write(",")
            ref = {
                "provider_group_id": gid,
                "network_name": ["Synthetic Network"],
                "provider_groups": self.group_of(gid),
            }
            out.write(json.dumps(ref, separators=(",", ":")))
        out.write("]")

    # -- in_network --------------------------------------------------------------------
    def item(self, rng: random.Random, idx: int) -> str:
        behavioral = idx % self.args.behavioral_every == 0
        ctype, code = rng.choice(self.behavioral_codes if behavioral else COMMON_CODES)
        self.items += 1
        self.behavioral_items += behavioral
        rates = []
        match_ids = list(self._matches)
        for _ in range(rng.randint(5, 80)):
            refs = sorted({rng.randint(1, self.args.groups) for _ in range(rng.randint(1, 12))})
            if behavioral and match_ids and rng.random() < 0.15:
                refs = sorted(set(refs) | {rng.choice(match_ids)})
            prices = []
            for _p in range(rng.randint(1, 3)):
                ntype = rng.choice(NEG_TYPES)
                rate = (
                    round(rng.uniform(20, 900), 2) if ntype != "percentage" else round(rng.uniform(40, 95), 1)
                )
                price = {
                    "negotiated_type": ntype,
                    "negotiated_rate": rate,
                    "expiration_date": rng.choice(["9999-12-31", "2026-12-31"]),
                    "service_code": rng.sample(["11", "02", "10", "22", "49", "53"], 3),
                    "billing_class": rng.choice(["professional", "institutional"]),
                    "setting": "outpatient",
                }
                if rng.random() < 0.1:
                    price["billing_code_modifier"] = ["95"]
                prices.append(price)
            rate_obj: dict = {"negotiated_prices": prices}
            if self.args.inline:
                groups = []
                for gid in refs:
                    groups.extend(self.group_of(gid) if gid in self._matches else self._groups(rng, gid)[:1])
                rate_obj = {"provider_groups": groups, "negotiated_prices": prices}
            else:
                rate_obj = {"provider_references": refs, "negotiated_prices": prices}
            rates.append(rate_obj)
            if behavioral:
                pairs = set()
                for gid in refs:
                    pairs.update(self._matches.get(gid, []))
                kept = [p for p in prices if p["negotiated_type"] != "derived"]
                self.expected += len(kept) * len(pairs)
                if pairs and kept:
                    ours = our_code(ctype, code)
                    keys = [
                        (ours, _RATE_TYPE[p["negotiated_type"]], p["negotiated_rate"],
                         None if p["expiration_date"] == "9999-12-31" else p["expiration_date"])
                        for p in kept
                    ]
                    for pair in pairs:
                        self.unique.setdefault(pair, set()).update(keys)
        obj = {
            "negotiation_arrangement": "ffs",
            "name": f"Service {code}",
            "billing_code_type": ctype,
            "billing_code_type_version": "2024",
            "billing_code": code,
            "description": f"Synthetic description of {code} with some realistic length of text",
            "negotiated_rates": rates,
        }
        return json.dumps(obj, separators=(",", ":"))

    def run(self) -> None:
        a = self.args
        self._matches = self.matching_gids()
        target = a.size_mb * 1024 * 1024
        refs_size = 0
        if not a.inline:
            dry = Sink(None, False)
            self.write_refs(dry)
            refs_size = dry.count
        out = Sink(a.out, a.gzip)
        out.write(
            '{"reporting_entity_name":"Synthetic Health Plan","reporting_entity_type":"health insurance issuer",'
            '"plan_name":"Synthetic PPO","plan_id_type":"hios","plan_id":"12345VA0010001","plan_market_type":"group",'
            '"issuer_name":"Synthetic Issuer","last_updated_on":"2025-01-01","version":"%s",'
            % ("1.0.0" if a.inline else "2.0.0")
        )
        if not a.inline and not a.refs_after:
            self.write_refs(out)
            out.write(",")
        out.write('"in_network":[')
        rng = random.Random(a.seed)
        idx = 0
        # refs already written are counted by the sink; refs still to come are not
        budget = target - (refs_size if a.refs_after else 0) - 2
        while True:
            if idx:
                out.write(",")
            out.write(self.item(rng, idx))
            idx += 1
            if out.count >= budget:
                break
        out.write("]")
        if not a.inline and a.refs_after:
            out.write(",")
            self.write_refs(out)
        out.write("}")
        out.close()
        self.total = out.count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--size-mb", type=int, default=1024, help="uncompressed size in MiB (default 1024)")
    p.add_argument("--npi", action="append", help="an NPI to place in a few provider groups (repeatable)")
    p.add_argument(
        "--tin", action="append", help="an EIN (9 digits) to place in one provider group (repeatable)"
    )
    p.add_argument("--groups", type=int, default=5000, help="provider reference groups (default 5000)")
    p.add_argument("--behavioral-every", type=int, default=50, help="1 in N items has a behavioral code")
    p.add_argument(
        "--behavioral-code", action="append", type=parse_code, metavar="TYPE:CODE",
        help="a behavioral code (HCPCS:H0015, CPT:90837, RC:0906; repeatable): replaces the built-in ones",
    )
    p.add_argument("--refs-after", action="store_true", help="write provider_references after in_network")
    p.add_argument(
        "--inline", action="store_true", help="schema 1.x: inline provider_groups, no provider_references"
    )
    p.add_argument("--gzip", action="store_true", help="gzip the output")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    gen = Generator(args)
    gen.run()
    dt = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "out": args.out,
                "uncompressed_bytes": gen.total,
                "items": gen.items,
                "behavioral_items": gen.behavioral_items,
                "expected_records": gen.expected,
                "expected_unique_records": sum(len(v) for v in gen.unique.values()),
                "expected_unique_by_pair": {
                    f"{npi or '-'}/{tin or '-'}": len(v) for (npi, tin), v in sorted(
                        gen.unique.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or ""))
                },
                "seconds": round(dt, 1),
            }
        ),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
