"""What a demo scene gets: the settings, a producer, the ingress, and a way to wait for results."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from handlers.settings import HandlerSettings
from switchyard.core.kafka import RecordProducer
from switchyard.core.results import Record, TopicReader, source_of


class DemoFailed(RuntimeError):
    pass


@dataclass
class DemoEnv:
    settings: HandlerSettings
    producer: RecordProducer
    http: httpx.Client  # base_url = Restate ingress
    say: Callable[[str], None]
    # Where the local SMTP sink stores mail (the uploads demo shows it); None: not local.
    mail_dir: Path | None = None

    def reader(self, topics: Iterable[str]) -> TopicReader:
        return TopicReader(self.settings.kafka.client_config(), topics)

    def send(self, topic: str, records: Iterable[tuple[str, bytes]]) -> None:
        for key, value in records:
            self.say(f"  produce {topic}  {key}:{value.decode(errors='replace')}")
            self.producer.send(topic, key, value)
        self.producer.flush()

    def ours(self, record: Record) -> bool:
        """Whether a results/DLQ record answers a record this demo produced."""
        return source_of(record) in set(self.producer.delivered)

    def wait(self, reader: TopicReader, expected: dict[str, int], timeout: float = 120.0) -> list[Record]:
        """Records until each topic has its expected count; fails naming what is missing."""

        def counts(records: list[Record]) -> dict[str, int]:
            return {t: sum(1 for r in records if r.topic == t and self.ours(r)) for t in expected}

        records = reader.collect(lambda rs: all(c >= expected[t] for t, c in counts(rs).items()), timeout)
        records = [r for r in records if self.ours(r)]
        got = counts(records)
        short = {t: f"{got[t]}/{n}" for t, n in expected.items() if got[t] < n}
        if short:
            raise DemoFailed(f"within {timeout:.0f}s got only {short}")
        return records

    def call(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        self.say(f"  POST {path}" + (f"  {json.dumps(body)}" if body is not None else ""))
        response = self.http.post(path, json=body, headers=headers)
        if response.status_code >= 400:
            raise DemoFailed(f"POST {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def show(self, label: str, value: Any) -> None:
        text = json.dumps(value, indent=2)
        self.say(f"  {label}:")
        for line in text.splitlines():
            self.say(f"    {line}")


def show_result(env: DemoEnv, record: Record) -> None:
    value = record.json()
    outcome = value.get("result") if value.get("ok") else value.get("error")
    env.say(f"  {record.topic} {record.key_text} @{value['source']['offset']}: "
            f"ok={value['ok']} {json.dumps(outcome)}")


def show_dead_letter(env: DemoEnv, record: Record) -> None:
    env.say(f"  {record.topic} {record.key_text}: {(record.value or b'').decode(errors='replace')!r} "
            f"reason: {record.header('error.reason')}")
