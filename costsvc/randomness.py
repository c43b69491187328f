"""Random bytes from the operating system's CSPRNG, read many draws at a time.

Estimate ids (their URLs: they must not be guessable) and request ids take their
randomness here.  One ``getrandom`` system call per draw was a measurable part of a
request's cost on a virtual machine; one call per 256 draws is not.
"""

from __future__ import annotations

import collections
import os


class RandomDraws:
    """Draws of ``size`` random bytes each, ``per_read`` of them read at once.

    ``deque.popleft`` is atomic, so threads may draw; a forked child throws away what its
    parent read ahead (it must not hand out the same bytes)."""

    def __init__(self, size: int, per_read: int = 256):
        self.size, self.per_read = size, per_read
        self._ahead: collections.deque[bytes] = collections.deque()
        os.register_at_fork(after_in_child=self._ahead.clear)

    def draw(self) -> bytes:
        try:
            return self._ahead.popleft()
        except IndexError:
            size = self.size
            chunk = os.urandom(size * self.per_read)
            self._ahead.extend(chunk[i:i + size] for i in range(size, len(chunk), size))
            return chunk[:size]
