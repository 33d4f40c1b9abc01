"""The fault suite: steady load across many keys, a component killed with SIGKILL and
restarted, then a check from state and results that nothing was lost, nothing applied
twice, per-key order kept and no invocation left stuck.

Each produced record carries a per-key sequence number in its payload, so its effect in
state (a package location, a feed entry) can be counted and ordered.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from producers.client import RecordProducer
from schemas.catalogue import topic
from switchyard.admin import RestateAdmin
from switchyard.results import TopicReader
from switchyard.settings import Settings
from switchyard.stack.stack import Stack

FLOWS = ("package-location-updates", "social-media-posts")
SCENARIOS: dict[str, tuple[str, ...]] = {
    "service": ("service",),
    "restate-server": ("restate",),
    "kafka": ("kafka",),
    "all-in-turn": ("service", "restate", "kafka"),
}


@dataclass
class ScenarioReport:
    name: str
    produced: int = 0
    processed: int = 0
    lost: int = 0
    duplicated: int = 0
    order_violations: int = 0
    stuck: int = 0
    recovery_s: float = 0.0

    @property
    def clean(self) -> bool:
        return self.processed == self.produced and not (
            self.lost or self.duplicated or self.order_violations or self.stuck
        )


@dataclass
class Tally:
    """What a flow's state says about the sequence numbers each key produced."""

    lost: int = 0
    duplicated: int = 0
    order_violations: int = 0
    processed: int = 0

    def add(self, produced: list[int], applied: list[int]) -> None:
        self.processed += len(set(applied) & set(produced))
        self.lost += len(set(produced) - set(applied))
        self.duplicated += len(applied) - len(set(applied))
        self.order_violations += sum(1 for a, b in itertools.pairwise(applied) if b <= a)


def sequence_of(text: str) -> int:
    """`<key>#<seq>` -> seq."""
    return int(text.rsplit("#", 1)[1])


class SteadyLoad(threading.Thread):
    """Produces to every flow at ``rate`` records/s in total, round-robin over the keys."""

    def __init__(self, settings: Settings, keys: list[str], rate: float) -> None:
        super().__init__(daemon=True)
        # Quiet: a broker killed on purpose is not news.
        self.producer = RecordProducer({**settings.kafka.client_config(), "log_level": "0"})
        self.keys, self.rate = keys, rate
        self.produced: dict[tuple[str, str], list[int]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        n, began = 0, time.monotonic()
        while not self._halt.is_set():
            flow, key = FLOWS[n % len(FLOWS)], self.keys[(n // len(FLOWS)) % len(self.keys)]
            seq = len(self.produced.setdefault((flow, key), []))
            self.producer.send(flow, key, payload(flow, f"{key}#{seq}"))
            self.produced[(flow, key)].append(seq)
            n += 1
            time.sleep(max(0.0, began + n / self.rate - time.monotonic()))

    def finish(self) -> None:
        self._halt.set()
        self.join()
        self.producer.flush(timeout=120)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.produced.values())


def payload(flow: str, marker: str) -> dict[str, str]:
    if flow == "package-location-updates":
        return {"timestamp": marker, "location": marker}
    return {"content": marker, "metadata": "fault-suite"}


class ResultClock(threading.Thread):
    """Notes when result records arrive, to time the recovery after a crash."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.reader = TopicReader(settings.kafka.client_config(), [topic(f).results for f in FLOWS])
        self.arrivals: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            got = self.reader.collect(lambda rs: len(rs) > 0, timeout=0.5)
            self.arrivals.extend(time.monotonic() for _ in got)

    def first_after(self, moment: float) -> float | None:
        return next((t for t in self.arrivals if t > moment), None)

    def finish(self) -> None:
        self._halt.set()
        self.join()
        self.reader.close()


def applied_sequences(ingress: httpx.Client, flow: str, key: str) -> list[int] | None:
    """The sequence numbers the key's state holds, in order; None while still settling."""
    if flow == "package-location-updates":
        r = ingress.post(f"/PackageTracker/{key}/getPackageInfo")
        return [sequence_of(e["location"]) for e in r.json()["locations"]] if r.status_code == 200 else None
    feed = ingress.post(f"/UserFeed/{key}/getFeed").json()
    if any(e["status"] != "DONE" for e in feed):
        return None
    return [sequence_of(e["content"]) for e in feed]


def settle(ingress: httpx.Client, load: SteadyLoad, deadline: float) -> Tally:
    """Waits until every key's state holds what was produced (or the deadline), then tallies."""
    pending = dict(load.produced)
    latest: dict[tuple[str, str], list[int]] = {}
    while pending and time.monotonic() < deadline:
        for (flow, key), produced in list(pending.items()):
            applied = applied_sequences(ingress, flow, key)
            if applied is not None:
                latest[(flow, key)] = applied
                if len(applied) >= len(produced):
                    del pending[(flow, key)]
        time.sleep(0.2)
    tally = Tally()
    for (flow, key), produced in load.produced.items():
        tally.add(produced, latest.get((flow, key), []))
    return tally


def stuck_invocations(admin: RestateAdmin, deadline: float) -> int:
    """Invocations of the flows' handlers not completed once the load has drained."""
    sql = ("SELECT count(*) AS n FROM sys_invocation WHERE status != 'completed' "
           "AND target_service_name IN ('PackageTracker', 'UserFeed')")
    while True:
        n = int(admin.query(sql)[0]["n"])
        if n == 0 or time.monotonic() > deadline:
            return n
        time.sleep(0.5)


def run_scenario(stack: Stack, name: str, crashes: tuple[str, ...], keys: int, rate: float,
                 warmup: float, downtime: float, progress: Callable[[str], None] = print) -> ScenarioReport:
    settings = stack.settings
    names = [f"{name}-k{i}" for i in range(keys)]
    with httpx.Client(base_url=settings.restate.ingress_url, timeout=30) as ingress:
        for key in names:
            ingress.post(f"/PackageTracker/{key}/registerPackage", json={"finalDestination": "Fault Lane"})
        load, clock = SteadyLoad(settings, names, rate), ResultClock(settings)
        clock.start()
        load.start()
        time.sleep(warmup)
        recoveries = []
        for component in crashes:
            killed = time.monotonic()
            progress(f"  {name}: kill -9 {component}")
            stack.crash(component)
            time.sleep(downtime)
            restarted = time.monotonic()
            stack.restart(component)
            time.sleep(warmup)
            back = clock.first_after(restarted)
            recoveries.append((back if back is not None else time.monotonic()) - killed)
        load.finish()
        progress(f"  {name}: {load.count} records produced; waiting for state to settle")
        began = time.monotonic()
        tally = settle(ingress, load, began + 120)
        clock.finish()
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        settled = time.monotonic()
        stuck = stuck_invocations(admin, settled + 30)
    finally:
        admin.close()
    progress(f"  {name}: state settled in {settled - began:.1f}s, invocations drained in "
             f"{time.monotonic() - settled:.1f}s")
    return ScenarioReport(name, load.count, tally.processed, tally.lost, tally.duplicated,
                          tally.order_violations, stuck, round(max(recoveries, default=0.0), 2))


@dataclass
class FaultReport:
    scenarios: list[ScenarioReport] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"scenarios": [asdict(s) for s in self.scenarios]}, indent=2)

    def table(self) -> str:
        head = (f"{'scenario':16} {'produced':>9} {'processed':>9} {'lost':>5} {'dup':>5} {'order':>6} "
                f"{'stuck':>6} {'recovery_s':>10}")
        rows = [
            f"{s.name:16} {s.produced:9d} {s.processed:9d} {s.lost:5d} {s.duplicated:5d} "
            f"{s.order_violations:6d} {s.stuck:6d} {s.recovery_s:10.2f}"
            for s in self.scenarios
        ]
        return "\n".join([head, *rows])

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n")


def fault_settings(home: Path) -> Settings:
    """A private stack with moderation and retries shortened so a scenario takes seconds."""
    from switchyard.stack.ephemeral import ephemeral_settings

    return ephemeral_settings(
        home,
        kafka={"topic_partitions": 2},
        feed={"moderation_poll_interval": 0.05, "moderation_pending_probability": 0.5},
    )


def run_suite(home: Path, names: list[str], keys: int, rate: float, warmup: float, downtime: float,
              progress: Callable[[str], None] = print) -> FaultReport:
    stack = Stack(fault_settings(home), home, progress=progress)
    stack.start()
    report = FaultReport()
    try:
        for name in names:
            report.scenarios.append(run_scenario(stack, name, SCENARIOS[name], keys, rate, warmup, downtime, progress))
            progress(report.table().splitlines()[-1])
    finally:
        stack.stop()
    return report
