"""The key gate's watchdog: a serving thread stuck in one batch (a librdkafka call blocked
past its own timeout after a broker loss) is replaced by a fresh one, and the stuck one
stops once it comes back. No broker here: `_serve` is replaced by a stand-in."""

from __future__ import annotations

import threading
import time

from schemas.catalogue import topic
from switchyard.core.gate import KeyGate
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
