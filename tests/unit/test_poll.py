"""The one poll loop, and the stack's wait on a starting process built on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from switchyard.core.poll import http_ok, poll_until, tcp_listening
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.processes import StartupError, spawn, wait_until


def test_poll_until_returns_how_long_it_took() -> None:
    answers = iter([False, None, 0, "ready"])
    took = poll_until(lambda: next(answers), timeout=5, interval=0.01)
    assert 0.03 <= took < 2


def test_poll_until_names_what_did_not_come() -> None:
    with pytest.raises(TimeoutError, match=r"Kafka at 127.0.0.1:1: not ready after 0.05s"):
        poll_until(lambda: False, timeout=0.05, interval=0.01, what="Kafka at 127.0.0.1:1")


def test_nothing_listening_is_no_answer() -> None:
    (port,) = free_ports(1)
    assert not tcp_listening("127.0.0.1", port)
    assert not http_ok(f"http://127.0.0.1:{port}/health", timeout=0.5)


def test_a_process_that_dies_while_starting_fails_at_once(tmp_path: Path) -> None:
    managed = spawn("quitter", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], tmp_path)
    with pytest.raises(StartupError, match=r"quitter exited while starting \(nothing\)") as failed:
        wait_until(managed, "nothing", lambda: False, timeout=30, interval=0.05)
    assert "bad config" in str(failed.value)


def test_a_process_never_ready_times_out_with_its_log(tmp_path: Path) -> None:
    managed = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path)
    try:
        with pytest.raises(StartupError, match=r"sleeper not ready after 0s \(port 1\); log "):
            wait_until(managed, "port 1", lambda: False, timeout=0.2, interval=0.05)
    finally:
        managed.stop(timeout=5)
