"""`--locked` over a pruned workspace, with real cargo.

A service's recipe and sources tree leave out the members it does not use. When one of those alone
enabled an optional dependency of a third-party crate (fake-extra's fake-opt, asked for by serviceY
only), cargo, resolving the pruned workspace, drops that entry from Cargo.lock, and `--locked` refuses
any change to the lock. Cook lets cargo prune the recipe's lock first and checks that it only pruned;
build hands cargo that pruning when the final sources carry the recipe's lock. Both with vendored
sources and with a registry that cook fetches from (`cargo fetch`, which ran with --locked before and
failed on every such workspace).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from cargo_chefpy import recipe
from integration.support.flow import chefpy, compiled, ok
from integration.support.workspaces import copy_tree, run_cargo, with_optional_dependency, write_seed

SERVICE = "serviceX"  # uses fake-extra without its `opt` feature; serviceY, pruned here, enables it
THIRD_PARTY = {"fake-extra", "fake-libc", "fake-log"}  # serviceX's; fake-opt only with serviceY's `opt`


def with_registry_outside(context: Path, tmp_path: Path) -> str:
    """Move the seed's vendored crates out of the context, drop its .cargo/config.toml, and return the
    cargo config that replaces crates.io with them from where they are now."""
    registry = tmp_path / "registry"
    shutil.move(context / "vendored", registry)
    shutil.rmtree(context / ".cargo")
    return f'[source.crates-io]\nreplace-with = "local"\n\n[source.local]\ndirectory = "{registry}"\n'


def registry_context(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The seed with crates.io replaced from CARGO_HOME's config, not the workspace's: the recipe then
    carries no vendored sources, and cook fetches the registry crates (`cargo fetch`)."""
    context = write_seed(tmp_path / "ws").root
    with_optional_dependency(context)
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(with_registry_outside(context, tmp_path))
    return context, {"CARGO_HOME": str(home)}


def vendored_context(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    context = write_seed(tmp_path / "ws").root
    with_optional_dependency(context)
    return context, {}


@dataclass
class Stages:
    """The single-service Dockerfile's stages for SERVICE: the planner writes into `plan/` (recipe.json,
    recipe.deps.json, and the sources tree `plan/tree` when asked); cook and build run in `app/`, the
    WORKDIR, with the target dir outside it."""

    tmp: Path
    context: Path
    env_extra: dict[str, str]

    def __post_init__(self) -> None:
        self.plan, self.app = self.tmp / "plan", self.tmp / "app"
        self.target = self.tmp / "app-target"
        self.env = {**os.environ, **self.env_extra, "CARGO_TARGET_DIR": str(self.target)}
        self.plan.mkdir()
        self.app.mkdir()

    def prepare(self, *, tree: bool = False) -> None:
        args = ["prepare", "-p", SERVICE, "--recipe-path", str(self.plan / "recipe.json")]
        tree_args = ["--sources-dir", str(self.plan / "tree")] if tree else []
        ok(chefpy([*args, *tree_args], self.context, env=self.env))

    def recipe_lock(self, name: str) -> bytes:
        """The Cargo.lock that the recipe `name` (in plan/) carries."""
        files = recipe.loads((self.plan / name).read_bytes()).files
        return next(f.data for f in files if f.path == "Cargo.lock")

    def cook(
        self, name: str, flags: list[str], *, vendored: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """COPY plan/NAME (and the vendored crates) into app/, then RUN cook on it; not checked."""
        shutil.copy(self.plan / name, self.app)
        if vendored:
            copy_tree(self.context / "vendored", self.app / "vendored", preserve_mtimes=False)
        return chefpy(["cook", "--recipe-path", name, *flags], self.app, env=self.env)  # flags may hold `--`

    def build(self, flags: list[str], *, tree: bool = True) -> subprocess.CompletedProcess[str]:
        """COPY the sources tree (or the whole context) over app/, then RUN build; checked."""
        if tree:
            copy_tree(self.plan / "tree", self.app, preserve_mtimes=False)  # COPY --from=planner
        else:
            copy_tree(self.context, self.app, preserve_mtimes=False, exclude=("target",))  # COPY . .
        return ok(chefpy(["build", *flags], self.app, env=self.env))


@pytest.mark.parametrize("sources", ["vendored", "registry"])
@pytest.mark.parametrize("locked", [True, False], ids=["locked", "unlocked"])
def test_a_service_cooks_and_builds_from_its_tree_when_a_pruned_member_alone_enabled_an_optional_dep(
    tmp_path: Path, sources: str, locked: bool
) -> None:
    stages = Stages(tmp_path, *(registry_context if sources == "registry" else vendored_context)(tmp_path))
    flags = ["--release", "-p", SERVICE, *(["--locked"] if locked else [])]
    stages.prepare(tree=True)
    assert 'name = "fake-opt"' in (stages.plan / "tree" / "Cargo.lock").read_text()  # the lock's own graph
    recipe_lock = stages.recipe_lock("recipe.json")

    # The single-service Dockerfile: layer 1, layer 2 on top, then the tree copied over, and build.
    deps = ok(stages.cook("recipe.deps.json", flags, vendored=sources == "vendored"))
    assert compiled(deps) >= THIRD_PARTY, deps.stderr
    assert "fake-opt" not in compiled(deps)
    local = ok(stages.cook("recipe.json", flags))
    assert not compiled(local) & {*THIRD_PARTY, "fake-opt"}, local.stderr
    assert (stages.app / "Cargo.lock").read_bytes() == recipe_lock  # the cooked tree holds the recipe's bytes

    build = stages.build(flags)
    assert compiled(build) == {SERVICE}, build.stderr
    final_lock = (stages.app / "Cargo.lock").read_text()
    assert 'name = "fake-opt"' not in final_lock  # cargo's pruning, which --locked accepts
    binary = stages.target / "release" / SERVICE
    run = subprocess.run([str(binary)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_a_cook_whose_lock_cargo_must_extend_is_a_project_error_and_leaves_the_recipes_lock(
    tmp_path: Path,
) -> None:
    """A lock out of date with the manifests: serviceX asks for fake-extra's `opt`, which needs
    fake-opt, but the lock was made before and lacks it. Cargo would add it: `cargo fetch --locked`
    refused that before, and cook refuses it now, exit 3, with the recipe's lock left in place."""
    stages = Stages(tmp_path, *registry_context(tmp_path))
    context = stages.context
    service_y = context / "src" / "serviceY" / "Cargo.toml"
    service_y.write_text(service_y.read_text().replace(', features = ["opt"]', ""))
    run_cargo(["generate-lockfile", "--offline"], context, env=stages.env)
    assert 'name = "fake-opt"' not in (context / "Cargo.lock").read_text()
    service_x = context / "src" / SERVICE / "Cargo.toml"
    old = 'fake-extra = "0.1"'
    service_x.write_text(
        service_x.read_text().replace(old, 'fake-extra = { version = "0.1", features = ["opt"] }')
    )

    stages.prepare()
    cook = stages.cook("recipe.deps.json", ["--release", "-p", SERVICE])
    assert cook.returncode == 3, cook.stderr
    errors = [line for line in cook.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert errors[0].startswith("error: cargo changed the recipe's Cargo.lock beyond dropping unused entries")
    assert "fake-opt 0.1.0 added" in errors[0]
    assert errors[1].startswith("hint: the workspace's Cargo.lock is out of date with its manifests")
    assert len(errors) == 2
    assert (stages.app / "Cargo.lock").read_bytes() == stages.recipe_lock("recipe.deps.json")


def test_a_locked_build_from_the_whole_context_keeps_its_lock_byte_for_byte(tmp_path: Path) -> None:
    """`COPY . .` instead of the sources tree: the lock is the user's, every member there, so cargo
    drops nothing and build changes nothing, although cook recorded that it dropped fake-opt."""
    stages = Stages(tmp_path, *vendored_context(tmp_path))
    flags = ["--release", "-p", SERVICE, "--locked"]
    stages.prepare()
    ok(stages.cook("recipe.json", flags, vendored=True))
    stamp = (stages.target / "cargo-chefpy-stamp.json").read_text()
    assert '"fake-opt 0.1.0 registry+' in stamp  # what cook saw cargo drop
    build = stages.build(flags, tree=False)
    assert compiled(build) == {SERVICE}, build.stderr
    assert (stages.app / "Cargo.lock").read_bytes() == (stages.context / "Cargo.lock").read_bytes()
    assert "Locked" not in build.stderr


def test_a_cook_build_that_fails_after_cargo_pruned_the_lock_leaves_the_recipes_lock(tmp_path: Path) -> None:
    """A compile error in a kept library: cargo has already dropped fake-opt from the lock (--locked
    resolves first) when the build fails; the cook directory holds the recipe's lock again, so a rerun
    in place finds nothing of its own changed."""
    stages = Stages(tmp_path, *vendored_context(tmp_path))
    lib_rs = stages.context / "src" / "libA" / "src" / "lib.rs"
    lib_rs.write_text(lib_rs.read_text() + '\ncompile_error!("broken on purpose");\n')
    flags = ["--release", "-p", SERVICE, "--locked"]
    stages.prepare()
    ok(stages.cook("recipe.deps.json", flags, vendored=True))
    cook = stages.cook("recipe.json", flags)
    assert cook.returncode == 101, cook.stderr
    assert "broken on purpose" in cook.stderr
    recipe_lock = stages.recipe_lock("recipe.json")
    assert (stages.app / "Cargo.lock").read_bytes() == recipe_lock
    assert 'name = "fake-opt"' in recipe_lock.decode()


def test_locked_with_the_source_replacement_given_after_the_double_dash_cooks_and_builds(
    tmp_path: Path,
) -> None:
    """`-- --config vendor.toml`: the resolution that cook and build run beside cargo build (for
    --locked) gets the same --config, or it could not find the crates at all."""
    stages = Stages(tmp_path, *vendored_context(tmp_path))
    config = tmp_path / "vendor.toml"
    config.write_text(with_registry_outside(stages.context, tmp_path))
    flags = ["--release", "-p", SERVICE, "--offline", "--locked", "--", "--config", str(config)]
    stages.prepare(tree=True)
    ok(stages.cook("recipe.deps.json", flags))
    ok(stages.cook("recipe.json", flags))
    build = stages.build(flags)
    assert compiled(build) == {SERVICE}, build.stderr
    assert "Locked Cargo.lock without 1 entry(ies)" in build.stderr
