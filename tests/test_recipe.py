"""The recipe format: deterministic dumps, and loads that validates before anything is written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cargo_chefpy import recipe
from cargo_chefpy.cli import main
from cargo_chefpy.errors import RecipeError
from cargo_chefpy.recipe import CrateClass, Recipe, RecipeCrate, RecipeFile, Role, VendoredCrate


def sample() -> Recipe:
    return Recipe(
        workspace=".",
        packages=("serviceZ",),
        bins=(),
        crates=(RecipeCrate(name="libA", path="src/libA", klass=CrateClass.KEEP, reason="real sources"),),
        files=(
            RecipeFile(path="src/libA/src/lib.rs", data=b"pub fn a() {}\n", executable=False, role=Role.KEEP),
            RecipeFile(path="Cargo.toml", data=b"[workspace]\n", executable=False, role=Role.WORKSPACE),
            RecipeFile(path="src/libA/logo.png", data=b"\x89PNG\x00\xff", executable=False, role=Role.KEEP),
            RecipeFile(path="src/libA/run.sh", data=b"#!/bin/sh\r\n", executable=True, role=Role.KEEP),
        ),
        vendored=("vendored",),
        vendored_crates=(
            VendoredCrate(name="fake-log", version="0.4.0"),
            VendoredCrate(name="sha-1", version="0.10.1"),
            VendoredCrate(name="fake-rc", version="0.5.0-rc.1"),
            VendoredCrate(name="wasi", version="0.11.0+wasi-snapshot-preview1"),
        ),
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
                             "vendored_crates", "files", "layer"}  # fmt: skip


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
        (mutate({"version": 4}), "newer than this cargo-chefpy reads"),
        (mutate({"layer": "third-party"}), "'layer' is"),
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


def test_dumps_is_json_own_encoding_with_sorted_keys_one_space_indent_and_a_final_newline() -> None:
    data = recipe.dumps(sample())
    document = json.loads(data)
    assert data == (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode()
    assert document["version"] == recipe.FORMAT_VERSION == 3


def test_dumps_is_the_same_bytes_whatever_the_order_of_the_models_tuples() -> None:
    stub = RecipeCrate(name="serviceZ", path="src/serviceZ", klass=CrateClass.STUB, reason="target")
    rec = dataclasses.replace(sample(), crates=(*sample().crates, stub))
    shuffled = dataclasses.replace(
        rec,
        files=tuple(reversed(rec.files)),
        crates=tuple(reversed(rec.crates)),
        vendored_crates=tuple(reversed(rec.vendored_crates)),
    )
    assert recipe.dumps(shuffled) == recipe.dumps(rec)
    assert recipe.dumps(recipe.loads(recipe.dumps(shuffled))) == recipe.dumps(rec)


def test_vendored_crates_are_name_and_version_pairs_never_one_dashed_string() -> None:
    document = json.loads(recipe.dumps(sample()))
    assert document["vendored_crates"] == [
        {"name": "fake-log", "version": "0.4.0"},
        {"name": "fake-rc", "version": "0.5.0-rc.1"},
        {"name": "sha-1", "version": "0.10.1"},
        {"name": "wasi", "version": "0.11.0+wasi-snapshot-preview1"},
    ]
    assert recipe.loads(recipe.dumps(sample())).vendored_crates == tuple(sorted(sample().vendored_crates))


def test_crate_classes_load_as_the_enum_and_prune_is_never_in_a_recipe() -> None:
    assert recipe.loads(recipe.dumps(sample())).crates[0].klass is CrateClass.KEEP
    document = json.loads(recipe.dumps(sample()))
    document["crates"][0]["class"] = "prune"
    with pytest.raises(RecipeError, match="class is 'prune'"):
        recipe.loads(json.dumps(document).encode())


@pytest.mark.parametrize(
    "entry",
    [
        "fake-log-0.4.0",
        {"name": "fake-log"},
        {"name": "fake-log", "version": "0.4.0", "extra": 1},
        {"name": "../x", "version": "1.0.0"},
        {"name": "a/b", "version": "1.0.0"},
        {"name": "fake-log", "version": "1/../../x"},
        {"name": "fake-log", "version": "."},
        {"name": "", "version": "1.0.0"},
        {"name": "fake-log", "version": 1},
    ],
)
def test_a_vendored_crate_that_is_not_a_plain_name_and_version_is_refused(entry: object) -> None:
    with pytest.raises(RecipeError, match=r"vendored_crates\[0\]"):
        recipe.loads(mutate({"vendored_crates": [entry]}))


def test_a_version_1_recipe_is_refused_with_a_hint_to_prepare_again() -> None:
    document = json.loads(recipe.dumps(sample()))
    document.update(version=1, vendored_crates=["fake-log-0.4.0"])
    with pytest.raises(RecipeError, match="format version 1, older than") as info:
        recipe.loads(json.dumps(document).encode())
    assert info.value.exit_code == 5
    assert "run `cargo chefpy prepare` again with this cargo-chefpy version" in info.value.hint
    assert "format changed" in info.value.hint


def test_cook_of_a_version_1_recipe_exits_5_with_one_error_and_one_hint_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(recipe.dumps(sample()))
    document.update(version=1, vendored_crates=["fake-log-0.4.0"])
    (tmp_path / "recipe.json").write_text(json.dumps(document, indent=1, sort_keys=True))
    assert main(["cook", "--no-build"], cwd=tmp_path) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: recipe.json has format version 1")
    assert err[1].startswith("hint: the recipe format changed: run `cargo chefpy prepare` again")
    assert len(err) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.json"]
