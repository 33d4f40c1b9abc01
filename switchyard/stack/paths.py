"""Where the tools the stack runs live: fetched once, shared by the dev stack and tests."""

from __future__ import annotations

import json
import platform
from importlib.resources import files
from pathlib import Path
from typing import Any

from switchyard.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".stack" / "cache"
KAFKA_POM = REPO / "tools" / "kafka" / "pom.xml"
KAFKA_LIBS = CACHE / "kafka-libs"
RESTATE_CONFIG = REPO / "restate.toml"
# Package data (pyproject [tool.setuptools.package-data]): found in a checkout and in an installed wheel.
HYPERCORN_CONFIG = Path(str(files("switchyard.stack") / "hypercorn.toml"))
NODE_MODULES = REPO / "node_modules" / "@restatedev"


def dev_home(settings: Settings) -> Path:
    """The dev stack's home: `stack.home` if absolute, else under the checkout's `.stack/dev`."""
    home = settings.stack.home
    return home if home.is_absolute() else REPO / home / "dev"


def _platform() -> str:
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
    return f"{platform.system().lower()}-{arch}"


def restate_server_binary() -> Path:
    """The platform binary the npm package installs (run directly so signals reach it)."""
    return NODE_MODULES / f"restate-server-{_platform()}" / "bin" / "restate-server"


def restate_cli_binary() -> Path:
    return NODE_MODULES / f"restate-{_platform()}" / "bin" / "restate"


def restatectl_binary() -> Path:
    """restatectl: provisions a Restate cluster and reports its nodes and partitions."""
    return NODE_MODULES / f"restatectl-{_platform()}" / "bin" / "restatectl"


# After `switchyard upgrade` the dev stack's service runs at another address: the run dir says which.
SERVICE_BIND_FILE = "service.bind"


# After an upgrade of a local cluster its replicas run at other ports: the run dir lists
# each version's replicas (a JSON list of {version, names, binds}, oldest first; one entry
# once the older versions are retired, two while one drains past its timeout).
REPLICAS_FILE = "service-replicas.json"


def recorded_replicas(run_dir: Path) -> list[dict[str, Any]]:
    recorded = run_dir / REPLICAS_FILE
    if not recorded.exists():
        return []
    groups: list[dict[str, Any]] = json.loads(recorded.read_text())
    return groups


def live_service(settings: Settings) -> Settings:
    """``settings`` with the dev stack's service where it runs now (moved by an upgrade):
    the single stack's service, or a cluster's replicas (the newest version's)."""
    if settings.stack.is_cluster:
        groups = recorded_replicas(dev_home(settings) / "run")
        if not groups:
            return settings
        return settings.model_copy(update={
            "stack": settings.stack.model_copy(update={"service_replicas": list(groups[-1]["binds"])}),
        })
    recorded = dev_home(settings) / "run" / SERVICE_BIND_FILE
    if not recorded.exists():
        return settings
    bind = recorded.read_text().strip()
    host, port = bind.rsplit(":", 1)
    return settings.model_copy(update={
        "service": settings.service.model_copy(update={"bind": bind}),
        "restate": settings.restate.model_copy(update={"deployment_url": f"http://{host}:{port}"}),
    })
