"""The whole configuration: the core's sections, the dev stack's own, and its components'.

The CLI, the stack launcher, the fault suite and the bench load this, joined with the
app's own settings class (``settings_for(app.settings)``: the examples' ``feed``,
``uploads``, ... sections); the service loads only the app's. Load it with
``switchyard.core.settings.load`` for a one-line error naming the variable.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from switchyard.core.components import EmailSettings, ProviderSettings, StreamSettings
from switchyard.core.settings import CoreSettings, Duration, HostPort, Port, Section


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


class Settings(CoreSettings):
    # This class (joined with the app's: ``settings_for``) knows every section: a
    # SWITCHYARD_* variable naming none is refused.
    owns_all_sections: ClassVar[bool] = True

    stack: LocalStackSettings = Field(default_factory=LocalStackSettings)
    streams: StreamSettings = Field(default_factory=StreamSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)

    @model_validator(mode="after")
    def _one_controller_port_per_broker(self) -> Settings:
        brokers = len(self.kafka.bootstrap_servers.split(","))
        ports = self.stack.kafka_controller_ports
        if ports and len(ports) != brokers:
            raise ValueError(f"stack.kafka_controller_ports has {len(ports)} ports for {brokers} brokers "
                             "(kafka.bootstrap_servers): one each")
        return self


@functools.cache
def settings_for(app_settings: type[CoreSettings]) -> type[Settings]:
    """``Settings`` with the sections of an app's settings class too (``App(settings=...)``):
    a class the app declared as ``class X(Settings, AppSettings)`` (typed for its own tools),
    else one made here."""
    if issubclass(Settings, app_settings):
        return Settings
    declared = [c for c in Settings.__subclasses__() if issubclass(c, app_settings)]
    if declared:
        return declared[0]
    return type(f"Settings[{app_settings.__name__}]", (Settings, app_settings), {"__module__": __name__})


def settings_class() -> type[Settings]:
    """``Settings`` joined with the settings of the app this process works on
    (``SWITCHYARD_APP``, or ``--app``; switchyard/serving.py)."""
    from switchyard.serving import current_app

    return settings_for(current_app().settings)
