"""Drives the stack through Kafka as a user would, and reads back what each record caused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.catalogue import Topic
from switchyard.core.catalogue import DLQ_SUFFIX
from switchyard.core.kafka import RecordProducer
from switchyard.core.results import Record, TopicReader, source_of

__all__ = ["KafkaDriver", "Outcome", "Record", "TopicReader", "group_at_end", "group_behind", "group_caught_up",
           "source_of"]


@dataclass(frozen=True)
class Outcome:
    """What became of one produced record: its `-results` record or its `-dlq` record."""

    sent: tuple[str, int, int]  # (topic, partition, offset)
    key: str
    record: Record

    @property
    def dead_lettered(self) -> bool:
        return self.record.topic.endswith(DLQ_SUFFIX)

    @property
    def ok(self) -> bool:
        return not self.dead_lettered and bool(self.record.json()["ok"])

    @property
    def result(self) -> object:
        return self.record.json().get("result")

    @property
    def error(self) -> dict[str, object]:
        return dict(self.record.json().get("error") or {})


class KafkaDriver:
    def __init__(self, client: dict[str, str]) -> None:
        self.client = client

    def send(self, topic: Topic, records: Iterable[tuple[str, bytes | str]], timeout: float = 60.0) -> list[Outcome]:
        """Produces ``records`` in order and waits until every one has a result or DLQ record."""
        with TopicReader(self.client, [topic.results, topic.dlq]) as reader:
            producer = RecordProducer(self.client)
            keys = []
            for key, value in records:
                producer.send(topic.name, key, value.encode() if isinstance(value, str) else value)
                keys.append(key)
            producer.flush()
            sent = list(producer.delivered)
            wanted = set(sent)

            def complete(rs: list[Record]) -> bool:
                return wanted <= {source_of(r) for r in rs}

            got = reader.collect(complete, timeout)
        by_source: dict[tuple[str, int, int], Record] = {}
        for r in got:
            by_source.setdefault(source_of(r), r)
        missing = [s for s in sent if s not in by_source]
        assert not missing, f"no result or DLQ record within {timeout}s for {missing}"
        return [Outcome(s, k, by_source[s]) for s, k in zip(sent, keys, strict=True)]


def group_at_end(client: dict[str, str], group: str, topic_name: str) -> None:
    """Commits ``group``'s offsets at ``topic_name``'s current end, so a subscription made on
    that group reads only what comes next (not a session's earlier records, which may
    include the poison of other tests)."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**client, "log_level": "0"})
    probe = Consumer({**client, "group.id": f"{group}-probe", "log_level": "0"})
    try:
        partitions = admin.list_topics(topic_name, timeout=10).topics[topic_name].partitions
        ends = [TopicPartition(topic_name, p, probe.get_watermark_offsets(TopicPartition(topic_name, p), 10)[1])
                for p in partitions]
    finally:
        probe.close()
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, ends)])[group].result(30)


def group_caught_up(client: dict[str, str], group: str, topic_name: str) -> bool:
    """Whether ``group`` has committed every partition of ``topic_name`` (as many as the topic
    has now, grown ones included) to its end."""
    return not group_behind(client, group, topic_name)


def group_behind(client: dict[str, str], group: str, topic_name: str) -> dict[int, tuple[int, int]]:
    """The partitions of ``topic_name`` that ``group`` has not committed to their end:
    partition -> (committed offset, -1 for none; end offset)."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**client, "log_level": "0"})
    committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(30)
    done = {tp.partition: tp.offset for tp in committed.topic_partitions if tp.topic == topic_name}
    probe = Consumer({**client, "group.id": f"{group}-probe", "log_level": "0"})
    behind: dict[int, tuple[int, int]] = {}
    try:
        for p in admin.list_topics(topic_name, timeout=10).topics[topic_name].partitions:
            _, high = probe.get_watermark_offsets(TopicPartition(topic_name, p), timeout=5)
            if high > 0 and done.get(p, -1) < high:
                behind[p] = (done.get(p, -1), high)
        return behind
    finally:
        probe.close()
