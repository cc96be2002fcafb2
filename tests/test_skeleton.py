"""The skeleton writer: refuses to clobber, refuses to escape, writes the fixed mtime."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cargo_chefpy import skeleton
from cargo_chefpy.errors import RecipeError, WriteError
from cargo_chefpy.fsutil import FIXED_MTIME
from cargo_chefpy.recipe import Recipe, RecipeFile, Role


def make(*files: tuple[str, bytes]) -> Recipe:
    return Recipe(
        workspace=".",
        packages=(),
        bins=(),
        crates=(),
        files=tuple(
            RecipeFile(path=p, data=d, executable=p.endswith(".sh"), role=Role.KEEP) for p, d in files
        ),
        vendored=(),
    )


def test_writes_every_file_with_the_fixed_mtime_and_executable_bit(tmp_path: Path) -> None:
    rec = make(("a/b.rs", b"fn b() {}\n"), ("run.sh", b"#!/bin/sh\n"))
    written = skeleton.write(skeleton.plan_writes(rec, tmp_path), tmp_path, force=False)
    assert written == 2
    assert (tmp_path / "a/b.rs").read_bytes() == b"fn b() {}\n"
    assert (tmp_path / "a/b.rs").stat().st_mtime == FIXED_MTIME
    assert os.access(tmp_path / "run.sh", os.X_OK)
    assert not os.access(tmp_path / "a/b.rs", os.X_OK)


def test_identical_existing_files_are_left_in_place(tmp_path: Path) -> None:
    (tmp_path / "a.rs").write_bytes(b"same")
    plan = skeleton.plan_writes(make(("a.rs", b"same")), tmp_path)
    assert [f.path for f in plan.unchanged] == ["a.rs"]
    assert skeleton.write(plan, tmp_path, force=False) == 0
    assert (tmp_path / "a.rs").stat().st_mtime == FIXED_MTIME


def test_differing_existing_files_are_refused_and_left_untouched(tmp_path: Path) -> None:
    (tmp_path / "a.rs").write_bytes(b"the user's work")
    plan = skeleton.plan_writes(make(("a.rs", b"stub"), ("b.rs", b"new")), tmp_path)
    with pytest.raises(WriteError, match="overwrite 1 existing file"):
        skeleton.write(plan, tmp_path, force=False)
    assert (tmp_path / "a.rs").read_bytes() == b"the user's work"
    assert not (tmp_path / "b.rs").exists()


def test_force_overwrites_differing_files(tmp_path: Path) -> None:
    (tmp_path / "a.rs").write_bytes(b"old")
    skeleton.write(skeleton.plan_writes(make(("a.rs", b"new")), tmp_path), tmp_path, force=True)
    assert (tmp_path / "a.rs").read_bytes() == b"new"


def test_a_symlinked_directory_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    cook = tmp_path / "cook"
    cook.mkdir()
    (cook / "src").symlink_to(outside)
    with pytest.raises(RecipeError, match="points outside"):
        skeleton.plan_writes(make(("src/lib.rs", b"")), cook)
    assert not any(outside.iterdir())
