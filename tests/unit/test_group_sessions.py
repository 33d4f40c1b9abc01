"""The key gate's consumer group session (KafkaSettings.gate_session_timeout) outlasts a
lost broker's coordinator move where topics are replicated and stays short on one broker;
Restate's subscriptions keep a short one (bench/results/levers/group-session.md,
broker-loss.md), fitted to what the brokers accept, and a session librdkafka would refuse
is refused in the settings, by name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from schemas.catalogue import topic
from switchyard.core.gate import KeyGate
from switchyard.core.group_sessions import SessionBounds, fitted
from switchyard.core.settings import HEARTBEAT, SESSION, GateSettings, KafkaSettings, SettingsError, load
from switchyard.settings import Settings


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
    assert kafka.subscription_options["session.timeout.ms"] == "3000"


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


MS = st.integers(min_value=2, max_value=3_600_000)


@st.composite
def bounds(draw: st.DrawFn) -> SessionBounds:
    low = draw(st.integers(min_value=1, max_value=600_000))
    return SessionBounds(low, draw(st.integers(min_value=low, max_value=3_600_000)), read=True)


def settings_accept(options: dict[str, str]) -> bool:
    try:
        KafkaSettings(subscription_options=options)
    except ValueError:
        return False
    return True


@st.composite
def group_options(draw: st.DrawFn) -> dict[str, str]:
    """Subscription options as the settings accept them: either timing may be missing."""
    options = {"auto.offset.reset": "earliest"}
    session = draw(st.none() | MS)
    if session is not None:
        options[SESSION] = str(session)
    heartbeat = draw(st.none() | st.integers(min_value=1, max_value=(session or 45_000) - 1))
    if heartbeat is not None:
        options[HEARTBEAT] = str(heartbeat)
    assume(settings_accept(options))  # a session under librdkafka's 3 s heartbeat needs its own
    return options


@given(group_options(), bounds())
def test_a_fitted_session_is_one_the_brokers_accept(options: dict[str, str], accepted: SessionBounds) -> None:
    out = fitted(options, accepted)
    session = int(out.get(SESSION, 45_000))  # librdkafka's default where unset
    assert accepted.low <= session <= accepted.high
    assert int(out.get(HEARTBEAT, 3_000)) < session or (session == 1 and out[HEARTBEAT] == "1")
    if accepted.low <= int(options.get(SESSION, 45_000)) <= accepted.high:
        assert out == options  # an accepted session, and everything with it, is left alone
    assert {k: v for k, v in out.items() if k not in (SESSION, HEARTBEAT)} == \
        {k: v for k, v in options.items() if k not in (SESSION, HEARTBEAT)}


def test_our_3s_session_becomes_6s_on_brokers_with_kafkas_defaults() -> None:
    out = fitted(KafkaSettings().subscription_options, SessionBounds())
    assert (out[SESSION], out[HEARTBEAT]) == ("6000", "1000")


@pytest.mark.parametrize(("options", "named"), [
    ('{"session.timeout.ms": "3s"}', "session.timeout.ms"),
    ('{"heartbeat.interval.ms": "-5"}', "heartbeat.interval.ms"),
    ('{"session.timeout.ms": "3000", "heartbeat.interval.ms": "3000"}', "heartbeat.interval.ms"),
    ('{"heartbeat.interval.ms": "50000"}', "heartbeat.interval.ms"),  # librdkafka's session: 45 s
])
def test_a_group_timing_librdkafka_refuses_is_refused_by_name(
    options: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHYARD_KAFKA__SUBSCRIPTION_OPTIONS", options)
    with pytest.raises(SettingsError, match=rf"^SWITCHYARD_KAFKA__SUBSCRIPTION_OPTIONS: .*{named}"):
        load(Settings)
