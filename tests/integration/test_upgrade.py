"""A deploy never breaks work in flight (issue 25): posts sleep between moderation polls
while a changed version (a new `ctx.run` step at the top of processPost, the change that
once gave every sleeping post a journal mismatch) is rolled out beside the old one. Every
post ends DONE with one outcome, none meets the other version's code, and the old version
is retired once drained. A private stack: the upgrade moves the service to a new port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from handlers.settings import example_settings
from schemas.catalogue import CATALOGUE, topic
from switchyard.core.admin import RestateAdmin
from switchyard.core.bootstrap import bootstrap
from switchyard.core.kafka import RecordProducer
from switchyard.core.results import TopicReader
from switchyard.core.versions import version_of
from switchyard.ops.upgrade import UpgradeRefused, journal_mismatches
from switchyard.stack.ephemeral import ephemeral_settings
from switchyard.stack.stack import Stack, settings_env
from tests.integration.kafka_driver import source_of

POSTS = topic("social-media-posts")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("upgrade")
    settings = ephemeral_settings(
        home, read_env_file=False, kafka={"topic_partitions": 2},
        # Posts sleep 3 s between polls, most of them more than once.
        feed={"moderation_poll_interval": 3, "moderation_pending_probability": 0.7},
        service={"version": "v1"}, streams={"enabled": False},
    )
    with Stack(settings, home, progress=lambda line: print(line, flush=True)) as running:
        yield running


def asleep_now(admin: RestateAdmin) -> int:
    """Posts between moderation polls: started (pinned to a deployment) and not done. A
    sleeping invocation shows as running until Restate suspends it (inactivity timeout)."""
    rows = admin.query("SELECT count(*) AS n FROM sys_invocation WHERE target_service_name = 'UserFeed' "
                       "AND status != 'completed' AND pinned_deployment_id IS NOT NULL AND journal_size > 3")
    return int(rows[0]["n"]) if rows else 0


def post(n: int) -> bytes:
    return json.dumps({"content": f"post {n}", "metadata": "upgrade drill"}).encode()


def post_until_asleep(producer: RecordProducer, admin: RestateAdmin, users: list[str], at_least: int = 3,
                      timeout: float = 30.0) -> int:
    """A post per user, then posts from new users until ``at_least`` are asleep between
    moderation polls: a post's first poll is a coin toss, and with a fixed count every post
    finishing at once (a few percent of runs) left the drill with nothing to drain."""
    for n, user in enumerate(users):
        producer.send(POSTS.name, user, post(n))
    producer.flush()
    deadline, asleep, extra = time.monotonic() + timeout, 0, 0
    while time.monotonic() < deadline:
        asleep = max(asleep, asleep_now(admin))
        if asleep >= at_least:
            break
        producer.send(POSTS.name, f"{users[0]}-more-{extra}", post(1000 + extra))
        producer.flush()
        extra += 1
        time.sleep(0.5)
    return asleep


class PostingThrough:
    """Posts keep coming, one every ``every`` seconds, across a roll-out and up to its
    switch however long it takes (a context manager: out of it once the upgrade returned). Each from a user
    of its own: a post behind a sleeping one of its user waits in the inbox, pinned to no
    version, so posts from the drill's users could all wait while every sleeping post
    ended (a CI run drained nothing: "in_flight_at_switch=0"). A fresh user's post starts
    at once and mostly sleeps, so the old version has work at the switch."""

    def __init__(self, producer: RecordProducer, prefix: str, every: float = 0.5, at_most: int = 400) -> None:
        self.producer, self.prefix, self.every, self.at_most = producer, prefix, every, at_most
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.done.is_set() and n < self.at_most:
            self.producer.send(POSTS.name, f"{self.prefix}-{n}", post(100 + n))
            n += 1
            self.done.wait(self.every)

    def __enter__(self) -> PostingThrough:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()


def test_a_changed_version_rolls_out_while_posts_sleep(stack: Stack) -> None:
    settings: Settings = example_settings(stack.settings)
    admin = RestateAdmin(settings.restate.admin_url)
    client = settings.kafka.client_config()
    producer = RecordProducer(client)
    users = [f"user-{n}" for n in range(8)]
    with TopicReader(client, [POSTS.results, POSTS.dlq]) as reader:
        asleep = post_until_asleep(producer, admin, users)  # posts asleep between polls
        assert asleep >= 3, f"only {asleep} posts asleep: the drill needs sleeping work"

        def changed(new: Settings) -> None:
            new.service.version = "v2"
            new.feed.audit_step = True

        # More posts keep coming during the roll-out: to the old version, then the new.
        with PostingThrough(producer, "upgrade-during"):
            report = stack.upgrade(changed, drain_timeout=120)
        producer.flush()
        sent = producer.delivered
        got = reader.collect(lambda rs: {source_of(r) for r in rs} >= set(sent), timeout=120)
        got += reader.collect(lambda rs: False, 1.0)

    by_source: dict[tuple[str, int, int], list[object]] = {}
    for r in got:
        by_source.setdefault(source_of(r), []).append(r)
    assert {s: len(by_source.get(s, [])) for s in sent} == dict.fromkeys(sent, 1)  # one outcome each
    assert all(r.topic == POSTS.results and r.json()["result"]["status"] == "DONE" for r in got), \
        [r.value for r in got if r.topic != POSTS.results][:3]
    assert report.in_flight_at_switch >= 1  # the old version had work to drain
    # Nothing met the other version's code: no journal mismatch (RT0016, "[570 Journal mismatch]").
    assert journal_mismatches(admin) == []
    # The old version is retired: one deployment, the new one, and its process serves it.
    [deployment] = admin.deployments()
    assert version_of(str(deployment["uri"])) == "v2"
    assert httpx.get(f"{stack.settings.restate.deployment_url}/version").json() == {"version": "v2"}
    assert [n for n in stack.components if n.startswith("service")] == [f"service-{stack.settings.service.address[1]}"]
    # The new version's step ran: its processes logged the audit.
    assert "Auditing a post" in (stack.home / "run" / f"service-{stack.settings.service.address[1]}.log").read_text()
    admin.close()


def test_the_same_version_again_is_refused_and_changes_nothing(stack: Stack) -> None:
    before = [str(d["id"]) for d in RestateAdmin(stack.settings.restate.admin_url).deployments()]
    with pytest.raises(UpgradeRefused, match="nothing to roll out"):
        stack.upgrade(lambda new: setattr(new.service, "version", "v2"))
    assert [str(d["id"]) for d in RestateAdmin(stack.settings.restate.admin_url).deployments()] == before
    assert len([n for n in stack.components if n.startswith("service")]) == 1


def test_bootstrap_registers_a_version_beside_the_others_never_over_them(stack: Stack) -> None:
    """The bootstrap registers the running version at its own path and leaves a version
    with invocations in flight registered (reported as draining)."""
    report = bootstrap(stack.settings, CATALOGUE)
    assert report.version == "v2"
    assert report.deployment.endswith("/v/v2")
    assert any(line.startswith("deployment: version v2") for line in report.lines())


def test_switchyard_upgrade_rolls_the_dev_stack_and_status_shows_it(stack: Stack) -> None:
    """The command a user runs (on a stack started by `switchyard up`: processes known by
    their pid files), then `switchyard status` lists the deployments."""
    env = {**os.environ, **settings_env(stack.settings)}
    cli = [str(Path(sys.executable).parent / "switchyard")]
    done = subprocess.run([*cli, "upgrade", "--version", "v3", "--drain-timeout", "60"], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "version v3 registered at" in done.stdout
    assert "retired: v2" in done.stdout
    status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True, timeout=60, check=False)
    deployments = [line for line in status.stdout.splitlines() if line.startswith("dp_")]
    assert len(deployments) == 1, status.stdout
    assert " v3 " in deployments[0]
    assert "current" in deployments[0]
    # Records still flow, on the new version.
    client = stack.settings.kafka.client_config()
    with TopicReader(client, [POSTS.results]) as reader:
        producer = RecordProducer(client)
        producer.send(POSTS.name, "after-v3", post(999))
        producer.flush()
        [sent] = producer.delivered
        got = reader.collect(lambda rs: any(source_of(r) == sent for r in rs), timeout=60)
    assert any(source_of(r) == sent and r.json()["ok"] for r in got)
