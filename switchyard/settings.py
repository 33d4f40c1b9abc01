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

from pydantic import Field

from handlers.settings import HandlerSettings
from streams.settings import StreamsSettings
from switchyard.core.settings import Duration, Section


class LocalStackSettings(Section):
    """Only for the native launcher: where the dev stack keeps its jars, data and logs."""

    home: Path = Path(".stack")
    kafka_controller_port: int = 9093
    restate_node_port: int = 5122
    restate_partitions: int = Field(default=4, ge=1)
    start_timeout: Duration = timedelta(seconds=90)
    # restate-server signs its requests with a key made on first start (home/identity/);
    # the service then refuses any call not signed with it.
    request_identity: bool = True
    # Extra RESTATE_* settings on top of restate.toml, e.g. a shorter retry horizon for
    # tests: {"RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "500ms"}.
    restate_env: dict[str, str] = Field(default_factory=dict)


class Settings(HandlerSettings, StreamsSettings):
    # This class knows every section: a SWITCHYARD_* variable naming none is refused.
    owns_all_sections: ClassVar[bool] = True

    stack: LocalStackSettings = Field(default_factory=LocalStackSettings)
