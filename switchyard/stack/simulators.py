"""Starts the local stand-ins for the outside world: the payment provider simulator and
the SMTP sink (switchyard/simulators/), each as its own process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from switchyard.core.poll import http_ok, tcp_listening
from switchyard.settings import Settings
from switchyard.simulators.provider import bind_address
from switchyard.stack.paths import REPO
from switchyard.stack.processes import Managed, spawn, wait_until


def start_provider(settings: Settings, home: Path, timeout: float) -> tuple[Managed, float]:
    provider = settings.provider
    host, port = bind_address(provider)
    dumped = provider.model_dump(mode="json")
    # Our own child's environment, never a command line (visible in `ps`) nor a log.
    dumped.update(secret_key=provider.secret_key.get_secret_value(),
                  webhook_secret=provider.webhook_secret.get_secret_value())
    managed = spawn("provider", [sys.executable, "-m", "switchyard.simulators.provider", "--bind", f"{host}:{port}"],
                    home / "run", env={"SWITCHYARD_PROVIDER": json.dumps(dumped)}, cwd=REPO)
    took = wait_until(managed, f"payment provider simulator at {provider.api_base}",
                      lambda: http_ok(f"{provider.api_base}/_sim/health"), timeout)
    return managed, took


def start_smtp(settings: Settings, home: Path, timeout: float) -> tuple[Managed, float]:
    s = settings.email
    mail_dir = home / "mail"
    command = [sys.executable, "-m", "switchyard.simulators.smtp", "--bind", f"{s.smtp_host}:{s.smtp_port}",
               "--dir", str(mail_dir)]
    managed = spawn("smtp", command, home / "run", cwd=REPO)
    took = wait_until(managed, f"SMTP sink at {s.smtp_host}:{s.smtp_port}",
                      lambda: tcp_listening(s.smtp_host, s.smtp_port), timeout)
    return managed, took
