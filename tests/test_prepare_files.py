"""Which files of a kept crate the recipe carries, and how they are read."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cargo_chefpy.errors import ProjectError
from cargo_chefpy.prepare import _crate_files, _file_entry
from cargo_chefpy.recipe import Role
from tests.conftest import FakeWorkspace

Make = Callable[..., FakeWorkspace]


def test_a_crate_s_files_are_its_own_sorted_without_target_git_nested_packages_or_skipped_dirs(
    tmp_path: Path,
) -> None:
    crate = tmp_path / "libA"
    for rel in [
        "Cargo.toml", "build.rs", "src/lib.rs", "src/b/mod.rs", "src/a.rs", "src/target/kept.rs",
        "target/debug/skipped", ".git/HEAD", "nested/Cargo.toml", "nested/src/lib.rs",
        "vendored/crate/lib.rs", "tests/it.rs",
    ]:  # fmt: skip
        (crate / rel).parent.mkdir(parents=True, exist_ok=True)
        (crate / rel).write_text(rel)
    (crate / "link.rs").symlink_to("build.rs")
    os.mkfifo(crate / "src" / "pipe")
    found = list(_crate_files(str(crate), {str(crate / "vendored")}))
    assert [(sub, kind) for _, sub, kind in found] == [
        ("Cargo.toml", "file"), ("build.rs", "file"), ("link.rs", "link"),
        ("src/a.rs", "file"), ("src/lib.rs", "file"), ("src/pipe", "other"), ("src/b/mod.rs", "file"),
        ("src/target/kept.rs", "file"), ("tests/it.rs", "file"),
    ]  # fmt: skip
    assert all(full == os.path.join(crate, sub) for full, sub, _ in found)


def test_a_file_that_is_not_regular_is_refused_without_being_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "to-pipe").symlink_to("pipe")
    opened: list[str] = []
    real_open = os.open

    def recording_open(path: str, *args: Any, **kwargs: Any) -> int:
        opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    for name, kind in [("pipe", "other"), ("pipe", None), ("to-pipe", "link")]:
        with pytest.raises(ProjectError, match="not a regular file"):
            _file_entry(str(tmp_path / name), name, Role.KEEP, kind=kind)
    assert opened == []


def test_a_file_entry_reads_the_whole_file_and_its_executable_bit(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"#!/bin/sh\n" * 10_000)
    script.chmod(0o755)
    entry = _file_entry(str(script), "run.sh", Role.KEEP, root=str(tmp_path), kind="file")
    assert (entry.data, entry.executable) == (script.read_bytes(), True)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert _file_entry(str(empty), "empty", Role.KEEP).data == b""
