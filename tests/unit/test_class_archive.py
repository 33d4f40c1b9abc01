"""The broker's class archive is named for its jars and its JVM: a JVM refuses an archive
written by another build or for other jars, so a change must name a new one."""

from __future__ import annotations

import os
from pathlib import Path

from switchyard.stack.class_archive import archive_for, keep, sharing_flags


def jars(tmp_path: Path, names: list[str]) -> Path:
    libs = tmp_path / "libs"
    libs.mkdir()
    for name in names:
        (libs / name).write_bytes(name.encode())
    return libs


def test_the_same_jars_name_the_same_archive_beside_them(tmp_path: Path) -> None:
    libs = jars(tmp_path, ["a.jar", "b.jar"])
    assert archive_for(libs) == archive_for(libs)
    assert archive_for(libs).parent == tmp_path
    assert archive_for(libs).suffix == ".jsa"


def test_a_changed_added_or_removed_jar_names_another_archive(tmp_path: Path) -> None:
    libs = jars(tmp_path, ["a.jar", "b.jar"])
    before = archive_for(libs)
    (libs / "b.jar").write_bytes(b"a longer, rebuilt b")
    changed = archive_for(libs)
    (libs / "c.jar").write_bytes(b"c")
    added = archive_for(libs)
    (libs / "a.jar").unlink()
    removed = archive_for(libs)
    assert len({before, changed, added, removed}) == 4


def test_a_jar_touched_names_another_archive(tmp_path: Path) -> None:
    libs = jars(tmp_path, ["a.jar"])
    before = archive_for(libs)
    stat = (libs / "a.jar").stat()
    os.utime(libs / "a.jar", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert archive_for(libs) != before


def test_brokers_start_from_the_archive_only_once_it_exists(tmp_path: Path) -> None:
    libs = jars(tmp_path, ["a.jar"])
    assert sharing_flags(libs) == []
    archive_for(libs).write_bytes(b"archive")
    assert sharing_flags(libs) == [f"-XX:SharedArchiveFile={archive_for(libs)}"]


def test_a_training_run_that_wrote_nothing_leaves_no_archive(tmp_path: Path) -> None:
    libs = jars(tmp_path, ["a.jar"])
    partial, archive = tmp_path / "x.partial", archive_for(libs)
    assert keep(partial, archive) is None
    partial.write_bytes(b"")
    assert keep(partial, archive) is None
    assert not partial.exists()
    assert not archive.exists()
    partial.write_bytes(b"classes")
    assert keep(partial, archive) == archive
    assert archive.read_bytes() == b"classes"
    assert not partial.exists()
