"""Which files of a kept crate the recipe carries, and how they are read."""

from __future__ import annotations

import os
from pathlib import Path

from cargo_chefpy.prepare import _crate_files, _file_entry
from cargo_chefpy.recipe import Role


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
    found = list(_crate_files(str(crate), {str(crate / "vendored")}))
    assert [(sub, link) for _, sub, link in found] == [
        ("Cargo.toml", False), ("build.rs", False), ("link.rs", True),
        ("src/a.rs", False), ("src/lib.rs", False), ("src/b/mod.rs", False), ("src/target/kept.rs", False),
        ("tests/it.rs", False),
    ]  # fmt: skip
    assert all(full == os.path.join(crate, sub) for full, sub, _ in found)


def test_a_file_entry_reads_the_whole_file_and_its_executable_bit(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"#!/bin/sh\n" * 10_000)
    script.chmod(0o755)
    entry = _file_entry(str(script), "run.sh", Role.KEEP, root=str(tmp_path), symlink=False)
    assert (entry.data, entry.executable) == (script.read_bytes(), True)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert _file_entry(str(empty), "empty", Role.KEEP).data == b""
