"""costsvc.staging.loaders.read_ahead: a producer thread running ahead of an async consumer."""

from __future__ import annotations

import gc
import threading

import pytest

from costsvc.staging.loaders import read_ahead
from tariffs.tabular import bulk as tabular


async def test_items_arrive_in_order_from_another_thread():
    threads = set()

    def items():
        for i in range(50):
            threads.add(threading.get_ident())
            yield i

    got = [x async for x in read_ahead(items(), 3)]
    assert got == list(range(50))
    assert threads and threading.get_ident() not in threads


async def test_an_exception_from_the_items_is_raised_to_the_consumer_after_what_came_before():
    def items():
        yield 1
        yield 2
        raise ValueError("bad row on line 5,000,001")

    got = []
    with pytest.raises(ValueError, match="5,000,001"):
        async for x in read_ahead(items(), 1):
            got.append(x)
    assert got == [1, 2]


async def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_generator(monkeypatch):
    monkeypatch.setattr(tabular, "_allowed", True)  # as in a worker process, which lets bulk() suspend the GC
    produced = []
    closed = threading.Event()

    def items():
        try:
            with tabular.bulk():  # the collector is off while a file is parsed...
                for i in range(1000):
                    produced.append(i)
                    yield i
        finally:
            closed.set()

    assert gc.isenabled()
    stream = read_ahead(items(), 2)
    async for x in stream:
        if x == 3:
            break
    await stream.aclose()
    assert closed.is_set()
    assert gc.isenabled()  # ...and back on once the abandoned generator is closed
    assert len(produced) < 20  # it stopped within the queue's depth


def test_a_consumer_cancelled_while_waiting_lets_the_event_loop_shut_down():
    import asyncio
    import time

    def slow_items():
        yield 1
        time.sleep(1)  # the consumer is cancelled while it waits for this one
        yield 2

    async def consume():
        async for _ in read_ahead(slow_items(), 1):
            pass

    async def main():
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    finished = threading.Event()

    def run():
        asyncio.run(main())  # shuts the default executor down: waits for every thread
        finished.set()

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    assert finished.wait(10), "asyncio.run() did not return: a thread of the stream was left blocked"
