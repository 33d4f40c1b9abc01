"""The benchmark's own topics: the peers' inputs and results, and `bench-events` variants
with another partition count for the scaling runs.

The catalogue's `bench-events` stays the declaration: every variant is named after it,
carries its records (BenchEvent) to its handler (BenchCounter/add) and reports on its
`-results` topic, which the load generator reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka.admin import AdminClient

from schemas.catalogue import Topic, topic
from switchyard.core.admin import RestateAdmin, kafka_source
from switchyard.core.bootstrap import create_missing
from switchyard.core.catalogue import RESULTS_SUFFIX
from switchyard.settings import Settings

BENCH = topic("bench-events")


def peer_topics(system: str) -> tuple[str, str]:
    """(input, results) of a peer system: `bench-events.<system>` and its `-results`."""
    source = f"{BENCH.name}.{system}"
    return source, f"{source}{RESULTS_SUFFIX}"


def variant_name(partitions: int) -> str:
    return f"{BENCH.name}.p{partitions}"


def create_topics(client: Mapping[str, str], names: list[str], partitions: int) -> None:
    """Creates the topics that are missing (leaders elected before it returns)."""
    create_missing(AdminClient({**client, "log_level": "0"}), names, partitions, 1)


def partitions_of(client: Mapping[str, str], name: str) -> int:
    admin = AdminClient({**client, "log_level": "0"})
    return len(admin.list_topics(name, timeout=10).topics[name].partitions)


def switchyard_topic(settings: Settings, partitions: int) -> str:
    """The input topic to drive BenchCounter/add through with ``partitions`` partitions:
    the catalogue's own when it has that many, else a variant subscribed to the same sink."""
    client = settings.kafka.client_config()
    if partitions_of(client, BENCH.name) == partitions:
        return BENCH.name
    name = variant_name(partitions)
    create_topics(client, [name], partitions)
    subscribe(settings, name, BENCH)
    return name


def subscribe(settings: Settings, name: str, sink: Topic) -> None:
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        source = kafka_source(settings.kafka.cluster_name, name)
        if not any(s["source"] == source for s in admin.subscriptions()):
            admin.create_subscription(source, sink.sink, dict(settings.kafka.subscription_options))
    finally:
        admin.close()
