"""`kafka-console-producer` works as the seed READMEs use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from schemas.catalogue import topic
from switchyard.results import TopicReader
from switchyard.settings import Settings

TOPIC = topic("package-location-updates")


def console_producer(settings: Settings, topic_name: str) -> list[str]:
    """The installed console script, with the seed README's arguments."""
    script = Path(sys.executable).parent / "kafka-console-producer"
    return [str(script), "--bootstrap-server", settings.kafka.bootstrap_servers, "--topic", topic_name,
            "--property", "parse.key=true", "--property", "key.separator=:"]


def run_console(settings: Settings, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        console_producer(settings, TOPIC.name), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_seed_lines_reach_the_package_tracker(settings: Settings, ingress: httpx.Client, unique: str) -> None:
    pkg = f"{unique}-pkg"
    ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Bridge 6, Amsterdam"})
    lines = (
        f'{pkg}:{{"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}}\n'
        f'{pkg}:{{"timestamp": "2024-10-10 14:00", "location": "Mountain Road 155, Brussels"}}\n'
    )
    with TopicReader(settings.kafka.client_config(), [TOPIC.results]) as reader:
        done = run_console(settings, lines)
        assert done.returncode == 0, done.stderr
        reader.collect(lambda rs: sum(r.key_text == pkg for r in rs) >= 2, timeout=60)
    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert [loc["location"] for loc in info["locations"]] == ["Pinetree Road 5, Paris", "Mountain Road 155, Brussels"]


def test_a_line_without_separator_is_an_error_naming_the_line(settings: Settings) -> None:
    done = run_console(settings, "no separator here\n")
    assert done.returncode == 1
    assert "No key separator found on line number 1" in done.stderr


def test_a_key_that_is_not_utf8_is_refused(settings: Settings) -> None:
    done = subprocess.run(
        console_producer(settings, TOPIC.name), input=b"\xff\xfe:{}\n", capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert b"not valid UTF-8" in done.stderr

