"""A real Kafka broker and restate-server for the whole session, on free ports.

The stack is started by the same steps as `switchyard up` (switchyard.stack), in a temp
home, so a running dev stack is never touched. Durations are shortened by configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from handlers.settings import example_settings
from producers.demos.base import DemoEnv
from switchyard.core.admin import RestateAdmin
from switchyard.core.kafka import RecordProducer
from switchyard.stack.containers import docker_available
from switchyard.stack.ephemeral import ephemeral_settings
from switchyard.stack.stack import Stack
from tests.integration.kafka_driver import KafkaDriver


def test_settings(home: Path) -> Settings:
    """The private stack of ephemeral_settings (free ports, paths under ``home``), with
    durations shortened for the tests."""
    return example_settings(ephemeral_settings(
        home,
        read_env_file=False,
        kafka={"topic_partitions": 2},
        # retries that end in seconds; a poison key per flow for the retry tests
        retries={"max_attempts": 3, "initial_interval": 0.05, "max_interval": 0.2,
                 "poison_keys": ["poison-pkg", "poison-user", "poison-trip"]},
        # A retry horizon of seconds (20 attempts, backoff up to 0.5 s: about 9 s), so the outage tests
        # see invocations pause (test_outage.py).
        stack={"restate_env": {"RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": "50ms",
                               "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "500ms",
                               "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "20"}},
        feed={"moderation_poll_interval": 0.05, "moderation_pending_probability": 0.5},
        packages={"max_locations": 50},  # test_packages.py goes past it
        # issue 3 examples
        booking={},
        machines={"transition_duration": 0.2, "crash_probability": 0.3},
        payments={"expiry": 3},
        deposits={"limit_restore_after": 3},
        # issue 4 examples
        tasks={"task_duration": 0.05},
        fanout={"subtask_min_duration": 0.2, "subtask_max_duration": 1.0},
        uploads={"upload_duration": 3, "fast_upload_duration": 0.2, "sync_timeout": 1.5},
        provider={
            "delayed_status_after": 0.5,
            # held webhooks (test_signals.py) are released within seconds; one never released
            # is looked up after this long
            "webhook_timeout": 10,
        },
        # issue 5 stream workers
        streams={"windows": [2, 10], "velocity_window": 5},
    ))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_secrets.py judges the logs and topics the whole session wrote: it runs last
    (a stable sort, so every other test keeps its order)."""
    items.sort(key=lambda item: item.path.name == "test_secrets.py")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("stack")
    # testcontainers when a Docker engine answers; the native processes otherwise.
    with Stack(test_settings(home), home, progress=lambda line: print(line, flush=True),
               use_containers=docker_available()) as running:
        yield running


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    return example_settings(stack.settings)


@pytest.fixture(scope="session")
def kafka(settings: Settings) -> KafkaDriver:
    return KafkaDriver(settings.kafka.client_config())


@pytest.fixture(scope="session")
def ingress(settings: Settings) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=settings.restate.ingress_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def admin(settings: Settings) -> Iterator[RestateAdmin]:
    client = RestateAdmin(settings.restate.admin_url)
    yield client
    client.close()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A key prefix of this test's own, so tests never share objects."""
    import uuid

    return f"{request.node.name[:30]}-{uuid.uuid4().hex[:6]}"


SceneOutput = Callable[[Callable[[DemoEnv], None]], str]


@pytest.fixture
def scene_output(stack: Stack, settings: Settings, ingress: httpx.Client) -> SceneOutput:
    """Runs a demo scene against the session stack and returns what it printed."""
    def run(scene: Callable[[DemoEnv], None]) -> str:
        lines: list[str] = []
        scene(DemoEnv(settings, RecordProducer(settings.kafka.client_config()), ingress, lines.append,
                      stack.home / "mail"))
        return "\n".join(lines)

    return run
