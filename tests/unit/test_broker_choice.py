"""Which brokers the job tests use (tests/jobs/support.py)."""

from __future__ import annotations

from tests.jobs.support import EMBEDDED, choose_brokers

DEFAULTS = "redis://127.0.0.1:6379/13,amqp://guest:guest@127.0.0.1:5672//"


def test_configured_brokers_are_used_as_given_even_if_down():
    assert choose_brokers("redis://h:1/0, amqp://h:2//", DEFAULTS, lambda u: "down") == ["redis://h:1/0",
                                                                                         "amqp://h:2//"]


def test_unset_uses_the_local_brokers_that_answer():
    assert choose_brokers(None, DEFAULTS, lambda u: None) == DEFAULTS.split(",")
    assert choose_brokers("", DEFAULTS, lambda u: None if u.startswith("amqp") else "refused") == [
        "amqp://guest:guest@127.0.0.1:5672//"]


def test_a_machine_with_no_broker_gets_the_embedded_redis():
    assert choose_brokers(None, DEFAULTS, lambda u: "refused") == [EMBEDDED]
