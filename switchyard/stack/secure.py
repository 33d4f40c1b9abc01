"""The secured variant of the local broker (`switchyard up --secure`, the secure test fixture).

A throwaway CA signs the broker's certificate; clients reach the broker on one SASL_SSL
listener (SCRAM-SHA-512) and the standard KRaft authorizer decides what each principal
may do. The controller listener takes TLS with a client certificate only (the broker's
own), so nothing on the machine reaches it without a key signed by this CA.

Principals (passwords made once per home, kept 0600 in ``<home>/secure/``):

- ``admin``: the broker's own and the super user (ACLs are made with it);
- ``switchyard``: the service, the key gate, Restate's ingress, the bootstrap, the DLQ
  tools. The only one allowed to write ``*-routed``, ``*-results`` and ``*-dlq``;
- ``producer``: outside producers: write (and describe) the input topics only;
- ``streams``: the Faust worker: read every topic, own its group and changelogs, write
  the stream topics (``risk-alerts``).

For each it writes ``<name>.env`` (SWITCHYARD_KAFKA__* variables: source it) and
``<name>.properties`` (Apache Kafka's tools: ``--command-config``/``--producer.config``).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from switchyard.core.catalogue import Catalogue
from switchyard.core.settings import KafkaSettings
from switchyard.stack.processes import StartupError

MECHANISM = "SCRAM-SHA-512"
ADMIN, SERVICE, PRODUCER, STREAMS = "admin", "switchyard", "producer", "streams"
PRINCIPALS = (ADMIN, SERVICE, PRODUCER, STREAMS)
BROKER_CN = "switchyard-broker"  # the broker's certificate subject: its principal on the controller listener
CLUSTER = "kafka-cluster"  # the name of Kafka's one CLUSTER resource


def secure_dir(home: Path) -> Path:
    return home / "secure"


def is_secured(home: Path) -> bool:
    """The stack in ``home`` was made secured: it keeps being secured (its broker has SCRAM
    users only, its clients need the credentials)."""
    return (secure_dir(home) / "passwords.json").is_file()


@dataclass(frozen=True)
class SecureKafka:
    """The CA, the broker's key and certificate, and the principals' passwords of one home."""

    dir: Path
    passwords: dict[str, str]

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def broker_pem(self) -> Path:
        return self.dir / "broker.pem"  # key and certificate chain: Kafka's PEM keystore

    def client_properties(self) -> dict[str, str]:
        """librdkafka properties (SWITCHYARD_KAFKA__PROPERTIES) for any principal."""
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": MECHANISM, "ssl.ca.location": str(self.ca)}

    def kafka_settings(self, kafka: KafkaSettings, user: str) -> KafkaSettings:
        """``kafka`` connecting as ``user``."""
        return kafka.model_copy(update={
            "properties": {**kafka.properties, **self.client_properties()},
            "sasl_username": user, "sasl_password": SecretStr(self.passwords[user]),
        })

    def broker_properties(self, host: str, port: int, controller_port: int) -> dict[str, str]:
        """server.properties lines over the plaintext broker's."""
        jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN}" '
                f'password="{self.passwords[ADMIN]}";')
        return {
            "listeners": f"SASL_SSL://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"SASL_SSL://{host}:{port}",
            "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.broker_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca),
            # Only a holder of a certificate this CA signed (the broker) reaches the controller.
            "listener.name.controller.ssl.client.auth": "required",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN};User:CN={BROKER_CN}",
            "allow.everyone.if.no.acl.found": "false",
        }

    def format_args(self) -> list[str]:
        """`kafka-storage format` arguments that create the SCRAM users with the metadata."""
        return [arg for user in PRINCIPALS
                for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={self.passwords[user]}]")]

    def write_client_files(self, bootstrap: str) -> None:
        """``<user>.env`` and ``<user>.properties`` per principal (not the admin's: nothing runs as it)."""
        for user in (SERVICE, PRODUCER, STREAMS):
            env = {
                "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
                "SWITCHYARD_KAFKA__PROPERTIES": json.dumps(self.client_properties()),
                "SWITCHYARD_KAFKA__SASL_USERNAME": user,
                "SWITCHYARD_KAFKA__SASL_PASSWORD": self.passwords[user],
            }
            _private(self.dir / f"{user}.env", "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()))
            jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" '
                    f'password="{self.passwords[user]}";')
            java = {
                "bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "sasl.mechanism": MECHANISM,
                "sasl.jaas.config": jaas, "ssl.truststore.type": "PEM", "ssl.truststore.location": str(self.ca),
            }
            _private(self.dir / f"{user}.properties", "".join(f"{k}={v}\n" for k, v in java.items()))


def _private(path: Path, text: str) -> None:
    """Written 0600: the files hold passwords and keys."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def ensure_material(home: Path, hosts: list[str]) -> SecureKafka:
    """The home's CA, broker certificate and passwords: made on the first call, kept after."""
    where = secure_dir(home)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    passwords_file = where / "passwords.json"
    made = SecureKafka(where, {})
    if not made.broker_pem.is_file() or not made.ca.is_file():
        _make_certificates(made, hosts)
    if passwords_file.is_file():
        passwords = json.loads(passwords_file.read_text())
    else:
        passwords = {user: secrets.token_urlsafe(18) for user in PRINCIPALS}
        _private(passwords_file, json.dumps(passwords, indent=1))
    return SecureKafka(where, passwords)


def _make_certificates(into: SecureKafka, hosts: list[str]) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "switchyard throwaway CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=825))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in {"127.0.0.1", *hosts}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BROKER_CN)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            # Server (clients' listener) and client (the broker to its controller listener).
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem).decode()
    # Kafka's PEM keystore: an unencrypted PKCS#8 key, then the chain.
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    _private(into.broker_pem, key_pem + cert.public_bytes(pem).decode() + ca_pem)
    into.ca.write_text(ca_pem)  # public: what every client trusts


def _allow(principal: str, kind: ResourceType, name: str, *operations: AclOperation,
           pattern: ResourcePatternType = ResourcePatternType.LITERAL) -> list[AclBinding]:
    return [AclBinding(kind, name, pattern, f"User:{principal}", "*", op, AclPermissionType.ALLOW)
            for op in operations]


def acl_bindings(catalogue: Catalogue, streams_app_id: str) -> list[AclBinding]:
    """What each principal may do (module docstring). Input topics are named one by one
    (LITERAL), never by prefix: `<topic>` is a prefix of `<topic>-routed`."""
    op, topic, group = AclOperation, ResourceType.TOPIC, ResourceType.GROUP
    prefixed = ResourcePatternType.PREFIXED
    bindings = [
        *_allow(SERVICE, topic, "*", op.ALL),
        *_allow(SERVICE, group, "*", op.ALL),
        *_allow(SERVICE, ResourceType.TRANSACTIONAL_ID, "*", op.ALL),
        *_allow(SERVICE, ResourceType.BROKER, CLUSTER, op.CREATE, op.DESCRIBE, op.DESCRIBE_CONFIGS,
                op.IDEMPOTENT_WRITE),
        *_allow(STREAMS, topic, "*", op.READ, op.DESCRIBE, op.DESCRIBE_CONFIGS),
        *_allow(STREAMS, topic, streams_app_id, op.ALL, pattern=prefixed),
        *_allow(STREAMS, group, streams_app_id, op.ALL, pattern=prefixed),
    ]
    for t in catalogue.topics:
        bindings += _allow(PRODUCER, topic, t.name, op.WRITE, op.DESCRIBE)
    for s in catalogue.stream_topics:
        bindings += _allow(STREAMS, topic, s.name, op.WRITE)
    return bindings


def create_acls(bootstrap: str, material: SecureKafka, bindings: list[AclBinding]) -> None:
    """Creates ``bindings`` as the super user (creating an existing one again is a no-op)."""
    admin = AdminClient({**material.kafka_settings(KafkaSettings(bootstrap_servers=bootstrap), ADMIN).client_config(),
                         "log_level": "0"})
    for binding, future in admin.create_acls(bindings, request_timeout=30).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise StartupError(f"creating the ACL {binding} failed: {exc}") from None
