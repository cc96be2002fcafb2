"""A workspace member that a [patch] entry points at (a fork kept in the monorepo): named by -p or --bin,
used by a target through the registry, unused by the targets; and an outside crate, always real, using a
member stubbed by --stub. Real cargo; the builds through the simulated Docker flow, both mtime modes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from cargo_chefpy.options import Selection
from cargo_chefpy.prepare import prepare
from cargo_chefpy.project import read_project
from cargo_chefpy.recipe import CrateClass
from integration.support.flow import DockerFlow, FinalStage, chefpy
from integration.support.shapes import Shape, fork_files, lib_rs, package, workspace, write_shape

APP_USES_FORK = {
    "app/Cargo.toml": package("app", deps='fake-log = "0.4"\n'),
    "app/src/main.rs": 'fn main() {\n    println!("{}", fake_log::fake_log());\n}\n',
}
MODES = pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])


def written(root: Path, files: Mapping[str, str]) -> Path:
    """`files` written at `root`, with the vendored fake-log and a lock (write_shape's)."""
    shape = Shape(
        name=root.name,
        files=dict(files),
        vendored=("fake-log",),
        prepare_args=(),
        cargo_args=(),
        edits=(),
        binaries={},
        compiled=frozenset(),
        reuses_cook=True,
    )
    write_shape(shape, root)
    return root


def built(
    tmp_path: Path, files: Mapping[str, str], select: list[str], *, preserve_mtimes: bool
) -> tuple[DockerFlow, FinalStage]:
    """prepare `select`, cook, and the final stage, as the Dockerfile runs them (`--release`)."""
    root = written(tmp_path / "context" / "ws", files)
    args = ["--release", *select]
    flow = DockerFlow(tmp_path, root, prepare_args=select, cook_args=args, build_args=args)
    flow.cook(flow.prepare())
    return flow, flow.final(preserve_mtimes=preserve_mtimes)


@MODES
def test_a_patched_member_named_by_p_is_built_as_the_member_it_is(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    """It was refused (exit 4), although cargo builds it and cargo-chefpy did before it knew forks."""
    files = {**fork_files("app"), **APP_USES_FORK}
    _, stage = built(tmp_path, files, ["-p", "fake-log"], preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"fake-log"}


@MODES
def test_a_binary_of_a_patched_member_named_by_bin_is_built_from_the_member_it_is(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    """`--bin logtool` said "matches no binary" while the fork owning it was taken for a [patch] crate."""
    files = {
        **fork_files("app"),
        **APP_USES_FORK,
        "forks/fake-log/src/bin/logtool.rs": (
            'fn main() {\n    println!("logtool: {}", fake_log::fake_log());\n}\n'
        ),
    }
    flow, stage = built(tmp_path, files, ["--bin", "logtool"], preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"fake-log"}
    assert flow.run_binary(stage, "logtool").startswith("logtool: ")


@MODES
def test_a_member_using_a_patched_member_named_by_p_through_the_registry_cooks_and_builds(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    """The fork's stub had version 0.0.1, which the [patch] did not apply to (`fake-log = "0.4"` went to
    the registry: exit 101), and mid, kept real, did not compile against the stub."""
    files = {
        **fork_files("app", "mid"),
        "mid/Cargo.toml": package("mid", deps='fake-log = "0.4"\n'),
        "mid/src/lib.rs": "pub fn mid() -> &'static str {\n    fake_log::fake_log()\n}\n",
        "app/Cargo.toml": package("app", deps='mid = { path = "../mid" }\n'),
        "app/src/main.rs": 'fn main() {\n    println!("{}", mid::mid());\n}\n',
    }
    _, stage = built(tmp_path, files, ["-p", "app", "-p", "fake-log"], preserve_mtimes=preserve_mtimes)
    # mid uses the fork's stub (through the [patch]), so it is a stub too, as on a path dependency
    assert stage.compiled == {"app", "fake-log", "mid"}


@pytest.mark.parametrize(("target", "util"), [("app", CrateClass.PRUNE), ("other", CrateClass.KEEP)])
def test_the_members_a_fork_uses_are_real_only_where_the_targets_use_the_fork(
    tmp_path: Path, target: str, util: CrateClass
) -> None:
    """A fork no target uses needs nothing of the workspace: the members it uses stay pruned, so the recipe
    of a target that never used the fork is what it was before forks' members were kept."""
    files = {
        **fork_files("app", "other"),
        "other/Cargo.toml": package("other", deps='fake-log = "0.4"\n'),
        "other/src/main.rs": 'fn main() {\n    println!("{}", fake_log::fake_log());\n}\n',
        "app/Cargo.toml": package("app"),
        "app/src/main.rs": "fn main() {}\n",
    }
    root = written(tmp_path / "ws", files)
    prepared = prepare(Selection(packages=(target,)), metadata=read_project(root, None))
    classes = {d.crate.name: d.klass for d in prepared.plan.decisions}
    assert classes["util"] is util, prepared.plan.decisions


@pytest.mark.parametrize("outside", [False, True], ids=["patch-fork", "path-dependency-outside"])
def test_stubbing_a_member_that_a_real_outside_crate_uses_is_refused_in_prepare(
    tmp_path: Path, outside: bool
) -> None:
    """The [patch] fork (or a path crate outside the workspace) is compiled from its real sources, never
    stubbed: against `--stub util`, cook failed with rustc's error (101) on a recipe prepare had written."""
    files = {**fork_files("app"), **APP_USES_FORK}
    if outside:  # written first: writing the workspace locks it
        files = {
            "Cargo.toml": workspace("app", "util"),
            "util/Cargo.toml": package("util"),
            "util/src/lib.rs": lib_rs("util"),
            "app/Cargo.toml": package("app", deps='helper = { path = "../../outside/helper" }\n'),
            "app/src/main.rs": 'fn main() {\n    println!("{}", helper::helper());\n}\n',
        }
        helper = tmp_path / "context" / "outside" / "helper"
        (helper / "src").mkdir(parents=True)
        (helper / "Cargo.toml").write_text(package("helper", deps='util = { path = "../../ws/util" }\n'))
        (helper / "src" / "lib.rs").write_text("pub fn helper() -> &'static str {\n    util::GREETING\n}\n")
    root = written(tmp_path / "context" / "ws", files)
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
