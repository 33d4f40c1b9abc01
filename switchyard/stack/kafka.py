"""A real Apache Kafka broker in KRaft mode, from Maven Central jars, run with `java`."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient

from switchyard.stack.class_archive import archive_for, keep, sharing_flags, training_flags
from switchyard.stack.paths import KAFKA_LIBS, KAFKA_POM
from switchyard.stack.ports import free_ports
from switchyard.stack.processes import Managed, StartupError, spawn, wait_until
from switchyard.stack.quorum import active_controller

LOG4J2 = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaServer
        level: INFO
      - name: kafka.server.BrokerServer
        level: INFO
"""

# Logging for the command-line tools: WARN and above, on stderr.
TOOLS_LOG4J2 = KAFKA_POM.with_name("tools-log4j2.yaml")
# The shortest consumer-group session our brokers accept (Kafka's: 6 s), below the 3 s of
# Restate's subscriptions; another cluster's brokers make the bootstrap lengthen those.
GROUP_MIN_SESSION_MS = 2000
POM_STAMP = ".pom-sha256"  # in the libs directory: the hash of the pom its jars were fetched for


def ensure_jars(libs: Path = KAFKA_LIBS) -> Path:
    """Fetches the broker's and tools' jars with Maven once per version of the pom; later calls reuse them."""
    pom_hash = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()
    stamp = libs / POM_STAMP
    if any(libs.glob("kafka_2.13-*.jar")) and stamp.is_file() and stamp.read_text().strip() == pom_hash:
        return libs
    # Into a fresh directory, swapped in whole: no stale jars of an older pom left on the classpath.
    fresh = libs.with_name(f"{libs.name}.fetching")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    cmd = [
        "mvn", "-q", "-B", "-f", str(KAFKA_POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={fresh}", "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not any(fresh.glob("kafka_2.13-*.jar")):
        raise StartupError(f"fetching Kafka jars from Maven Central failed:\n{result.stdout}{result.stderr}")
    (fresh / POM_STAMP).write_text(pom_hash + "\n")
    shutil.rmtree(libs, ignore_errors=True)
    fresh.rename(libs)
    return libs


def install_console_producer(bin_dir: Path, libs: Path = KAFKA_LIBS) -> Path:
    """Writes `kafka-console-producer` into bin_dir: Apache Kafka's own ConsoleProducer, run from `libs`."""
    libs, log4j = libs.resolve(), TOOLS_LOG4J2.resolve()
    script = f"""\
#!/usr/bin/env bash
# Apache Kafka's kafka-console-producer (org.apache.kafka.tools.ConsoleProducer, the broker's version),
# run from the jars `switchyard fetch` put in {libs}. Written by `switchyard fetch`.
set -euo pipefail
jars=({shlex.quote(str(libs))}/kafka-tools-*.jar)
if [[ ! -e ${{jars[0]}} ]]; then
  echo "kafka-console-producer: no ${{jars[0]}}; run 'switchyard fetch'" >&2
  exit 1
fi
# KAFKA_HEAP_OPTS and KAFKA_OPTS as Kafka's own scripts take them (word-split on purpose).
# shellcheck disable=SC2086
exec java ${{KAFKA_HEAP_OPTS:--Xmx512M}} ${{KAFKA_OPTS:-}} \\
  -Dlog4j2.configurationFile={shlex.quote(str(log4j))} \\
  -cp {shlex.quote(f"{libs}/*")} org.apache.kafka.tools.ConsoleProducer "$@"
"""
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / "kafka-console-producer"
    tmp = bin_dir / ".kafka-console-producer.tmp"
    tmp.write_text(script)
    tmp.chmod(0o755)
    os.replace(tmp, target)  # replaces a previous script or symlink itself, never what a symlink points to
    return target


@dataclass(frozen=True)
class BrokerSpec:
    """One KRaft node (broker and controller): its id, client and controller addresses."""

    node_id: int
    host: str
    port: int
    controller_port: int

    @property
    def name(self) -> str:
        return "kafka" if self.node_id == 0 else f"kafka-{self.node_id}"

    @property
    def voter(self) -> str:
        return f"{max(self.node_id, 1)}@{self.host}:{self.controller_port}"


def server_properties(data_dir: Path, node: BrokerSpec, voters: list[str], partitions: int) -> str:
    """A combined broker+controller; with three or more voters, internal topics are kept on
    three brokers and need two in sync, as a production cluster's would."""
    replicas = min(3, len(voters))
    min_isr = 2 if replicas >= 3 else 1
    return "\n".join([
        "process.roles=broker,controller",
        f"node.id={max(node.node_id, 1)}",
        f"controller.quorum.voters={','.join(voters)}",
        f"listeners=PLAINTEXT://{node.host}:{node.port},CONTROLLER://{node.host}:{node.controller_port}",
        f"advertised.listeners=PLAINTEXT://{node.host}:{node.port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data_dir / 'logs'}",
        f"num.partitions={partitions}",
        f"default.replication.factor={replicas}",
        f"min.insync.replicas={min_isr}",
        f"offsets.topic.replication.factor={replicas}",
        "offsets.topic.num.partitions=4",
        f"transaction.state.log.replication.factor={replicas}",
        f"transaction.state.log.min.isr={min_isr}",
        "group.initial.rebalance.delay.ms=0",
        # Restate's subscription consumers keep a 3 s group session (kafka.subscription_options;
        # Kafka's floor is 6 s): one restarted after a broker's loss gets its partitions once
        # its old member's session ends (bench/results/levers/broker-loss.md).
        f"group.min.session.timeout.ms={GROUP_MIN_SESSION_MS}",
        "auto.create.topics.enable=false",
        # In a cluster a dead broker is fenced after 1.5 s (Kafka: 9 s). Until then every acks=all
        # write to a partition it follows waits, its partitions and group coordinators stay
        # on it, and Restate restarts its consumers on each refused connection.
        *(["broker.session.timeout.ms=1500", "broker.heartbeat.interval.ms=250"] if len(voters) > 1 else []),
        "",
    ])


def spawn_broker(home: Path, node: BrokerSpec, voters: list[str], partitions: int,
                 overrides: Mapping[str, str] | None = None, format_args: Sequence[str] = (),
                 jvm: Sequence[str] | None = None) -> Managed:
    """Formats the node's KRaft storage on its first start (all nodes of a cluster share one
    cluster id, kept in home) and starts it; does not wait: a quorum needs its peers up.
    ``overrides`` replace or add server.properties lines and ``format_args`` go to the
    format (the secured broker's: switchyard/stack/secure.py). ``jvm``: extra JVM flags
    (default: the class archive's, once trained)."""
    libs = ensure_jars()
    data = home / node.name
    data.mkdir(parents=True, exist_ok=True)
    props = data / "server.properties"
    text = server_properties(data, node, voters, partitions)
    if overrides:
        lines = dict(line.split("=", 1) for line in text.splitlines() if line)
        text = "".join(f"{k}={v}\n" for k, v in {**lines, **overrides}.items())
    props.write_text(text)
    props.chmod(0o600)  # a secured broker's holds its own password
    log4j = data / "log4j2.yaml"
    log4j.write_text(LOG4J2)
    heap = "-Xmx768m" if len(voters) == 1 else "-Xmx512m"
    flags = sharing_flags(libs) if jvm is None else list(jvm)
    java = ["java", "-Xms128m", heap, *flags, f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*"]
    if not (data / "logs" / "meta.properties").exists():
        fmt = subprocess.run(
            [*java, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id(home)}", "-c", str(props),
             *format_args],
            capture_output=True, text=True, check=False,
        )
        if fmt.returncode != 0:
            raise StartupError(f"formatting Kafka storage in {data} failed:\n{fmt.stdout}{fmt.stderr}")
    return spawn(node.name, [*java, "kafka.Kafka", str(props)], home / "run")


def train_class_archive(libs: Path, timeout: float = 120.0) -> Path | None:
    """The broker's class archive (switchyard/stack/class_archive.py), trained if missing: a
    throwaway broker run to readiness, given a topic, a record and a consumer group (so the
    request paths' classes are loaded too), then stopped cleanly, the JVM writing the archive
    as it exits. None if this JVM cannot write one; brokers then start as before."""
    archive = archive_for(libs)
    if archive.is_file():
        return archive
    partial = archive.with_name(f"{archive.stem}.{os.getpid()}.partial")
    with tempfile.TemporaryDirectory(prefix="switchyard-class-archive-") as tmp:
        port, controller_port = free_ports(2)
        node = BrokerSpec(0, "127.0.0.1", port, controller_port)
        broker = spawn_broker(Path(tmp), node, [node.voter], 1, jvm=training_flags(partial))
        try:
            bootstrap = f"127.0.0.1:{port}"
            wait_until(broker, f"Kafka at {bootstrap} (training its class archive)",
                       lambda: kafka_ready(bootstrap), timeout)
            exercise(bootstrap, timeout)
        except BaseException:
            broker.kill()
            partial.unlink(missing_ok=True)
            raise
        broker.stop(timeout)
    return keep(partial, archive)


def exercise(bootstrap: str, timeout: float) -> None:
    """A topic created, a record produced and read back in a consumer group."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    quiet: dict[str, str | int | float | bool] = {"bootstrap.servers": bootstrap, "log_level": "0"}
    admin = AdminClient(quiet)
    admin.create_topics([NewTopic("class-archive", 1, 1)])["class-archive"].result(timeout)
    producer = Producer(quiet)
    producer.produce("class-archive", key=b"k", value=b"v")
    producer.flush(timeout)
    consumer = Consumer({**quiet, "group.id": "class-archive", "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe(["class-archive"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                consumer.commit(message=msg, asynchronous=False)
                return
    finally:
        consumer.close()


def cluster_id(home: Path) -> str:
    path = home / "kafka-cluster-id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=").replace("-", "K"))
    return path.read_text().strip()


def await_broker(broker: Managed, node: BrokerSpec, timeout: float) -> float:
    return wait_until(broker, f"Kafka at {node.host}:{node.port}", lambda: kafka_ready(f"{node.host}:{node.port}"),
                      timeout)


def start_broker(
    home: Path, host: str, port: int, controller_port: int, partitions: int, timeout: float,
    overrides: Mapping[str, str] | None = None, format_args: Sequence[str] = (),
    client: Mapping[str, str] | None = None,
) -> tuple[Managed, float]:
    """The single broker of the dev stack: formats KRaft storage on first start, starts it, waits for
    clients (``client``: the properties a client needs to reach it, on a secured broker)."""
    node = BrokerSpec(0, host, port, controller_port)
    broker = spawn_broker(home, node, [node.voter], partitions, overrides, format_args)
    return broker, wait_until(broker, f"Kafka at {host}:{port}", lambda: kafka_ready(f"{host}:{port}", client),
                              timeout)


def kafka_ready(bootstrap: str, config: Mapping[str, str] | None = None) -> bool:
    quiet = {"socket.timeout.ms": "1000", "log_level": "0"}
    admin = AdminClient({"bootstrap.servers": bootstrap, **(config or {}), **quiet})
    try:
        return bool(admin.list_topics(timeout=1).brokers)
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


def quorum_leader(bootstrap: str) -> int:
    """The node id of the active KRaft controller: one DescribeQuorum request
    (switchyard/stack/quorum.py), or Kafka's own kafka-metadata-quorum tool where that
    finds no plaintext listener (a broker's describeCluster names a random broker as
    "controller" under KRaft)."""
    try:
        return active_controller(bootstrap)
    except ValueError:
        return quorum_tool_leader(bootstrap)


def quorum_tool_leader(bootstrap: str) -> int:
    """The active controller as kafka-metadata-quorum names it (a JVM start)."""
    libs = ensure_jars()
    done = subprocess.run(
        ["java", "-Xmx128m", *sharing_flags(libs), f"-Dlog4j2.configurationFile={TOOLS_LOG4J2.resolve()}",
         "-cp", f"{libs}/*", "org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-server", bootstrap,
         "describe", "--status"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    match = re.search(r"^LeaderId:\s*(\d+)", done.stdout, re.M)
    if match is None:
        raise StartupError(f"kafka-metadata-quorum named no leader:\n{done.stdout}{done.stderr}")
    return int(match.group(1))
