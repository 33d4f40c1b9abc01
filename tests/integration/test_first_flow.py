"""docs/your-first-flow.md works as written: its files, written out as the page names them,
serve a new topic's handler beside the examples' service (`switchyard run`, as terminal 1
runs it), bootstrap it, take records and answer over HTTP as the page says, and pass their
own tests (the harness's in process; the private stack's on the session stack's Kafka and
Restate: SWITCHYARD_TEST_STACK=running, so no second stack starts)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import CATALOGUE
from switchyard.core.admin import RestateAdmin, kafka_source
from switchyard.core.bootstrap import bootstrap
from switchyard.core.kafka import RecordProducer
from switchyard.core.poll import poll_until
from switchyard.core.results import TopicReader
from switchyard.core.versions import base_of
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.stack import Stack

PAGE = Path(__file__).resolve().parents[2] / "docs" / "your-first-flow.md"
PAGE_PORT = "9081"  # the page's service port; the test serves on a free one instead
FILES = {"flows/greeter.py", "flows/test_greeter.py", "flows/test_greeter_stack.py"}
SWITCHYARD = str(Path(sys.executable).parent / "switchyard")


@dataclass(frozen=True)
class Page:
    files: dict[str, str]  # path -> the python block that is that file
    serve: list[str]  # terminal 1's command
    looks: list[list[str]]  # terminal 2's commands: records, status, dead letters
    steps: list[list[str]]  # terminal 3's commands (the tests), in order
    printed: list[str]  # what the page says `switchyard run` prints the first time


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
    return [shlex.split(line, comments=True) for line in block.splitlines()
            if line.startswith(("python ", "switchyard "))]


def read_page(text: str) -> Page:
    files = {}
    for block in fenced(text, "python"):
        first = block.splitlines()[0]
        match = re.fullmatch(r"# file: (\S+)", first)
        assert match, f"a python block whose first line names no file: {first!r}"
        assert match[1] not in files, f"{match[1]} twice"
        files[match[1]] = block
    shell = fenced(text, "sh")
    [serve] = [b for b in shell if b.startswith("# terminal 1")]
    [looks] = [b for b in shell if b.startswith("# terminal 2")]
    [steps] = [b for b in shell if b.startswith("# terminal 3")]
    [printed] = [b for b in fenced(text, "") if "topics created:" in b]
    [serve_command] = commands(serve)
    return Page(files, serve_command, commands(looks), commands(steps), printed.splitlines())


def test_the_page_has_its_files_and_commands() -> None:
    page = read_page(PAGE.read_text())
    assert set(page.files) == FILES
    assert "touch flows/__init__.py" in PAGE.read_text()
    assert page.serve == ["switchyard", "run", "flows.greeter:app", "--bind", f"127.0.0.1:{PAGE_PORT}"]
    assert page.steps == [["python", "-m", "pytest", "flows/test_greeter.py"],
                          ["python", "-m", "pytest", "flows/test_greeter_stack.py"]]
    assert [c[:2] for c in page.looks] == [["switchyard", "produce"], ["switchyard", "produce"],
                                           ["switchyard", "status"], ["switchyard", "dlq"]]
    assert all(c[c.index("--app") + 1] == "flows.greeter:app" for c in page.looks)
    code = [line for line in page.files["flows/greeter.py"].splitlines() if line.strip()]
    assert len(code) <= 25, "the flow is about 25 lines"


def normalized(lines: list[str], port: int | str) -> list[str]:
    """``switchyard run``'s lines with what changes from run to run (the start time, the
    version digest, the port) made the same."""
    out = []
    for line in lines:
        line = re.sub(r"ready in [0-9.]+s", "ready in Ns", line.replace(str(port), "PORT"))
        out.append(re.sub(r"\b[0-9a-f]{12}\b", "VERSION", line))
    return out


def flow_env(settings: Settings) -> dict[str, str]:
    """The environment of the page's terminals, pointed at the session stack instead of the dev stack's defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHYARD_", "PYTEST_", "PYTHONPATH"))}
    env.update({
        "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "SWITCHYARD_RESTATE__ADMIN_URL": str(settings.restate.admin_url),
        "SWITCHYARD_RESTATE__INGRESS_URL": str(settings.restate.ingress_url),
        "SWITCHYARD_SERVICE__IDENTITY_KEYS": json.dumps(settings.service.identity_keys),
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


@dataclass
class Served:
    page: Page
    home: Path
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def served(stack: Stack, settings: Settings, admin: RestateAdmin, tmp_path: Path) -> Iterator[Served]:
    """The page's files in a directory of their own, terminal 1's `switchyard run` serving them."""
    page = read_page(PAGE.read_text())
    for name, body in page.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    (tmp_path / "flows" / "__init__.py").touch()
    [port] = free_ports(1)
    env = flow_env(settings)
    log = tmp_path / "switchyard-run.log"
    command = [SWITCHYARD, *[arg.replace(PAGE_PORT, str(port)) for arg in page.serve[1:]]]
    # Ctrl-C reaches terminal 1's process even when this run ignores SIGINT (under nohup or
    # as a shell's background job, SIGINT is ignored and a child inherits that; a handler set
    # here is reset to the default in the child instead).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        signal.signal(signal.SIGINT, previous)
    it = Served(page, tmp_path, env, port, process, log)

    def bootstrapped() -> bool:
        assert process.poll() is None, f"switchyard run exited:\n{log.read_text()}"
        return any(line.startswith("subscriptions created:") for line in it.output())

    try:
        try:
            poll_until(bootstrapped, 90, what="switchyard run's bootstrap")
        except TimeoutError as exc:
            pytest.fail(f"{exc}:\n{log.read_text()}")
        yield it
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C, as the page says
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        forget_flow(admin, settings, f"http://127.0.0.1:{port}")


def forget_flow(admin: RestateAdmin, settings: Settings, url: str) -> None:
    """Leave the session stack as found: nothing reads greetings-routed once the flow is
    gone, Restate forgets the flow's deployment, and the examples' deployment is there (a
    bootstrap retires every other drained deployment, the examples' too: registered again)."""
    source = kafka_source(settings.kafka.cluster_name, "greetings-routed")
    for sub in admin.subscriptions():
        if sub["source"] == source:
            admin.delete_subscription(sub["id"])
    for deployment in admin.deployments():
        if base_of(str(deployment.get("uri", ""))) == url:
            admin.delete_deployment(str(deployment["id"]))
    bootstrap(settings, CATALOGUE)


def test_the_first_flow_runs_as_the_page_says(
    served: Served, settings: Settings, admin: RestateAdmin, ingress: httpx.Client
) -> None:
    page, port = served.page, served.port
    # The page's lines, in order (the service's own log lines come between them).
    shown = normalized(page.printed, PAGE_PORT)
    assert [line for line in normalized(served.output(), port) if line in shown] == shown, served.log.read_text()
    source = kafka_source(settings.kafka.cluster_name, "greetings-routed")
    assert (source, "service://Greeter/greet") in {(s["source"], s["sink"]) for s in admin.subscriptions()}

    # Records through Kafka: results in order, a bad one dead-lettered with its reason.
    person = f"ada-{uuid.uuid4().hex[:8]}"
    client = settings.kafka.client_config()
    with TopicReader(client, ["greetings-results", "greetings-dlq"]) as reader:
        producer = RecordProducer(client)
        producer.send("greetings", person, {"name": "Ada"})
        producer.send("greetings", person, {"name": "Ada", "salutation": "Welcome back"})
        producer.send("greetings", person, {"nom": "Ada"})
        producer.flush()
        records = reader.collect(lambda got: len([r for r in got if r.key_text == person]) >= 3, timeout=60)
    mine = [r for r in records if r.key_text == person]
    results = [r.json() for r in mine if r.topic == "greetings-results"]
    assert [r["result"] for r in results] == [{"message": "Hello, Ada!", "count": 1},
                                              {"message": "Welcome back, Ada!", "count": 2}]
    assert all(r["ok"] and r["target"] == "Greeter/greet" for r in results)
    [dead] = [r for r in mine if r.topic == "greetings-dlq"]
    assert dead.json() == {"nom": "Ada"}
    assert "name" in (dead.header("error.reason") or "")

    # Terminal 2: the CLI on the app (--app), as the page runs it, with a key of its own.
    look_at_it(served, f"ada-{uuid.uuid4().hex[:8]}")

    # The page's word on HTTP: a first greeting answers as the page shows, a bad body a 400.
    fresh = f"ada-{uuid.uuid4().hex[:8]}"
    answer = ingress.post(f"/Greeter/{fresh}/greet", json={"name": "Ada"})
    assert (answer.status_code, answer.json()) == (200, shown_answer(PAGE.read_text()))
    assert ingress.post(f"/Greeter/{fresh}/greet", json={"nom": "Ada"}).status_code == 400

    # Ctrl-C stops it, the key gate and the server with it.
    served.process.send_signal(signal.SIGINT)
    # The server waits for Restate's open HTTP/2 connections, the gate for its last batch:
    # seconds usually, more than 30 s once in a fresh-clone run beside the fault stack.
    assert served.process.wait(90) == 0, served.log.read_text()


def look_at_it(served: Served, person: str) -> None:
    """Terminal 2's commands with the page's key made this run's: the records go through,
    `status` lists the app's topic (not the examples') and counts its records, and `dlq
    list` shows the bad record with its reason."""
    env = {**served.env, "SWITCHYARD_SERVICE__BIND": f"127.0.0.1:{served.port}"}
    good, bad, status, dlq = ([SWITCHYARD, *[person if a == "ada" else a for a in c[1:]]] for c in served.page.looks)
    for produce in (good, bad):
        assert "sent 1 record(s) to greetings" in run(produce, served.home, env)
    # The app's topic with its sink and subscription; none of the examples' topics.
    outputs: list[str] = []

    def counted() -> bool:
        outputs.append(run(status, served.home, env))
        return bool(re.search(r"^greetings\s+\d+\s+\d+", outputs[-1], flags=re.M))

    poll_until(counted, 60, 1.0, "status counting greetings' records")
    shown = outputs[-1]
    [row] = [line for line in shown.splitlines() if line.startswith("greetings ") and "Greeter/greet" in line]
    assert "missing" not in row, shown
    assert "social-media-posts" not in shown, shown

    # The dead letter of this run's bad record, with its reason.
    found: list[Any] = []

    def dead_letters() -> bool:
        found[:] = [d for d in json.loads(run([*dlq, "--json"], served.home, env)) if person in json.dumps(d)]
        return bool(found)

    poll_until(dead_letters, 60, 1.0, "the bad greeting in dlq list")
    assert all("name" in json.dumps(dead) for dead in found), found


def test_the_pages_tests_pass(stack: Stack, settings: Settings, admin: RestateAdmin, tmp_path: Path) -> None:
    """Terminal 2: the unit test in process, the integration test on the session stack's
    Kafka and Restate (its private_stack serves and bootstraps the flow there)."""
    page = read_page(PAGE.read_text())
    for name, body in page.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    (tmp_path / "flows" / "__init__.py").touch()
    env = {**flow_env(settings), "SWITCHYARD_TEST_STACK": "running"}
    unit, integration = page.steps
    began = time.monotonic()
    assert "1 passed" in run([*unit, "-p", "no:cacheprovider"], tmp_path, env)
    unit_took = time.monotonic() - began
    try:
        assert "1 passed" in run([*integration, "-p", "no:cacheprovider"], tmp_path, env)
    finally:
        bootstrap(settings, CATALOGUE)  # the examples' deployment, if the flow's bootstrap retired it
    assert unit_took < 30


def test_the_page_reads_as_json_where_it_shows_json() -> None:
    """The curl line's answer on the page is JSON, a greeting's; the test above compares
    the live answer with it."""
    assert set(shown_answer(PAGE.read_text())) == {"message", "count"}
