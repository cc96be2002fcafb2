"""A workspace member that a [patch] entry points at (a fork kept in the monorepo), named by -p: real cargo
through the simulated Docker flow, both mtime modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.support.flow import DockerFlow
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
