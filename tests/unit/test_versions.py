"""Versioned deployments: each build answers at its own path, never at another's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from switchyard.core.versions import base_of, code_version, version_of, versioned_url, with_version


def call(app: Any, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "path": path}, receive, send))
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


async def inner(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"handled"})


def test_a_build_serves_its_own_version_and_refuses_another() -> None:
    app = with_version(inner, "abc123")
    assert call(app, "/version") == (200, json.dumps({"version": "abc123"}).encode())
    # Also at its own path: behind HAProxy each version's path reaches that version's replicas.
    assert call(app, "/v/abc123/version") == (200, json.dumps({"version": "abc123"}).encode())
    assert call(app, "/v/old999/version")[0] == 404
    assert call(app, "/v/abc123/invoke/UserFeed/processPost") == (200, b"handled")
    assert call(app, "/invoke/UserFeed/processPost") == (200, b"handled")  # registered before versions
    status, body = call(app, "/v/old999/invoke/UserFeed/processPost")
    assert status == 404  # Restate retries: an invocation of version old999 never runs on this code
    assert b"serves version abc123, not old999" in body


def test_uris_carry_the_version() -> None:
    uri = versioned_url("http://127.0.0.1:9080/", "abc123")
    assert uri == "http://127.0.0.1:9080/v/abc123"
    assert (version_of(uri), base_of(uri)) == ("abc123", "http://127.0.0.1:9080")
    assert (version_of(uri + "/"), base_of(uri + "/")) == ("abc123", "http://127.0.0.1:9080")
    assert (version_of("http://127.0.0.1:9080/"), base_of("http://127.0.0.1:9080/")) == (None, "http://127.0.0.1:9080")
    assert base_of("http://lb:8000/svc/v/x1") == "http://lb:8000/svc"


def test_any_code_change_is_a_new_version(tmp_path: Path) -> None:
    pkg = tmp_path / "flows"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    first = code_version([pkg])
    assert code_version([pkg]) == first
    (pkg / "a.py").write_text("x = 2\n")
    assert code_version([pkg]) != first
    (pkg / "notes.txt").write_text("not code")
    assert code_version([pkg]) == code_version([pkg])
