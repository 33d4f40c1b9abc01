"""UserFeed through Kafka: per-user order, users in parallel, moderation polled durably."""

from __future__ import annotations

import json

import httpx

from schemas.catalogue import topic
from switchyard.core.admin import RestateAdmin
from tests.integration.kafka_driver import KafkaDriver

TOPIC = topic("social-media-posts")


def post(content: str) -> str:
    return json.dumps({"content": content, "metadata": "public"})


def test_posts_of_one_user_run_in_order_and_other_users_are_not_held_up(
    kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    busy, quiet = f"{unique}-busy", f"{unique}-quiet"
    records = [(busy, post(f"busy {n}")) for n in range(20)] + [(quiet, post("quiet 0"))]
    outcomes = kafka.send(TOPIC, records)
    assert all(o.ok for o in outcomes)

    busy_results = [o for o in outcomes if o.key == busy]
    # One user's records complete in offset order...
    finished = [o.record.offset for o in busy_results]
    assert finished == sorted(finished)
    # ...and the other user's single post, produced last, is not queued behind them.
    quiet_result = next(o for o in outcomes if o.key == quiet)
    assert quiet_result.record.timestamp_ms < busy_results[-1].record.timestamp_ms

    feed = ingress.post(f"/UserFeed/{busy}/getFeed").json()
    assert [e["content"] for e in feed] == [f"busy {n}" for n in range(20)]
    assert {e["status"] for e in feed} == {"DONE"}
    assert [e["postId"] for e in feed] == [o.result["postId"] for o in busy_results]  # type: ignore[index]


def test_moderation_is_polled_with_durable_sleeps(kafka: KafkaDriver, admin: RestateAdmin, unique: str) -> None:
    user = f"{unique}-user"
    outcomes = kafka.send(TOPIC, [(user, post(f"p{n}")) for n in range(8)])
    assert all(o.ok for o in outcomes)
    rows = admin.query(
        "SELECT j.entry_type AS entry, count(*) AS n FROM sys_journal j JOIN sys_invocation i ON j.id = i.id "
        f"WHERE i.target_service_key = '{user}' GROUP BY j.entry_type"
    )
    entries = {r["entry"]: r["n"] for r in rows}
    # With a pending probability of 0.5, eight posts without a single wait has odds 1/256.
    assert any("Sleep" in name for name in entries), entries


def test_a_bad_post_is_dead_lettered_and_the_users_next_post_still_runs(
    kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    user = f"{unique}-user"
    bad = b'{"content": "no metadata"}'
    dead, good = kafka.send(TOPIC, [(user, bad), (user, post("after the bad one"))])
    assert dead.dead_lettered
    assert dead.record.value == bad
    assert "metadata: Field required" in (dead.record.header("error.reason") or "")
    assert good.ok
    assert [e["content"] for e in ingress.post(f"/UserFeed/{user}/getFeed").json()] == ["after the bad one"]
