"""The stream workers' settings: the core's plus the ``streams`` section."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from switchyard.core.settings import CoreSettings, Duration, HostPort, Section


class StreamSettings(Section):
    """The Faust stream workers (streams/): windowed views, velocity alerts, pipeline page."""

    # Off, the stack starts no stream worker: the benchmark does so, since the worker reads
    # every record of every topic and would take CPU from the path it measures.
    enabled: bool = True
    web_bind: HostPort = "127.0.0.1:6066"
    # The Faust app id: its consumer group and the prefix of its changelog topics.
    app_id: str = "switchyard-streams"
    # Tumbling window sizes of the traffic views (whole seconds), and how many windows
    # of each size are kept and served.
    windows: list[Duration] = Field(default_factory=lambda: [timedelta(seconds=10), timedelta(minutes=1)])
    history: int = Field(default=12, ge=2)
    # Counts gather in memory and go to the window tables (and their changelog topics) this
    # often, not per record: per record cost six table writes for every input record.
    flush_interval: Duration = timedelta(milliseconds=250)
    # A user over either limit within one window raises one alert on risk-alerts.
    velocity_window: Duration = timedelta(minutes=1)
    velocity_max_count: int = 5
    velocity_max_sum: int = 5_000
    # How often the pipeline page refreshes itself.
    page_refresh: Duration = timedelta(seconds=2)


class StreamsSettings(CoreSettings):
    streams: StreamSettings = Field(default_factory=StreamSettings)
