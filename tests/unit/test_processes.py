"""`switchyard status` tells a running component from a frozen and a dead one."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from switchyard.core.poll import poll_until
from switchyard.stack.processes import process_state, spawn


def becomes(pidfile: str, state: str) -> bool:
    """Signals land asynchronously: the state the process settles in within a second."""
    with contextlib.suppress(TimeoutError):
        poll_until(lambda: process_state(pidfile) == state, timeout=2, interval=0.02)
    return process_state(pidfile) == state


def test_running_frozen_and_dead_are_told_apart(tmp_path: Path) -> None:
    managed = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path)
    pidfile = managed.pidfile.read_text()
    try:
        assert process_state(pidfile) == "running"
        managed.signal(signal.SIGSTOP)
        assert becomes(pidfile, "frozen")
        managed.signal(signal.SIGCONT)
        assert becomes(pidfile, "running")
        os.killpg(managed.process.pid, signal.SIGKILL)
        # Not reaped yet: a zombie is dead too, though `kill -0` still finds its pid.
        assert becomes(pidfile, "dead")
    finally:
        managed.process.kill()
        managed.process.wait()
    assert process_state(pidfile) == "dead"


def test_a_reused_pid_is_not_the_component(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_state(f"{other.pid} 1") == "dead"  # same pid, another start time
        assert process_state(str(other.pid)) == "running"  # an old pid file: no start time to check
    finally:
        other.kill()
        other.wait()
    assert process_state("") == "dead"
