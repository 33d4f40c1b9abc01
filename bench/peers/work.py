"""The per-key update every system under test performs, and the result record it writes.

Mirrors handlers/bench.py (``added``) and the contract's `-results` record shape, so the
load generator joins the peers' results exactly as it joins Switchyard's.
"""

from __future__ import annotations

import json
from typing import Any


def updated(before: dict[str, int] | None, event: dict[str, Any]) -> dict[str, int]:
    """The key's counter after one event (``{"total", "count"}``)."""
    total, count = (before["total"], before["count"]) if before else (0, 0)
    return {"total": total + int(event["amount"]), "count": count + 1}


def result_value(topic: str, partition: int, offset: int, target: str, result: dict[str, int]) -> bytes:
    return json.dumps({
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "target": target, "ok": True, "result": result,
    }).encode()
