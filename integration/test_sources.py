"""`prepare --sources-dir`, with real cargo: the final build's sources, as the Dockerfiles' build stages
copy them from the planner (`COPY --from=planner /plan/SERVICE/ ./`).

BuildKit keys that copy on the files' content, so what matters is which edits change a service's tree:
an edit to another service must not (its image then stays CACHED), an edit to anything it builds from
must. And a build from the tree alone, over the cooked layers, must compile the service alone and run
the new code, in both mtime modes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cargo_chefpy.options import Selection
from cargo_chefpy.prepare import Carry, _read_lock, build_recipe, prepare, real_plan
from cargo_chefpy.project import read_project
from cargo_chefpy.workspace import parse_toml
from integration.support.flow import chefpy, compiled, ok, replace_tree
from integration.support.shapes import Shape, all_shapes, write_shape
from integration.support.workspaces import copy_tree, run_cargo, write_seed

SERVICES = ("serviceX", "serviceY", "serviceZ")


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry under `root`: its content (or link target) and executable bit, as BuildKit keys a COPY."""
    found = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "link:" + os.readlink(path)
            else:
                exe = os.access(path, os.X_OK)
                found[rel] = f"{exe}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    return found


def prepare_trees(context: Path, plan: Path, *extra: str) -> dict[str, dict[str, str]]:
    """The planner: one prepare per service, each writing its recipe and its sources into `plan`."""
    replace_tree(context, plan / "planner")  # a fresh COPY . . each time
    trees = {}
    for s in SERVICES:
        out = plan / s
        shutil.rmtree(out, ignore_errors=True)
        args = ["prepare", "-p", s, "--recipe-path", str(plan / f"{s}.json"), "--sources-dir", str(out)]
        ok(chefpy([*args, *extra], plan / "planner"))
        trees[s] = tree_digest(out)
    return trees


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = write_seed(tmp_path / "ws").root
    (root / "docs").mkdir()
    (root / "docs" / "notes.txt").write_text("not in any crate\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "target" / "release").mkdir(parents=True)
    (root / "target" / "release" / "junk").write_text("junk\n")
    (root / ".dockerignore").write_text("target/\n")
    return root


def edit(path: Path, pattern: str, new: str) -> None:
    text, n = re.subn(pattern, new, path.read_text())
    assert n == 1, (path, pattern)
    path.write_text(text)


def test_an_edit_to_service_z_leaves_the_other_services_trees_byte_identical(
    context: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan"
    plan.mkdir()
    before = prepare_trees(context, plan)
    edit(context / "src/serviceZ/src/main.rs", r'serviceZ says hello[^"]*"', 'serviceZ says hi there"')
    after = prepare_trees(context, plan)
    assert after["serviceX"] == before["serviceX"]
    assert after["serviceY"] == before["serviceY"]
    assert after["serviceZ"] != before["serviceZ"]
    assert [p for p in after["serviceZ"] if after["serviceZ"][p] != before["serviceZ"][p]] == [
        "src/serviceZ/src/main.rs"
    ]


def test_a_tree_holds_its_crates_and_the_files_of_no_crate_and_leaves_out_the_rest(
    context: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan"
    plan.mkdir()
    trees = prepare_trees(context, plan)
    x = set(trees["serviceX"])
    assert "src/serviceX/src/main.rs" in x
    assert "docs/notes.txt" in x  # in no crate: every tree has it
    assert {".cargo/config.toml", "Cargo.lock", "Cargo.toml"} <= x
    assert not any(p.startswith(("src/serviceY/", "src/serviceZ/")) for p in x)  # crates X does not use
    assert not any(p.startswith((".git/", "target/", "vendored/")) for p in x)
    assert ".dockerignore" not in x  # Docker's files, outside the crates: no cargo build reads them
    assert "src/serviceX/Dockerfile" in x  # inside a crate, a file like any other (it may embed it)
    # The workspace loads without the crates left out: members pruned, the lock's entries kept real.
    manifest = (plan / "serviceX" / "Cargo.toml").read_text()
    assert "serviceY" not in manifest
    assert "serviceZ" not in manifest
    assert "0.0.1" not in (plan / "serviceX" / "Cargo.lock").read_text().split("serviceX", 1)[1][:40]


def test_an_included_path_inside_a_crate_the_service_does_not_use_is_in_its_tree(
    context: Path, tmp_path: Path
) -> None:
    (context / "src/serviceY/shared.txt").write_text("read by serviceX's build\n")
    plan = tmp_path / "plan"
    plan.mkdir()
    trees = prepare_trees(context, plan, "--include", "src/serviceY/shared.txt")
    assert "src/serviceY/shared.txt" in trees["serviceX"]
    assert "src/serviceY/src/main.rs" not in trees["serviceX"]


@pytest.mark.parametrize("preserve_mtimes", [True, False], ids=["mtimes-preserved", "ci-checkout"])
def test_a_build_from_the_tree_over_the_cooked_layers_compiles_the_service_alone(
    context: Path, tmp_path: Path, preserve_mtimes: bool
) -> None:
    plan = tmp_path / "plan"
    plan.mkdir()
    prepare_trees(context, plan)
    app, target = tmp_path / "app", tmp_path / "app-target"
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    app.mkdir()
    # deps (layer 1), then cook (layer 2), as the single-service Dockerfile runs them for serviceY
    (app / "recipe.deps.json").write_bytes((plan / "serviceY.deps.json").read_bytes())
    copy_tree(context / "vendored", app / "vendored", preserve_mtimes=True)
    ok(chefpy(["cook", "--release", "-p", "serviceY", "--recipe-path", "recipe.deps.json"], app, env=env))
    (app / "recipe.json").write_bytes((plan / "serviceY.json").read_bytes())
    ok(chefpy(["cook", "--release", "-p", "serviceY"], app, env=env))
    edit(context / "src/serviceY/src/main.rs", r"fn main\(\) \{", 'fn main() {\n    println!("edited Y");')
    prepare_trees(context, plan)
    copy_tree(plan / "serviceY", app, preserve_mtimes=preserve_mtimes)  # COPY --from=planner
    build = ok(chefpy(["build", "--release", "-p", "serviceY"], app, env=env))
    assert compiled(build) == {"serviceY"}, build.stderr
    run = subprocess.run([str(target / "release" / "serviceY")], capture_output=True, text=True, check=False)
    assert "edited Y" in run.stdout, (run.returncode, run.stdout, run.stderr)


ROOT_MANIFEST = """\
# The root manifest, as its owner wrote it: every byte of it that pruning does not need stays.
[workspace]
resolver = "2"  # the 2021 resolver
members = [
    "src/libA",
    "src/libB",
    "src/libC",
    "src/serviceX",
    "src/serviceY",
    "src/serviceZ",
]
exclude = ["rust-patches"]

[workspace.package]
license = "MIT"    # no member inherits it
authors = ["Ann <ann@example.com>"]

[workspace.dependencies]
fake-extra = "1"  # no member names it
serviceX = { path = "src/serviceX" }
serviceY = { path = "src/serviceY", version = "0.1.0" }

[workspace.lints.rust]
unsafe_code = "forbid"

[workspace.metadata.release]
shared-version = true

[patch.crates-io]
fake-patched = { path = "rust-patches/fake-patched" }

[profile.release]
debug = 1 # symbols for the profiler
"""


def test_the_trees_root_manifest_is_the_users_with_only_the_pruned_members_taken_out(context: Path) -> None:
    """The final build reads the user's root manifest: its comments, [workspace.package],
    [workspace.lints], [workspace.metadata] and profiles, byte for byte; only the members serviceZ
    does not use go, with the [workspace.dependencies] entries that point at them."""
    (context / "Cargo.toml").write_text(ROOT_MANIFEST)
    tree = context.parent / "tree"
    args = ["prepare", "-p", "serviceZ", "--recipe-path", "../r.json", "--sources-dir", str(tree)]
    ok(chefpy(args, context))
    expected = (
        ROOT_MANIFEST.replace('    "src/serviceX",\n    "src/serviceY",\n', "")
        .replace('serviceX = { path = "src/serviceX" }\n', "")
        .replace('serviceY = { path = "src/serviceY", version = "0.1.0" }\n', "")
    )
    assert (tree / "Cargo.toml").read_text() == expected
    run_cargo(["metadata", "--format-version", "1", "--no-deps", "--offline"], tree)  # it loads


def _selection(args: tuple[str, ...]) -> tuple[Selection, tuple[str, ...]]:
    flags: dict[str, list[str]] = {"-p": [], "--bin": [], "--include": [], "--stub": [], "--keep": []}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        flags[flag].append(value)
    selection = Selection(
        packages=tuple(flags["-p"]), bins=tuple(flags["--bin"]), stub=tuple(flags["--stub"]),
        keep=tuple(flags["--keep"]),
    )  # fmt: skip
    return selection, tuple(flags["--include"])


MASKED = ("package", "dependencies", "lints", "metadata")  # of [workspace]: a recipe keeps what is used
PRUNED = ("members", "default-members", "dependencies")  # of [workspace]: the tree drops what is left out


def _without(doc: dict[str, Any], workspace_keys: tuple[str, ...], *top: str) -> dict[str, Any]:
    workspace = {k: v for k, v in doc.get("workspace", {}).items() if k not in workspace_keys}
    return {**{k: v for k, v in doc.items() if k not in top}, "workspace": workspace}


@pytest.mark.parametrize("shape", all_shapes(), ids=lambda s: s.name)
def test_the_trees_manifest_and_lock_are_the_recipes_with_no_stub_and_the_users_unmasked(
    shape: Shape, tmp_path: Path
) -> None:
    """final_workspace writes, without reading the crates, what build_recipe writes for the plan with
    every stub real, but for the recipe's masking of the root manifest: the lock byte for byte; the
    manifest equal once the [workspace] tables a recipe masks (package, dependencies, lints, metadata:
    it keeps only what the crates use) are set aside, each of those holding at least the recipe's
    entries; and, against the user's manifest, equal but for the members and the [patch] and
    [workspace.dependencies] entries the pruning drops, each dropped entry a path one."""
    root = tmp_path / "ws"
    write_shape(shape, root)
    selection, include = _selection(shape.prepare_args)
    metadata = read_project(root, None)
    prepared = prepare(selection, metadata=metadata, carry=Carry(include=include), sources=True)
    assert prepared.sources is not None
    full, _, _ = build_recipe(
        prepared.workspace, real_plan(prepared.plan), _read_lock(root / "Cargo.lock"), carry=Carry()
    )
    ws = prepared.recipe.workspace
    prefix = "" if ws == "." else f"{ws}/"
    expected = {f.path: f.data for f in full.files}
    written = dict(prepared.sources.written)
    assert written.keys() == {f"{prefix}Cargo.toml", f"{prefix}Cargo.lock"}
    assert written[f"{prefix}Cargo.lock"] == expected[f"{prefix}Cargo.lock"]

    tree = parse_toml(written[f"{prefix}Cargo.toml"].decode(), "tree")  # TOML 1.1, as cargo reads it
    recipe = parse_toml(expected[f"{prefix}Cargo.toml"].decode(), "recipe")
    assert _without(tree, MASKED) == _without(recipe, MASKED)
    for key in MASKED:
        theirs, ours = recipe.get("workspace", {}).get(key, {}), tree.get("workspace", {}).get(key, {})
        assert {k: v for k, v in ours.items() if k in theirs} == theirs, key

    user = parse_toml(prepared.workspace.root_manifest, "user")
    assert _without(tree, PRUNED, "patch") == _without(user, PRUNED, "patch")
    pairs = [
        (user.get("workspace", {}).get("dependencies", {}), tree.get("workspace", {}).get("dependencies", {}))
    ]
    pairs += [
        (table, tree.get("patch", {}).get(source, {})) for source, table in user.get("patch", {}).items()
    ]
    for before, after in pairs:
        assert {k: v for k, v in before.items() if k in after} == after
        assert all("path" in before[k] for k in before.keys() - after.keys()), before.keys() - after.keys()
