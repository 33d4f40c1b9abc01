"""Against a broker with Kafka's stock 6 s floor for group sessions (a managed cluster's),
our 3 s subscription session would never join: librdkafka's JoinGroup is refused, and
restate-server would restart the consumer for ever. The bootstrap reads the floor and fits
the session, and a consumer with the fitted options joins and reads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from switchyard.core.group_sessions import SessionBounds, broker_session_bounds, fitted
from switchyard.core.settings import KafkaSettings
from switchyard.stack.kafka import BrokerSpec, kafka_ready, spawn_broker
from switchyard.stack.ports import free_ports
from switchyard.stack.processes import wait_until

STOCK_FLOOR_MS = 6000


@pytest.fixture(scope="module")
def stock_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, controller = free_ports(2)
    node = BrokerSpec(0, "127.0.0.1", port, controller)
    home: Path = tmp_path_factory.mktemp("stock-broker")
    broker = spawn_broker(home, node, [node.voter], 1,
                          overrides={"group.min.session.timeout.ms": str(STOCK_FLOOR_MS)})
    bootstrap = f"127.0.0.1:{port}"
    try:
        wait_until(broker, f"Kafka at {bootstrap}", lambda: kafka_ready(bootstrap), 60)
        quiet: dict[str, str | int | float | bool] = {"bootstrap.servers": bootstrap, "log_level": "0"}
        admin = AdminClient(quiet)  # kept: a collected client's futures fail
        admin.create_topics([NewTopic("floor", 1, 1)])["floor"].result(30)
        producer = Producer(quiet)
        producer.produce("floor", key=b"k", value=b"v")
        assert producer.flush(30) == 0
        yield bootstrap
    finally:
        broker.stop(15)


def joins(bootstrap: str, group: str, options: dict[str, str], timeout: float = 20.0) -> str:
    """"read" once the consumer reads the record, else the error that stopped it."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": "0", **options})
    try:
        consumer.subscribe(["floor"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is None:
                return "read"
            if error.code() == KafkaError.INVALID_SESSION_TIMEOUT:
                return "invalid session timeout"
        return "nothing within the timeout"
    finally:
        consumer.close()


def test_the_bootstrap_reads_a_brokers_floor(stock_broker: str) -> None:
    assert broker_session_bounds({"bootstrap.servers": stock_broker}) == \
        SessionBounds(STOCK_FLOOR_MS, 1_800_000, read=True)


def test_our_session_is_refused_there_and_the_fitted_one_reads(stock_broker: str) -> None:
    ours = KafkaSettings().subscription_options
    assert joins(stock_broker, "as-configured", ours) == "invalid session timeout"
    options = fitted(ours, broker_session_bounds({"bootstrap.servers": stock_broker}))
    assert options["session.timeout.ms"] == str(STOCK_FLOOR_MS)
    assert joins(stock_broker, "as-fitted", options) == "read"
