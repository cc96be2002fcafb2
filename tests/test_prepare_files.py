"""Which files of a kept crate the recipe carries, and how they are read."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cargo_chefpy import prepare
from cargo_chefpy.cli import main
from cargo_chefpy.errors import ProjectError
from cargo_chefpy.prepare import Prefetched, _crate_files, _file_entry
from cargo_chefpy.project import PendingMetadata
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


@pytest.mark.parametrize("variant", ["seed", "seed-all"])  # explicit members, and `members = ["src/*"]`
def test_files_read_while_cargo_metadata_runs_give_the_same_recipe(
    variant: str, workspace: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(variant, register=2)
    tool = ws.root / "src/libA/tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    args = ["prepare", "-p", "serviceZ", "--recipe-path"]
    seen: list[Prefetched | None] = []
    reads: list[int] = []  # the files build_recipe read itself
    real_build_recipe, real_file_entry = prepare.build_recipe, prepare._file_entry

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[4])
        reads.append(0)
        return real_build_recipe(*args, **kwargs)

    def counting_file_entry(*args: Any, **kwargs: Any) -> Any:
        if reads:
            reads[-1] += 1
        return real_file_entry(*args, **kwargs)

    monkeypatch.setattr(prepare, "build_recipe", spy)
    monkeypatch.setattr(prepare, "_file_entry", counting_file_entry)
    monkeypatch.setattr(PendingMetadata, "running", lambda self: True)  # a cargo slow enough to read it all
    with_prefetch = run_prepare([*args, str(ws.root.parent / "1.json")], ws.root)
    monkeypatch.setattr(PendingMetadata, "running", lambda self: False)  # one that answers at once
    without = run_prepare([*args, str(ws.root.parent / "2.json")], ws.root)
    assert with_prefetch == without
    assert seen[0] is not None
    assert seen[1] is not None
    libs = [f"{ws.root}/src/{name}" for name in ("libA", "libB", "libC")]
    assert all(lib in seen[0].walks for lib in libs)
    assert any(full.startswith(libs[0] + "/src/") for full in seen[0].files)
    assert not seen[1].walks
    assert not seen[1].files
    assert reads[0] < reads[1]  # what was read early is not read again


def run_prepare(args: list[str], cwd: Path) -> bytes:
    assert main(args, cwd=cwd) == 0
    return Path(args[-1]).read_bytes()


def test_prefetch_walks_only_member_crates_and_drops_a_walk_cargo_s_answer_cut_short(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["crates/*", "app"]\nexclude = ["crates/skipped"]\n'
    )
    for crate in ("crates/a", "crates/skipped", "app"):
        (tmp_path / crate / "src").mkdir(parents=True)
        (tmp_path / crate / "Cargo.toml").write_text(f'[package]\nname = "{crate[-1]}"\n')
    (tmp_path / "crates" / "not-a-crate").mkdir()
    for i in range(200):
        (tmp_path / "app" / "src" / f"m{i:03}.rs").write_text("")
    early = prepare._Early.parse(tmp_path / "Cargo.toml")
    root = str(tmp_path)
    assert early._member_directories(root) == [f"{root}/crates/a", f"{root}/app"]
    everything = early.prefetch(root, lambda: True)
    assert everything is not None
    assert sorted(everything.walks) == [f"{root}/app", f"{root}/crates/a"]
    calls = iter(range(100))
    cut = early.prefetch(root, lambda: next(calls) < 3)  # cargo answers during app's walk
    assert cut is not None
    assert list(cut.walks) == [f"{root}/crates/a"]
    assert not any(full.startswith(f"{root}/app/") for full in cut.files)
