"""The final build's sources tree (`prepare --sources-dir`): which files it holds, and how it is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cargo_chefpy.errors import WriteError
from cargo_chefpy.fsutil import check_empty_dir
from cargo_chefpy.sources import Rules, collect, for_docker, write


def files(root: Path, entries: dict[str, str]) -> None:
    for rel, text in entries.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    files(
        root,
        {
            "Cargo.toml": "[workspace]\n",
            "Cargo.lock": "# lock\n",
            "Dockerfile": "FROM x\n",
            ".dockerignore": "target/\n",
            "cargo-chefpy": "zipapp\n",
            "docs/notes.txt": "shared\n",
            ".git/HEAD": "ref\n",
            "target/release/junk": "junk\n",
            "vendored/dep/lib.rs": "dep\n",
            "svc/a/Cargo.toml": "[package]\n",
            "svc/a/src/main.rs": "fn main() {}\n",
            "svc/a/target/x": "junk\n",
            "svc/a/api.Dockerfile": "FROM y\n",
            "svc/b/Cargo.toml": "[package]\n",
            "svc/b/src/main.rs": "fn main() {}\n",
            "svc/b/data/shared.txt": "read by a\n",
            "svc/b/nested/Cargo.toml": "[package]\n",
            "svc/b/nested/src/lib.rs": "pub fn f() {}\n",
        },
    )
    return root


def rules(root: Path, *, extras: tuple[str, ...] = ()) -> Rules:
    crates = {str(root / d) for d in ("svc/a", "svc/b", "svc/b/nested")}
    return Rules(
        crate_dirs=crates,
        used_dirs={str(root / "svc/a"), str(root / "svc/b/nested")},
        skipped={str(root / "target"), str(root / "vendored")},
        extras={str(root / e) for e in extras},
    )


def test_the_tree_holds_used_crates_and_files_of_no_crate_and_leaves_out_the_rest(context: Path) -> None:
    tree = collect(str(context), rules(context), {"Cargo.lock": b"# pruned lock\n"})
    assert [p for p, _ in tree.copied] == [
        "Cargo.toml",
        "docs/notes.txt",
        "svc/a/Cargo.toml",
        "svc/a/api.Dockerfile",  # Docker's names are left out only outside the crates: a crate may embed one
        "svc/a/src/main.rs",
        "svc/b/nested/Cargo.toml",  # a used crate inside an unused one
        "svc/b/nested/src/lib.rs",
    ]
    assert tree.written == (("Cargo.lock", b"# pruned lock\n"),)


def test_a_root_reached_through_a_symlink_is_walked_as_the_directory(context: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(context)
    rules_through_link = Rules(
        crate_dirs={str(link / d) for d in ("svc/a", "svc/b", "svc/b/nested")},
        used_dirs={str(link / "svc/a"), str(link / "svc/b/nested")},
        skipped={str(link / "target"), str(link / "vendored")},
        extras=(),
    )
    direct = collect(str(context), rules(context), {})
    assert collect(str(link), rules_through_link, {}).copied == tuple(
        (p, str(link / p)) for p, _ in direct.copied
    )


def test_an_extra_path_inside_an_unused_crate_is_in_the_tree(context: Path) -> None:
    (context / "deploy").mkdir()
    (context / "deploy" / "Dockerfile.tmpl").write_text("FROM {base}\n")
    tree = collect(str(context), rules(context, extras=("svc/b/data", "deploy")), {})
    assert "svc/b/data/shared.txt" in dict(tree.copied)
    assert "deploy/Dockerfile.tmpl" in dict(tree.copied)  # asked for: Docker's names too
    assert "svc/b/src/main.rs" not in dict(tree.copied)


@pytest.mark.parametrize(
    ("name", "docker"),
    [
        ("Dockerfile", True),
        ("Dockerfile.dev", True),
        ("api.Dockerfile", True),
        (".dockerignore", True),
        ("Dockerfile.dockerignore", True),
        ("docker-bake.hcl", True),
        ("compose.yaml", True),
        ("docker-compose.yml", True),
        ("dockerfile.rs", False),
        ("composer.json", False),
        ("main.rs", False),
    ],
)
def test_dockers_own_files_are_known_by_name(name: str, docker: bool) -> None:
    assert for_docker(name) is docker


def test_the_tree_is_written_with_executable_bits_and_symlinks(context: Path, tmp_path: Path) -> None:
    script = context / "docs/run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    os.symlink("notes.txt", context / "docs/link.txt")
    os.symlink("src", context / "svc/a/linked-src")  # a symlinked directory: one entry, not entered
    out = tmp_path / "out" / "sources"
    n, _ = write(collect(str(context), rules(context), {"Cargo.lock": b"x\n"}), out)
    assert n == 11
    assert os.readlink(out / "svc/a/linked-src") == "src"
    assert os.access(out / "docs/run.sh", os.X_OK)
    assert not os.access(out / "docs/notes.txt", os.X_OK)
    assert os.readlink(out / "docs/link.txt") == "notes.txt"
    assert (out / "Cargo.lock").read_bytes() == b"x\n"


def test_undo_removes_what_was_written_and_the_directories_made_for_it(context: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "sources"
    _, undo = write(collect(str(context), rules(context), {}), out)
    undo()
    assert not (tmp_path / "new").exists()


def test_a_directory_that_is_not_empty_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    with pytest.raises(WriteError, match="is not empty"):
        check_empty_dir(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine\n"
    check_empty_dir(tmp_path / "missing")  # a new directory is fine
