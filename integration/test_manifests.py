"""Manifests as cargo reads them, with real cargo: TOML 1.1 and a UTF-8 BOM go through prepare, cook and
the final build; the root manifest in the recipe keeps only what the remaining crates use, and cooks
and builds with --locked."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.support.flow import DockerFlow, chefpy, ok
from integration.support.workspaces import SeedOptions, copy_tree, run_cargo, write_seed

BOTH_MODES = pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-kept", "ci-checkout"])
BOM = "\ufeff"


def edit(path: Path, old: str, new: str, *, bom: bool = False) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text((BOM if bom else "") + text.replace(old, new))


def toml_11_and_bom_seed(tmp: Path) -> Path:
    """The seed, with TOML 1.1 (newlines and trailing commas in inline tables) and a BOM in the root
    manifest, a kept member's (libB), a stubbed member's (serviceZ), the cargo config and Cargo.lock."""
    root = tmp / "context" / "ws"
    write_seed(root, SeedOptions())
    edit(
        root / "Cargo.toml",
        'fake-patched = { path = "rust-patches/fake-patched" }',
        'fake-patched = {\n    path = "rust-patches/fake-patched",  # a local fork\n}',
        bom=True,
    )
    edit(
        root / "src/libB/Cargo.toml",
        'libA = { path = "../libA" }',
        'libA = {\n    path = "../libA",\n}',
        bom=True,
    )
    edit(
        root / "src/serviceZ/Cargo.toml",
        'libC = { path = "../libC" }',
        'libC = { path = "../libC", }',
        bom=True,
    )
    edit(
        root / ".cargo/config.toml",
        '[source.vendored-sources]\ndirectory = "vendored"',
        '[source]\nvendored-sources = {\n    directory = "vendored",\n}',
        bom=True,
    )
    lock = root / "Cargo.lock"
    lock.write_text(BOM + lock.read_text())
    run_cargo(["metadata", "--format-version", "1", "--no-deps", "--offline", "--locked"], root)
    for name in ("Cargo.toml", "src/libB/Cargo.toml", ".cargo/config.toml", "Cargo.lock"):
        assert (root / name).read_text().startswith(BOM)
    return root


def prepare_elsewhere(tmp: Path, root: Path) -> bytes:
    """prepare on a copy of the workspace at another path, with new mtimes."""
    other = tmp / "elsewhere" / "deeper" / root.name
    copy_tree(root, other, preserve_mtimes=False, exclude=("target",))
    ok(chefpy(["prepare", "-p", "serviceZ", "--recipe-path", str(tmp / "elsewhere.json")], other))
    return (tmp / "elsewhere.json").read_bytes()


@BOTH_MODES
def test_toml_1_1_and_bom_manifests_prepare_cook_and_build_and_the_recipe_is_deterministic(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    root = toml_11_and_bom_seed(tmp_path)
    f = DockerFlow(
        tmp_path, root, prepare_args=["-p", "serviceZ"], cook_args=["--release", "-p", "serviceZ"],
        build_args=["--release", "-p", "serviceZ"],
    )  # fmt: skip
    recipe = f.prepare()
    assert prepare_elsewhere(tmp_path, root) == recipe
    assert f.prepare() == recipe
    f.cook(recipe)
    edit(root / "src/serviceZ/src/main.rs", "serviceZ says hello", "serviceZ says bonjour")
    reused = f.cook(f.prepare())
    assert reused, "an edit to the stubbed crate must leave the recipe unchanged"
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"serviceZ"}
    assert "serviceZ says bonjour" in f.run_binary(stage, "serviceZ")


def bump_workspace_version(root: Path, old: str, new: str) -> None:
    edit(root / "Cargo.toml", f'version = "{old}"', f'version = "{new}"')
    run_cargo(["update", "--workspace", "--offline"], root)  # as any cargo build would: the lock follows


@pytest.mark.parametrize("preserve_mtimes", [False], ids=["ci-checkout"])
def test_a_version_bump_only_stubs_inherit_reuses_the_cooked_layer_and_the_pruned_root_builds_locked(
    tmp_path: Path, preserve_mtimes: bool
) -> None:
    root = tmp_path / "context" / "ws"
    write_seed(root, SeedOptions(inherit=True))
    with (root / "Cargo.toml").open("a") as handle:
        handle.write('\n[workspace.metadata.release]\ntag-prefix = "v"\n')
    cargo = ["--release", "--locked", "-p", "serviceY"]
    f = DockerFlow(tmp_path, root, prepare_args=["-p", "serviceY"], cook_args=cargo, build_args=cargo)
    first = f.prepare()
    assert b"tag-prefix" not in first
    f.cook(first)
    bump_workspace_version(root, "0.2.0", "0.2.1")  # serviceY (stubbed) inherits it; libA (kept) does not
    edit(root / "Cargo.toml", 'tag-prefix = "v"', 'tag-prefix = "release-"')
    assert f.cook(f.prepare()), "the cooked layer must be reused"
    stage = f.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"serviceY"}
    assert f.run_binary(stage, "serviceY").startswith("serviceY 0.2.1: serviceY says hello")
