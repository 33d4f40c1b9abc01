"""Consumer-group sessions inside the brokers' bounds.

A broker refuses a JoinGroup whose session lies outside its group.min.session.timeout.ms and
group.max.session.timeout.ms. restate-server then restarts the subscription's consumer
every few hundred milliseconds, for ever, and no record flows: a 3 s session, right for our
brokers, does that on a cluster with Kafka's default 6 s floor. So the bootstrap fits each
new subscription's session to the brokers it talks to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # type: ignore[attr-defined]

from switchyard.core.settings import HEARTBEAT, LIBRDKAFKA_HEARTBEAT_MS, LIBRDKAFKA_SESSION_MS, SESSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionBounds:
    """The sessions a broker accepts, in ms (Kafka's defaults unless read from the broker)."""

    low: int = 6_000
    high: int = 1_800_000
    read: bool = False  # read from a broker, not assumed


def broker_session_bounds(client: Mapping[str, str], timeout: float = 10.0) -> SessionBounds:
    """The group session bounds of one of the cluster's brokers (brokers of one cluster are
    configured alike). Kafka's defaults when they cannot be read: an ACL may deny
    DescribeConfigs, and the defaults are what a broker nobody tuned enforces."""
    admin = AdminClient({**client, "log_level": "0"})
    try:
        brokers = admin.list_topics(timeout=timeout).brokers
        resource = ConfigResource(ResourceType.BROKER, str(min(brokers)))
        entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
        return SessionBounds(int(entries["group.min.session.timeout.ms"].value),
                             int(entries["group.max.session.timeout.ms"].value), read=True)
    except (KafkaException, KeyError, ValueError, TypeError) as exc:
        log.warning("the brokers' group session bounds could not be read (%s): assuming Kafka's defaults", exc)
        return SessionBounds()


def fitted(options: Mapping[str, str], bounds: SessionBounds) -> dict[str, str]:
    """``options`` with its session inside ``bounds`` (the nearest bound) and its heartbeat
    below a third of the session where the session had to change; otherwise unchanged."""
    out = dict(options)
    asked = int(out.get(SESSION, LIBRDKAFKA_SESSION_MS))
    session = min(max(asked, bounds.low), bounds.high)
    if session == asked:
        return out
    out[SESSION] = str(session)
    if int(out.get(HEARTBEAT, LIBRDKAFKA_HEARTBEAT_MS)) * 3 > session:
        out[HEARTBEAT] = str(max(1, session // 3))
    return out
