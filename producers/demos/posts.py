"""UserFeed demo: the seed's three posts, then both feeds."""

from __future__ import annotations

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from producers.posts import SEED_DEMO
from schemas.catalogue import topic

TOPIC = topic("social-media-posts")


def run(env: DemoEnv) -> None:
    env.say("UserFeed: posts of one user in order, users in parallel, moderation polled durably")
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [(k, v.model_dump_json().encode()) for k, v in SEED_DEMO])
        env.send(TOPIC.name, [("userid3", b'{"content": 42}')])
        records = env.wait(reader, {TOPIC.results: len(SEED_DEMO), TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    for user in ("userid1", "userid2"):
        env.show(f"POST /UserFeed/{user}/getFeed", env.call(f"/UserFeed/{user}/getFeed"))
