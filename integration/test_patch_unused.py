"""A [patch] fork that the targets do not use needs nothing of the workspace: the members it uses stay
pruned, so the recipe of a target that never used the fork is what it was before forks' members were kept
(real cargo for the workspace's metadata and lock; no build)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cargo_chefpy.options import Selection
from cargo_chefpy.prepare import prepare
from cargo_chefpy.project import read_project
from cargo_chefpy.recipe import CrateClass
from integration.support.shapes import Shape, lib_rs, package, workspace, write_shape

FILES = {
    "Cargo.toml": workspace(
        "app",
        "other",
        "forks/fake-log",
        "util",
        extra='[patch.crates-io]\nfake-log = { path = "forks/fake-log" }\n',
    ),
    "forks/fake-log/Cargo.toml": package("fake-log", "0.4.5", deps='util = { path = "../../util" }\n'),
    "forks/fake-log/src/lib.rs": "pub fn fake_log() -> &'static str {\n    util::GREETING\n}\n",
    "util/Cargo.toml": package("util"),
    "util/src/lib.rs": lib_rs("util"),
    "other/Cargo.toml": package("other", deps='fake-log = "0.4"\n'),
    "other/src/main.rs": 'fn main() {\n    println!("{}", fake_log::fake_log());\n}\n',
    "app/Cargo.toml": package("app"),
    "app/src/main.rs": "fn main() {}\n",
}


@pytest.mark.parametrize(("target", "util"), [("app", CrateClass.PRUNE), ("other", CrateClass.KEEP)])
def test_the_members_a_fork_uses_are_real_only_where_the_targets_use_the_fork(
    tmp_path: Path, target: str, util: CrateClass
) -> None:
    shape = Shape(
        name="patched-member-unused",
        files=FILES,
        vendored=("fake-log",),
        prepare_args=(),
        cargo_args=(),
        edits=(),
        binaries={},
        compiled=frozenset(),
        reuses_cook=True,
    )
    root = tmp_path / "ws"
    write_shape(shape, root)
    subprocess.run(["cargo", "generate-lockfile", "--offline", "-q"], cwd=root, check=True)
    prepared = prepare(Selection(packages=(target,)), metadata=read_project(root, None))
    classes = {d.crate.name: d.klass for d in prepared.plan.decisions}
    assert classes["util"] is util, prepared.plan.decisions
