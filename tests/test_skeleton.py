"""The skeleton writer: refuses to clobber, refuses to escape, writes the fixed mtime."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cargo_chefpy import fsutil, skeleton
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


def test_a_failed_write_keeps_a_dangling_symlink_the_user_had(tmp_path: Path) -> None:
    (tmp_path / "src").symlink_to("gone")  # dangling: cook must not count it as its own
    with pytest.raises(WriteError, match="symlink that leads nowhere"):
        skeleton.write(skeleton.plan_writes(make(("src/lib.rs", b"")), tmp_path), tmp_path, force=True)
    assert os.readlink(tmp_path / "src") == "gone"


def test_rollback_removes_only_what_cook_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.txt").symlink_to("nowhere")  # a dangling symlink beside the skeleton
    plan = skeleton.plan_writes(make(("a/one.rs", b"1"), ("b/two.rs", b"2")), tmp_path)
    real_write = fsutil.atomic_write

    def fail_on_second(path: Path, data: bytes, **kwargs: object) -> None:
        if path.name == "two.rs":
            raise WriteError("disk full", hint="free space")
        real_write(path, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(skeleton, "atomic_write", fail_on_second)
    with pytest.raises(WriteError):
        skeleton.write(plan, tmp_path, force=False)
    assert sorted(os.listdir(tmp_path)) == ["mine.txt"]
    assert os.readlink(tmp_path / "mine.txt") == "nowhere"


@pytest.mark.parametrize("where", ["src", "src/lib.rs"])
def test_a_symlink_loop_in_the_cook_directory_is_a_clean_error(tmp_path: Path, where: str) -> None:
    loop = tmp_path / where
    loop.parent.mkdir(exist_ok=True)
    loop.symlink_to(loop.name)  # points at itself
    plan_or_error: object
    try:
        plan_or_error = skeleton.plan_writes(make(("src/lib.rs", b"")), tmp_path)
    except WriteError as exc:
        plan_or_error = exc
    if where == "src":
        assert isinstance(plan_or_error, WriteError)
        assert "leads nowhere" in plan_or_error.message
    else:  # the file itself is a (looping) symlink: a conflict, listed, replaced only with --force
        assert isinstance(plan_or_error, skeleton.WritePlan)
        assert plan_or_error.conflict_paths == ("src/lib.rs",)
    assert os.readlink(loop) == loop.name


def test_a_byte_identical_file_with_another_executable_bit_needs_force(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"#!/bin/sh\n")
    script.chmod(0o644)  # the recipe says executable
    plan = skeleton.plan_writes(make(("run.sh", b"#!/bin/sh\n")), tmp_path)
    assert plan.conflict_paths == ("run.sh",)
    with pytest.raises(WriteError, match=r"run\.sh \(only its executable bit\)"):
        skeleton.write(plan, tmp_path, force=False)
    assert not os.access(script, os.X_OK)
    skeleton.write(plan, tmp_path, force=True)
    assert os.access(script, os.X_OK)


def test_a_name_too_long_in_the_cook_directory_is_a_write_error_before_any_write(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    for long in ("src/" + "x" * 300, "missing/" + "x" * 300 + "/lib.rs", "/".join(["d" * 200] * 25)):
        with pytest.raises(WriteError, match="too long for the file system"):
            skeleton.plan_writes(make(("a.rs", b"a"), (long, b"")), tmp_path)
    assert os.listdir(tmp_path) == ["src"]


def test_a_skeleton_deeper_than_the_recursion_limit_is_written_and_settled(deep_tmp: Path) -> None:
    deep = "/".join(["d"] * (sys.getrecursionlimit() + 100)) + "/lib.rs"
    skeleton.write(skeleton.plan_writes(make((deep, b"x")), deep_tmp), deep_tmp, force=False)
    assert (deep_tmp / deep).read_bytes() == b"x"
    os.utime(deep_tmp / deep, (1, 1))
    assert skeleton.settle_tree(deep_tmp) == 1
    assert (deep_tmp / deep).stat().st_mtime == FIXED_MTIME


def test_a_cargo_lock_that_the_cook_build_changed_is_written_back_as_the_recipe_has_it(
    tmp_path: Path,
) -> None:
    rec = make(
        ("Cargo.lock", b"version = 4\n# every entry\n"), ("w/Cargo.lock", b"same\n"), ("a.rs", b"fn a() {}\n")
    )
    skeleton.write(skeleton.plan_writes(rec, tmp_path), tmp_path, force=False)
    (tmp_path / "Cargo.lock").write_bytes(b"version = 4\n# pruned by cargo\n")  # what cargo left
    (tmp_path / "a.rs").write_bytes(b"not a lock: left alone\n")
    assert skeleton.restore_locks(rec, tmp_path) == ["Cargo.lock"]
    assert (tmp_path / "Cargo.lock").read_bytes() == b"version = 4\n# every entry\n"
    assert (tmp_path / "Cargo.lock").stat().st_mtime == FIXED_MTIME
    assert (tmp_path / "a.rs").read_bytes() == b"not a lock: left alone\n"
    assert skeleton.plan_writes(rec, tmp_path).conflict_paths == ("a.rs",)
