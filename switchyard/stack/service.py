"""The Python service (all handlers) served by hypercorn over HTTP/2 cleartext."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from switchyard.settings import Settings
from switchyard.stack.paths import HYPERCORN_CONFIG, REPO
from switchyard.stack.processes import Managed, spawn, wait_until


def service_command(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "hypercorn",
        "--config", str(HYPERCORN_CONFIG),
        "--bind", settings.service.bind,
        "--workers", str(settings.service.workers),
        "handlers.app:create_app()",
    ]


def start_service(settings: Settings, home: Path, env: dict[str, str], timeout: float) -> tuple[Managed, float]:
    service = spawn("service", service_command(settings), home / "run", env=env, cwd=REPO)
    host, _, port = settings.service.bind.rpartition(":")
    took = wait_until(service, f"service at {settings.service.bind}", lambda: listening(host, int(port)), timeout)
    return service, took


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
