"""A workspace member that a [patch] entry points at (a fork kept in the monorepo), named by -p: real cargo
through the simulated Docker flow, both mtime modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.support.flow import DockerFlow, chefpy
from integration.support.shapes import Shape, lib_rs, package, workspace, write_shape

FILES = {
    "Cargo.toml": workspace(
        "app", "forks/fake-log", "util", extra='[patch.crates-io]\nfake-log = { path = "forks/fake-log" }\n'
    ),
    "forks/fake-log/Cargo.toml": package("fake-log", "0.4.5", deps='util = { path = "../../util" }\n'),
    "forks/fake-log/src/lib.rs": "pub fn fake_log() -> &'static str {\n    util::GREETING\n}\n",
    "util/Cargo.toml": package("util"),
    "util/src/lib.rs": lib_rs("util"),
    "app/Cargo.toml": package("app", deps='fake-log = "0.4"\n'),
    "app/src/main.rs": 'fn main() {\n    println!("{}", fake_log::fake_log());\n}\n',
}


@pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
def test_a_patched_member_named_by_p_is_built_as_the_member_it_is(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    """It was refused (exit 4), although cargo builds it and cargo-chefpy did before it knew forks."""
    shape = Shape(
        name="patched-member-target",
        files=FILES,
        vendored=("fake-log",),
        prepare_args=(),
        cargo_args=(),
        edits=(),
        binaries={},
        compiled=frozenset(),
        reuses_cook=True,
    )
    root = tmp_path / "context" / "ws"
    write_shape(shape, root)
    args = ["--release", "-p", "fake-log"]
    flow = DockerFlow(tmp_path, root, prepare_args=["-p", "fake-log"], cook_args=args, build_args=args)
    flow.cook(flow.prepare())
    stage = flow.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"fake-log"}


@pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
def test_a_binary_of_a_patched_member_named_by_bin_is_built_from_the_member_it_is(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    """`--bin logtool` said "matches no binary" while the fork owning it was taken for a [patch] crate."""
    shape = Shape(
        name="patched-member-bin",
        files={
            **FILES,
            "forks/fake-log/src/bin/logtool.rs": (
                'fn main() {\n    println!("logtool: {}", fake_log::fake_log());\n}\n'
            ),
        },
        vendored=("fake-log",),
        prepare_args=(),
        cargo_args=(),
        edits=(),
        binaries={},
        compiled=frozenset(),
        reuses_cook=True,
    )
    root = tmp_path / "context" / "ws"
    write_shape(shape, root)
    args = ["--release", "--bin", "logtool"]
    flow = DockerFlow(tmp_path, root, prepare_args=["--bin", "logtool"], cook_args=args, build_args=args)
    flow.cook(flow.prepare())
    stage = flow.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"fake-log"}
    assert flow.run_binary(stage, "logtool").startswith("logtool: ")


@pytest.mark.parametrize("outside", [False, True], ids=["patch-fork", "path-dependency-outside"])
def test_stubbing_a_member_that_a_real_outside_crate_uses_is_refused_in_prepare(
    tmp_path: Path, outside: bool
) -> None:
    """The [patch] fork (or a path crate outside the workspace) is compiled from its real sources, never
    stubbed: against `--stub util`, cook failed with rustc's error (101) on a recipe prepare had written."""
    files = dict(FILES)
    if outside:
        files = {
            "Cargo.toml": workspace("app", "util"),
            "util/Cargo.toml": package("util"),
            "util/src/lib.rs": lib_rs("util"),
            "app/Cargo.toml": package("app", deps='helper = { path = "../../outside/helper" }\n'),
            "app/src/main.rs": 'fn main() {\n    println!("{}", helper::helper());\n}\n',
        }
    shape = Shape(
        name="stub-used-by-outside",
        files=files,
        vendored=("fake-log",),
        prepare_args=(),
        cargo_args=(),
        edits=(),
        binaries={},
        compiled=frozenset(),
        reuses_cook=True,
    )
    root = tmp_path / "context" / "ws"
    if outside:  # written first: writing the shape locks it
        helper = tmp_path / "context" / "outside" / "helper"
        (helper / "src").mkdir(parents=True)
        (helper / "Cargo.toml").write_text(package("helper", deps='util = { path = "../../ws/util" }\n'))
        (helper / "src" / "lib.rs").write_text("pub fn helper() -> &'static str {\n    util::GREETING\n}\n")
    write_shape(shape, root)
    proc = chefpy(["prepare", "-p", "app", "--stub", "util"], root)
    assert proc.returncode == 4, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    hints = [line for line in proc.stderr.splitlines() if line.startswith("hint: ")]
    name = "helper" if outside else "fake-log"
    assert errors == [
        f"error: {name} is compiled from its real sources and depends on util, which is stubbed (--stub util)"
    ]
    assert hints == ["hint: drop --stub util: what a real crate uses must be real"]
    assert not (root / "recipe.json").exists()
    assert chefpy(["prepare", "-p", "app"], root).returncode == 0  # without --stub: fine
