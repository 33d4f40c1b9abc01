"""The stream workers' settings: the core's plus the ``streams`` section."""

from __future__ import annotations

from pydantic import Field

from switchyard.core.components import StreamSettings
from switchyard.core.settings import CoreSettings


class StreamsSettings(CoreSettings):
    streams: StreamSettings = Field(default_factory=StreamSettings)
