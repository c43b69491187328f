import os
import time
import uuid

from costsvc.services.estimates import time_ordered_uuid


def test_estimate_ids_are_uuid7_in_time_order():
    first = time_ordered_uuid()
    time.sleep(0.002)
    second = time_ordered_uuid()
    assert first.version == second.version == 7
    assert first.variant == second.variant == uuid.RFC_4122
    assert first < second  # a later millisecond sorts later
    millis = first.int >> 80
    assert abs(millis - time.time_ns() // 1_000_000) < 5_000
    assert len({time_ordered_uuid() for _ in range(10_000)}) == 10_000


def test_a_forked_process_does_not_reuse_the_random_bits_its_parent_read_ahead():
    time_ordered_uuid()  # the parent has read ahead: most of a batch is waiting
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids' random bits, to the parent
        os.close(reader)
        os.write(writer, b"".join((time_ordered_uuid().int & (2**62 - 1)).to_bytes(8, "big") for _ in range(50)))
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    child = {data[i:i + 8] for i in range(0, len(data), 8)}
    parent = {(time_ordered_uuid().int & (2**62 - 1)).to_bytes(8, "big") for _ in range(50)}
    assert len(child) == 50
    assert not child & parent
