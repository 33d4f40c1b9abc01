"""A start-up check of the Kafka settings: one line naming the setting, topic or principal.

librdkafka retries a refused login or an untrusted certificate forever and says so only in
its logs; a process that starts anyway hangs or loops. ``check_kafka`` connects once with
the user's settings, classifies the first error the client reports, and asks the broker
which operations the principal may perform on the topics the component reads and writes
(``describe_topics`` with authorized operations: no record is written). A broker without
an authorizer reports none, and nothing is refused.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AclOperation, AdminClient  # type: ignore[attr-defined]

from switchyard.core.catalogue import Catalogue
from switchyard.core.errors import UsageProblem
from switchyard.core.kafka import RecordProducer
from switchyard.core.settings import KafkaSettings, exit_with_error

PROPERTIES = "SWITCHYARD_KAFKA__PROPERTIES"
CREDENTIALS = "SWITCHYARD_KAFKA__SASL_USERNAME and SWITCHYARD_KAFKA__SASL_PASSWORD"


class KafkaAccessError(UsageProblem):
    """The Kafka settings do not get this component in, or not to its topics."""


class KafkaUnreachable(KafkaAccessError):
    """No broker answered within the timeout (down, or a wrong address)."""


def principal(kafka: KafkaSettings) -> str:
    user = kafka.sasl_username or kafka.properties.get("sasl.username")
    return f"User:{user}" if user else "this client's principal"


def _classify(kafka: KafkaSettings, errors: list[KafkaError]) -> str | None:
    """The one-line reason for the first error that retrying cannot cure, if any."""
    where = f"Kafka at {kafka.bootstrap_servers}"
    for err in errors:
        text = err.str().split(": ", 1)[-1]  # without librdkafka's "sasl_ssl://host:port/bootstrap: "
        if err.code() == KafkaError._AUTHENTICATION:
            mechanism = kafka.properties.get("sasl.mechanism", "GSSAPI")
            return (f"{where} refused the login of {principal(kafka)} ({mechanism}): {text}; check {CREDENTIALS} "
                    f"(and sasl.mechanism in {PROPERTIES})")
        if err.code() == KafkaError._SSL and "certificate verify failed" in text:
            ca = kafka.properties.get("ssl.ca.location", "the system's CA store")
            return (f"{where}: its TLS certificate is not trusted (checked against {ca}): set ssl.ca.location in "
                    f"{PROPERTIES} to the CA file that signed the broker's certificate")
        if err.code() == KafkaError._SSL:
            return f"{where}: TLS handshake failed ({text}); check security.protocol and ssl.* in {PROPERTIES}"
        if err.code() == KafkaError._TRANSPORT and "security.protocol" in text:
            return f"{where}: {text}; check security.protocol in {PROPERTIES}"
    return None


def check_kafka(kafka: KafkaSettings, *, write: Sequence[str] = (), read: Sequence[str] = (),
                timeout: float = 10.0, require_reachable: bool = True, require_topics: bool = False) -> None:
    """KafkaAccessError (one line) when the settings cannot log in, do not trust the
    broker, or name a principal without WRITE on a ``write`` topic or READ on a ``read``
    topic that exists. Topics not created yet are not judged, unless ``require_topics``
    (a producer's: librdkafka would fail each record). With ``require_reachable`` false,
    a broker that does not answer is left to the caller's own retries."""
    errors: list[KafkaError] = []
    config: dict[str, Any] = {**kafka.client_config(), "log_level": "0", "error_cb": errors.append}
    admin = AdminClient(config)
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            break
        except KafkaException:
            admin.poll(0.1)  # serves error_cb
            reason = _classify(kafka, errors)
            if reason is not None:
                raise KafkaAccessError(reason) from None
            if not require_reachable and errors:
                return
            if time.monotonic() >= deadline:
                seen = errors[0].str() if errors else "no answer"
                hint = "" if "security.protocol" in kafka.properties else (
                    f", or set security.protocol in {PROPERTIES} if its listener takes SSL or SASL")
                raise KafkaUnreachable(f"Kafka at {kafka.bootstrap_servers} is not reachable within {timeout:.0f}s "
                                       f"({seen}); check SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS{hint}") from None
    wanted = {**{name: AclOperation.READ for name in read}, **{name: AclOperation.WRITE for name in write}}
    if not wanted:
        return
    described = admin.describe_topics(TopicCollection(list(wanted)), include_authorized_operations=True,
                                      request_timeout=max(1.0, deadline - time.monotonic()))
    for name, future in described.items():
        operation = wanted[name]
        try:
            allowed = future.result().authorized_operations
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                if require_topics:
                    raise KafkaAccessError(f"Kafka at {kafka.bootstrap_servers}: topic {name} does not exist: run "
                                           f"`switchyard bootstrap`") from None
                continue  # not created yet: the bootstrap makes it (and is checked itself)
            if err.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
                raise KafkaAccessError(f"Kafka at {kafka.bootstrap_servers}: describing topic {name} failed "
                                       f"({err.str()})") from None
            allowed = []
        if allowed is None:
            continue  # no authorizer on the broker
        if operation not in allowed and AclOperation.ALL not in allowed:
            raise KafkaAccessError(
                f"Kafka at {kafka.bootstrap_servers}: principal {principal(kafka)} may not {operation.name} topic "
                f"{name} (TOPIC_AUTHORIZATION_FAILED); grant it {operation.name} on {name} with an ACL, or connect "
                f"as a principal that has it ({CREDENTIALS})")


def checked_producer(kafka: KafkaSettings, topic_name: str) -> RecordProducer:
    """A producer for ``topic_name``, once the settings log in and may write it (and it
    exists): otherwise one line naming the setting or the ACL, where librdkafka would retry
    until the flush times out. For the commands that produce (`switchyard produce`, ...)."""
    check_kafka(kafka, write=[topic_name], require_topics=True)
    return RecordProducer(kafka.client_config())


def check_service(catalogue: Catalogue, kafka: KafkaSettings) -> None:
    """The service and key gate at start-up: a refused login or certificate, or a missing
    ACL, ends the process with one line (exit 2); a broker still starting is left to the
    gate's retries. The gate reads the gated topics and writes their routed twins; the
    sinks write every topic's ``-results`` and ``-dlq``."""
    try:
        check_kafka(kafka, read=[t.name for t in catalogue.gated_topics()],
                    write=[*catalogue.routed_topics(), *catalogue.companion_topics()],
                    timeout=5.0, require_reachable=False)
    except KafkaAccessError as exc:
        exit_with_error(exc)
