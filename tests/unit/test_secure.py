"""The secured broker's material and ACLs (switchyard/stack/secure.py), without a broker."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType  # type: ignore[attr-defined]
from cryptography import x509

from schemas.catalogue import CATALOGUE
from switchyard.core.settings import KafkaSettings
from switchyard.stack.secure import PRODUCER, SERVICE, STREAMS, acl_bindings, ensure_material, is_secured


def test_material_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = ensure_material(tmp_path, ["127.0.0.1"])
    assert is_secured(tmp_path)
    again = ensure_material(tmp_path, ["127.0.0.1"])
    assert again.passwords == first.passwords
    assert len(set(first.passwords.values())) == len(first.passwords)
    assert first.broker_pem.stat().st_mode & 0o077 == 0
    assert (first.dir / "passwords.json").stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificates(first.broker_pem.read_bytes())[0]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)


def test_each_principal_gets_its_own_credentials_and_the_ca(tmp_path: Path) -> None:
    secured = ensure_material(tmp_path, [])
    config = secured.kafka_settings(KafkaSettings(properties={"linger.ms": "1"}), STREAMS).client_config()
    assert config["sasl.username"] == STREAMS
    assert config["sasl.password"] == secured.passwords[STREAMS]
    assert config["ssl.ca.location"] == str(secured.ca)
    assert config["linger.ms"] == "1"  # the user's other properties stay
    secured.write_client_files("127.0.0.1:9092")
    props = (secured.dir / f"{PRODUCER}.properties").read_text()
    assert "security.protocol=SASL_SSL" in props
    assert f"ssl.truststore.location={secured.ca}" in props


def test_only_the_service_may_write_routed_results_and_dlq_topics() -> None:
    bindings = acl_bindings(CATALOGUE, "switchyard-streams")
    producer = [b for b in bindings if b.principal == f"User:{PRODUCER}"]
    # Literal input topic names only: a prefix would cover `<topic>-routed` too.
    assert {b.resource_pattern_type for b in producer} == {ResourcePatternType.LITERAL}
    assert {b.name for b in producer} == {t.name for t in CATALOGUE.topics}
    assert {b.operation for b in producer} == {AclOperation.WRITE, AclOperation.DESCRIBE}
    streams_writes = {b.name for b in bindings if b.principal == f"User:{STREAMS}"
                      and b.operation in (AclOperation.WRITE, AclOperation.ALL)}
    assert streams_writes == {"switchyard-streams", *(s.name for s in CATALOGUE.stream_topics)}
    service = {(b.restype, b.name, b.operation) for b in bindings if b.principal == f"User:{SERVICE}"}
    assert (ResourceType.TOPIC, "*", AclOperation.ALL) in service
