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
