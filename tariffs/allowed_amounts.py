"""CMS Transparency in Coverage **allowed amounts** files → reference rates.

An allowed-amounts file lists, per billing code (``out_of_network[]``), the amounts
the payer allowed for out-of-network claims: ``allowed_amounts[].payments[]
.allowed_amount`` (one entry per distinct amount, per TIN and billing class).  The
reference rate of a code for the payer is the **median** of all those
``allowed_amount`` values across every ``out_of_network`` item and every
``allowed_amounts`` entry of that code — a plain median of the listed values, not
weighted by the number of providers or claims behind each value (the file gives no
claim counts) — rounded half-up to the cent.

Streaming: ijson (C backend) event by event, like ``tariffs.tic``; the ``providers``
arrays (billed charges and NPIs) are skipped without being built.  Memory is
proportional to the number of distinct kept codes × their payment amounts (the
amounts must all be known to take a median); with a ``billing_codes`` filter only the
behavioral codes are kept.

Errors: not JSON / truncated / not an object with an ``out_of_network`` array →
:class:`FileRejected` with the byte position.  For kept codes, a non-numeric or
negative ``allowed_amount`` or a missing ``billing_code`` is a :class:`RowError`
(column = JSON path, line None).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from costsvc.domain.money import CENT
from tariffs.records import ReferenceRateRecord
from tariffs.sources import describe_event, skip_value, to_decimal
from tariffs.tic_json import Events, TicJsonReader

__all__ = ["AllowedAmountsReader", "iter_allowed_amounts", "median_half_up"]


def median_half_up(values: list[Decimal]) -> Decimal:
    """Median (mean of the two middle values for an even count), rounded half-up to the cent."""
    if not values:
        raise ValueError("median of no values")
    s = sorted(values)
    n = len(s)
    mid = n // 2
    m = s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2
    return m.quantize(CENT, rounding=ROUND_HALF_UP)


class AllowedAmountsReader(TicJsonReader):
    """Iterate for one :class:`ReferenceRateRecord` per kept billing code (after the
    whole file has been read); then ``.errors``, ``.rows_read`` (out_of_network items),
    ``.stats``."""

    kind = "TiC allowed-amounts"

    def __init__(
        self,
        path: str,
        *,
        payer_id: str,
        billing_codes: frozenset[str] | None = None,
        display_name: str | None = None,
    ):
        super().__init__(path, payer_id=payer_id, billing_codes=billing_codes, display_name=display_name)
        self._reset()

    def _reset(self) -> None:
        self._reset_counts()
        self.last_updated_on: str | None = None
        self.amounts: dict[str, list[Decimal]] = defaultdict(list)

    def __iter__(self) -> Iterator[ReferenceRateRecord]:
        self._reset()
        with self._events() as (reader, it):
            seen = False
            for key, ev, val in self._members(it):
                if key == "out_of_network":
                    self._require_array(reader, ev, "out_of_network")
                    seen = True
                    for i in self._objects(it, "out_of_network"):
                        self._item(it, i)
                elif key == "last_updated_on" and ev == "string":
                    self.last_updated_on = val  # type: ignore[assignment]
                else:
                    skip_value(it, ev)
            if not seen:
                raise self._reject(
                    "not a TiC allowed-amounts file: there is no out_of_network array", column="out_of_network"
                )
        for code in sorted(self.amounts):
            values = self.amounts[code]
            if values:
                self.stats["codes"] += 1
                yield ReferenceRateRecord(
                    payer_id=self.payer_id, billing_code=code, amount=median_half_up(values)
                )

    def _item(self, it: Events, i: int) -> None:
        code: object = None
        code_type: object = None
        has_code = False
        found: list[tuple[str, object, Decimal | None]] = []  # (path, raw, value)
        for ev, key in it:
            if ev == "end_map":
                break
            ev, val = next(it)
            if key == "billing_code" and ev in ("string", "number"):
                code, has_code = val, True
            elif key == "billing_code_type" and ev == "string":
                code_type = val
            elif key == "allowed_amounts" and ev == "start_array":
                if has_code and code_type is not None and self._code_kept(code, code_type) is None:
                    self.stats["items_skipped"] += 1
                    skip_value(it, ev)
                    continue
                self._allowed_amounts(it, i, found)
            else:
                skip_value(it, ev)
        if not found:
            return
        if not has_code:
            self._error(
                f"out_of_network[{i}].billing_code", "missing billing_code; expected a string such as '90837'"
            )
            return
        kept = self._code_kept(code, code_type)
        if kept is None:
            self.stats["items_skipped"] += 1
            return
        self.stats["items_kept"] += 1
        bucket = self.amounts[kept]
        for path, raw, value in found:
            if raw is None:
                self._error(path, "allowed_amount is missing or null; expected a number >= 0")
            elif value is None:
                self._error(path, f"allowed_amount {raw!r} is not a number; expected a number >= 0")
            elif value < 0:
                self._error(path, f"allowed_amount {raw} is negative; expected a number >= 0")
            else:
                bucket.append(value)
                self.stats["payments"] += 1

    def _allowed_amounts(self, it, i: int, found: list) -> None:
        j = -1
        for ev, _ in it:
            if ev == "end_array":
                return
            j += 1
            if ev != "start_map":
                skip_value(it, ev)
                continue
            for ev2, key in it:
                if ev2 == "end_map":
                    break
                ev3, _v = next(it)
                if key == "payments" and ev3 == "start_array":
                    k = -1
                    for ev4, _w in it:
                        if ev4 == "end_array":
                            break
                        k += 1
                        if ev4 != "start_map":
                            skip_value(it, ev4)
                            continue
                        path = f"out_of_network[{i}].allowed_amounts[{j}].payments[{k}].allowed_amount"
                        amount_seen = False
                        for ev5, key5 in it:
                            if ev5 == "end_map":
                                break
                            ev6, v6 = next(it)
                            if key5 == "allowed_amount":
                                amount_seen = True
                                if ev6 == "start_map" or ev6 == "start_array":
                                    skip_value(it, ev6)
                                    found.append((path, describe_event(ev6), None))
                                else:
                                    found.append((path, v6, to_decimal(v6)))
                            else:
                                skip_value(it, ev6)
                        if not amount_seen:
                            found.append((path, None, None))
                else:
                    skip_value(it, ev3)


def iter_allowed_amounts(
    path: str,
    *,
    payer_id: str,
    billing_codes: frozenset[str] | None = None,
    display_name: str | None = None,
) -> AllowedAmountsReader:
    """Reference rates (median allowed amount per code) of a TiC allowed-amounts file.

    ``billing_codes``: keep only these codes (our form); None keeps every code."""
    return AllowedAmountsReader(
        path, payer_id=payer_id, billing_codes=billing_codes, display_name=display_name
    )
