"""The key gate's consumer group session (KafkaSettings.gate_session_timeout) outlasts a
lost broker's coordinator move where topics are replicated and stays short on one broker;
Restate's subscriptions keep a short one (bench/results/levers/group-session.md)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from schemas.catalogue import topic
from switchyard.core.gate import KeyGate
from switchyard.core.settings import GateSettings, KafkaSettings


def gate(kafka: KafkaSettings, **gate_settings: object) -> KeyGate:
    return KeyGate(kafka, GateSettings.model_validate(gate_settings), "t", [topic("social-media-posts")])


@given(st.integers(min_value=1, max_value=5))
def test_replicated_topics_give_the_gate_a_session_past_a_coordinator_move(replication: int) -> None:
    kafka = KafkaSettings(replication_factor=replication)
    expected = 12_000 if replication > 1 else 6_000
    config = gate(kafka).consumer_config()
    assert int(config["session.timeout.ms"]) == expected
    assert int(config["heartbeat.interval.ms"]) * 3 <= expected  # a few heartbeats per session
    # Restate ends a subscription's consumer on a broker's loss and starts a new member:
    # a short session lets that member in sooner.
    assert kafka.subscription_options["session.timeout.ms"] == "6000"


def test_a_session_set_by_the_user_wins() -> None:
    kafka = KafkaSettings(replication_factor=3)
    assert gate(kafka, session_timeout=timedelta(seconds=20)).consumer_config()["session.timeout.ms"] == "20000"
    assert gate(kafka, session_timeout=3).consumer_config()["session.timeout.ms"] == "3000"


def test_the_gate_debug_setting_turns_librdkafka_debug_on_for_its_clients_only() -> None:
    kafka = KafkaSettings()
    assert gate(kafka).consumer_config()["log_level"] == "3"
    traced = gate(kafka, client_debug="cgrp,eos").consumer_config()
    assert (traced["debug"], traced["log_level"]) == ("cgrp,eos", "7")
    assert "debug" not in kafka.client_config()
