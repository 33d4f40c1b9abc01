"""The same stack from images via testcontainers, where a Docker engine answers.

Kafka and restate-server run from their images on the host network (so the ports and
addresses are exactly those of the native stack); the service, built from this tree,
runs natively as everywhere else. Only used when `docker_available()`.
"""

from __future__ import annotations

import signal as signals
from collections.abc import Callable
from pathlib import Path
from typing import Any

from switchyard.core.poll import poll_until
from switchyard.settings import Settings
from switchyard.stack.kafka import GROUP_MIN_SESSION_MS, kafka_ready
from switchyard.stack.paths import RESTATE_CONFIG
from switchyard.stack.processes import StartupError
from switchyard.stack.restate import IDENTITY_ENV, restate_env, restate_healthy

KAFKA_IMAGE = "apache/kafka:4.2.0"
RESTATE_IMAGE = "docker.io/restatedev/restate:1.7.12"


def docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001 - no client, no engine, no permission: all mean "no"
        return False


class Container:
    """A started container with the stop()/name/log shape of a native process."""

    def __init__(self, name: str, container: Any, log: Path) -> None:
        self.name = name
        self._container = container
        self.log = log

    def alive(self) -> bool:
        return True

    def stop(self, timeout: float = 15.0) -> None:
        self.log.write_bytes(b"".join(self._container.get_logs()))
        self._container.stop()

    def kill(self) -> None:
        self._container.get_wrapped_container().kill()

    def signal(self, sig: int) -> None:
        """SIGSTOP/SIGCONT as `docker pause`/`unpause` (the cgroup freezer); others as kill -s."""

        wrapped = self._container.get_wrapped_container()
        if sig == signals.SIGSTOP:
            wrapped.pause()
        elif sig == signals.SIGCONT:
            wrapped.unpause()
        else:
            wrapped.kill(signal=sig)


def _start(name: str, image: str, env: dict[str, str], home: Path, ready: Callable[[], bool],
           timeout: float, **kwargs: Any) -> Container:
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(image).with_kwargs(network_mode="host", **kwargs)
    for key, value in env.items():
        container = container.with_env(key, value)
    container.start()
    handle = Container(name, container, home / "run" / f"{name}.log")
    try:
        poll_until(ready, timeout, 0.5, f"{name} container ({image})")
    except TimeoutError:
        handle.stop()
        raise StartupError(f"{name} container ({image}) not ready after {timeout:.0f}s; log {handle.log}") from None
    return handle


def start_kafka_container(settings: Settings, home: Path, timeout: float) -> Container:
    host, port = settings.kafka_address
    controller = settings.stack.kafka_controller_port
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@{host}:{controller}",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS": str(GROUP_MIN_SESSION_MS),
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    return _start("kafka", KAFKA_IMAGE, env, home, lambda: kafka_ready(f"{host}:{port}"), timeout)


def start_restate_container(
    settings: Settings, home: Path, timeout: float, identity_file: Path | None = None
) -> Container:
    env = {k: v for k, v in restate_env(settings, home).items() if k != "RESTATE_BASE_DIR"}
    env["RESTATE_CONFIG"] = "/restate.toml"
    volumes = {str(RESTATE_CONFIG): {"bind": "/restate.toml", "mode": "ro"}}
    if identity_file is not None:
        volumes[str(identity_file)] = {"bind": "/identity.pem", "mode": "ro"}
        env[IDENTITY_ENV] = "/identity.pem"
    return _start("restate", RESTATE_IMAGE, env, home, lambda: restate_healthy(settings), timeout, volumes=volumes)
