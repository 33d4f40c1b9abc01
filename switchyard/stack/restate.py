"""restate-server, the platform binary from the npm package, with its own data dir."""

from __future__ import annotations

from pathlib import Path

from switchyard.core.poll import http_ok
from switchyard.settings import Settings
from switchyard.stack.paths import RESTATE_CONFIG, restate_server_binary
from switchyard.stack.processes import Managed, StartupError, spawn, wait_until

IDENTITY_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"


def restate_env(settings: Settings, home: Path, identity_file: Path | None = None) -> dict[str, str]:
    """Ports and paths as RESTATE_* overrides on top of restate.toml."""
    admin_host, admin_port = settings.admin_address
    ingress_host, ingress_port = settings.ingress_address
    node = settings.stack.restate_node_port
    env = {
        "RESTATE_BASE_DIR": str(home / "restate"),
        "RESTATE_NODE_NAME": "switchyard-1",
        "RESTATE_BIND_ADDRESS": f"{admin_host}:{node}",
        "RESTATE_ADVERTISED_ADDRESS": f"http://{admin_host}:{node}/",
        "RESTATE_ADMIN__BIND_ADDRESS": f"{admin_host}:{admin_port}",
        "RESTATE_INGRESS__BIND_ADDRESS": f"{ingress_host}:{ingress_port}",
        "RESTATE_DEFAULT_NUM_PARTITIONS": str(settings.stack.restate_partitions),
        # TCP only: the unix sockets' paths would outgrow the limit in deep temp dirs.
        "RESTATE_LISTEN_MODE": "tcp",
    }
    if identity_file is not None:
        env[IDENTITY_ENV] = str(identity_file)
    return {**env, **settings.stack.restate_env}


def start_restate(
    settings: Settings, home: Path, timeout: float, identity_file: Path | None = None
) -> tuple[Managed, float]:
    binary = restate_server_binary()
    if not binary.exists():
        raise StartupError(f"restate-server not installed at {binary}: run `npm ci` (or `make setup`)")
    server = spawn(
        "restate",
        [str(binary), "--config-file", str(RESTATE_CONFIG), "--no-logo"],
        home / "run",
        env=restate_env(settings, home, identity_file),
    )
    admin = settings.restate.admin_url
    ingress = settings.restate.ingress_url
    took = wait_until(server, f"Restate admin {admin} and ingress {ingress}", lambda: restate_healthy(settings),
                      timeout)
    return server, took


def restate_healthy(settings: Settings) -> bool:
    """Both the admin API and the ingress answer their health checks."""
    return http_ok(f"{settings.restate.admin_url}/health") and http_ok(f"{settings.restate.ingress_url}/restate/health")
