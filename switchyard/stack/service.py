"""The app's service (switchyard/serving.py) over HTTP/2 cleartext, by granian or hypercorn."""

from __future__ import annotations

import sys
from pathlib import Path

from switchyard.core.poll import tcp_listening
from switchyard.serving import APP_ENV, FACTORY, app_spec, granian_command
from switchyard.settings import Settings
from switchyard.stack.paths import HYPERCORN_CONFIG, REPO
from switchyard.stack.processes import Managed, spawn, wait_until


def service_command(settings: Settings) -> list[str]:
    service = settings.service
    if service.server == "hypercorn":
        return [
            sys.executable, "-m", "hypercorn",
            "--config", str(HYPERCORN_CONFIG),
            "--bind", service.bind,
            "--workers", str(service.workers),
            f"{FACTORY}()",
        ]
    host, port = service.address
    return granian_command(host, port, service.workers, FACTORY)


def service_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` and which app to serve (the one this process works on), importable from the
    working directory it was named in (``flows.greeter:app``) as from the repository."""
    import os

    path = os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH", "")) if p)
    return {APP_ENV: app_spec(), "PYTHONPATH": path, **env}


def start_service(
    settings: Settings, home: Path, env: dict[str, str], timeout: float, name: str = "service"
) -> tuple[Managed, float]:
    service = spawn_service(settings, home, env, name)
    return service, await_service(service, settings, timeout)


def spawn_service(settings: Settings, home: Path, env: dict[str, str], name: str = "service") -> Managed:
    return spawn(name, service_command(settings), home / "run", env=service_env(env), cwd=REPO)


def await_service(service: Managed, settings: Settings, timeout: float) -> float:
    """Waits until ``service`` listens; returns the seconds it took."""
    host, port = settings.service.address
    return wait_until(service, f"service at {settings.service.bind}", lambda: tcp_listening(host, port), timeout)
