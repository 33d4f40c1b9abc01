"""Starting, tracking and stopping the stack's processes (broker, restate-server, service).

Each process runs in its own session so a signal reaches it and not its parent; its pid
goes to `<run_dir>/<name>.pid` so `switchyard down` can stop a stack that `up` started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from switchyard.core.errors import UsageProblem
from switchyard.core.poll import poll_until


class StartupError(UsageProblem, RuntimeError):
    """A component did not come up; the message names it, its address and its log."""


@dataclass
class Managed:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    pidfile: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        stop_pid(self.process.pid, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(1)
        unlink_own(self.pidfile, self.pid)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        unlink_own(self.pidfile, self.pid)

    def signal(self, sig: int) -> None:
        """Signals the whole process group (hypercorn's workers, a JVM's threads)."""
        os.killpg(self.process.pid, sig)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Adopted:
    """A process a previous `up` started, known by its pid file: a later command (an
    upgrade) stops or signals it as `Managed` does its own child."""

    name: str
    pid: int
    log: Path
    pidfile: Path

    @classmethod
    def running(cls, run_dir: Path, name: str) -> Adopted | None:
        """Component ``name`` of ``run_dir``'s pid files, if it runs (frozen counts)."""
        pidfile = run_dir / f"{name}.pid"
        try:
            text = pidfile.read_text().strip()
        except FileNotFoundError:
            return None
        if process_state(text) == "dead":
            return None
        return cls(name, int(text.split()[0]), run_dir / f"{name}.log", pidfile)

    def alive(self) -> bool:
        fields = _stat(self.pid)
        return fields is not None and fields[0] not in ("Z", "X", "x")

    def stop(self, timeout: float = 15.0) -> None:
        stop_pid(self.pid, timeout)
        unlink_own(self.pidfile, self.pid)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        unlink_own(self.pidfile, self.pid)

    def signal(self, sig: int) -> None:
        os.killpg(self.pid, sig)


def spawn(
    name: str, cmd: Sequence[str], run_dir: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Managed:
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    pidfile = run_dir / f"{name}.pid"
    # The start time beside the pid tells a later `status` when the pid has been reused.
    pidfile.write_text(f"{process.pid} {start_time(process.pid) or ''}".strip())
    return Managed(name, process, log, pidfile)


def wait_until(
    managed: Managed, what: str, ready: Callable[[], bool], timeout: float, interval: float = 0.2
) -> float:
    """Polls ``ready`` until true; returns the seconds it took. Fails fast if the process dies."""

    def check() -> bool:
        if not managed.alive():
            raise StartupError(f"{managed.name} exited while starting ({what}); log {managed.log}:\n{managed.tail()}")
        return ready()

    try:
        return poll_until(check, timeout, interval, what)
    except TimeoutError:
        raise StartupError(f"{managed.name} not ready after {timeout:.0f}s ({what}); log {managed.log}:\n"
                           f"{managed.tail()}") from None


def unlink_own(pidfile: Path, pid: int) -> None:
    """Removes ``pidfile`` if it still names ``pid`` (an upgrade may have given the name
    to another process since)."""
    with contextlib.suppress(OSError):
        if pidfile.read_text().split()[:1] == [str(pid)]:
            pidfile.unlink()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    return raw[raw.rindex(")") + 2:].split()


def start_time(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if fields else None  # field 22 of stat, in clock ticks since boot


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(pid) and fields[0] not in ("Z", "X", "x"):
                found.add(int(entry.name))
    return found


def process_state(pidfile_text: str) -> str:
    """`running`, `frozen` (stopped by a signal, e.g. SIGSTOP), or `dead` (gone, a zombie,
    or its pid now names another process) for a pid file's ``pid [starttime]``."""
    parts = pidfile_text.split()
    if not parts or not parts[0].isdigit():
        return "dead"
    pid = int(parts[0])
    fields = _stat(pid)
    if fields is None:
        return "running" if pid_alive(pid) and not Path("/proc").is_dir() else "dead"
    state = fields[0]
    if state in ("Z", "X", "x") or (len(parts) > 1 and fields[19] != parts[1]):
        return "dead"
    return "frozen" if state in ("T", "t") else "running"


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGCONT)  # a frozen (SIGSTOPped) process would hold the SIGTERM
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        with contextlib.suppress(TimeoutError):
            poll_until(lambda: _reaped(pid), wait, 0.1, f"process {pid} to exit")
            return


def _reaped(pid: int) -> bool:
    """Gone (reaped first if it is our child, so it does not linger as a zombie), or a
    zombie another process has yet to reap (it has exited: its parent, still running, is
    not this process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    fields = _stat(pid)
    if fields is not None:
        return fields[0] in ("Z", "X", "x")
    return not pid_alive(pid)


def pidfile_names(run_dir: Path) -> list[str]:
    """The components a previous `up` recorded in ``run_dir``."""
    return sorted(p.stem for p in run_dir.glob("*.pid"))


def stop_from_pidfiles(run_dir: Path, order: Sequence[str]) -> list[str]:
    """Stops what a previous `up` left running; returns the names it stopped."""
    stopped = []
    for name in order:
        pidfile = run_dir / f"{name}.pid"
        if not pidfile.exists():
            continue
        text = pidfile.read_text().strip()
        if process_state(text) != "dead":
            stop_pid(int(text.split()[0]))
            stopped.append(name)
        pidfile.unlink(missing_ok=True)
    return stopped
