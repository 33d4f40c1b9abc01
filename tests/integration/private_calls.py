"""Calls a hostile caller makes to ingress-private handlers."""

from __future__ import annotations

from typing import Any

import httpx

ATTEMPTS = 3


def post_private(ingress: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    """Posts a call Restate refuses (a private handler). Restate answers such a call from
    its headers and closes the connection; when that close overtakes the body the client is
    still writing, the client sees the connection dropped instead of the 400 (one test in a
    full run, now and then). A refused call starts nothing, so sending it again is the same
    call; the callers check that nothing changed."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return ingress.post(path, **kwargs)
        except httpx.RemoteProtocolError:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
