"""The job tests' brokers (each broker test runs once per broker that answers)."""

from tests.jobs.conftest import broker_url, embedded_redis

__all__ = ["broker_url", "embedded_redis"]
