"""Waiting for something to become true: one poll loop, and the readiness checks the stack
and the tools poll with (an HTTP health URL answering 200, a TCP port accepting)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx


def poll_until(
    check: Callable[[], object], timeout: float, interval: float = 0.2, what: str = "the condition"
) -> float:
    """Calls ``check`` until it returns something true, ``interval`` seconds apart; returns
    the seconds that took. After ``timeout`` seconds, TimeoutError names ``what``. An
    exception ``check`` raises ends the wait (a process that died while starting)."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:g}s")
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """The URL answers 200 (a health endpoint); any transport error is a no."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def tcp_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """Something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
