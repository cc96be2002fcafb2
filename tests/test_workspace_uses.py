"""The root manifest in the recipe keeps of [workspace] only what a remaining crate uses, so that an edit
to what only stubbed or pruned crates use leaves the recipe, and the cooked layer, unchanged."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from cargo_chefpy import manifest, recipe
from cargo_chefpy.cli import main
from cargo_chefpy.manifest import StubSpec, WorkspaceUse
from tests.conftest import FakeWorkspace

Make = Callable[..., FakeWorkspace]

ROOT = """\
# The monorepo.
[workspace]
resolver = "2"
members = ["a", "b"]

[workspace.package]
version = "1.0.0"  # bumped on every release
edition = "2021"
description = "the monorepo"

[workspace.dependencies]
# shared by every service
serde = "1"
anyhow = { version = "1.0" }
log = "0.4"

[patch.crates-io]
x = { path = "x" }

[workspace.lints.rust]
unsafe_code = "forbid"

[workspace.metadata.release]
tag = true

[profile.release]
lto = true  # small binaries
"""


def root_manifest(text: str, uses: WorkspaceUse, root_stub: StubSpec | None = None) -> str:
    return manifest.root_manifest(
        text, "Cargo.toml", root="/w", members=["/w/a"], stub_dirs=set(), root_stub=root_stub, uses=uses
    )


def test_the_root_manifest_keeps_only_the_workspace_keys_a_remaining_crate_uses_in_its_own_layout() -> None:
    uses = WorkspaceUse(package=frozenset({"edition"}), dependencies=frozenset({"serde"}))
    assert root_manifest(ROOT, uses) == (
        "# The monorepo.\n"
        "[workspace]\n"
        'resolver = "2"\n'
        'members = ["a"]\n'
        "\n"
        "[workspace.package]\n"
        'edition = "2021"\n'
        "\n"
        "[workspace.dependencies]\n"
        "# shared by every service\n"
        'serde = "1"\n'
        "\n"
        "[patch.crates-io]\n"
        'x = { path = "x" }\n'
        "\n"
        "[profile.release]\n"
        "lto = true  # small binaries\n"
    )


def test_workspace_tables_nobody_uses_go_and_lints_stay_when_a_crate_inherits_them() -> None:
    out = tomllib.loads(root_manifest(ROOT, WorkspaceUse(lints=True)))
    assert set(out["workspace"]) == {"resolver", "members", "lints"}
    dotted = '[workspace]\nmembers = []\npackage.version = "1"\npackage.edition = "2021"\n'
    out = tomllib.loads(root_manifest(dotted, WorkspaceUse(package=frozenset({"edition"}))))
    assert out["workspace"]["package"] == {"edition": "2021"}
    inline = '[workspace]\nmembers = []\ndependencies = { a = "1", b = "2" }\n'
    out = tomllib.loads(root_manifest(inline, WorkspaceUse(dependencies=frozenset({"b"}))))
    assert out["workspace"]["dependencies"] == {"b": "2"}


ROOT_PACKAGE = """\
[package]
name = "app"
version.workspace = true
edition.workspace = true
description.workspace = true
rust-version.workspace = true

[dependencies]
log.workspace = true

[target.'cfg(unix)'.dependencies]
anyhow = { workspace = true, optional = true }

[workspace]
members = ["a"]

[workspace.package]
version = "1.0.0"
edition = "2021"
description = "the app"
rust-version = "1.70"
license = "MIT"

[workspace.dependencies]
log = "0.4"
anyhow = "1"
serde = "1"
"""


def test_a_kept_root_package_keeps_what_it_inherits_itself() -> None:
    out = tomllib.loads(root_manifest(ROOT_PACKAGE, WorkspaceUse()))
    assert out["workspace"]["package"] == {
        "version": "1.0.0", "edition": "2021", "description": "the app", "rust-version": "1.70"
    }  # fmt: skip
    assert out["workspace"]["dependencies"] == {"log": "0.4", "anyhow": "1"}


def test_a_stubbed_root_package_keeps_only_what_its_stub_inherits() -> None:
    spec = StubSpec(
        directory="/w", lib_name=None, proc_macro=False, crate_types=(), bins=("app",), build_script=False
    )
    out = tomllib.loads(root_manifest(ROOT_PACKAGE, WorkspaceUse(), root_stub=spec))
    assert out["package"]["version"] == "0.0.1"
    assert "description" not in out["package"]
    assert out["workspace"]["package"] == {"edition": "2021", "rust-version": "1.70"}
    assert out["workspace"]["dependencies"] == {"log": "0.4", "anyhow": "1"}


def test_workspace_use_reads_every_dependency_table_and_lints() -> None:
    doc = tomllib.loads(
        '[package]\nname = "a"\nversion = "1"\nedition.workspace = true\n'
        "[lints]\nworkspace = true\n"
        "[dev-dependencies]\nd.workspace = true\n"
        "[build_dependencies]\nb = { workspace = true }\n"
        "[target.'cfg(unix)'.dependencies]\nt = { workspace = true, features = [\"x\"] }\n"
        '[dependencies]\nown = "1"\n'
    )
    assert manifest.workspace_use(doc) == WorkspaceUse(
        package=frozenset({"edition"}), dependencies=frozenset({"d", "b", "t"}), lints=True
    )


# Through prepare, on the seed workspace with inheritance: serviceY is stubbed and libA kept; libA has
# its own version and inherits edition and license; only stubs and pruned members inherit the version.


def prepare_recipe(ws: FakeWorkspace, out: Path, target: str) -> bytes:
    assert main(["prepare", "-p", target, "--recipe-path", str(out)], cwd=ws.root) == 0
    return out.read_bytes()


def edit_root(ws: FakeWorkspace, old: str, new: str) -> None:
    path = ws.root / "Cargo.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


EDITS = {
    "version bump": ('version = "0.2.0"', 'version = "0.2.1"'),
    "description": ('license = "MIT"', 'license = "MIT"\ndescription = "now described"'),
    "pruned member's dependency": ('fake-serde = "1.0"', 'fake-serde = { version = "1.0.0", features = [] }'),
    "workspace metadata": (
        "[patch.crates-io]",
        '[workspace.metadata.chefpy]\ncarry = ["proto"]\n\n[patch.crates-io]',
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_only_stubbed_or_pruned_crates_see_leaves_the_recipe_byte_identical(
    edit: str, workspace: Make, tmp_path: Path
) -> None:
    ws = workspace("seed-all", register=2)
    before = prepare_recipe(ws, tmp_path / "before.json", "serviceY")
    edit_root(ws, *EDITS[edit])
    assert prepare_recipe(ws, tmp_path / "after.json", "serviceY") == before


def test_the_recipe_keeps_what_the_stub_and_the_kept_crate_use(workspace: Make, tmp_path: Path) -> None:
    ws = workspace("seed-all")
    root = recipe.loads(prepare_recipe(ws, tmp_path / "r.json", "serviceY")).file("Cargo.toml")
    assert root is not None
    out = tomllib.loads(root.data.decode())
    assert out["workspace"]["package"] == {"edition": "2021", "license": "MIT"}
    assert sorted(out["workspace"]["dependencies"]) == ["fake-derive", "fake-json", "fake-libc", "fake-log"]


def test_a_version_bump_a_kept_crate_inherits_changes_the_recipe(workspace: Make, tmp_path: Path) -> None:
    ws = workspace("seed-all", register=2)
    before = prepare_recipe(ws, tmp_path / "before.json", "serviceZ")  # libB is kept and inherits it
    edit_root(ws, *EDITS["version bump"])
    assert prepare_recipe(ws, tmp_path / "after.json", "serviceZ") != before
