"""`switchyard up` after the service died (issue 25): it starts the service again beside
the running Kafka and restate-server, says so, bootstraps, and records flow again. On a
private stack in its own home (the session stack is never crashed); the second `up` is
the CLI itself, given that stack's settings as SWITCHYARD_* variables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from schemas.catalogue import topic
from switchyard.stack.ephemeral import ephemeral_settings
from switchyard.stack.processes import Managed, process_state
from switchyard.stack.revive import pid_states
from switchyard.stack.stack import Stack, settings_env
from tests.integration.kafka_driver import KafkaDriver

BENCH = topic("bench-events")
SWITCHYARD = Path(sys.executable).parent / "switchyard"


def test_up_starts_a_dead_service_again_and_keeps_the_rest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = ephemeral_settings(home, read_env_file=False, kafka={"topic_partitions": 1},
                                  streams={"enabled": False})
    stack = Stack(settings, home, progress=lambda _: None)
    stack.start()
    try:
        before = pid_states(stack.run_dir)
        pidfile = (stack.run_dir / "service.pid").read_text()
        dead = int(pidfile.split()[0])
        # The service's own process dies (its worker is left behind) and is reaped, as init
        # reaps it after the `switchyard up` that started it has exited.
        stale = stack.components.pop("service")
        assert isinstance(stale, Managed)
        os.kill(dead, signal.SIGKILL)
        stale.process.wait(10)
        assert process_state(pidfile) == "dead"

        # Another directory: no `.env` of a checkout is read.
        up = subprocess.run([str(SWITCHYARD), "up"], env={**os.environ, **settings_env(stack.settings)},
                            cwd=tmp_path, capture_output=True, text=True, timeout=45, check=False)
        out = up.stdout
        assert up.returncode == 0, out + up.stderr
        kept = ", ".join(f"{n} (pid {before[n][1]})" for n in ("kafka", "restate", "provider", "smtp"))
        assert f"running: {kept}; starting: service (was dead: pid {dead} gone)" in out, out
        assert f"service: killed what was left of its process group {dead}" in out, out
        assert "[1/2] Python service" in out, out
        assert "[2/2] bootstrap done" in out, out
        assert "(started service)" in out, out

        after = pid_states(stack.run_dir)
        assert after["service"][0] == "running"
        assert after["service"][1] != dead
        assert {n: after[n] for n in before if n != "service"} == {n: before[n] for n in before if n != "service"}

        [outcome] = KafkaDriver(stack.settings.kafka.client_config()).send(
            BENCH, [("up-again", json.dumps({"amount": 3}))], timeout=30)
        assert outcome.ok, outcome.error
        assert outcome.result == {"total": 3, "count": 1}

        revived = (stack.run_dir / "service.pid").read_text()
        stack.stop()  # `switchyard down`'s stop: the pid files, the one `up` wrote included
        assert process_state(revived) == "dead"
    finally:
        stack.stop()
