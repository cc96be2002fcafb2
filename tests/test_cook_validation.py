"""cook validates the whole recipe, its Cargo.toml and Cargo.lock included, before it writes anything."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from cargo_chefpy import recipe, stamp
from cargo_chefpy.cli import main
from cargo_chefpy.cook import merge_deps_cooks
from cargo_chefpy.recipe import Recipe, RecipeFile, Role

MANIFEST = b'[package]\nname = "a"\nversion = "0.1.0"\nedition = "2021"\n'
LOCK = b'version = 4\n\n[[package]]\nname = "a"\nversion = "0.1.0"\n'


def write_recipe(cook_dir: Path, files: dict[str, bytes], workspace: str = ".") -> None:
    rec = Recipe(
        workspace=workspace,
        packages=("a",),
        bins=(),
        crates=(),
        files=tuple(
            RecipeFile(path=p, data=d, executable=False, role=Role.KEEP) for p, d in sorted(files.items())
        ),
        vendored=(),
    )
    (cook_dir / "recipe.json").write_bytes(recipe.dumps(rec))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"Cargo.toml": MANIFEST, "src/lib.rs": b""}, "does not carry the workspace's Cargo.lock"),
        ({"Cargo.lock": LOCK, "src/lib.rs": b""}, "does not carry the workspace's Cargo.toml"),
        (
            {"Cargo.toml": MANIFEST, "Cargo.lock": b"version = 4\n[[package]\n", "src/lib.rs": b""},
            "Cargo.lock cannot be read",
        ),
        (
            {"Cargo.toml": MANIFEST, "Cargo.lock": b"\xff\xfe", "src/lib.rs": b""},
            "Cargo.lock cannot be read",
        ),
    ],
)
def test_a_recipe_without_a_readable_lock_or_manifest_is_a_recipe_error_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, bytes], message: str
) -> None:
    write_recipe(tmp_path, files)
    assert main(["cook", "--no-build"], cwd=tmp_path) == 5
    err = capsys.readouterr().err
    assert message in err
    assert err.count("error: ") == 1
    assert err.count("hint: ") == 1
    assert os.listdir(tmp_path) == ["recipe.json"]


def test_the_lock_is_looked_up_in_the_recipes_workspace_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_recipe(tmp_path, {"ws/Cargo.toml": MANIFEST, "Cargo.lock": LOCK}, workspace="ws")
    assert main(["cook", "--no-build"], cwd=tmp_path) == 5
    assert "(ws/Cargo.lock)" in capsys.readouterr().err
    write_recipe(tmp_path, {"ws/Cargo.toml": MANIFEST, "ws/Cargo.lock": LOCK}, workspace="ws")
    assert main(["cook", "--no-build"], cwd=tmp_path) == 0
    assert (tmp_path / "ws/Cargo.lock").read_bytes() == LOCK


def _deps_stamp(**changes: object) -> stamp.Stamp:
    base = stamp.Stamp(
        recipe="r1",
        workspace=".",
        options={"profile": "release"},
        packages=("serviceX",),
        files={"a.txt": "1"},
        vendored={"vendored/x/build.rs": "x"},
        vendored_dirs=("vendored",),
        kept_crates=0,
        external_crates=0,
        dirs={"vendored/x/d": "dir:x"},
        stub_created_dirs=("src/x",),
        layer="deps",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_second_deps_cook_of_the_same_recipe_keeps_what_the_first_recorded() -> None:
    first = _deps_stamp()
    second = _deps_stamp(
        packages=("serviceY",),
        files={"b.txt": "2"},
        vendored={"vendored/y/build.rs": "y"},
        dirs={},
        stub_created_dirs=("src/y",),
    )
    merged = merge_deps_cooks(second, first)
    assert merged.packages == ("serviceX", "serviceY")
    assert merged.files == {"a.txt": "1", "b.txt": "2"}
    assert merged.vendored == {"vendored/x/build.rs": "x", "vendored/y/build.rs": "y"}
    assert merged.dirs == {"vendored/x/d": "dir:x"}
    assert merged.stub_created_dirs == ("src/x", "src/y")


@pytest.mark.parametrize(
    "earlier",
    [
        _deps_stamp(recipe="r0"),
        _deps_stamp(options={"profile": "dev"}),
        _deps_stamp(layer="local"),
        _deps_stamp(workspace="ws"),
    ],
    ids=["another recipe", "other options", "a local layer", "another workspace"],
)
def test_a_deps_cook_replaces_a_stamp_of_another_recipe_options_or_layer(earlier: stamp.Stamp) -> None:
    ours = _deps_stamp(packages=("serviceY",), files={})
    assert merge_deps_cooks(ours, earlier) == ours
