"""An app's stream worker (the examples': streams/, Faust) as a stack component: one
process beside the service, its module named by the app (``App(streams=...)``), started
after the bootstrap (the examples' agents read every catalogue topic and write
`risk-alerts`, which must exist first). Its data dir is `<home>/streams`."""

from __future__ import annotations

import sys
from pathlib import Path

from switchyard.core.poll import http_ok
from switchyard.settings import Settings
from switchyard.stack.paths import REPO
from switchyard.stack.processes import Managed, spawn, wait_until


def streams_command(module: str, home: Path) -> list[str]:
    return [sys.executable, "-m", module, "--datadir", str(home / "streams")]


def start_streams(settings: Settings, module: str, home: Path, env: dict[str, str],
                  timeout: float) -> tuple[Managed, float]:
    worker = spawn("streams", streams_command(module, home), home / "run", env=env, cwd=REPO)
    url = f"http://{settings.streams.web_bind}/views/ready/"
    # 200 once the worker holds its partitions and has recovered its tables.
    took = wait_until(worker, f"stream worker at {url}", lambda: http_ok(url), timeout)
    return worker, took
