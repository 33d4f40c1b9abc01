"""`switchyard load`'s progress off a terminal (a log, CI): plain lines every few seconds,
never a line rewritten with carriage returns."""

from __future__ import annotations

import pytest

from switchyard.ops.load import PlainProgress, Snapshot, line_progress


def snapshot(elapsed: float) -> Snapshot:
    return Snapshot(produced=int(elapsed * 100), results=int(elapsed * 90), elapsed=elapsed, latencies_ms=[3.0])


def test_off_a_terminal_a_plain_line_comes_every_few_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    show = PlainProgress("bench", every=5.0)
    for tenths in range(1, 131):  # 13 s of snapshots, ten a second
        show(snapshot(tenths / 10))
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split()[1] for line in lines] == ["5.0s", "10.0s"]
    assert all(line.startswith("bench ") and "results" in line for line in lines)
    assert err.endswith("\n")


def test_line_progress_is_plain_when_stderr_is_no_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(line_progress("x"), PlainProgress)  # pytest captures stderr: no terminal
