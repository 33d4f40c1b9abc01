"""``private_stack(app)``: an app served and bootstrapped on a real Kafka and Restate.

It starts a Kafka broker and restate-server on free ports in a temporary home (the steps
of `switchyard up`: switchyard/stack/), serves the app there as `switchyard run` does
(granian, the key gate, its own free port), runs the bootstrap, and yields a
``ServedApp``: ``send`` produces a record and returns its outcome from ``-results`` or
``-dlq``, as ``Harness.send`` does in process. Everything stops on exit.

``SWITCHYARD_TEST_STACK=running`` serves the app on the Kafka and Restate that the
environment's settings name (a dev stack, a CI service) instead of starting them; the
app's subscriptions and deployment are removed from it on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from switchyard.app import App
from switchyard.core.bootstrap import BootstrapReport, bootstrap
from switchyard.core.catalogue import Topic
from switchyard.core.envelope import SourceRecord
from switchyard.core.kafka import RecordProducer
from switchyard.core.results import Record, TopicReader, source_of
from switchyard.core.settings import CoreSettings
from switchyard.serving import app_command, app_env, app_settings
from switchyard.testing.harness import Outcome, Produced

STACK_ENV = "SWITCHYARD_TEST_STACK"  # "running": the environment's stack; anything else: a private one
RUNNING = "running"


class ServedApp:
    """An app served on a stack: produce to its topics, read their outcomes."""

    def __init__(self, app: App, settings: CoreSettings, report: BootstrapReport, log: Path) -> None:
        self.app = app
        self.settings = settings
        self.report = report
        self.log = log  # the service's output
        self.client = settings.kafka.client_config()
        self._producer = RecordProducer(self.client)
        # The outcome topics' ends now: every outcome read comes after this.
        self._reader = TopicReader(self.client, app.catalogue().companion_topics())
        self._read: list[Record] = []

    def close(self) -> None:
        self._reader.close()

    def produce(self, topic: str, key: str | bytes, value: Any) -> SourceRecord:
        """One record on ``topic``, acknowledged; where it landed."""
        self._producer.send(self.app.topic(topic).name, key, value)
        self._producer.flush()
        where, partition, offset = self._producer.delivered[-1]
        return SourceRecord(topic=where, partition=partition, offset=offset)

    def outcome(self, source: SourceRecord, timeout: float = 60.0) -> Outcome:
        """The outcome of the input record ``source``: its ``-results`` or ``-dlq`` record."""
        [found] = self.outcomes([source], timeout)
        return found

    def outcomes(self, sources: Sequence[SourceRecord], timeout: float = 60.0) -> list[Outcome]:
        """The outcome of each of ``sources``, in their order (TimeoutError naming the missing ones)."""
        wanted = [(s.topic, s.partition, s.offset) for s in sources]

        def by_source() -> dict[tuple[str, int, int], Record]:
            return {source_of(r): r for r in self._read}

        deadline = time.monotonic() + timeout
        while not all(w in by_source() for w in wanted):
            left = deadline - time.monotonic()
            if left <= 0:
                missing = [w for w in wanted if w not in by_source()]
                raise TimeoutError(f"no outcome within {timeout:.0f}s for {missing} (service log {self.log})")
            self._read += self._reader.collect(lambda got: bool(got), min(left, 1.0))
        found = by_source()
        return [_outcome(self.app.topic(s.topic), found[(s.topic, s.partition, s.offset)], s) for s in sources]

    def send(self, topic: str, key: str | bytes, value: Any, timeout: float = 60.0) -> Outcome:
        """``produce`` and wait for the record's outcome."""
        return self.outcome(self.produce(topic, key, value), timeout)


def _outcome(topic: Topic, record: Record, source: SourceRecord) -> Outcome:
    produced = Produced(record.topic, record.key, record.value or b"", tuple(record.headers), record.partition,
                        record.offset)
    return Outcome(topic, produced, source)


def app_spec(app: App) -> str:
    """The import string of ``app`` (``module:attribute``), for the process that serves it."""
    module = sys.modules.get(app.module)
    names = [name for name, value in vars(module).items() if value is app] if module is not None else []
    if app.module == "__main__" or not names:
        raise ValueError(f"App({app.name!r}) is not a global of an importable module ({app.module}): serve an "
                         f"app declared at module level")
    return f"{app.module}:{'app' if 'app' in names else names[0]}"


@contextlib.contextmanager
def private_stack(app: App, *, home: Path | None = None, start_timeout: float = 120.0,
                  progress: Any = None) -> Iterator[ServedApp]:
    """``app`` served and bootstrapped on a stack of its own (module docstring)."""
    from switchyard.settings import settings_for
    from switchyard.stack.ephemeral import ephemeral_settings, free_ports

    spec = app_spec(app)
    with contextlib.ExitStack() as cleanup:
        if home is None:
            home = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=f"switchyard-{app.name}-")))
        [port] = free_ports(1)
        sections: dict[str, Any] = {"service": {"bind": f"127.0.0.1:{port}"}}
        if os.environ.get(STACK_ENV) != RUNNING:
            from switchyard.stack.containers import docker_available
            from switchyard.stack.stack import Stack

            # The app's own settings class: the examples' (the default app) are not loaded.
            full = ephemeral_settings(home, read_env_file=False, cls=settings_for(app.settings))
            stack = Stack(full, home, progress=progress or (lambda line: None), use_containers=docker_available())
            cleanup.callback(stack.stop)
            stack.start_kafka(1, 2)
            stack.start_restate(2, 2)
            sections = {
                "kafka": {"bootstrap_servers": full.kafka.bootstrap_servers},
                "restate": {"admin_url": str(full.restate.admin_url), "ingress_url": str(full.restate.ingress_url)},
                "service": {"bind": f"127.0.0.1:{port}", "identity_keys": full.service.identity_keys},
            }
            settings = app_settings(app, _env_file=None, **sections)
        else:
            settings = app_settings(app, **sections)
            cleanup.callback(_forget, app, settings)
        log = home / f"{app.name}.log"
        cleanup.callback(_stop, _serve(spec, settings, log, start_timeout))
        served = ServedApp(app, settings, bootstrap(settings, app.catalogue()), log)
        cleanup.callback(served.close)
        yield served


def _serve(spec: str, settings: CoreSettings, log: Path, timeout: float) -> Any:
    import subprocess

    from switchyard.core.poll import tcp_listening

    env = {**os.environ, **app_env(spec, settings),
           "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "SWITCHYARD_RESTATE__ADMIN_URL": str(settings.restate.admin_url),
           "SWITCHYARD_RESTATE__INGRESS_URL": str(settings.restate.ingress_url),
           "SWITCHYARD_SERVICE__IDENTITY_KEYS": json.dumps(settings.service.identity_keys),
           # the test's import path, so the child imports the app as the test did
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with log.open("ab") as out:
        server = subprocess.Popen(app_command(settings), env=env, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    host, port = settings.service.address
    began = time.monotonic()
    while not tcp_listening(host, port):
        if server.poll() is not None or time.monotonic() - began > timeout:
            _stop(server)
            raise RuntimeError(f"{spec} did not come up on {settings.service.bind}:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)
    return server


def _stop(server: Any) -> None:
    import signal
    import subprocess

    if server.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(5)


def _forget(app: App, settings: CoreSettings) -> None:
    """On a stack that stays up: the app's subscriptions and deployments removed, so nothing
    reads its topics once it is gone."""
    from switchyard.core.admin import RestateAdmin, kafka_source
    from switchyard.core.versions import base_of

    admin = RestateAdmin(str(settings.restate.admin_url))
    try:
        sources = {kafka_source(settings.kafka.cluster_name, t.subscribed_topic) for t in app.catalogue().topics}
        for sub in admin.subscriptions():
            if sub["source"] in sources:
                admin.delete_subscription(sub["id"])
        url = str(settings.restate.deployment_url).rstrip("/")
        for deployment in admin.deployments():
            if base_of(str(deployment.get("uri", ""))) == url:
                admin.delete_deployment(str(deployment["id"]))
    finally:
        admin.close()
