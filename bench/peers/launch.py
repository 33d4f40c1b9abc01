"""Starting a peer system as its own process, logged beside the stack's components."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from bench.topics import peer_topics
from switchyard.stack.paths import REPO
from switchyard.stack.processes import Managed, spawn

MODULES = {"raw": "bench.peers.raw_loop", "faust": "bench.peers.faust_peer"}


def start_peer(system: str, bootstrap: str, home: Path, partitions: int) -> Managed:
    """Starts the ``system`` peer on its topics; it is ready once it answers a warm-up."""
    source, results = peer_topics(system)
    run_id = uuid.uuid4().hex[:8]  # a fresh consumer group (and Faust app) per start
    cmd = [sys.executable, "-m", MODULES[system], "--bootstrap", bootstrap, "--source", source,
           "--results", results]
    if system == "faust":
        datadir = home / f"faust-{run_id}"
        datadir.mkdir(parents=True, exist_ok=True)
        cmd += ["--partitions", str(partitions), "--datadir", str(datadir), "--app-id", f"bench-faust-{run_id}"]
    else:
        cmd += ["--group", f"bench-raw-{run_id}"]
    return spawn(f"peer-{system}", cmd, home / "run", cwd=REPO)
