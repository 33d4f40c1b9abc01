"""`--app` / SWITCHYARD_APP: every command that touches topics works on the app it names,
with that app's topics and settings sections, and never on the examples' unless asked."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from handlers.settings import ExampleStackSettings, HandlerSettings
from switchyard.core.settings import CoreSettings
from switchyard.serving import AppNotFound, load_app
from switchyard.settings import Settings, settings_for

SWITCHYARD = str(Path(sys.executable).parent / "switchyard")

MINE = '''\
from pydantic import BaseModel, Field
import restate

import switchyard
from switchyard.core.settings import CoreSettings, Section


class Greeting(BaseModel):
    name: str


class Limits(Section):
    most: int = 3


class MySettings(CoreSettings):
    limits: Limits = Field(default_factory=Limits)


app = switchyard.App("mine", settings=MySettings)


@app.object("greetings", key="person")
async def greet(ctx: restate.ObjectContext, greeting: Greeting) -> str:
    return f"Hello, {greeting.name}!"
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "__init__.py").touch()
    (tmp_path / "flows" / "mine.py").write_text(MINE)
    return tmp_path


def switchyard(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHYARD_", "PYTEST_"))}
    return subprocess.run([SWITCHYARD, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_topics_lists_the_named_apps_topics_only(project: Path) -> None:
    for args, env in ((["topics", "--app", "flows.mine:app"], {}),
                      (["--app", "flows.mine:app", "topics"], {}),
                      (["topics"], {"SWITCHYARD_APP": "flows.mine:app"})):
        done = switchyard(project, *args, **env)
        assert done.returncode == 0, done.stderr
        rows = [line for line in done.stdout.splitlines() if line.startswith("| `")]
        assert [row.split("`")[1] for row in rows] == ["greetings"], done.stdout
    examples = switchyard(project, "topics")
    assert "`social-media-posts`" in examples.stdout  # no app named: the examples


def test_produce_checks_records_against_the_apps_model(project: Path) -> None:
    done = switchyard(project, "produce", "greetings", "--app", "flows.mine:app", "--key", "ada",
                      "--value", '{"nom": "Ada"}', SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1")
    assert done.returncode == 2
    assert done.stderr.startswith("switchyard: error: record 1 (key 'ada'): greetings value rejected"), done.stderr
    assert "name" in done.stderr
    unknown = switchyard(project, "produce", "social-media-posts", "--app", "flows.mine:app", "--key", "u",
                         "--value", "{}")
    assert unknown.returncode == 2
    assert "unknown input topic 'social-media-posts'; known: greetings" in unknown.stderr


def test_the_apps_own_sections_are_settings_and_others_are_refused(project: Path) -> None:
    bad_value = {"SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1", "SWITCHYARD_LIMITS__MOST": "many"}
    done = switchyard(project, "produce", "greetings", "--app", "flows.mine:app", "--key", "a", "--value", "{}",
                      **bad_value)
    assert done.returncode == 2
    assert done.stderr.startswith("switchyard: error: SWITCHYARD_LIMITS__MOST='many'"), done.stderr
    # The examples' sections are not this app's: a variable naming one is refused.
    feed = switchyard(project, "produce", "greetings", "--app", "flows.mine:app", "--key", "a", "--value", "{}",
                      SWITCHYARD_FEED__MODERATION_POLL_INTERVAL="1")
    assert feed.returncode == 2
    assert "SWITCHYARD_FEED__MODERATION_POLL_INTERVAL: no such section" in feed.stderr, feed.stderr
    assert "limits" in feed.stderr  # the known sections are listed, the app's among them


def test_an_app_that_is_not_there_is_one_line(project: Path) -> None:
    for spec, says in (("flows.nothere:app", "no module 'flows.nothere'"),
                       ("flows.mine:nothing", "flows.mine.nothing is missing, not a switchyard.App"),
                       (".mine:app", "'.mine' is not an absolute module name")):
        done = switchyard(project, "topics", "--app", spec)
        assert done.returncode == 2
        assert done.stderr.startswith("switchyard: error: "), done.stderr
        assert says in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_settings_for_joins_the_framework_and_the_app() -> None:
    assert settings_for(HandlerSettings) is ExampleStackSettings  # the examples' declared, typed join
    assert settings_for(CoreSettings) is Settings

    class Other(CoreSettings):
        pass

    joined = settings_for(Other)
    assert issubclass(joined, Settings)
    assert issubclass(joined, Other)
    assert settings_for(Other) is joined


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.text(alphabet=st.sampled_from(list("fm.:/ -_é?1\x00")), max_size=14))
def test_any_app_string_is_an_app_or_a_usage_error(spec: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a user types after --app: an App, or AppNotFound (the CLI's one line), never
    a traceback (a relative name once raised TypeError)."""
    head = spec.partition(":")[0].split(".")[0]
    with contextlib.suppress(ValueError, ImportError):
        assume(not head or head == "flows" or importlib.util.find_spec(head) is None)  # never import a real module
    monkeypatch.chdir(project)
    with contextlib.suppress(AppNotFound):
        load_app(spec)
