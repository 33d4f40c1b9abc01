"""The key gate's watchdog: a serving thread stuck in one batch (a librdkafka call blocked
past its own timeout after a broker loss) is replaced by a fresh one, and the stuck one
stops once it comes back. No broker here: `_serve` is replaced by a stand-in."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from schemas.catalogue import topic
from switchyard.core.gate import KeyGate, gate_transactional_id
from switchyard.core.settings import GateSettings, KafkaSettings


class StuckOnce(KeyGate):
    """Generation 1 blocks inside a batch until released; later ones serve normally."""

    def __init__(self) -> None:
        super().__init__(KafkaSettings(), GateSettings(), "gate-test", [topic("bench-events")])
        self.release = threading.Event()
        self.served: list[int] = []
        self.limit = 0.3

    def stall_limit(self) -> float:
        return self.limit

    def _serve(self, generation: int = 0) -> None:
        self.served.append(generation)
        if generation == 1:
            self._busy_since = time.monotonic()  # as _serve does when a batch begins
            self.release.wait(10)
            return
        self._stop.wait(10)


def test_a_gate_stuck_in_one_batch_is_replaced_and_the_stuck_one_stands_down() -> None:
    gate = StuckOnce()
    gate.start()
    try:
        deadline = time.monotonic() + 5
        while gate.replaced == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gate.replaced == 1
        time.sleep(0.2)
        assert gate.served == [1, 2]  # a fresh thread serves
        gate.release.set()  # the stuck call returns at last: its thread must not serve again
        time.sleep(0.3)
        assert gate.served == [1, 2]
        assert gate.replaced == 1  # the fresh thread is between batches: nothing to replace
    finally:
        gate.stop(1)


def test_a_slow_batch_within_the_limit_is_left_alone() -> None:
    gate = StuckOnce()
    gate.limit = 60.0
    gate.start()
    try:
        time.sleep(1.5)  # the watchdog looks once a second
        assert gate.replaced == 0
        assert gate.served == [1]
    finally:
        gate.release.set()
        gate.stop(1)


class _Topics:
    def __init__(self, names: set[str]) -> None:
        self.topics = dict.fromkeys(names)


class StuckInInit(KeyGate):
    """The real `_serve`, on stand-in clients whose first producer blocks in
    init_transactions (as a librdkafka call can after a broker loss)."""

    def __init__(self) -> None:
        super().__init__(KafkaSettings(), GateSettings(mode="transactional"), "gate-test", [topic("bench-events")])
        self.release = threading.Event()
        self.inits = 0
        self.subscribed: list[int] = []

    def stall_limit(self) -> float:
        return 0.3

    def _clients(self) -> Any:
        gate, names = self, {n for t in self.topics for n in (t.name, t.routed, t.dlq)}

        class Consumer:
            def list_topics(self, timeout: float) -> _Topics:
                return _Topics(names)

            def subscribe(self, topics: list[str], on_assign: Any, on_revoke: Any = None) -> None:
                gate.subscribed.append(gate.inits)

            def poll(self, timeout: float) -> None:
                time.sleep(timeout)

            def close(self) -> None:
                pass

        class Producer:
            def init_transactions(self, timeout: float) -> None:
                gate.inits += 1
                if gate.inits == 1:
                    gate.release.wait(10)

            def flush(self, timeout: float) -> None:
                pass

        return Consumer(), Producer()


def test_a_gate_stuck_in_init_transactions_is_replaced() -> None:
    gate = StuckInInit()
    gate.start()
    try:
        deadline = time.monotonic() + 5
        while not gate.subscribed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gate.replaced == 1
        assert gate.subscribed == [2]  # the fresh thread's clients got through and serve
    finally:
        gate.release.set()
        gate.stop(1)


def test_several_workers_never_share_a_transactional_id() -> None:
    """Workers sharing one id fence each other in turn: a configured id gets the pid too."""
    assert gate_transactional_id("orders-gate", "127.0.0.1:9080", workers=1) == "orders-gate"
    assert gate_transactional_id("orders-gate", "127.0.0.1:9080", workers=4) == f"orders-gate-{os.getpid()}"
    assert gate_transactional_id(None, "127.0.0.1:9080", workers=4).endswith(f"-9080-{os.getpid()}")
