"""CPU time and memory of the processes under test, read from /proc (Linux).

A component is a process tree (hypercorn's master and its workers): its CPU seconds and
RSS are summed over the tree, so every figure covers the whole component.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchyard.stack.stack import Stack

PROC = Path("/proc")
SWITCHYARD_PROCESSES = ("service", "restate", "kafka")  # what Switchyard's CPU per record is summed over
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after its closing one.
    return text[text.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue.extend(children(current))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes (those that are gone count 0)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / TICKS


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            resident = (PROC / str(pid) / "statm").read_text().split()[1]
        except (OSError, IndexError):
            continue
        total += int(resident) * PAGE
    return total


def load_average() -> str:
    """The 1/5/15-minute load averages, noted beside every figure (the machine is shared)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


@dataclass
class CpuMeter:
    """CPU seconds each named component spent between ``start()`` and ``stop()``."""

    components: dict[str, int]  # name -> root pid
    # Components counted without their descendants: the load generator runs in the bench's
    # own process, whose children are the stack under test.
    alone: frozenset[str] = frozenset()
    spent: dict[str, float] = field(default_factory=dict)
    _before: dict[str, float] = field(default_factory=dict)
    _trees: dict[str, list[int]] = field(default_factory=dict)

    def start(self) -> None:
        self._trees = {name: [pid] if name in self.alone else tree(pid) for name, pid in self.components.items()}
        self._before = {name: cpu_seconds(pids) for name, pids in self._trees.items()}

    def stop(self) -> dict[str, float]:
        self.spent = {name: round(cpu_seconds(pids) - self._before[name], 2) for name, pids in self._trees.items()}
        return self.spent


class RssSampler(threading.Thread):
    """Samples a process tree's RSS every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self._halt = threading.Event()
        self._start = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            rss = rss_bytes(tree(self.pid))
            self.samples.append((round(time.monotonic() - self._start, 1), round(rss / 2**20, 1)))
            self._halt.wait(self.interval)

    def stop(self) -> list[tuple[float, float]]:
        self._halt.set()
        self.join(timeout=5)
        return self.samples


def component_pid(stack: Stack, name: str) -> int:
    """The root pid of a running component of a single-node stack (a Managed process)."""
    return int(getattr(stack.components[name], "pid"))  # noqa: B009 - Managed only


def switchyard_meter(stack: Stack) -> dict[str, int]:
    """The components a Switchyard run's CPU is metered over, by name."""
    return {name: component_pid(stack, name) for name in SWITCHYARD_PROCESSES}
