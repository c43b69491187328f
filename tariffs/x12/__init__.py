"""The X12 271 eligibility-response reader: ``read_271(bytes) -> Eligibility271``."""

from tariffs.x12.errors import X12Rejected
from tariffs.x12.reader import Eligibility271, Person271, Unmapped, read_271

__all__ = ["Eligibility271", "Person271", "Unmapped", "X12Rejected", "read_271"]
