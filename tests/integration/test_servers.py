"""Both HTTP/2 servers serve the handlers: granian (the default, the session stack's) and
hypercorn (`service.server`), each answering health checks and refusing unsigned calls."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.processes import Managed
from switchyard.stack.service import start_service
from switchyard.stack.stack import Stack, settings_env


def test_the_session_stack_runs_the_default_server(stack: Stack) -> None:
    assert stack.settings.service.server == "granian"
    service = stack.components["service"]
    assert isinstance(service, Managed)
    assert "granian" in str(service.process.args)


@pytest.mark.parametrize("server", ["hypercorn", "granian"])
def test_each_server_serves_the_handlers_and_refuses_unsigned_calls(
    server: str, settings: Settings, tmp_path: Path
) -> None:
    [port] = free_ports(1)
    # A second replica of the service beside the session's, its key gate off (it would
    # join the session's gate group and take partitions from it).
    replica = settings.model_copy(update={
        "service": settings.service.model_copy(update={"server": server, "bind": f"127.0.0.1:{port}"}),
        "gate": settings.gate.model_copy(update={"enabled": False}),
    })
    assert replica.service.identity_keys, "the session stack signs its requests"
    process, _ = start_service(replica, tmp_path, settings_env(replica), 60)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/health").status_code == 200
            assert client.get("/discover").status_code == 401
            assert client.post("/invoke/PackageTracker/x/getPackageInfo").status_code == 401
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, http1=False, http2=True) as h2:
            # Restate's way in: HTTP/2 with prior knowledge.
            answer = h2.get("/health")
            assert (answer.http_version, answer.status_code) == ("HTTP/2", 200)
    finally:
        process.stop()
