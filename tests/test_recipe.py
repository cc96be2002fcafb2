"""The recipe format: deterministic dumps, and loads that validates before anything is written."""

from __future__ import annotations

import json

import pytest

from cargo_chefpy import recipe
from cargo_chefpy.errors import RecipeError
from cargo_chefpy.recipe import Recipe, RecipeCrate, RecipeFile, Role


def sample() -> Recipe:
    return Recipe(
        workspace=".",
        packages=("serviceZ",),
        bins=(),
        crates=(RecipeCrate(name="libA", path="src/libA", klass="keep", reason="real sources"),),
        files=(
            RecipeFile(path="src/libA/src/lib.rs", data=b"pub fn a() {}\n", executable=False, role=Role.KEEP),
            RecipeFile(path="Cargo.toml", data=b"[workspace]\n", executable=False, role=Role.WORKSPACE),
            RecipeFile(path="src/libA/logo.png", data=b"\x89PNG\x00\xff", executable=False, role=Role.KEEP),
            RecipeFile(path="src/libA/run.sh", data=b"#!/bin/sh\r\n", executable=True, role=Role.KEEP),
        ),
        vendored=("vendored",),
        vendored_crates=("fake-log-0.4.0",),
    )


def test_dumps_is_sorted_and_round_trips_byte_for_byte() -> None:
    data = recipe.dumps(sample())
    loaded = recipe.loads(data)
    assert recipe.dumps(loaded) == data
    assert [f["path"] for f in json.loads(data)["files"]] == sorted(f.path for f in sample().files)
    assert loaded.file("src/libA/logo.png") == sample().files[2]
    assert loaded.file("src/libA/run.sh") is not None
    assert loaded.file("src/libA/run.sh").executable  # type: ignore[union-attr]


def test_dumps_carries_no_timestamp_absolute_path_or_tool_version() -> None:
    document = json.loads(recipe.dumps(sample()))
    assert set(document) == {"format", "version", "workspace", "packages", "bins", "crates", "vendored",
                             "vendored_crates", "files"}  # fmt: skip


def mutate(change: dict[str, object] | None = None, file: dict[str, object] | None = None) -> bytes:
    document = json.loads(recipe.dumps(sample()))
    document.update(change or {})
    if file is not None:
        document["files"][0].update(file)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"{", "is not JSON"),
        (b"[]", "not a cargo-chefpy recipe"),
        (mutate({"version": 2}), "newer than this cargo-chefpy reads"),
        (mutate(file={"path": "/etc/passwd"}), "is absolute"),
        (mutate(file={"path": "src/../../x"}), "'..'"),
        (mutate(file={"path": "a\x00b"}), "NUL"),
        (mutate(file={"text": None, "base64": "!!"}), "exactly one of"),
        (mutate({"files": "nope"}), "'files' is not a list"),
    ],
)
def test_loads_refuses_bad_recipes_with_a_recipe_error(data: bytes, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        recipe.loads(data)


def test_a_duplicate_path_is_refused() -> None:
    document = json.loads(recipe.dumps(sample()))
    document["files"][1]["path"] = document["files"][0]["path"]
    with pytest.raises(RecipeError, match="appears twice"):
        recipe.loads(json.dumps(document).encode())


def test_bad_base64_is_refused() -> None:
    document = json.loads(recipe.dumps(sample()))
    entry = next(f for f in document["files"] if "base64" in f)
    entry["base64"] = "not base64!"
    with pytest.raises(RecipeError, match="not valid base64"):
        recipe.loads(json.dumps(document).encode())


def test_a_path_that_is_both_a_file_and_a_directory_is_refused() -> None:
    document = json.loads(recipe.dumps(sample()))
    document["files"].append({"path": "Cargo.toml/x", "role": "keep", "text": ""})
    with pytest.raises(RecipeError, match="both a file and the directory"):
        recipe.loads(json.dumps(document).encode())
