"""The whole configuration: every layer's sections, and the dev stack's own.

The CLI, the stack launcher, the fault suite and the bench load this; the service and
the stream workers load only their own layers' (``handlers.settings``,
``streams.settings``). Load it with ``switchyard.core.settings.load(Settings)`` for a
one-line error naming the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from handlers.settings import HandlerSettings
from streams.settings import StreamsSettings
from switchyard.core.settings import Duration, HostPort, Port, Section


class RestateNodePorts(Section):
    """One node of a local Restate cluster: its fabric (node-to-node), admin and ingress ports."""

    node: int = Field(ge=1, le=65535)
    admin: int = Field(ge=1, le=65535)
    ingress: int = Field(ge=1, le=65535)


class LocalStackSettings(Section):
    """Only for the native launcher: where the dev stack keeps its jars, data and logs."""

    home: Path = Path(".stack")
    kafka_controller_port: Port = 9093
    restate_node_port: Port = 5122
    restate_partitions: int = Field(default=4, ge=1)
    start_timeout: Duration = timedelta(seconds=90)
    # restate-server signs its requests with a key made on first start (home/identity/);
    # the service then refuses any call not signed with it.
    request_identity: bool = True
    # Extra RESTATE_* settings on top of restate.toml, e.g. a shorter retry horizon for
    # tests: {"RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "500ms"}.
    restate_env: dict[str, str] = Field(default_factory=dict)
    # A broker that takes SASL_SSL (SCRAM) only, with ACLs per principal (`switchyard up
    # --secure`, switchyard/stack/secure.py); a home once secured stays secured.
    secure: bool = False
    # A cluster on this machine (`switchyard up --cluster`, switchyard/stack/cluster.py).
    # One Kafka broker per address in kafka.bootstrap_servers, each a KRaft controller too,
    # its controller port at the same index here:
    kafka_controller_ports: list[int] = Field(default_factory=list)
    # Restate nodes forming one cluster (replicated metadata and log); restate.admin_url
    # and restate.ingress_url are then HAProxy's, in front of every node:
    restate_nodes: list[RestateNodePorts] = Field(default_factory=list)
    restate_replication: int = Field(default=2, ge=1)  # copies of each log record and partition
    # Service replicas; HAProxy listens on service.bind and spreads Restate's HTTP/2 over them:
    service_replicas: list[HostPort] = Field(default_factory=list)

    @property
    def is_cluster(self) -> bool:
        return bool(self.kafka_controller_ports or self.restate_nodes or self.service_replicas)


class Settings(HandlerSettings, StreamsSettings):
    # This class knows every section: a SWITCHYARD_* variable naming none is refused.
    owns_all_sections: ClassVar[bool] = True

    stack: LocalStackSettings = Field(default_factory=LocalStackSettings)

    @model_validator(mode="after")
    def _one_controller_port_per_broker(self) -> Settings:
        brokers = len(self.kafka.bootstrap_servers.split(","))
        ports = self.stack.kafka_controller_ports
        if ports and len(ports) != brokers:
            raise ValueError(f"stack.kafka_controller_ports has {len(ports)} ports for {brokers} brokers "
                             "(kafka.bootstrap_servers): one each")
        return self
