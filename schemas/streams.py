"""What the stream workers (streams/) write and serve: the risk alerts on `risk-alerts`,
the windowed traffic views and the pipeline view.

Times are epoch milliseconds; latencies are milliseconds.
"""

from typing import Literal

from pydantic import Field

from schemas.base import Payload

Breach = Literal["count", "sum"]


class RiskAlert(Payload):
    """A user deposited more often or more in one velocity window than allowed
    (key: userId). One alert per user per window, raised by the deposit that crossed."""

    userId: str
    windowStart: int
    windowEnd: int
    depositCount: int
    depositSum: int
    maxCount: int
    maxSum: int
    breached: list[Breach] = Field(min_length=1)
    depositId: str  # the deposit that crossed the threshold


class LatencySummary(Payload):
    """End-to-end latency (input record timestamp to result record timestamp) in one
    window, from a log-scale histogram: percentiles are within one bucket (~19%)."""

    count: int
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None


class WindowCounts(Payload):
    """One tumbling window of one input topic."""

    start: int
    end: int
    closed: bool  # the window lies wholly in the past
    recordsIn: int
    resultsOk: int
    resultsFailed: int
    dlq: int
    latencyMs: LatencySummary


class TrafficView(Payload):
    """The recent windows of one size for one input topic, newest first."""

    topic: str
    windowSeconds: int
    windows: list[WindowCounts]


class InvocationIssue(Payload):
    """An invocation Restate is retrying or has paused (from sys_invocation)."""

    id: str
    target: str
    key: str | None
    status: str
    retryCount: int
    lastFailure: str | None


class PipelineRow(Payload):
    """One input topic as the operator sees it."""

    topic: str
    target: str
    subscriptions: list[str]
    consumerGroups: list[str]
    lag: int | None  # records not yet taken in by Restate; None when unknown
    dlqSize: int | None
    retrying: int
    paused: int
    window: WindowCounts | None = None  # the last closed window of the view's size
    ratePerSecond: float | None = None


class PipelineView(Payload):
    generatedAt: int
    windowSeconds: int
    rows: list[PipelineRow]
    invocations: list[InvocationIssue]
    alerts: list[RiskAlert]
    problems: list[str]  # components that did not answer
