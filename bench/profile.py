"""Profiles taken during a scenario (`switchyard bench --profile`).

* the service (every hypercorn process): py-spy, a flamegraph SVG and the folded stacks;
* restate-server: ``perf record`` (software clock, so it works in VMs without counters),
  summarised as its top symbols. Either profiler missing is reported, not fatal.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def _py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _finish(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    process.send_signal(signal.SIGINT)  # both profilers write their output on SIGINT
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


@contextlib.contextmanager
def profiled(service_pid: int, restate_pid: int, out: Path, scenario: str) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    spy, perf = _py_spy(), shutil.which("perf")
    base = out / f"profile-{scenario}"
    service = restate = None
    if spy is not None:
        service = _start([spy, "record", "--pid", str(service_pid), "--subprocesses", "--rate", "250",
                          "--nonblocking", "--format", "flamegraph", "--output", f"{base}-service.svg"],
                         out / f"{base.name}-service.log")
    perf_data = out / f"{base.name}-restate.perf.data"
    if perf is not None:
        restate = _start([perf, "record", "-F", "499", "-g", "-p", str(restate_pid), "-o", str(perf_data)],
                         out / f"{base.name}-restate.log")
    try:
        yield
    finally:
        _finish(service)
        _finish(restate)
        if perf is not None and perf_data.exists():
            _summarise_perf(perf, perf_data, Path(f"{base}-restate.txt"))


def _summarise_perf(perf: str, data: Path, text: Path) -> None:
    """The top symbols by self time; the raw perf.data is large and machine-specific, so dropped."""
    report = subprocess.run([perf, "report", "-i", str(data), "--stdio", "--no-children", "--sort", "dso,symbol",
                             "--percent-limit", "0.5"], capture_output=True, text=True, check=False)
    lines = [line for line in report.stdout.splitlines() if line.strip() and not line.startswith("#")
             and "%" in line and not line.lstrip().startswith(("|", "-", "---"))]
    text.write_text("\n".join(lines[:80]) + "\n")
    data.unlink(missing_ok=True)
