"""docs/upgrades.md's replay claims, against a real journal (issue 25): for each handler
example, `replay-v1` (or `gate-v1`) is served at an address of its own and invoked; once
the invocation sleeps, its process is stopped, the example's code takes its place at the
same address and is registered with force (the development mode, or Restate used
directly), and the invocation replays on it. It must end as the example's last line says:
with the answer shown, or with Restate's journal mismatch. The session stack's
restate-server; the service is a plain `restate.app` of the page's module."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchyard.core.admin import RestateAdmin
from switchyard.core.poll import poll_until, tcp_listening
from switchyard.stack.ephemeral import free_ports
from tests.upgrades_page import MISMATCH, Example, examples, module

EXAMPLES = examples()
CHANGES = [e for e in EXAMPLES.values() if e.replayed is not None]

SERVE = """\
import asyncio
import runpy
import sys

import restate
from hypercorn.asyncio import serve
from hypercorn.config import Config

namespace = runpy.run_path(sys.argv[1])
services = [v for v in namespace.values() if isinstance(v, (restate.Service, restate.VirtualObject))]
config = Config()
config.bind = [f"127.0.0.1:{sys.argv[2]}"]
asyncio.run(serve(restate.app(services), config))
"""


@contextmanager
def served(example: Example, port: int, home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The example's module served on ``port``; killed (SIGKILL: no goodbye) on leaving."""
    code, runner = home / f"{example.name}.py", home / "serve_example.py"
    code.write_text(module(example, EXAMPLES))
    runner.write_text(SERVE)
    log = home / f"{example.name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, str(runner), str(code), str(port)], stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        def listening() -> bool:
            assert process.poll() is None, f"{example.name} exited:\n{log.read_text()}"
            return tcp_listening("127.0.0.1", port)

        poll_until(listening, 60, what=f"{example.name} on :{port}")
        yield process
    finally:
        process.kill()
        process.wait(10)


def journal(admin: RestateAdmin, invocation: str) -> list[tuple[str, str]]:
    """(entry type, name) of the invocation's journal, in order."""
    rows = admin.query(f"SELECT entry_type, name FROM sys_journal WHERE id = '{invocation}' ORDER BY index")
    return [(str(r.get("entry_type", "")), str(r.get("name") or "")) for r in rows]


def steps(admin: RestateAdmin, invocation: str) -> list[str]:
    """The names of the invocation's `ctx.run` steps."""
    return [name for kind, name in journal(admin, invocation) if kind == "Command: Run"]


def invocation_row(admin: RestateAdmin, invocation: str) -> dict[str, Any]:
    [row] = admin.query("SELECT status, last_failure_error_code AS code, last_failure AS failure "
                        f"FROM sys_invocation WHERE id = '{invocation}'")
    return row


def send(ingress: httpx.Client, name: str) -> str:
    answer = ingress.post(f"/Reminder/{uuid.uuid4().hex[:10]}/remind/send", json=name)
    assert answer.status_code in (200, 202), answer.text
    return str(answer.json()["invocationId"])


def ending(admin: RestateAdmin, ingress: httpx.Client, invocation: str, timeout: float = 60) -> str:
    """The invocation's answer, or MISMATCH at its first journal mismatch. An invocation
    paused while no process served it (the swap outlasted the retries) is resumed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = invocation_row(admin, invocation)
        if row["status"] == "completed":
            return str(ingress.get(f"/restate/invocation/{invocation}/output").json())
        if "Journal mismatch" in str(row.get("failure") or ""):
            assert row["code"] == "RT0016", row
            return MISMATCH
        if row["status"] == "paused":
            admin.resume_invocation(invocation)
        time.sleep(0.1)
    raise AssertionError(f"{invocation} did not end in {timeout:g}s: {invocation_row(admin, invocation)}")


def kill(admin: RestateAdmin, invocation: str) -> None:
    """Ends an invocation its code cannot replay (what `restate invocations kill` does)."""
    httpx.patch(f"{admin.url}/invocations/{invocation}/kill", timeout=30).raise_for_status()
    poll_until(lambda: invocation_row(admin, invocation)["status"] == "completed", 30, what=f"{invocation} killed")


@pytest.fixture
def address(admin: RestateAdmin) -> Iterator[tuple[int, str]]:
    """A free port and its URL; Restate forgets the deployment there afterwards."""
    [port] = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    yield port, url
    for d in admin.deployments():
        if str(d.get("uri", "")).rstrip("/") == url:
            admin.delete_deployment(str(d["id"]))


@pytest.mark.parametrize("change", CHANGES, ids=lambda e: e.name)
def test_a_sleeping_invocation_replays_on_changed_code_as_the_page_says(
    change: Example, address: tuple[int, str], admin: RestateAdmin, ingress: httpx.Client, tmp_path: Path
) -> None:
    port, url = address
    before = EXAMPLES[change.before]
    with served(before, port, tmp_path):
        deployment = admin.register_deployment(url, force=True)["id"]
        invocation = send(ingress, " ada ")
        poll_until(lambda: ("Command: Sleep", "") in journal(admin, invocation), 30, interval=0.05,
                   what="the invocation asleep")
    # The old code is gone while the invocation sleeps, before its last step.
    assert "remind" not in steps(admin, invocation), "it finished on the old code: the swap came too late"

    with served(change, port, tmp_path):
        # Forced over the same URI: the same deployment, so the invocation pinned to it replays here.
        assert admin.register_deployment(url, force=True)["id"] == deployment
        try:
            got = ending(admin, ingress, invocation)
        finally:
            if invocation_row(admin, invocation)["status"] != "completed":
                kill(admin, invocation)
        assert got == change.replayed, f"{change.name}: the page says {change.replayed!r}, the replay gave {got!r}"

        if change.name == "replay-safe-after-point":
            assert "audit" in steps(admin, invocation)  # the new step after the sleep ran
        if change.name == "gate-v2":
            assert "audit" not in steps(admin, invocation)  # the gate kept the new step from it
            fresh = send(ingress, " ada ")
            assert ending(admin, ingress, fresh) == change.new
            assert steps(admin, fresh) == ["code version", "audit", "greet", "remind"]


def test_every_handler_change_on_the_page_is_replayed_here() -> None:
    assert {e.name for e in CHANGES} == {n for n in EXAMPLES if n.startswith("replay-") and n != "replay-v1"} | {
        "gate-v2"}
