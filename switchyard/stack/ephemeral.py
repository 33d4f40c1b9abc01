"""Settings for a private stack on free ports in its own home: the integration fixture,
the fault suite and the benchmark run beside a dev stack without touching it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from switchyard.settings import Settings


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def ephemeral_settings(home: Path, read_env_file: bool = True, **sections: dict[str, Any]) -> Settings:
    """Every port free, every path under ``home``; ``sections`` override or extend. The
    environment's SWITCHYARD_* variables apply, and a `.env` file unless ``read_env_file``
    is false (the tests: a developer's `.env` must not change them)."""
    kafka, controller, admin, ingress, node, service, smtp, provider, streams = free_ports(9)
    base: dict[str, dict[str, Any]] = {
        "kafka": {"bootstrap_servers": f"127.0.0.1:{kafka}"},
        "restate": {
            "admin_url": f"http://127.0.0.1:{admin}",
            "ingress_url": f"http://127.0.0.1:{ingress}",
            "deployment_url": f"http://127.0.0.1:{service}",
        },
        "service": {"bind": f"127.0.0.1:{service}"},
        "stack": {"home": home, "kafka_controller_port": controller, "restate_node_port": node},
        "email": {"smtp_port": smtp},
        "provider": {
            "api_base": f"http://127.0.0.1:{provider}",
            "webhook_url": f"http://127.0.0.1:{ingress}/PaymentService/processWebhook",
        },
        "streams": {"web_bind": f"127.0.0.1:{streams}"},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return Settings.model_validate(base if read_env_file else {**base, "_env_file": None})
