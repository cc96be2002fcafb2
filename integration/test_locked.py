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
from pathlib import Path

import pytest

from cargo_chefpy import recipe
from integration.support.flow import chefpy, compiled, ok
from integration.support.workspaces import copy_tree, run_cargo, with_optional_dependency, write_seed

SERVICE = "serviceX"  # uses fake-extra without its `opt` feature; serviceY, pruned here, enables it


def registry_context(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The seed with crates.io replaced from CARGO_HOME's config, not the workspace's: the recipe then
    carries no vendored sources, and cook fetches the registry crates (`cargo fetch`)."""
    context = write_seed(tmp_path / "ws").root
    with_optional_dependency(context)
    registry = tmp_path / "registry"
    shutil.move(context / "vendored", registry)
    shutil.rmtree(context / ".cargo")
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[source.crates-io]\nreplace-with = "local"\n\n[source.local]\ndirectory = "{registry}"\n'
    )
    return context, {"CARGO_HOME": str(home)}


def vendored_context(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    context = write_seed(tmp_path / "ws").root
    with_optional_dependency(context)
    return context, {}


@pytest.mark.parametrize("sources", ["vendored", "registry"])
@pytest.mark.parametrize("locked", [True, False], ids=["locked", "unlocked"])
def test_a_service_cooks_and_builds_from_its_tree_when_a_pruned_member_alone_enabled_an_optional_dep(
    tmp_path: Path, sources: str, locked: bool
) -> None:
    context, env_extra = (registry_context if sources == "registry" else vendored_context)(tmp_path)
    env = {**os.environ, **env_extra, "CARGO_TARGET_DIR": str(tmp_path / "app-target")}
    flags = ["--release", "-p", SERVICE, *(["--locked"] if locked else [])]
    plan, app = tmp_path / "plan", tmp_path / "app"
    plan.mkdir()
    recipe_file, tree = plan / "recipe.json", plan / "sources"
    prepare = ["prepare", "-p", SERVICE, "--recipe-path", str(recipe_file), "--sources-dir", str(tree)]
    ok(chefpy(prepare, context, env=env))
    tree_lock = (tree / "Cargo.lock").read_text()
    assert 'name = "fake-opt"' in tree_lock  # reachable through the lock's own graph, so kept
    recipe_lock = next(f.data for f in recipe.loads(recipe_file.read_bytes()).files if f.path == "Cargo.lock")

    # The single-service Dockerfile: layer 1, layer 2 on top, then the tree copied over, and build.
    app.mkdir()
    shutil.copy(plan / "recipe.deps.json", app)
    if sources == "vendored":
        copy_tree(context / "vendored", app / "vendored", preserve_mtimes=False)
    deps = ok(chefpy(["cook", *flags, "--recipe-path", "recipe.deps.json"], app, env=env))
    assert {"fake-extra", "fake-libc", "fake-log"} <= compiled(deps), deps.stderr
    assert "fake-opt" not in compiled(deps)
    shutil.copy(recipe_file, app)
    local = ok(chefpy(["cook", *flags], app, env=env))
    assert not compiled(local) & {"fake-extra", "fake-libc", "fake-log", "fake-opt"}, local.stderr
    assert (app / "Cargo.lock").read_bytes() == recipe_lock  # the cooked tree holds the recipe's bytes

    copy_tree(tree, app, preserve_mtimes=False)  # COPY --from=planner /plan/sources/ ./
    build = ok(chefpy(["build", *flags], app, env=env))
    assert compiled(build) == {SERVICE}, build.stderr
    final_lock = (app / "Cargo.lock").read_text()
    assert 'name = "fake-opt"' not in final_lock  # cargo's pruning, which --locked accepts
    binary = tmp_path / "app-target" / "release" / SERVICE
    run = subprocess.run([str(binary)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_a_cook_whose_lock_cargo_must_extend_is_a_project_error_and_leaves_the_recipes_lock(
    tmp_path: Path,
) -> None:
    """A lock out of date with the manifests: serviceX asks for fake-extra's `opt`, which needs
    fake-opt, but the lock was made before and lacks it. Cargo would add it: `cargo fetch --locked`
    refused that before, and cook refuses it now, exit 3, with the recipe's lock left in place."""
    context, env_extra = registry_context(tmp_path)
    env = {**os.environ, **env_extra, "CARGO_TARGET_DIR": str(tmp_path / "app-target")}
    service_y = context / "src" / "serviceY" / "Cargo.toml"
    service_y.write_text(service_y.read_text().replace(', features = ["opt"]', ""))
    run_cargo(["generate-lockfile", "--offline"], context, env=env)
    assert 'name = "fake-opt"' not in (context / "Cargo.lock").read_text()
    service_x = context / "src" / SERVICE / "Cargo.toml"
    old = 'fake-extra = "0.1"'
    service_x.write_text(
        service_x.read_text().replace(old, 'fake-extra = { version = "0.1", features = ["opt"] }')
    )

    plan, app = tmp_path / "plan", tmp_path / "app"
    plan.mkdir()
    ok(chefpy(["prepare", "-p", SERVICE, "--recipe-path", str(plan / "recipe.json")], context, env=env))
    app.mkdir()
    shutil.copy(plan / "recipe.deps.json", app)
    cook = chefpy(["cook", "--release", "-p", SERVICE, "--recipe-path", "recipe.deps.json"], app, env=env)
    assert cook.returncode == 3, cook.stderr
    errors = [line for line in cook.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert errors[0].startswith("error: cargo changed the recipe's Cargo.lock beyond dropping unused entries")
    assert "fake-opt 0.1.0 added" in errors[0]
    assert errors[1].startswith("hint: the workspace's Cargo.lock is out of date with its manifests")
    assert len(errors) == 2
    deps_recipe = recipe.loads((plan / "recipe.deps.json").read_bytes())
    recipe_lock = next(f.data for f in deps_recipe.files if f.path == "Cargo.lock")
    assert (app / "Cargo.lock").read_bytes() == recipe_lock


def test_a_locked_build_from_the_whole_context_keeps_its_lock_byte_for_byte(tmp_path: Path) -> None:
    """`COPY . .` instead of the sources tree: the lock is the user's, every member there, so cargo
    drops nothing and build changes nothing, although cook recorded that it dropped fake-opt."""
    context, _ = vendored_context(tmp_path)
    env = {**os.environ, "CARGO_TARGET_DIR": str(tmp_path / "app-target")}
    flags = ["--release", "-p", SERVICE, "--locked"]
    plan, app = tmp_path / "plan", tmp_path / "app"
    plan.mkdir()
    ok(chefpy(["prepare", "-p", SERVICE, "--recipe-path", str(plan / "recipe.json")], context, env=env))
    app.mkdir()
    shutil.copy(plan / "recipe.json", app)
    copy_tree(context / "vendored", app / "vendored", preserve_mtimes=False)
    ok(chefpy(["cook", *flags], app, env=env))
    stamp = (tmp_path / "app-target" / "cargo-chefpy-stamp.json").read_text()
    assert '"fake-opt 0.1.0 registry+' in stamp  # what cook saw cargo drop
    copy_tree(context, app, preserve_mtimes=False, exclude=("target",))
    build = ok(chefpy(["build", *flags], app, env=env))
    assert compiled(build) == {SERVICE}, build.stderr
    assert (app / "Cargo.lock").read_bytes() == (context / "Cargo.lock").read_bytes()
    assert "Locked" not in build.stderr


def test_a_cook_build_that_fails_after_cargo_pruned_the_lock_leaves_the_recipes_lock(tmp_path: Path) -> None:
    """A compile error in a kept library: cargo has already dropped fake-opt from the lock (--locked
    resolves first) when the build fails; the cook directory holds the recipe's lock again, so a rerun
    in place finds nothing of its own changed."""
    context, _ = vendored_context(tmp_path)
    lib_rs = context / "src" / "libA" / "src" / "lib.rs"
    lib_rs.write_text(lib_rs.read_text() + '\ncompile_error!("broken on purpose");\n')
    env = {**os.environ, "CARGO_TARGET_DIR": str(tmp_path / "app-target")}
    flags = ["--release", "-p", SERVICE, "--locked"]
    plan, app = tmp_path / "plan", tmp_path / "app"
    plan.mkdir()
    ok(chefpy(["prepare", "-p", SERVICE, "--recipe-path", str(plan / "recipe.json")], context, env=env))
    app.mkdir()
    shutil.copy(plan / "recipe.deps.json", app)
    copy_tree(context / "vendored", app / "vendored", preserve_mtimes=False)
    ok(chefpy(["cook", *flags, "--recipe-path", "recipe.deps.json"], app, env=env))
    shutil.copy(plan / "recipe.json", app)
    cook = chefpy(["cook", *flags], app, env=env)
    assert cook.returncode == 101, cook.stderr
    assert "broken on purpose" in cook.stderr
    recipe_lock = next(
        f.data for f in recipe.loads((plan / "recipe.json").read_bytes()).files if f.path == "Cargo.lock"
    )
    assert (app / "Cargo.lock").read_bytes() == recipe_lock
    assert 'name = "fake-opt"' in recipe_lock.decode()


def test_locked_with_the_source_replacement_given_after_the_double_dash_cooks_and_builds(
    tmp_path: Path,
) -> None:
    """`-- --config vendor.toml`: the resolution that cook and build run beside cargo build (for
    --locked) gets the same --config, or it could not find the crates at all."""
    context, _ = vendored_context(tmp_path)
    registry = tmp_path / "registry"
    shutil.move(context / "vendored", registry)
    shutil.rmtree(context / ".cargo")
    config = tmp_path / "vendor.toml"
    config.write_text(
        f'[source.crates-io]\nreplace-with = "local"\n\n[source.local]\ndirectory = "{registry}"\n'
    )
    env = {**os.environ, "CARGO_TARGET_DIR": str(tmp_path / "app-target")}
    flags = ["--release", "-p", SERVICE, "--offline", "--locked", "--", "--config", str(config)]
    plan, app = tmp_path / "plan", tmp_path / "app"
    plan.mkdir()
    prepare = [
        "prepare",
        "-p",
        SERVICE,
        "--recipe-path",
        str(plan / "recipe.json"),
        "--sources-dir",
        str(plan / "tree"),
    ]
    ok(chefpy(prepare, context, env=env))
    app.mkdir()
    shutil.copy(plan / "recipe.deps.json", app)
    ok(chefpy(["cook", "--recipe-path", "recipe.deps.json", *flags], app, env=env))
    shutil.copy(plan / "recipe.json", app)
    ok(chefpy(["cook", *flags], app, env=env))
    copy_tree(plan / "tree", app, preserve_mtimes=False)
    build = ok(chefpy(["build", *flags], app, env=env))
    assert compiled(build) == {SERVICE}, build.stderr
    assert "Locked Cargo.lock without 1 entry(ies)" in build.stderr
