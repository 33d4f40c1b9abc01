"""`kafka-console-producer` on the venv's PATH is Apache Kafka's own, and works as the seed READMEs use it."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.kafka import RecordProducer
from switchyard.core.results import TopicReader
from switchyard.stack.paths import KAFKA_POM

TOPIC = topic("package-location-updates")
SCRIPT = Path(sys.executable).parent / "kafka-console-producer"  # what `switchyard fetch` installs
SEED_ARGS = ["--property", "parse.key=true", "--property", "key.separator=:"]


def console_producer(settings: Settings, topic_name: str) -> list[str]:
    """The installed console script, with the seed README's arguments."""
    return [str(SCRIPT), "--bootstrap-server", settings.kafka.bootstrap_servers, "--topic", topic_name, *SEED_ARGS]


def switchyard_produce(settings: Settings, topic_name: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    """Switchyard's validating producer, `switchyard produce T --file -`, on the same lines."""
    env = {**os.environ, "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers}
    return subprocess.run([SCRIPT.parent / "switchyard", "produce", topic_name, "--file", "-"], input=stdin,
                          capture_output=True, timeout=60, check=False, env=env)


def kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(KAFKA_POM).findtext("m:properties/m:kafka.version", namespaces=ns)
    assert version
    return version


def test_the_script_on_path_is_apache_kafkas_of_the_brokers_version() -> None:
    version = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0, version.stderr
    assert version.stdout.split() == [kafka_version()]
    usage = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60, check=False)
    # Kafka's tools print their usage on stderr
    assert "This tool helps to read data from standard input and publish it to Kafka." in usage.stderr
    assert "--reader-config" in usage.stderr  # an option only Kafka's ConsoleProducer has


def run_console(settings: Settings, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        console_producer(settings, TOPIC.name), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_seed_lines_reach_the_package_tracker(settings: Settings, ingress: httpx.Client, unique: str) -> None:
    pkg = f"{unique}-pkg"
    ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Bridge 6, Amsterdam"})
    lines = (
        f'{pkg}:{{"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}}\n'
        f'{pkg}:{{"timestamp": "2024-10-10 14:00", "location": "Mountain Road 155, Brussels"}}\n'
    )
    with TopicReader(settings.kafka.client_config(), [TOPIC.results]) as reader:
        done = run_console(settings, lines)
        assert done.returncode == 0, done.stderr
        reader.collect(lambda rs: sum(r.key_text == pkg for r in rs) >= 2, timeout=60)
    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert [loc["location"] for loc in info["locations"]] == ["Pinetree Road 5, Paris", "Mountain Road 155, Brussels"]


def test_a_line_without_separator_is_an_error_naming_the_line(settings: Settings) -> None:
    done = run_console(settings, "no separator here\n")
    assert done.returncode == 1
    assert "No key separator found on line number 1" in done.stderr


def test_a_key_that_is_not_utf8_is_refused_by_switchyard_produce(settings: Settings) -> None:
    done = switchyard_produce(settings, TOPIC.name, b"\xff\xfe:{}\n")
    assert done.returncode == 2
    assert b"not valid UTF-8" in done.stderr



def test_one_key_lands_on_one_partition_whichever_client_produced_it(settings: Settings, unique: str) -> None:
    """Java clients partition by murmur2, librdkafka by CRC32 unless told: Switchyard's
    producers use murmur2, so a key's records never split over two partitions (and
    interleave) when a topic of several partitions is fed by both."""
    name = topic("product-reservations").name
    keys = [f"{unique}-{n}-ü?" for n in range(24)]
    lines = "".join(f'{k}:{{"reservationId": "console"}}\n' for k in keys)
    with TopicReader(settings.kafka.client_config(), [name]) as reader:
        done = subprocess.run(console_producer(settings, name), input=lines, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        ours = RecordProducer(settings.kafka.client_config())
        for k in keys:
            ours.send(name, k, {"reservationId": "ours"})
        ours.flush()
        got = reader.collect(lambda rs: sum(r.key_text.startswith(unique) for r in rs) >= 2 * len(keys), timeout=60)
    partitions: dict[str, set[int]] = {}
    for r in got:
        if r.key_text.startswith(unique):
            partitions.setdefault(r.key_text, set()).add(r.partition)
    assert len({p for ps in partitions.values() for p in ps}) > 1, "every key on one partition proves nothing"
    assert {k: ps for k, ps in partitions.items() if len(ps) > 1} == {}
