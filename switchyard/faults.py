"""The fault suite: steady load across many keys, a component killed with SIGKILL and
restarted, then a check from state and results that nothing was lost, nothing applied
twice, per-key order kept and no invocation left stuck.

Each produced record carries a per-key sequence number in its payload, so its effect in
state (a package location, a feed entry) can be counted and ordered. Saga records
(`trip-bookings`) each start a trip of their own (`<key>-t<seq>`); their effects are
counted from the travel APIs' ledgers: one flight, one car, at most one charge per trip,
and the outcome the card asks for (confirmed, or compensated for the declined card).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from producers.client import RecordProducer
from schemas.catalogue import topic
from switchyard.admin import RestateAdmin
from switchyard.results import TopicReader
from switchyard.settings import Settings
from switchyard.stack.stack import Stack

FLOWS = ("package-location-updates", "social-media-posts", "trip-bookings")
SAGA = "trip-bookings"
# Even trips pay with an accepted card, odd ones with the seed's declined demo card.
ACCEPTED_CARD, DECLINED_CARD = "5555555555554444", "4111111111111111"
FLOW_SERVICES = ("PackageTracker", "UserFeed", "BookingWorkflow", "Flights", "CarRentals", "PaymentGateway")
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

    def merge(self, other: Tally) -> None:
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.order_violations += other.order_violations
        self.processed += other.processed

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
            self.producer.send(flow, record_key(flow, key, seq), payload(flow, f"{key}#{seq}"))
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


def record_key(flow: str, key: str, seq: int) -> str:
    """Objects keep one key's records in order; each saga record is a trip of its own."""
    return trip_id(key, seq) if flow == SAGA else key


def trip_id(key: str, seq: int) -> str:
    return f"{key}-t{seq}"


def payload(flow: str, marker: str) -> dict[str, Any]:
    if flow == "package-location-updates":
        return {"timestamp": marker, "location": marker}
    if flow == SAGA:
        card = DECLINED_CARD if sequence_of(marker) % 2 else ACCEPTED_CARD
        return {"flights": {"flightId": "FL-1", "passengerName": marker},
                "car": {"pickupLocation": "Ghent", "rentalDate": "2024-10-10"},
                "paymentInfo": {"cardNumber": card, "amount": 10.0}}
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


def trip_effects(ingress: httpx.Client, trip: str, seq: int) -> int | None:
    """How many times the trip's booking took effect (1 is right; 0 if it ended wrong);
    None while the saga is still running."""
    status = ingress.post(f"/BookingWorkflow/{trip}/getStatus")
    if status.status_code != 200 or status.json()["status"] == "RUNNING":
        return None
    flights, cars, charges = (ingress.post(f"/{api}/{trip}/getLedger").json()
                              for api in ("Flights", "CarRentals", "PaymentGateway"))
    return effect_count(status.json()["status"], flights, cars, charges, declined=seq % 2 == 1)


def effect_count(status: str, flights: dict[str, str], cars: dict[str, str], charges: dict[str, str],
                 declined: bool) -> int:
    """From a finished trip's ledgers: how many times its booking took effect, or 0 if it
    ended wrong (a declined card must leave both reservations cancelled and nothing
    charged; an accepted one both confirmed and one charge)."""
    if declined:
        right = status == "COMPENSATED" and set(flights.values()) == set(cars.values()) == {"CANCELLED"} \
            and not charges
    else:
        right = status == "CONFIRMED" and set(flights.values()) == set(cars.values()) == {"CONFIRMED"} \
            and set(charges.values()) == {"CHARGED"}
    return max(len(flights), len(cars), len(charges)) if right else 0


class SagaLedgers:
    """Each trip's effect count, asked for until the trip has finished (then kept)."""

    def __init__(self, ingress: httpx.Client) -> None:
        self.ingress = ingress
        self.finished: dict[tuple[str, int], int] = {}

    def applied(self, key: str, produced: list[int], final: bool) -> list[int] | None:
        """The key's trips as sequence numbers, once per effect; None while any is running
        (``final``: what is known now, the unfinished ones counted as not applied)."""
        for seq in produced:
            if (key, seq) not in self.finished:
                effects = trip_effects(self.ingress, trip_id(key, seq), seq)
                if effects is None and not final:
                    return None
                if effects is not None:
                    self.finished[(key, seq)] = effects
        return [seq for seq in produced for _ in range(self.finished.get((key, seq), 0))]


def applied_sequences(ingress: httpx.Client, flow: str, key: str) -> list[int] | None:
    """The sequence numbers the key's state holds, in order (a record applied twice shows
    twice); None while still settling."""
    if flow == "package-location-updates":
        r = ingress.post(f"/PackageTracker/{key}/getPackageInfo")
        return [sequence_of(e["location"]) for e in r.json()["locations"]] if r.status_code == 200 else None
    feed = ingress.post(f"/UserFeed/{key}/getFeed").json()
    if any(e["status"] != "DONE" for e in feed):
        return None
    return [sequence_of(e["content"]) for e in feed]


def settle(ingress: httpx.Client, load: SteadyLoad, deadline: float) -> dict[str, Tally]:
    """Waits until every key's state holds what was produced (or the deadline), then
    tallies per flow."""
    pending = dict(load.produced)
    latest: dict[tuple[str, str], list[int]] = {}
    trips = SagaLedgers(ingress)
    while pending and time.monotonic() < deadline:
        for (flow, key), produced in list(pending.items()):
            applied = (trips.applied(key, produced, final=False) if flow == SAGA
                       else applied_sequences(ingress, flow, key))
            if applied is not None:
                latest[(flow, key)] = applied
                if len(applied) >= len(produced):
                    del pending[(flow, key)]
        time.sleep(0.2)
    for flow, key in pending:
        if flow == SAGA:  # what finished in time counts; the rest is lost
            latest[(flow, key)] = trips.applied(key, load.produced[(flow, key)], final=True) or []
    tallies = {flow: Tally() for flow in FLOWS}
    for (flow, key), produced in load.produced.items():
        tallies[flow].add(produced, latest.get((flow, key), []))
    return tallies


def stuck_invocations(admin: RestateAdmin, deadline: float) -> int:
    """Invocations of the flows' handlers not completed once the load has drained."""
    services = ", ".join(f"'{s}'" for s in FLOW_SERVICES)
    sql = ("SELECT count(*) AS n FROM sys_invocation "
           f"WHERE status != 'completed' AND target_service_name IN ({services})")
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
        tallies = settle(ingress, load, began + 120)
        clock.finish()
    for flow, t in tallies.items():
        progress(f"  {name}: {flow}: processed {t.processed}, lost {t.lost}, duplicated {t.duplicated}, "
                 f"order violations {t.order_violations}")
    tally = Tally()
    for t in tallies.values():
        tally.merge(t)
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
