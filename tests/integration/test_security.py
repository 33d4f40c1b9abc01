"""Secure by default: only Restate may call the service, and every listener is local."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from switchyard.stack.stack import Stack


def test_unsigned_calls_to_the_service_are_refused(stack: Stack, ingress: httpx.Client, unique: str) -> None:
    direct = f"http://{stack.settings.service.bind}"
    assert httpx.get(f"{direct}/discover", timeout=5).status_code == 401
    r = httpx.post(f"{direct}/invoke/PackageTracker/{unique}/getPackageInfo", timeout=5)
    assert r.status_code == 401
    # The same handler through Restate (which signs its requests) answers.
    assert ingress.post(f"/PackageTracker/{unique}/getPackageInfo").status_code == 404


def _listening_sockets() -> dict[int, str]:
    """inode -> local address of every listening TCP socket on this machine."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                found[int(fields[9])] = fields[1].split(":")[0]
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for fd in (task / "fd").iterdir() if (task / "fd").exists() else []:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def _family(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return [pid, *(p for kid in kids for p in _family(kid))]


# 127.0.0.1, ::1 and ::ffff:127.0.0.1 as /proc spells them
LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def test_every_listener_binds_to_loopback(stack: Stack) -> None:
    listening = _listening_sockets()
    checked = 0
    for name, component in stack.components.items():
        process = getattr(component, "process", None)
        if process is None:
            continue  # a container: its ports are published by Docker
        for pid in _family(process.pid):
            for inode in _socket_inodes(pid) & listening.keys():
                checked += 1
                assert listening[inode] in LOOPBACK, f"{name} (pid {pid}) listens on {listening[inode]}"
    assert checked >= 4, "found too few listening sockets to judge"
