"""Build small X12 271 bodies for the reader's tests.

Segments are written with the canonical separators (``*`` element, ``^`` repetition,
``:`` component) and translated to the ones a test chooses when rendered, so one
description of a 271 can be written out with any delimiters.
"""

from __future__ import annotations

V5010 = "005010X279A1"
V4010 = "004010X092A1"

SUBSCRIBER_ID = "W123456789"


def transaction(
    *person_segments: str,
    version: str = V5010,
    dependents: tuple[tuple[str, ...], ...] = (),
    subscriber: tuple[str, ...] | None = None,
    bht_date: str = "20261102",
    control: str = "0001",
    se_count: int | None = None,
    st01: str = "271",
) -> list[str]:
    """One ST..SE 271: a payer, a provider, a subscriber whose loop holds ``person_segments``
    (after its NM1 and DMG, unless ``subscriber`` replaces those) and ``dependents``."""
    st = f"ST*{st01}*{control}*{version}" if version.startswith("005") else f"ST*{st01}*{control}"
    segments = [
        st,
        f"BHT*0022*11*TRACE1*{bht_date}*1200",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH*****PI*12345",
        "HL*2*1*21*1",
        "NM1*1P*2*SUNRISE RECOVERY*****XX*1234567893",
        f"HL*3*2*22*{1 if dependents else 0}",
        *(subscriber if subscriber is not None else (f"NM1*IL*1*DOE*JANE****MI*{SUBSCRIBER_ID}", "DMG*D8*19800115*F")),
        *person_segments,
    ]
    for n, dependent in enumerate(dependents):
        segments += [f"HL*{4 + n}*3*23*0", *dependent]
    segments.append(f"SE*{se_count if se_count is not None else len(segments) + 1}*{control}")
    return segments


def interchange(*transactions: list[str], version: str = V5010, group_count: int | None = None) -> list[str]:
    """GS..GE around the transactions (ISA/IEA are added by :func:`render`)."""
    segments = [f"GS*HB*ACMEHEALTH*SUNRISE*20261102*1200*1*X*{version}"]
    for tx in transactions:
        segments += tx
    segments.append(f"GE*{group_count if group_count is not None else len(transactions)}*1")
    return segments


def render(
    segments: list[str],
    *,
    element: str = "*",
    repetition: str = "^",
    component: str = ":",
    terminator: str = "~",
    newline: str = "\n",
    isa12: str = "00501",
    indent: str = "",
    bom: bool = False,
    iea: bool = True,
) -> bytes:
    """ISA + ``segments`` + IEA, with the chosen separators (4010: ISA11 is ``U``)."""
    isa11 = repetition if isa12 >= "00501" else "U"
    isa = element.join([
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", "ACMEHEALTH".ljust(15), "ZZ", "SUNRISE".ljust(15),
        "261102", "1200", isa11, isa12, "000000001", "0", "P", component,
    ])

    def translate(text: str) -> str:
        return "".join({"*": element, "^": repetition, ":": component}.get(c, c) for c in text)

    body = [isa, *(translate(s) for s in segments)]
    if iea:
        groups = sum(1 for s in segments if s.startswith("GS*"))
        body.append(translate(f"IEA*{groups}*000000001"))
    text = "".join(indent + s + terminator + newline for s in body)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def body_271(*person_segments: str, version: str = V5010, **options) -> bytes:
    """The common case: one interchange, one transaction, one subscriber with these segments."""
    render_options = {k: options.pop(k) for k in list(options) if k in _RENDER_OPTIONS}
    isa12 = "00501" if version.startswith("005") else "00401"
    return render(interchange(transaction(*person_segments, version=version, **options), version=version),
                  isa12=isa12, **render_options)


_RENDER_OPTIONS = {"element", "repetition", "component", "terminator", "newline", "indent", "bom", "iea"}
