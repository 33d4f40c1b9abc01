"""`switchyard fetch` (run by `make setup`) trains the broker's class archive, and a JVM on
the broker's classpath maps it: with `-Xshare:on` a JVM that cannot use an archive fails
instead of warning and running without it."""

from __future__ import annotations

import subprocess

from switchyard.stack.class_archive import archive_for
from switchyard.stack.kafka import ensure_jars


def test_setup_trained_an_archive_the_broker_classpath_maps() -> None:
    libs = ensure_jars()
    archive = archive_for(libs)
    assert archive.is_file(), f"no class archive at {archive}: `switchyard fetch` trains it"
    done = subprocess.run(
        ["java", "-Xshare:on", f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=info", "-cp", f"{libs}/*",
         "-version"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mapped dynamic region" in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
