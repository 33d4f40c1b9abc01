"""The fault suite: steady load across many keys while something goes wrong, then a check
that nothing was lost, nothing applied twice, per-key order kept and no invocation left
stuck, counted from state **and** from the `-results`/`-dlq` topics (one outcome per record).

What goes wrong, per scenario: a component killed with SIGKILL and restarted; the service
and restate-server frozen with SIGSTOP for longer than Restate's inactivity timeout; the
payment provider down for longer than the retry horizon (its invocations pause and are
resumed); a poison storm of foreign producers' records interleaved with the load, on every
topic of the load (objects, the saga's workflow, the plain-service payments): generated keys
(binary, empty, missing, or any UTF-8 string) with values no schema takes, and keys that
cannot run with good values (``switchyard.faults.generated``, shared with the property suite).

Each produced record carries a per-key sequence number in its payload, so its effect in
state (a package location, a feed entry) can be counted and ordered. Saga records
(`trip-bookings`) each start a trip of their own (`<key>-t<seq>`); their effects are
counted from the travel APIs' ledgers: one flight, one car, at most one charge per trip,
and the outcome the card asks for (confirmed, or compensated for the declined card).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka.admin import AdminClient

from handlers.settings import example_settings
from schemas.catalogue import topic
from switchyard.core.admin import RestateAdmin
from switchyard.core.kafka import RecordProducer
from switchyard.core.poll import poll_until
from switchyard.core.results import TopicReader
from switchyard.core.text import render_table
from switchyard.faults.outcomes import OutcomeLedger, PoisonProducer, Source
from switchyard.ops.paused import paused, resume
from switchyard.ops.upgrade import journal_mismatches
from switchyard.settings import Settings
from switchyard.stack.ephemeral import ephemeral_cluster_settings, ephemeral_settings
from switchyard.stack.kafka import quorum_leader
from switchyard.stack.restate import partition_leaders
from switchyard.stack.stack import Stack

FLOWS = ("package-location-updates", "social-media-posts", "trip-bookings", "payment-requests")
SAGA = "trip-bookings"
PAYMENTS = "payment-requests"  # counted from outcomes only: one result per request
PAYMENT_EVERY = 4
# Even trips pay with an accepted card, odd ones with the seed's declined demo card.
ACCEPTED_CARD, DECLINED_CARD = "5555555555554444", "4111111111111111"
FLOW_SERVICES = ("PackageTracker", "UserFeed", "BookingWorkflow", "BookingWorkflowIngest", "Flights", "CarRentals",
                 "PaymentGateway", "PaymentService")


@dataclass(frozen=True)
class Step:
    """One thing that goes wrong: `kill` (SIGKILL, restart), `freeze` (SIGSTOP, SIGCONT),
    `outage` (the component gone longer than the retry horizon, then back and the paused
    invocations resumed), `poison` (bad records from a foreign producer), `down` (SIGKILL,
    and it stays down while the load goes on: restarted only when the load has ended).
    On a cluster a target may name a role, resolved when the step runs: `restate:leader`
    (the node leading the most partitions), `kafka:leader` (the broker leading partition 0
    of the busiest topic), `kafka:controller` (the active KRaft controller)."""

    action: str
    target: str = ""
    # `upgrade`: the new version beside the old, registered, the old drained and retired
    # (Stack.upgrade), its UserFeed with one more `ctx.run` step at the top.


SCENARIOS: dict[str, tuple[Step, ...]] = {
    "service": (Step("kill", "service"),),
    "restate-server": (Step("kill", "restate"),),
    "kafka": (Step("kill", "kafka"),),
    "all-in-turn": (Step("kill", "service"), Step("kill", "restate"), Step("kill", "kafka")),
    "frozen": (Step("freeze", "service"), Step("freeze", "restate")),
    "provider-outage": (Step("outage", "provider"),),
    "poison-storm": (Step("poison"),),
    # A changed version (a new first step in processPost) rolled out under the load: the
    # old version drains, nothing replays on the other version's code.
    "upgrade": (Step("upgrade"),),
}

# `switchyard faults --cluster`: three brokers, three Restate nodes, two service replicas.
CLUSTER_SCENARIOS: dict[str, tuple[Step, ...]] = {
    "restate-node": (Step("kill", "restate:leader"),),
    "kafka-broker": (Step("kill", "kafka:leader"), Step("kill", "kafka:controller")),
    "service-replica": (Step("kill", "service-1"),),
    "cluster-in-turn": (Step("kill", "restate:leader"), Step("kill", "kafka:leader"), Step("kill", "service-1")),
    # One Restate node and one broker gone while the load goes on: the cluster keeps going.
    "degraded": (Step("down", "restate:leader"), Step("down", "kafka:leader")),
    # A changed version rolled out behind HAProxy under the load (Stack.upgrade_cluster).
    "upgrade": (Step("upgrade"),),
}


@dataclass(frozen=True)
class Timings:
    warmup: float = 1.5  # load before the first step and after each
    downtime: float = 0.5  # a killed component stays down this long
    freeze: float = 8.0  # longer than fault_settings' inactivity + abort timeouts
    outage: float = 5.0  # at least; then on until the first invocation pauses
    degraded: float = 6.0  # load measured with parts down (`down` steps)
    # How long the state may take to catch up once the load ends: a backlog built while
    # parts were down drains at the (slower, on one shared machine) cluster's pace.
    settle: float = 120.0
    poison: int = 60  # bad records per input topic of the load (each of FLOWS)


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
    # Of that, the longest a gated key waited for the key gate's next copy (the rest is Restate's).
    recovery_copies_s: float = 0.0
    # The median key's longest wait: how many keys a fault held, not only the unluckiest.
    recovery_median_s: float = 0.0
    # From the -results/-dlq topics: every record produced, the poison included.
    outcomes_missing: int = 0
    outcomes_duplicated: int = 0  # copies (same source, same content): see the README
    outcome_copies_differ: int = 0
    poison: int = 0  # bad records sent
    poison_dead_lettered: int = 0
    paused: int = 0  # invocations paused by the outage, then resumed
    journal_mismatches: int = 0  # invocations that replayed on changed code (Restate's RT0016)
    # Results per second before the first step, and while a `down` step's parts were down.
    throughput: float = 0.0
    throughput_degraded: float | None = None
    disrupted: list[str] = field(default_factory=list)  # what each step hit, roles resolved

    @property
    def clean(self) -> bool:
        return self.processed == self.produced and self.poison_dead_lettered == self.poison and not (
            self.lost or self.duplicated or self.order_violations or self.stuck
            or self.outcomes_missing or self.outcome_copies_differ or self.journal_mismatches
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
        began = time.monotonic()
        for n, (flow, key) in enumerate(self.schedule(), start=1):
            if self._halt.is_set():
                return
            seq = len(self.produced.setdefault((flow, key), []))
            self.producer.send(flow, record_key(flow, key, seq), payload(flow, f"{key}#{seq}"))
            self.produced[(flow, key)].append(seq)
            time.sleep(max(0.0, began + n / self.rate - time.monotonic()))

    def schedule(self) -> Iterator[tuple[str, str]]:
        """Round-robin over flows and keys; a payment only every PAYMENT_EVERY rounds: while
        the provider is down each one retries about once a second, and on two cores a
        payment per record would turn the outage into a retry storm."""
        for n in itertools.count():
            key = self.keys[n % len(self.keys)]
            for flow in FLOWS:
                if flow != PAYMENTS or n % PAYMENT_EVERY == 0:
                    yield flow, key

    def finish(self) -> None:
        self._halt.set()
        self.join()
        self.producer.flush(timeout=120)

    def sent(self) -> list[Source]:
        """Where each acknowledged record landed (after ``finish``)."""
        return list(self.producer.delivered)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.produced.values())


def record_key(flow: str, key: str, seq: int) -> str:
    """Objects keep one key's records in order; each saga record is a trip of its own and
    each payment request a request of its own (the key is its idempotency key)."""
    if flow == PAYMENTS:
        return f"{key}-p{seq}"
    return trip_id(key, seq) if flow == SAGA else key


def trip_id(key: str, seq: int) -> str:
    return f"{key}-t{seq}"


def payload(flow: str, marker: str) -> dict[str, Any]:
    if flow == PAYMENTS:
        return {"paymentMethodId": "pm_card_visa", "amount": 100 + sequence_of(marker)}
    if flow == "package-location-updates":
        return {"timestamp": marker, "location": marker}
    if flow == SAGA:
        card = DECLINED_CARD if sequence_of(marker) % 2 else ACCEPTED_CARD
        return {"flights": {"flightId": "FL-1", "passengerName": marker},
                "car": {"pickupLocation": "Ghent", "rentalDate": "2024-10-10"},
                "paymentInfo": {"cardNumber": card, "amount": 10.0}}
    return {"content": marker, "metadata": "fault-suite"}


class ResultClock(threading.Thread):
    """Notes when result records arrive, per key, to time how long a fault stops the flow;
    and, for the gated flows, when the key gate's copies arrive, to tell which side waited."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        # The flows whose keys recur (objects): a saga's or a payment's key is one record's,
        # and a repeated copy of its one outcome is not a flow that stopped.
        keyed = [topic(f) for f in FLOWS if f not in (SAGA, PAYMENTS)]
        self.results = {topic(f).results for f in FLOWS}
        self.flow_of = {t.results: t.name for t in keyed}
        self.copies = {t.routed: t.name for t in keyed if t.gated}
        self.reader = TopicReader(settings.kafka.client_config(), [*self.results, *self.copies])
        self.arrivals: list[float] = []
        self.by_key: dict[tuple[str, bytes | None], list[float]] = {}
        self.copies_by_key: dict[tuple[str, bytes | None], list[float]] = {}
        self.started = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            got = self.reader.collect(lambda rs: len(rs) > 0, timeout=0.5)
            now = time.monotonic()
            for r in got:
                if r.topic in self.copies:
                    self.copies_by_key.setdefault((self.copies[r.topic], r.key), []).append(now)
                    continue
                self.arrivals.append(now)
                if r.topic in self.flow_of:
                    self.by_key.setdefault((self.flow_of[r.topic], r.key), []).append(now)

    def longest_wait(self, since: float, until: float) -> float:
        """The recovery time of a fault that began at ``since``: the longest any key that was
        flowing before it went without a result between ``since`` and ``until`` (or later,
        while it still waits). Per key, because a lost broker stops only the partitions it
        led: the other keys' results would hide the stall in a count over all of them."""
        return longest_wait(list(self.by_key.values()), since, until, time.monotonic())

    def median_wait(self, since: float, until: float) -> float:
        """The median over the flowing keys of each one's longest wait (as `longest_wait`)."""
        waits = key_waits(list(self.by_key.values()), since, until, time.monotonic())
        return round(statistics.median(waits), 2) if waits else 0.0

    def longest_copy_wait(self, since: float, until: float) -> float:
        """The same over the key gate's copies: how much of a key's wait was the gate's."""
        return longest_wait(list(self.copies_by_key.values()), since, until, time.monotonic())

    def rate(self, since: float, until: float) -> float:
        """Results per second that arrived between the two moments."""
        return sum(1 for t in self.arrivals if since <= t < until) / max(until - since, 1e-9)

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
    pending = {fk: seqs for fk, seqs in load.produced.items() if fk[0] != PAYMENTS}
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
    tallies = {flow: Tally() for flow in FLOWS if flow != PAYMENTS}
    for (flow, key), produced in load.produced.items():
        if flow != PAYMENTS:
            tallies[flow].add(produced, latest.get((flow, key), []))
    return tallies


def in_flight(admin: RestateAdmin) -> set[str]:
    """The ids of the flows' invocations not completed yet."""
    services = ", ".join(f"'{s}'" for s in FLOW_SERVICES)
    sql = f"SELECT id FROM sys_invocation WHERE status != 'completed' AND target_service_name IN ({services})"
    return {str(row["id"]) for row in admin.query(sql)}


def stuck_invocations(admin: RestateAdmin, deadline: float, earlier: frozenset[str] = frozenset()) -> int:
    """This scenario's invocations of the flows' handlers not completed once the load has
    drained (``earlier``: ones in flight before it began, an earlier scenario's)."""

    def left() -> int:
        return len(in_flight(admin) - earlier)

    with contextlib.suppress(TimeoutError):
        poll_until(lambda: left() == 0, deadline - time.monotonic(), 0.5, "the flows' invocations to complete")
    return left()


def quiet_start(settings: Settings, timeout: float, progress: Callable[[str], None]) -> frozenset[str]:
    """Waits for an earlier scenario's invocations to finish, so its backlog neither slows
    this one nor counts in it; returns those still in flight after ``timeout``."""
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        with contextlib.suppress(TimeoutError):
            poll_until(lambda: not in_flight(admin), timeout, 1.0, "an earlier scenario's invocations to finish")
        left = frozenset(in_flight(admin))
    finally:
        admin.close()
    if left:
        progress(f"  {len(left)} invocation(s) of an earlier scenario still in flight: not counted in this one")
    return left


def run_scenario(stack: Stack, name: str, steps: tuple[Step, ...], keys: int, rate: float,
                 timings: Timings = Timings(), progress: Callable[[str], None] = print) -> ScenarioReport:
    settings = stack.settings
    names = [f"{name}-k{i}" for i in range(keys)]
    report = ScenarioReport(name)
    earlier = quiet_start(settings, timings.settle, progress)
    with httpx.Client(base_url=settings.restate.ingress_url, timeout=90) as ingress:
        for key in names:
            ingress.post(f"/PackageTracker/{key}/registerPackage", json={"finalDestination": "Fault Lane"})
        client = settings.kafka.client_config()
        ledger = OutcomeLedger(client, [topic(f) for f in FLOWS])
        load, clock, poison = SteadyLoad(settings, names, rate), ResultClock(settings), PoisonProducer(client)
        clock.start()
        load.start()
        try:
            time.sleep(timings.warmup)
            with contextlib.suppress(TimeoutError):  # a fault's recovery is timed on keys already flowing
                poll_until(lambda: bool(clock.by_key), 60, 0.2, "the first results")
            if any(step.action == "down" for step in steps):
                # The rate before, over as long a window as the degraded one after, to compare.
                before = time.monotonic()
                time.sleep(timings.degraded)
                report.throughput = clock.rate(before, time.monotonic())
            warm = clock.started + timings.warmup / 2
            faults: list[tuple[float, float]] = []  # (began, back) of each step, timed once settled
            down: list[tuple[str, float]] = []
            for step in steps:
                began = time.monotonic()
                target = resolve(stack, step.target)
                report.disrupted.append(f"{step.action} {target}".rstrip())
                progress(f"  {name}: {step.action} {target}".rstrip())
                if step.action == "down":
                    stack.crash(target)
                    down.append((target, began))
                    time.sleep(timings.warmup)
                    continue
                restarted = disrupt(stack, Step(step.action, target), timings, poison, report)
                time.sleep(timings.warmup)
                faults.append((began, restarted))
            if down:
                # With all of them still down: the failover itself (leaders moved, clients
                # reconnected) is the recovery time.
                first, last = down[0][1], down[-1][1]
                # The degraded rate is measured once every key flowing before is flowing again:
                # counted from the first result of any key, the window caught keys still waiting.
                with contextlib.suppress(TimeoutError):
                    poll_until(lambda: all_back(list(clock.by_key.values()), first, last), 120, 0.5,
                               "every key's results while degraded")
                faults.append((first, last))
                since = time.monotonic()
                time.sleep(timings.degraded)
                report.throughput_degraded = round(clock.rate(since, time.monotonic()), 1)
                progress(f"  {name}: {report.throughput_degraded} results/s with {', '.join(t for t, _ in down)} down "
                         f"({report.throughput:.1f} before)")
            if not down:  # the results' rate over the whole scenario, disruptions included
                report.throughput = clock.rate(warm, time.monotonic())
            load.finish()
            for target, _ in down:
                stack.restart(target)
            poison.flush()
            progress(f"  {name}: {load.count} records produced; waiting for state to settle")
            began = time.monotonic()
            tallies = settle(ingress, load, began + timings.settle)
        except BaseException:
            # A failed step must not leave its load running into the next scenario.
            load.finish()
            clock.finish()
            ledger.close()
            raise
        clock.finish()
        # Once settled, every key's results are in: how long each fault kept a key waiting.
        recoveries = [clock.longest_wait(since, back) for since, back in faults]
        medians = [clock.median_wait(since, back) for since, back in faults]
        copy_waits = [clock.longest_copy_wait(since, back) for since, back in faults]
        if recoveries:
            progress(f"  {name}: the longest any key waited for its next result after each fault: "
                     + ", ".join(f"{r:.1f}s (for its gate copy {c:.1f}s; the median key {m:.1f}s; the part back "
                                 f"after {back - since:.1f}s)"
                                 for r, c, m, (since, back) in zip(recoveries, copy_waits, medians, faults,
                                                                   strict=True)))
    sent = [*load.sent(), *poison.sent]
    with contextlib.suppress(TimeoutError):  # what is missing then is counted as missing
        poll_until(lambda: ledger.has_all(sent), began + timings.settle + 30 - time.monotonic(), 0.5,
                   "every record's outcome")
    time.sleep(1.0)  # a late copy of an outcome would still be seen
    payments = [s for s in load.sent() if s[0] == PAYMENTS]  # counted from outcomes only
    outcomes, bad, paid = ledger.count(sent), ledger.count(poison.sent), ledger.count(payments)
    ledger.close()
    for flow, t in tallies.items():
        progress(f"  {name}: {flow}: processed {t.processed}, lost {t.lost}, duplicated {t.duplicated}, "
                 f"order violations {t.order_violations}")
    progress(f"  {name}: outcomes for {len(sent)} records: {outcomes.missing} missing, {outcomes.duplicated} "
             f"copies ({outcomes.copies_differ} differing); poison {len(poison.sent)}, dead-lettered "
             f"{bad.dead_lettered}")
    tally = Tally()
    for t in tallies.values():
        tally.merge(t)
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        settled = time.monotonic()
        stuck = stuck_invocations(admin, settled + 30, earlier)
        report.journal_mismatches = len(journal_mismatches(admin))
    finally:
        admin.close()
    progress(f"  {name}: state settled in {settled - began:.1f}s, invocations drained in "
             f"{time.monotonic() - settled:.1f}s")
    report.produced = load.count
    report.processed = tally.processed + len(payments) - paid.missing
    report.lost, report.duplicated, report.order_violations = tally.lost, tally.duplicated, tally.order_violations
    report.stuck, report.recovery_s = stuck, round(max(recoveries, default=0.0), 2)
    report.recovery_copies_s = round(max(copy_waits, default=0.0), 2)
    report.recovery_median_s = max(medians, default=0.0)
    report.outcomes_missing, report.outcomes_duplicated = outcomes.missing, outcomes.duplicated
    report.outcome_copies_differ = outcomes.copies_differ
    report.poison, report.poison_dead_lettered = len(poison.sent), bad.dead_lettered
    report.throughput = round(report.throughput, 1)
    return report


def resolve(stack: Stack, target: str) -> str:
    """A role (`restate:leader`, `kafka:leader`, `kafka:controller`) as the component that
    holds it now; any other target is a component's name."""
    if target == "restate:leader":
        return restate_leader(stack.settings)
    if target == "kafka:leader":
        return kafka_leader(stack.settings, topic(FLOWS[0]).routed)
    if target == "kafka:controller":
        return kafka_controller(stack.settings)
    if target == "service" and not stack.settings.stack.is_cluster:
        return stack.service_name()  # `service-<port>` once an upgrade moved it
    return target


def restate_leader(settings: Settings) -> str:
    """The node leading the most partitions (`restatectl partitions list`)."""
    leaders = partition_leaders(settings)
    counts = {node: list(leaders.values()).count(node) for node in set(leaders.values())}
    return f"restate-{max(counts, key=lambda n: (counts[n], -n))}"


def kafka_leader(settings: Settings, topic_name: str) -> str:
    admin = AdminClient({**settings.kafka.client_config(), "log_level": "0"})
    return f"kafka-{admin.list_topics(topic_name, timeout=10).topics[topic_name].partitions[0].leader}"


def kafka_controller(settings: Settings) -> str:
    return f"kafka-{quorum_leader(settings.kafka.bootstrap_servers)}"


def flowing(per_key: Iterable[list[float]], since: float) -> Iterator[list[float]]:
    """The keys that were flowing before ``since``: a result by then, and more than one in
    all (a key the load had only just reached is not yet a flow)."""
    return (times for times in per_key if len(times) > 1 and times[0] <= since)


def all_back(per_key: Iterable[list[float]], since: float, after: float) -> bool:
    """Whether every key flowing before ``since`` has had a result after ``after``."""
    return all(times[-1] > after for times in flowing(per_key, since))


def longest_wait(per_key: Iterable[list[float]], since: float, until: float, now: float) -> float:
    """Over the keys flowing before ``since``: the longest stretch from ``since`` on
    without one of theirs, counted to their first result after ``until`` (or ``now``)."""
    return round(max(key_waits(per_key, since, until, now), default=0.0), 2)


def key_waits(per_key: Iterable[list[float]], since: float, until: float, now: float) -> list[float]:
    """Per key flowing before ``since``, its longest stretch without a result (as above)."""
    waits = []
    for times in flowing(per_key, since):
        inside = [t for t in times if since < t <= until]
        later = next((t for t in times if t > until), now)
        points = [since, *inside, later]
        waits.append(max(b - a for a, b in itertools.pairwise(points)))
    return waits


def disrupt(stack: Stack, step: Step, timings: Timings, poison: PoisonProducer, report: ScenarioReport) -> float:
    """Does ``step``; returns when the disrupted part was back."""
    if step.action == "kill":
        stack.crash(step.target)
        time.sleep(timings.downtime)
        stack.restart(step.target)
    elif step.action == "freeze":
        stack.freeze(step.target)
        time.sleep(timings.freeze)
        stack.thaw(step.target)
    elif step.action == "outage":
        stack.crash(step.target)
        time.sleep(timings.outage)
        wait_for_paused(stack.settings, timings.outage * 6)  # down past the retry horizon, by construction
        report.paused += resume_paused(stack.settings)
        stack.restart(step.target)
        # Invocations whose retry horizon ends while it comes back pause after it is back: keep
        # resuming until a few seconds pass with none paused.
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 5.0:
            time.sleep(1.0)
            resumed = resume_paused(stack.settings)
            report.paused += resumed
            if resumed:
                quiet_since = time.monotonic()
    elif step.action == "upgrade":
        stack.upgrade(next_version, drain_timeout=timings.settle)
    elif step.action == "poison":
        for name in FLOWS:  # object, workflow and plain-service topics alike
            poison.send(topic(name), timings.poison, json.dumps(payload(name, "poison#0")).encode())
            time.sleep(0.2)
    else:
        raise ValueError(f"unknown fault step {step.action!r}")
    return time.monotonic()


def next_version(new: Settings) -> None:
    """The drill's changed build: its own version, and processPost's new first step (toggled,
    so each upgrade of a run changes the journal again)."""
    new.service.version = f"drill-{time.time_ns() // 1_000_000}"
    feed = example_settings(new).feed
    feed.audit_step = not feed.audit_step


def wait_for_paused(settings: Settings, timeout: float) -> None:
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        with contextlib.suppress(TimeoutError):  # then there is nothing to resume
            poll_until(lambda: paused(admin), timeout, 0.5, "a paused invocation")
    finally:
        admin.close()


def resume_paused(settings: Settings) -> int:
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        return len(resume(admin, paused(admin)))
    finally:
        admin.close()


@dataclass
class FaultReport:
    scenarios: list[ScenarioReport] = field(default_factory=list)
    cluster: bool = False  # a run on the local cluster: its own part of the results file

    @property
    def part(self) -> str:
        return "cluster_scenarios" if self.cluster else "scenarios"

    def to_json(self) -> str:
        return json.dumps({self.part: [asdict(s) for s in self.scenarios]}, indent=2)

    def table(self) -> str:
        head = ("scenario", "produced", "processed", "lost", "dup", "order", "stuck", "no outcome", "copies",
                "poison/dlq", "paused", "mismatch", "recovery_s", "results/s", "degraded/s")
        rows = [(s.name, s.produced, s.processed, s.lost, s.duplicated, s.order_violations, s.stuck,
                 s.outcomes_missing, s.outcomes_duplicated, f"{s.poison}/{s.poison_dead_lettered}", s.paused,
                s.journal_mismatches,
                 f"{s.recovery_s:.2f}", f"{s.throughput:.1f}",
                 "-" if s.throughput_degraded is None else f"{s.throughput_degraded:.1f}") for s in self.scenarios]
        return render_table(head, rows, right=range(1, len(head)))

    def write(self, path: Path) -> None:
        """Replaces this run's part of ``path`` (single stack or cluster), keeping the other."""
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = json.loads(path.read_text()) if path.exists() else {}
        kept[self.part] = [asdict(s) for s in self.scenarios]
        path.write_text(json.dumps(kept, indent=2) + "\n")


# Restate's timeouts on the fault stack, short so a scenario outlasts them in seconds: the
# retry horizon (12 attempts, backoff 50 ms to 1 s: about 8 s; a shorter backoff has every
# payment of the outage retry several times a second and the service drowns in retries)
# and the inactivity and abort timeouts a frozen service runs into.
FAULT_RESTATE_ENV = {
    "RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": "50ms",
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "1s",
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "12",
    "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "3s",
    "RESTATE_WORKER__INVOKER__ABORT_TIMEOUT": "3s",
}


def fault_settings(home: Path, cluster: bool = False, streams: bool = True) -> Settings:
    """A private stack (or cluster) with moderation, retries and timeouts shortened so a
    scenario takes seconds."""
    make = ephemeral_cluster_settings if cluster else ephemeral_settings
    return make(
        home,
        kafka={"topic_partitions": 3 if cluster else 2},
        feed={"moderation_poll_interval": 0.05, "moderation_pending_probability": 0.5},
        # One provider call per attempt: the outage then outlasts the horizon in seconds.
        provider={"delayed_status_after": 0.5, "network_retries": 0},
        # A cluster's broker restarts by replaying the KRaft metadata log: 91 s on a loaded CI
        # runner, past the 90 s a single stack's start is given.
        stack={"restate_env": FAULT_RESTATE_ENV, **({"start_timeout": 300} if cluster else {})},
        streams={"enabled": streams},
    )


def run_suite(home: Path, names: list[str], keys: int, rate: float, timings: Timings,
              progress: Callable[[str], None] = print, cluster: bool = False) -> FaultReport:
    # No stream worker on the cluster: eight processes already share this machine's cores.
    stack = Stack(fault_settings(home, cluster, streams=not cluster), home, progress=progress)
    stack.start()
    report = FaultReport(cluster=cluster)
    scenarios = CLUSTER_SCENARIOS if cluster else SCENARIOS
    try:
        for name in names:
            report.scenarios.append(run_scenario(stack, name, scenarios[name], keys, rate, timings, progress))
            progress(report.table().splitlines()[-1])
    finally:
        stack.stop()
    return report
