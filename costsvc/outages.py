"""Outage reporting: what an operator reads when a dependency fails.

A request that fails because the database or the broker is away is not a bug: it
gets a 503 (or an estimate that is not stored), not a traceback.  Per dependency the
log carries one line when it starts failing, one summary line per interval while it
is still failing (with the number of failures in that interval), and one line when
it is back (how long it was away, how many failures in all).  A dependency with a
``probe`` is checked once per interval while failing, so that its recovery is noticed
even when no request happens to succeed.

The lines are plain messages with ``extra=`` fields (``dependency``, ``failures``,
``error``, ``down_seconds``) for a structured formatter; they never carry a request's
data, only the exception's type and message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]


def describe(exc: BaseException) -> str:
    """The exception's type and first line: enough to tell a refusal from a timeout."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class Dependency:
    """The failing-or-not state of one dependency (``database``, ``broker``)."""

    def __init__(self, name: str, *, interval: float, probe: Probe | None = None, probe_timeout: float = 5.0):
        self.name = name
        self.interval = interval
        self.probe = probe
        self.probe_timeout = probe_timeout
        self.failing = False
        self.failures = 0  # in the current outage
        self._since = 0.0
        self._in_interval = 0
        self._interval_start = 0.0
        self._watch: asyncio.Task[None] | None = None

    def failed(self, exc: BaseException | None = None) -> None:
        """One request (or a background reconnect) failed because of this dependency.
        Without ``exc`` it only counts towards an outage already reported (a caller that
        knows the dependency is down without trying it again)."""
        if exc is None and not self.failing:
            return
        self.failures += 1
        self._in_interval += 1
        if self.failing:
            return
        self.failing, self._since = True, time.monotonic()
        self._interval_start = self._since
        self.failures = self._in_interval = 1
        error = describe(exc) if exc is not None else "unknown"
        log.warning("%s unavailable (%s); requests that need it are answered 503 until it is back",
                    self.name, error, extra={"dependency": self.name, "error": error, "outage": "start"})
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # reported from a thread: no summaries, recovery by ok()
            return
        self._watch = loop.create_task(self._watch_outage(), name=f"outage-{self.name}")

    def ok(self) -> None:
        """The dependency answered: if it was failing, the outage is over."""
        if not self.failing:
            return
        self.failing = False
        down = time.monotonic() - self._since
        log.warning("%s available again after %.1f s (%d failures)", self.name, down, self.failures,
                    extra={"dependency": self.name, "failures": self.failures, "down_seconds": round(down, 1),
                           "outage": "end"})
        watch, self._watch = self._watch, None
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()

    async def _watch_outage(self) -> None:
        while self.failing:
            await asyncio.sleep(self.interval)
            if not self.failing:
                return
            if self.probe is not None:
                try:
                    await asyncio.wait_for(self.probe(), self.probe_timeout)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - still down: the summary says so
                    pass
                else:
                    self.ok()
                    return
            now = time.monotonic()
            count, self._in_interval = self._in_interval, 0
            seconds, self._interval_start = now - self._interval_start, now
            log.warning("%s still unavailable: %d failures in the last %.1f s", self.name, count, seconds,
                        extra={"dependency": self.name, "failures": count, "outage": "ongoing"})

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None


class Outages:
    """The dependencies of one process, by name."""

    def __init__(self, interval: float = 10.0):
        self.interval = interval
        self._deps: dict[str, Dependency] = {}

    def __getitem__(self, name: str) -> Dependency:
        dep = self._deps.get(name)
        if dep is None:
            dep = self._deps[name] = Dependency(name, interval=self.interval)
        return dep

    def watch(self, name: str, probe: Probe, probe_timeout: float = 5.0) -> Dependency:
        dep = self[name]
        dep.probe, dep.probe_timeout = probe, probe_timeout
        return dep

    def close(self) -> None:
        for dep in self._deps.values():
            dep.close()
