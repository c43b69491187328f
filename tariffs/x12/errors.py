"""The one exception the 271 reader raises."""

from __future__ import annotations


class X12Rejected(Exception):
    """A body the service must answer with a 422: it names the segment by its 1-based
    position in the interchange and its id, and never carries PHI (the message is built
    only from segment ids, positions, codes and counts)."""

    def __init__(
        self,
        message: str,
        segment_index: int | None = None,
        segment_id: str | None = None,
        reject_code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.segment_index = segment_index
        self.segment_id = segment_id
        self.reject_code = reject_code

    def __repr__(self) -> str:
        return f"X12Rejected({self.message!r}, segment_index={self.segment_index!r}, segment_id={self.segment_id!r})"
