"""The bootstrap is idempotent, and says clearly which component is down."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import CATALOGUE, TOPICS
from switchyard.core.admin import ComponentDown, RestateAdmin, kafka_source
from switchyard.core.bootstrap import await_leaders, bootstrap, subscription_options
from switchyard.core.group_sessions import SessionBounds, broker_session_bounds
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.kafka import GROUP_MIN_SESSION_MS


def test_rerunning_the_bootstrap_changes_nothing(settings: Settings, admin: RestateAdmin) -> None:
    before = sorted((s["id"], s["source"], s["sink"]) for s in admin.subscriptions())
    report = bootstrap(settings, CATALOGUE)
    assert report.topics_created == []
    assert report.cluster == "unchanged"
    assert report.subscriptions_created == []
    assert report.subscriptions_retired == []
    assert sorted((s["id"], s["source"], s["sink"]) for s in admin.subscriptions()) == before
    subscribed = {s["source"].rsplit("/", 1)[-1]: s["sink"] for s in admin.subscriptions()}
    for t in TOPICS:
        if t.subscribed_topic in subscribed:
            assert subscribed[t.subscribed_topic] == t.subscription_sink


def test_every_registered_sink_handler_is_subscribed(admin: RestateAdmin) -> None:
    registered = {f"{s['name']}/{h['name']}" for s in admin.services() for h in s["handlers"]}
    subscribed = {(s["source"].rsplit("/", 1)[-1], s["sink"]) for s in admin.subscriptions()}
    for t in TOPICS:
        if t.target in registered:
            assert f"{t.subscribed_service}/{t.subscribed_handler}" in registered, t.name
            assert (t.subscribed_topic, t.subscription_sink) in subscribed, t.name
    # Object and workflow topics reach Restate through the key gate, never directly: a
    # direct subscription halts on the first non-UTF-8 key (restatedev/restate#4682).
    assert ("social-media-posts-routed", "service://UserFeed/processPost") in subscribed
    assert ("trip-bookings-routed", "service://BookingWorkflowIngest/ingest") in subscribed
    assert not any(source == t.name for t in TOPICS if t.gated for source, _ in subscribed)


def test_subscriptions_get_a_session_the_brokers_accept(settings: Settings, admin: RestateAdmin) -> None:
    """Our brokers take sessions from 2 s, so the 3 s one stands (a broker with Kafka's 6 s
    floor refuses it and Restate's consumer restarts for ever: the unit tests fit it)."""
    bounds = broker_session_bounds(settings.kafka.client_config())
    assert (bounds.low, bounds.read) == (GROUP_MIN_SESSION_MS, True)
    assert subscription_options(settings) == settings.kafka.subscription_options
    for sub in admin.subscriptions():
        assert sub["options"]["session.timeout.ms"] == settings.kafka.subscription_options["session.timeout.ms"]


def test_unreadable_session_bounds_are_kafkas_defaults() -> None:
    (port,) = free_ports(1)
    assert broker_session_bounds({"bootstrap.servers": f"127.0.0.1:{port}"}, timeout=1) == SessionBounds()


def test_restate_down_is_named_with_its_address(settings: Settings) -> None:
    (port,) = free_ports(1)
    down = settings.model_copy(update={"restate": settings.restate.model_copy(
        update={"admin_url": f"http://127.0.0.1:{port}"})})
    with pytest.raises(ComponentDown, match=f"Restate admin API at http://127.0.0.1:{port}"):
        bootstrap(down, CATALOGUE)


def test_kafka_down_is_named_with_its_address(settings: Settings) -> None:
    (port,) = free_ports(1)
    down = settings.model_copy(update={"kafka": settings.kafka.model_copy(
        update={"bootstrap_servers": f"127.0.0.1:{port}"})})
    with pytest.raises(ComponentDown, match=f"Kafka at 127.0.0.1:{port}"):
        bootstrap(down, CATALOGUE)


def test_the_bootstrap_retires_a_stale_subscription_of_a_routed_topic(
    settings: Settings, admin: RestateAdmin
) -> None:
    """An older version's sink on a routed topic (ours alone) would take records meant for
    the catalogue's sink, or halt the subscription once its handler is gone."""
    source = kafka_source(settings.kafka.cluster_name, "machine-commands-routed")
    stale = admin.create_subscription(source, "service://BenchCounter/add", {"auto.offset.reset": "latest"})
    report = bootstrap(settings, CATALOGUE)
    assert "machine-commands-routed -> service://BenchCounter/add" in report.subscriptions_retired
    remaining = {(s["source"], s["sink"]) for s in admin.subscriptions()}
    assert (source, "service://BenchCounter/add") not in remaining
    assert (source, "service://MachineOperator/handleCommand") in remaining
    assert stale["id"] not in {s["id"] for s in admin.subscriptions()}


def test_topics_that_never_get_a_leader_are_named(settings: Settings) -> None:
    """No subscription is made on a topic without leaders: the wait ends in an error."""
    kafka = AdminClient({**settings.kafka.client_config(), "log_level": "0"})
    await_leaders(kafka, [t.name for t in TOPICS], timeout=10)  # the session's topics have theirs
    with pytest.raises(ComponentDown, match=r"Kafka elected no leader within 1s for: never-created-topic$"):
        await_leaders(kafka, [TOPICS[0].name, "never-created-topic"], timeout=1)
