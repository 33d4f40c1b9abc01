"""Versioned deployments: a code change never breaks work in flight.

Restate pins each invocation to the deployment it started on and replays its journal
there. Re-registering changed code at the same address (`force`) makes sleeping and
waiting invocations replay on the new code, and any new step in their path fails them
with a journal mismatch. So each build has a version (a digest of its source, or set
explicitly), answers only at `/v/<version>/...` of its address, and is registered as a
deployment of its own. New invocations go to the newest; the old version keeps serving
what is pinned to it until that drains (switchyard/ops/upgrade.py retires it then). A
request for another version gets a 404 and is retried by Restate: never run on the wrong
code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

VERSION_PATH = "/version"  # GET: {"version": ...}, unauthenticated (it reveals only the digest)
PREFIX = "/v/"

Asgi = Any


def code_version(roots: Iterable[Path]) -> str:
    """A digest of every Python source file under ``roots`` (paths and contents): the
    same tree gives the same version on every host, any edit a new one."""
    digest = hashlib.sha256()
    for root in sorted(roots):
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def versioned_url(base: str, version: str) -> str:
    return f"{base.rstrip('/')}{PREFIX}{version}"


def version_of(uri: str) -> str | None:
    """The version in a deployment's URI; None for one registered before versions."""
    rest = uri.split("://", 1)[-1]
    parts = [p for p in rest.split("/")[1:] if p]  # the path's segments, the host left out
    return parts[-1] if len(parts) >= 2 and parts[-2] == PREFIX.strip("/") else None


def base_of(uri: str) -> str:
    """A deployment URI without its version path: the address of the service process."""
    version = version_of(uri)
    trimmed = uri.rstrip("/")
    return trimmed[: -len(f"{PREFIX}{version}")] if version else trimmed


def with_version(app: Asgi, version: str) -> Asgi:
    """``app`` answering ``GET /version`` (also at ``/v/<version>/version``: asked through
    a proxy that routes each version's path to its own processes), its own
    ``/v/<version>/...`` (and unversioned paths, as registered before versions), and 404
    for any other version."""
    own = f"{PREFIX}{version}/"
    body = json.dumps({"version": version}).encode()

    async def serve(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in (VERSION_PATH, f"{own}{VERSION_PATH.lstrip('/')}"):
            await _answer(send, 200, body)
        elif path.startswith(PREFIX) and not path.startswith(own):
            asked = path[len(PREFIX):].split("/", 1)[0]
            await _answer(send, 404, json.dumps({"message": f"this process serves version {version}, not {asked}; "
                                                            f"that version's process must keep serving until its "
                                                            f"invocations drain"}).encode())
        else:
            await app(scope, receive, send)

    return serve


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
