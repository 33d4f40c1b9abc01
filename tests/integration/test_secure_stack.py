"""The whole stack on a secured broker (switchyard/stack/secure.py): SASL_SSL with
SCRAM-SHA-512, a throwaway CA, the standard authorizer and an ACL set per principal.

One stack for the module (the session's plaintext stack is not used): the service and gate,
Restate's Kafka ingress and the stream worker all connect with the generated settings only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import KafkaException
from pydantic import SecretStr

from schemas.catalogue import topic
from switchyard.core.admin import RestateAdmin
from switchyard.core.kafka import RecordProducer
from switchyard.core.preflight import KafkaAccessError, check_kafka
from switchyard.core.results import TopicReader
from switchyard.core.settings import KafkaSettings
from switchyard.settings import Settings
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.paths import REPO
from switchyard.stack.secure import PRODUCER, SERVICE, STREAMS, SecureKafka
from switchyard.stack.service import service_command
from switchyard.stack.stack import Stack, settings_env
from tests.integration.conftest import test_settings as stack_settings  # not collected as a test
from tests.integration.kafka_driver import KafkaDriver

PACKAGES = topic("package-location-updates")
POSTS = topic("social-media-posts")
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("secure")
    settings = stack_settings(home)
    settings.stack.secure = True
    with Stack(settings, home, progress=lambda line: print(line, flush=True)) as running:
        yield running


@pytest.fixture(scope="module")
def secured(secure_stack: Stack) -> SecureKafka:
    assert secure_stack.secured is not None
    return secure_stack.secured


@pytest.fixture(scope="module")
def ingress(secure_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secure_stack.settings.restate.ingress_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def kafka(secure_stack: Stack) -> KafkaDriver:
    """Sends and reads outcomes as the service's principal (the only one that may read -results)."""
    return KafkaDriver(secure_stack.settings.kafka.client_config())


def as_user(secured: SecureKafka, settings: Settings, user: str, **changes: object) -> KafkaSettings:
    return secured.kafka_settings(settings.kafka, user).model_copy(update=changes)


def loc(where: str, when: str) -> str:
    return json.dumps({"timestamp": when, "location": where})


def test_every_client_connects_with_the_generated_settings_only(secure_stack: Stack, secured: SecureKafka) -> None:
    s = secure_stack.settings
    assert s.kafka.properties["security.protocol"] == "SASL_SSL"
    assert s.kafka.sasl_username == SERVICE
    # A client with no credentials gets nowhere: the broker has no plaintext client listener.
    with pytest.raises(KafkaAccessError):
        check_kafka(KafkaSettings(bootstrap_servers=s.kafka.bootstrap_servers), timeout=3)
    # Restate's ingress was registered with the same properties (its rdkafka reads the routed topics).
    admin = RestateAdmin(s.restate.admin_url)
    try:
        cluster = admin.kafka_cluster(s.kafka.cluster_name)
    finally:
        admin.close()
    assert cluster is not None
    assert cluster["properties"]["security.protocol"] == "SASL_SSL"
    assert cluster["properties"]["sasl.mechanism"] == "SCRAM-SHA-512"  # Restate shows the credentials as ***
    for user in (SERVICE, PRODUCER, STREAMS):
        assert (secured.dir / f"{user}.env").stat().st_mode & 0o077 == 0
        assert f"username=\"{user}\"" in (secured.dir / f"{user}.properties").read_text()


def test_package_tracker_walkthrough(secure_stack: Stack, kafka: KafkaDriver, ingress: httpx.Client) -> None:
    pkg = "secure-pkg-1"
    r = ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Bridge 6, Amsterdam"})
    assert r.status_code == 200, r.text
    outcomes = kafka.send(PACKAGES, [(pkg, loc("Paris", "13:00")), (pkg, loc("Brussels", "14:00"))])
    assert [o.ok for o in outcomes] == [True, True]
    assert ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json() == {
        "finalDestination": "Bridge 6, Amsterdam",
        "locations": [{"location": "Paris", "timestamp": "13:00"}, {"location": "Brussels", "timestamp": "14:00"}],
    }
    [ghost] = kafka.send(PACKAGES, [("secure-ghost", loc("Nowhere", "00:00"))])
    assert ghost.error == {"code": 404, "message": "Package secure-ghost not found"}
    [dead] = kafka.send(PACKAGES, [(pkg, b"\xffnot json")])
    assert dead.dead_lettered  # the service's principal writes -dlq too
    # The DLQ tools read it with the service's settings only (the generated switchyard.env's).
    s = secure_stack.settings
    listed = cli(s, s.kafka, "dlq", "list", PACKAGES.name, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [d["key"] for d in json.loads(listed.stdout)] == [pkg]


def test_user_feed_walkthrough(kafka: KafkaDriver, ingress: httpx.Client) -> None:
    user = "secure-user-1"
    posts = [(user, json.dumps({"content": f"post {n}", "metadata": "public"})) for n in range(3)]
    outcomes = kafka.send(POSTS, posts)
    assert all(o.ok for o in outcomes)
    feed = ingress.post(f"/UserFeed/{user}/getFeed").json()
    assert [e["content"] for e in feed] == ["post 0", "post 1", "post 2"]
    assert {e["status"] for e in feed} == {"DONE"}


def test_the_stream_worker_reads_as_its_own_principal(secure_stack: Stack, kafka: KafkaDriver) -> None:
    """The Faust worker (aiokafka: SCRAM over TLS with the CA file) counts records it read as `streams`."""
    s = secure_stack.settings
    user = "secure-user-streams"
    kafka.send(POSTS, [(user, json.dumps({"content": "counted", "metadata": "public"}))])
    url = f"http://{s.streams.web_bind}/views/traffic/{POSTS.name}/?window=10"
    deadline = time.monotonic() + 30
    while True:
        view = httpx.get(url, timeout=10).json()
        if sum(w["recordsIn"] for w in view["windows"]) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sum(w["recordsIn"] for w in view["windows"]) >= 1, view
    streams_log = (secure_stack.run_dir / "streams.log").read_text()
    assert "TopicAuthorizationFailed" not in streams_log
    assert "Authentication failed" not in streams_log
    assert "Crashed" not in streams_log


def test_outside_producer_record_runs_from_kafka_console_producer(
    secure_stack: Stack, secured: SecureKafka, ingress: httpx.Client
) -> None:
    """Apache Kafka's console producer with the generated properties file, as the producer principal."""
    s = secure_stack.settings
    pkg = "secure-console-pkg"
    ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Ghent"})
    line = f'{pkg}:{{"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}}\n'
    with TopicReader(s.kafka.client_config(), [PACKAGES.results]) as reader:
        done = subprocess.run(
            [str(BIN / "kafka-console-producer"), "--bootstrap-server", s.kafka.bootstrap_servers,
             "--topic", PACKAGES.name, "--producer.config", str(secured.dir / f"{PRODUCER}.properties"),
             "--property", "parse.key=true", "--property", "key.separator=:"],
            input=line, capture_output=True, text=True, timeout=90, check=False)
        assert done.returncode == 0, done.stderr
        [result] = reader.collect(lambda rs: any(r.key_text == pkg for r in rs), timeout=60)
    assert json.loads(result.value or b"")["ok"] is True
    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert [x["location"] for x in info["locations"]] == ["Pinetree Road 5, Paris"]


@pytest.mark.parametrize("suffix", ["-routed", "-results", "-dlq"])
def test_outside_producer_may_not_write_the_services_topics(
    secure_stack: Stack, secured: SecureKafka, suffix: str
) -> None:
    """A forged routed record (or outcome) from an outside principal is refused by the broker."""
    producer = RecordProducer(as_user(secured, secure_stack.settings, PRODUCER).client_config())
    producer.send(PACKAGES.name + suffix, "forged-pkg", loc("Mars", "00:00"))
    with pytest.raises(KafkaException, match="Topic authorization failed"):
        producer.flush(30)


def cli(settings: Settings, kafka: KafkaSettings, *args: str) -> subprocess.CompletedProcess[str]:
    """`switchyard ARGS` with ``kafka`` as the environment's Kafka settings."""
    env = {**os.environ, **settings_env(settings.model_copy(update={"kafka": kafka}))}
    return subprocess.run([str(BIN / "switchyard"), *args], capture_output=True, text=True, timeout=60,
                          check=False, env=env)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("switchyard: error: ")
    return lines[0]


def test_a_wrong_password_is_one_line_naming_the_settings(secure_stack: Stack, secured: SecureKafka) -> None:
    s = secure_stack.settings
    bad = as_user(secured, s, PRODUCER, sasl_password=SecretStr("not-the-password"))
    line = one_line_error(cli(s, bad, "locate", "secure-pkg-1", "Lyon"))
    assert "refused the login of User:producer (SCRAM-SHA-512)" in line
    assert "SWITCHYARD_KAFKA__SASL_PASSWORD" in line
    assert "not-the-password" not in line


def test_an_untrusted_broker_certificate_is_one_line_naming_ssl_ca_location(
    secure_stack: Stack, secured: SecureKafka
) -> None:
    s = secure_stack.settings
    system_ca = {**secured.client_properties(), "ssl.ca.location": "/etc/ssl/certs/ca-certificates.crt"}
    line = one_line_error(cli(s, as_user(secured, s, SERVICE, properties=system_ca), "dlq", "list",
                              PACKAGES.name))
    assert "TLS certificate is not trusted" in line
    assert "ssl.ca.location in SWITCHYARD_KAFKA__PROPERTIES" in line


def test_a_missing_acl_is_one_line_naming_the_topic_and_principal(secure_stack: Stack, secured: SecureKafka) -> None:
    """The outside producer's credentials given to the service: it stops at start-up, before
    its key gate reads a record, naming what its principal may not do."""
    s = secure_stack.settings
    line = one_line_error(cli(s, as_user(secured, s, PRODUCER), "bootstrap"))
    assert "principal User:producer may not READ topic" in line or "principal User:producer may not WRITE" in line
    # The service as the stack runs it (granian), on a port of its own: it exits, it does not serve.
    [port] = free_ports(1)
    wrong = s.model_copy(update={"kafka": as_user(secured, s, PRODUCER),
                                 "service": s.service.model_copy(update={"bind": f"127.0.0.1:{port}"})})
    service = subprocess.run(service_command(wrong), capture_output=True, text=True, timeout=60, check=False,
                             env={**os.environ, **settings_env(wrong)}, cwd=REPO)
    assert service.returncode != 0
    [line] = [x for x in (service.stdout + service.stderr).splitlines() if x.startswith("switchyard: error: ")]
    assert "principal User:producer may not" in line
    assert "TOPIC_AUTHORIZATION_FAILED" in line


def test_no_password_in_any_log(secure_stack: Stack, secured: SecureKafka) -> None:
    """Last in this module: what every component (the broker's config dump included) logged."""
    logs = {log.name: log.read_text(errors="replace") for log in secure_stack.run_dir.glob("*.log")}
    assert {"kafka.log", "restate.log", "service.log", "streams.log"} <= set(logs)
    for user, password in secured.passwords.items():
        leaked = [name for name, text in logs.items() if password in text]
        assert not leaked, f"{user}'s password in {leaked}"
