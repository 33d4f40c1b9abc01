"""What a benchmark run does: record counts, key sets, rates, and which scenarios run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bench.capacity import Ladder

SYSTEMS = ("raw", "faust", "switchyard")
SCENARIOS = ("raw", "faust", "switchyard", "workflow", "scaling", "latency", "capacity", "packages")


@dataclass(frozen=True)
class Plan:
    records: int = 20_000  # per throughput run, the same records for every system
    keys: int = 1_000
    partitions: int = 4  # of every system's input topic in the comparison runs
    payload_size: int = 100
    seed: int = 7
    warmup: int = 300  # records through each system before its measured runs
    workflow_calls: int = 1_000  # per mode (sequential, concurrent16)
    scaling_records: int = 5_000
    scaling_keys: tuple[int, ...] = (1, 100, 10_000)
    scaling_partitions: tuple[int, ...] = (1, 4)
    latency_rate: float = 1_000.0  # offered records/s of the e2e latency runs
    latency_seconds: float = 30.0
    capacity_seconds: float = 10.0  # per step of the capacity ladder (bench/capacity.py)
    capacity_start: float = 200.0
    capacity_factor: float = 1.4
    slo_p99_ms: float = 250.0
    soak_seconds: float = 0.0  # > 0: a flat-memory soak at soak_rate after the rest
    soak_rate: float = 500.0
    drain_timeout: float = 60.0
    scenarios: frozenset[str] = field(default_factory=lambda: frozenset(SCENARIOS))

    def ladder(self) -> Ladder:
        return Ladder(self.capacity_start, self.capacity_factor, slo_p99_ms=self.slo_p99_ms)

    def runs(self, scenario: str) -> bool:
        return scenario in self.scenarios


FULL = Plan()
QUICK = Plan(records=5_000, warmup=200, workflow_calls=300, scaling_records=1_500, latency_seconds=8.0,
             drain_timeout=30.0, capacity_seconds=5.0)
# A few seconds end to end on a running stack: the integration test checks shapes with it.
TINY = Plan(records=60, keys=10, partitions=2, warmup=10, workflow_calls=10, scaling_records=20,
            scaling_keys=(1, 10), scaling_partitions=(1, 2), latency_rate=100.0, latency_seconds=0.5,
            drain_timeout=20.0, capacity_seconds=0.5, capacity_start=20.0, capacity_factor=4.0)


def choose(quick: bool = False, tiny: bool = False, **overrides: object) -> Plan:
    base = TINY if tiny else QUICK if quick else FULL
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given)  # type: ignore[arg-type]
