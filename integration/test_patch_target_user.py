"""A [patch]ed member named by -p beside a target whose kept member uses it through the [patch]: real cargo
through the simulated Docker flow, both mtime modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.support.flow import DockerFlow
from integration.support.shapes import Shape, lib_rs, package, workspace, write_shape

FILES = {
    "Cargo.toml": workspace(
        "app",
        "mid",
        "forks/fake-log",
        "util",
        extra='[patch.crates-io]\nfake-log = { path = "forks/fake-log" }\n',
    ),
    "forks/fake-log/Cargo.toml": package("fake-log", "0.4.5", deps='util = { path = "../../util" }\n'),
    "forks/fake-log/src/lib.rs": "pub fn fake_log() -> &'static str {\n    util::GREETING\n}\n",
    "util/Cargo.toml": package("util"),
    "util/src/lib.rs": lib_rs("util"),
    "mid/Cargo.toml": package("mid", deps='fake-log = "0.4"\n'),
    "mid/src/lib.rs": "pub fn mid() -> &'static str {\n    fake_log::fake_log()\n}\n",
    "app/Cargo.toml": package("app", deps='mid = { path = "../mid" }\n'),
    "app/src/main.rs": 'fn main() {\n    println!("{}", mid::mid());\n}\n',
}


@pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
def test_a_member_using_a_patched_member_named_by_p_through_the_registry_cooks_and_builds(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    """The fork's stub had version 0.0.1, which the [patch] did not apply to (`fake-log = "0.4"` went to
    the registry: exit 101), and mid, kept real, did not compile against the stub."""
    shape = Shape(
        name="patched-member-target-used",
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
    args = ["--release", "-p", "app", "-p", "fake-log"]
    flow = DockerFlow(
        tmp_path, root, prepare_args=["-p", "app", "-p", "fake-log"], cook_args=args, build_args=args
    )
    flow.cook(flow.prepare())
    stage = flow.final(preserve_mtimes=preserve_mtimes)
    # mid uses the fork's stub (through the [patch]), so it is a stub too, as on a path dependency
    assert stage.compiled == {"app", "fake-log", "mid"}
