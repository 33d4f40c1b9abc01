"""docs/your-first-flow.md works as written: its files, written out as the page names them,
serve a new topic's handler beside the examples' service, bootstrap it, produce to it and
pass their own test, run by the page's own commands against the session stack."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchyard.core.admin import RestateAdmin, kafka_source
from switchyard.core.poll import poll_until, tcp_listening
from switchyard.core.results import TopicReader
from switchyard.core.versions import base_of
from switchyard.settings import Settings
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.stack import Stack

PAGE = Path(__file__).resolve().parents[2] / "docs" / "your-first-flow.md"
PAGE_PORT = "9081"  # the page's service port; the test serves on a free one instead
FILES = {"flows/greetings.py", "flows/greeter.py", "flows/bootstrap.py", "flows/send.py", "flows/test_greetings.py"}


@dataclass(frozen=True)
class Page:
    files: dict[str, str]  # path -> the python block that is that file
    exports: dict[str, str]  # the SWITCHYARD_* variables the page exports
    serve: list[str]  # terminal 1's command
    steps: list[list[str]]  # terminal 2's commands, in order
    bootstrap_output: list[str]  # what the page says the first bootstrap prints


def fenced(text: str, info: str) -> list[str]:
    """The bodies of the page's ```<info> blocks, in order (``""``: the bare ones)."""
    bodies: list[str] = []
    body: list[str] | None = None
    for line in text.splitlines(keepends=True):
        if body is None and line.startswith("```"):
            body, kind = [], line[3:].strip()
        elif body is not None and line.rstrip() == "```":
            if kind == info:
                bodies.append("".join(body))
            body = None
        elif body is not None:
            body.append(line)
    assert body is None, "a block is never closed"
    return bodies


def commands(block: str) -> list[list[str]]:
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith("python ")]


def read_page(text: str) -> Page:
    files = {}
    for block in fenced(text, "python"):
        first = block.splitlines()[0]
        match = re.fullmatch(r"# file: (\S+)", first)
        assert match, f"a python block whose first line names no file: {first!r}"
        assert match[1] not in files, f"{match[1]} twice"
        files[match[1]] = block
    shell = fenced(text, "sh")
    exports = dict(re.findall(r"^export (SWITCHYARD_\w+)=(\S+)", "\n".join(shell), flags=re.M))
    [serve] = [b for b in shell if b.startswith("# terminal 1")]
    [steps] = [b for b in shell if b.startswith("# terminal 2")]
    [printed] = [b for b in fenced(text, "") if b.startswith("topics created:")]
    [serve_command] = commands(serve)
    return Page(files, exports, serve_command, commands(steps), printed.splitlines())


def test_the_page_has_its_files_and_commands() -> None:
    page = read_page(PAGE.read_text())
    assert set(page.files) == FILES
    assert "touch flows/__init__.py" in PAGE.read_text()
    assert page.serve == ["python", "-m", "flows.greeter"]
    assert [step[:3] for step in page.steps] == [
        ["python", "-m", "flows.bootstrap"], ["python", "-m", "flows.send"], ["python", "-m", "pytest"]]
    assert set(page.exports) == {"SWITCHYARD_SERVICE__BIND", "SWITCHYARD_RESTATE__DEPLOYMENT_URL",
                                 "SWITCHYARD_GATE__GROUP_ID"}


def flow_env(page: Page, settings: Settings, port: int) -> dict[str, str]:
    """The page's exports (on a free port), pointed at the session stack instead of the dev stack's defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHYARD_", "PYTEST_", "PYTHONPATH"))}
    env.update({name: value.replace(PAGE_PORT, str(port)) for name, value in page.exports.items()})
    env.update({
        "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "SWITCHYARD_RESTATE__ADMIN_URL": settings.restate.admin_url,
        "SWITCHYARD_RESTATE__INGRESS_URL": settings.restate.ingress_url,
    })
    return env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    python = [sys.executable if command[0] == "python" else command[0], *command[1:]]
    done = subprocess.run(python, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, f"{shlex.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def shown_answer(text: str) -> Any:
    """The answer the page shows for its curl line, parsed as JSON."""
    shown = re.search(r"answers\s+`(\{.*?\})`", text, flags=re.S)
    assert shown, "the page shows no answer of the curl line"
    return json.loads(shown[1])


@pytest.fixture
def served(stack: Stack, settings: Settings, tmp_path: Path) -> Iterator[tuple[Page, Path, dict[str, str]]]:
    """The page's files in a directory of their own, its service running as terminal 1 runs it."""
    page = read_page(PAGE.read_text())
    for name, body in page.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    (tmp_path / "flows" / "__init__.py").touch()
    [port] = free_ports(1)
    env = flow_env(page, settings, port)
    log = tmp_path / "greeter.log"
    with log.open("wb") as out:
        service = subprocess.Popen([sys.executable, *page.serve[1:]], cwd=tmp_path, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    def listening() -> bool:
        assert service.poll() is None, f"the flow's service exited:\n{log.read_text()}"
        return tcp_listening("127.0.0.1", port)

    try:
        try:
            poll_until(listening, 60, what="the flow's service")
        except TimeoutError as exc:
            pytest.fail(f"{exc}: it never listened:\n{log.read_text()}")
        yield page, tmp_path, env
        assert service.poll() is None, f"the flow's service died:\n{log.read_text()}"
    finally:
        service.send_signal(signal.SIGINT)  # Ctrl-C, as the page says
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(10)


def flow_deployments(admin: RestateAdmin, env: dict[str, str]) -> list[str]:
    """The ids of the deployments Restate has at the flow's service URL."""
    url = env["SWITCHYARD_RESTATE__DEPLOYMENT_URL"].rstrip("/")
    return [str(d["id"]) for d in admin.deployments() if base_of(str(d.get("uri", ""))) == url]


def test_the_first_flow_runs_as_the_page_says(
    served: tuple[Page, Path, dict[str, str]], settings: Settings, admin: RestateAdmin, ingress: httpx.Client
) -> None:
    page, home, env = served
    bootstrap, send, own_test = page.steps
    source = kafka_source(settings.kafka.cluster_name, "greetings-routed")
    try:
        assert run(bootstrap, home, env).splitlines() == page.bootstrap_output
        assert (source, "service://Greeter/greet") in {(s["source"], s["sink"]) for s in admin.subscriptions()}
        assert flow_deployments(admin, env), "the page's bootstrap registered no deployment of the flow"

        person = send[3]
        with TopicReader(settings.kafka.client_config(), ["greetings-results"]) as reader:
            assert "sent to greetings[" in run(send, home, env)
            results = reader.collect(lambda got: any(r.key_text == person for r in got), timeout=60)
        assert [r.json()["result"] for r in results if r.key_text == person] == [
            {"message": f"Hello, {send[4]}!", "count": 1}]

        assert "1 passed" in run([*own_test, "-p", "no:cacheprovider"], home, env)

        # The page's word on HTTP: the same handler over Restate's ingress (the page's curl
        # line, answered as the page shows), a 400 for a bad body.
        answer = ingress.post(f"/Greeter/{person}/greet", json={"name": "Ada"})
        assert (answer.status_code, answer.json()) == (200, shown_answer(PAGE.read_text()))
        assert ingress.post(f"/Greeter/{person}/greet", json={"nom": "Ada"}).status_code == 400
    finally:
        # Leave the session stack as found: nothing reads greetings-routed once the flow is
        # gone, and Restate forgets the Greeter deployment the page's bootstrap registered.
        for sub in admin.subscriptions():
            if sub["source"] == source:
                admin.delete_subscription(sub["id"])
        for deployment_id in flow_deployments(admin, env):
            admin.delete_deployment(deployment_id)


def test_the_page_reads_as_json_where_it_shows_json() -> None:
    """The curl line's answer on the page is JSON, a greeting's; the test above compares
    the live answer with it."""
    assert set(shown_answer(PAGE.read_text())) == {"message", "count"}
