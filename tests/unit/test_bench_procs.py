"""The benchmark's CPU meter: a component is its process tree, or its process alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.procs import CpuMeter, cpu_seconds

# A child that burns about half a second of CPU, says so, then idles until killed (so its
# /proc entry is still there when the meter stops).
BURN = ("import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\n"
        "print('done', flush=True)\ntime.sleep(60)")


def test_a_component_alone_leaves_out_its_children_and_a_tree_counts_them() -> None:
    me = os.getpid()
    meter = CpuMeter({"tree": me, "alone": me}, alone=frozenset({"alone"}))
    child = subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.05)  # the child exists before the meter lists the tree
        meter.start()
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "done"
        spent = meter.stop()
        burned = cpu_seconds([child.pid])
    finally:
        child.kill()
        child.wait()
    assert burned >= 0.4
    assert spent["tree"] - spent["alone"] >= 0.3  # the child's CPU, in the tree only
    assert spent["alone"] < 0.3  # the test's own process mostly waited
