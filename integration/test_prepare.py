"""prepare with real cargo on generated workspaces: the recipe rules, determinism, a valid skeleton."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.support.flow import chefpy, ok
from integration.support.workspaces import (
    ALL_OPTIONS,
    SeedOptions,
    copy_tree,
    run_cargo,
    set_all_mtimes,
    write_seed,
)


def prepare(root: Path, *args: str) -> bytes:
    ok(chefpy(["prepare", "--recipe-path", "-", *args], root))
    return ok(chefpy(["prepare", "--recipe-path", "-", *args], root)).stdout.encode()


def relock(root: Path) -> None:
    run_cargo(["generate-lockfile", "--offline"], root)


def append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(text)


def add_dependency(manifest: Path, line: str) -> None:
    replace(manifest, "[dependencies]\n", f"[dependencies]\n{line}\n")
    relock(manifest.parent.parent.parent)


def bump_version(manifest: Path, old: str, new: str) -> None:
    replace(manifest, f'version = "{old}"', f'version = "{new}"')
    relock(manifest.parent.parent.parent)


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


UNCHANGED: dict[str, Callable[[Path], None]] = {
    "stub_source_edit": lambda r: append(r / "src/serviceZ/src/main.rs", "\n// edit\n"),
    "stub_new_bin_file": lambda r: append(r / "src/serviceZ/src/bin/extra.rs", "fn main() {}\n"),
    "stub_new_example_file": lambda r: append(r / "src/serviceZ/examples/demo.rs", "fn main() {}\n"),
    "stub_new_test_file": lambda r: append(r / "src/serviceZ/tests/it.rs", "#[test] fn t() {}\n"),
    "pruned_member_source_edit": lambda r: append(r / "src/serviceX/src/main.rs", "\n// edit\n"),
    "pruned_member_manifest_edit": lambda r: append(r / "src/serviceY/Cargo.toml", "\n# comment\n"),
    "pruned_member_new_dependency": lambda r: add_dependency(
        r / "src/serviceX/Cargo.toml", 'fake-extra = "0.1"'
    ),
    "stub_version_bump": lambda r: bump_version(r / "src/serviceZ/Cargo.toml", "0.3.0", "0.4.0"),
    "stub_description_edit": lambda r: replace(
        r / "src/serviceZ/Cargo.toml", "[package]\n", '[package]\ndescription = "now described"\n'
    ),
}

CHANGED: dict[str, Callable[[Path], None]] = {
    "kept_crate_source": lambda r: append(r / "src/libA/src/lib.rs", "\n// edit\n"),
    "kept_crate_new_file": lambda r: append(r / "src/libB/README.md", "hello\n"),
    "kept_crate_manifest": lambda r: append(r / "src/libC/Cargo.toml", "\n# comment\n"),
    "patch_crate_file": lambda r: append(next((r / "rust-patches").glob("*/src/lib.rs")), "\n// edit\n"),
    "dependency_added_to_closure_crate": lambda r: add_dependency(
        r / "src/libA/Cargo.toml", 'fake-extra = "0.1"'
    ),
    "dependency_added_to_stub": lambda r: add_dependency(r / "src/serviceZ/Cargo.toml", 'fake-extra = "0.1"'),
    "cargo_config": lambda r: append(r / ".cargo/config.toml", "\n[net]\noffline = true\n"),
    "toolchain_file": lambda r: append(r / "rust-toolchain.toml", '[toolchain]\nchannel = "stable"\n'),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "ws"
    write_seed(root)
    return root


def fresh_copy(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    copy_tree(pristine, root, preserve_mtimes=True)
    return root


@pytest.mark.parametrize("name", sorted(UNCHANGED))
def test_recipe_is_unchanged_when(pristine: Path, tmp_path: Path, name: str) -> None:
    root = fresh_copy(pristine, tmp_path)
    before = prepare(root, "-p", "serviceZ")
    UNCHANGED[name](root)
    assert prepare(root, "-p", "serviceZ") == before


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_recipe_changes_when(pristine: Path, tmp_path: Path, name: str) -> None:
    root = fresh_copy(pristine, tmp_path)
    before = prepare(root, "-p", "serviceZ")
    CHANGED[name](root)
    assert prepare(root, "-p", "serviceZ") != before


def test_recipe_is_byte_identical_from_two_paths_with_different_mtimes(
    pristine: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "one" / "ws", tmp_path / "elsewhere" / "deeper" / "ws"
    copy_tree(pristine, a, preserve_mtimes=True)
    copy_tree(pristine, b, preserve_mtimes=False)
    set_all_mtimes(a, 1_000_000_000.0)
    assert prepare(a, "-p", "serviceZ") == prepare(b, "-p", "serviceZ")
    recipe = prepare(a, "-p", "serviceZ").decode()
    assert str(tmp_path) not in recipe


def test_explain_shows_the_plan_for_service_z(pristine: Path, tmp_path: Path) -> None:
    root = fresh_copy(pristine, tmp_path)
    out = ok(chefpy(["prepare", "--explain", "-p", "serviceZ"], root)).stdout
    plan = out.split("\n\n", 1)[0].splitlines()[1:]
    rows = {line.split()[1]: line.split()[0] for line in plan}
    assert rows["serviceZ"] == "stub"
    assert rows["libA"] == rows["libB"] == rows["libC"] == "keep"
    assert rows["serviceX"] == rows["serviceY"] == "prune"
    assert rows["fake-patched"] == "external"
    assert "vendored/" in out
    assert (root / "recipe.json").is_file()


def _cook_skeleton_metadata(root: Path, tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "skeleton"
    ok(chefpy(["prepare", "--out-dir", str(out), *args], root))
    recipe = json.loads(prepare(root, *args))
    for vendored in recipe["vendored"]:
        source = root / vendored if recipe["workspace"] == "." else root.parent / vendored
        shutil.copytree(source, out / vendored)
    workspace = out / recipe["workspace"]
    proc = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--offline"],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # The pruned, masked lock is byte for byte the lock cargo itself writes for the skeleton.
    ours = (workspace / "Cargo.lock").read_text()
    run_cargo(["generate-lockfile", "--offline"], workspace)
    assert (workspace / "Cargo.lock").read_text() == ours
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_pruned_skeleton_passes_cargo_metadata_locked_offline(pristine: Path, tmp_path: Path) -> None:
    root = fresh_copy(pristine, tmp_path)
    meta = _cook_skeleton_metadata(root, tmp_path, "-p", "serviceZ")
    members = sorted(m.split("#")[0].rsplit("/", 1)[-1] for m in meta["workspace_members"])  # type: ignore[attr-defined]
    assert members == ["libA", "libB", "libC", "serviceZ"]


@pytest.mark.parametrize(
    "selection",
    [
        ["-p", "serviceX"],
        ["-p", "serviceY"],
        ["-p", "serviceZ"],
        ["-p", "serviceX", "--stub", "fake-log"],
        [],
    ],
    ids=["serviceX", "serviceY", "serviceZ", "colliding-member-stubbed", "no-target"],
)
def test_every_option_variant_gives_a_locked_skeleton(tmp_path: Path, selection: list[str]) -> None:
    root = tmp_path / "src" / "ws"
    write_seed(root, ALL_OPTIONS)
    meta = _cook_skeleton_metadata(root, tmp_path, *selection)
    assert meta["workspace_members"]


def test_stub_all_stubs_every_member_and_keeps_patch_crates_real(pristine: Path, tmp_path: Path) -> None:
    root = fresh_copy(pristine, tmp_path)
    recipe = json.loads(prepare(root, "--stub-all"))
    classes = {c["name"]: c["class"] for c in recipe["crates"]}
    assert {k for k, v in classes.items() if v == "stub"} == {
        "libA",
        "libB",
        "libC",
        "serviceX",
        "serviceY",
        "serviceZ",
    }
    assert classes["fake-patched"] == "external"


def test_stub_version_is_masked_and_kept_version_is_not(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_seed(root, SeedOptions(inherit=True))
    recipe = json.loads(prepare(root, "-p", "serviceZ", "--stub", "libB"))
    files = {f["path"]: f.get("text", "") for f in recipe["files"]}
    assert 'version = "0.0.1"' in files["src/serviceZ/Cargo.toml"]
    assert 'version = "0.0.1"' in files["src/libB/Cargo.toml"]
    assert files["src/libA/Cargo.toml"] == (root / "src/libA/Cargo.toml").read_text()
    assert 'name = "libB"\nversion = "0.0.1"' in files["Cargo.lock"]
    assert "lints" not in files["src/serviceZ/Cargo.toml"]
