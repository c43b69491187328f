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


def test_request_ids_are_128_random_bits_and_a_fork_draws_its_own():
    from costsvc.api.telemetry import RequestTelemetry

    telemetry = RequestTelemetry(app=None, trusted=())
    scope = {"headers": [(b"x-request-id", b"from-a-client")], "client": ("203.0.113.9", 1)}
    first = telemetry.request_id(scope)  # the parent reads ahead
    assert len(first) == 32 and int(first, 16) >= 0  # a client's id is not taken from an untrusted peer
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        os.write(writer, "".join(telemetry.request_id(scope) for _ in range(50)).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read().decode()
    os.waitpid(pid, 0)
    child = {data[i:i + 32] for i in range(0, len(data), 32)}
    parent = {telemetry.request_id(scope) for _ in range(50)}
    assert len(child) == 50 and len(parent) == 50
    assert not child & parent
