"""Manifest transforms: stubs keep what decides how dependencies compile, and nothing else."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from cargo_chefpy import manifest
from cargo_chefpy.manifest import StubSpec
from cargo_chefpy.workspace import parse_toml

SERVICE = """\
[package]
name = "serviceZ"
version.workspace = true
edition = "2021"
description = "changes here must not matter"
authors = ["someone"]
readme = "README.md"
default-run = "serviceZ"

[lints]
workspace = true

[dependencies]
libB = { path = "../libB", version = "0.2" }
fake-json = { version = "1", features = ["x"] }

[target.'cfg(unix)'.dependencies]
fake-libc = "0.2"

[build-dependencies]
fake-log = "0.4"

[features]
default = ["fast"]
fast = []

[[bin]]
name = "serviceZ"
path = "src/main.rs"
required-features = ["fast"]
"""


def spec(**kw: object) -> StubSpec:
    base: dict[str, object] = {
        "directory": "/w/src/serviceZ", "lib_name": None, "proc_macro": False, "crate_types": (),
        "bins": ("serviceZ",), "build_script": False, "bin_paths": ("src/main.rs",),
    }  # fmt: skip
    base.update(kw)
    return StubSpec(**base)  # type: ignore[arg-type]


def test_stub_manifest_masks_the_version_and_drops_what_cannot_affect_other_crates() -> None:
    text, files = manifest.stub_manifest(SERVICE, "Cargo.toml", spec(), set())
    doc = tomllib.loads(text)
    assert doc["package"]["version"] == "0.0.1"  # a literal, though the crate inherits its version
    for dropped in ("description", "authors", "readme", "default-run"):
        assert dropped not in doc["package"]
    assert "lints" not in doc
    assert doc["bin"] == [{"name": "serviceZ", "path": "src/main.rs"}]
    assert files == {"src/main.rs": manifest.STUB_MAIN}


def test_stub_manifest_keeps_dependencies_features_and_target_tables() -> None:
    doc = tomllib.loads(manifest.stub_manifest(SERVICE, "Cargo.toml", spec(), set())[0])
    assert doc["dependencies"]["fake-json"] == {"version": "1", "features": ["x"]}
    assert doc["target"]["cfg(unix)"]["dependencies"] == {"fake-libc": "0.2"}
    assert doc["build-dependencies"] == {"fake-log": "0.4"}
    assert doc["features"] == {"default": ["fast"], "fast": []}


def test_path_dependency_on_another_stub_gets_the_masked_version() -> None:
    doc = tomllib.loads(manifest.stub_manifest(SERVICE, "Cargo.toml", spec(), {"/w/src/libB"})[0])
    assert doc["dependencies"]["libB"] == {"path": "../libB", "version": "0.0.1"}


def test_a_proc_macro_stub_stays_a_proc_macro_with_a_build_script() -> None:
    text, files = manifest.stub_manifest(
        SERVICE, "Cargo.toml", spec(lib_name="my_macros", proc_macro=True, bins=(), build_script=True), set()
    )
    doc = tomllib.loads(text)
    assert doc["lib"] == {"path": "src/lib.rs", "name": "my_macros", "proc-macro": True}
    assert doc["package"]["build"] == "build.rs"
    assert set(files) == {"src/lib.rs", "build.rs"}


def test_stub_manifest_output_is_deterministic_whatever_the_key_order() -> None:
    reordered = (
        SERVICE.replace('[build-dependencies]\nfake-log = "0.4"\n', "")
        + '\n[build-dependencies]\nfake-log = "0.4"\n'
    )
    assert (
        manifest.stub_manifest(SERVICE, "a", spec(), set())[0]
        == manifest.stub_manifest(reordered, "a", spec(), set())[0]
    )


ROOT = """\
# The monorepo's workspace.
[workspace]
members = ["src/*"]  # every crate under src
default-members = ["src/serviceX", "src/serviceZ"]
resolver = "2"

[workspace.dependencies]
libB = { path = "src/libB", version = "0.2" }

[patch.crates-io]
fake-patched = { path = "rust-patches/fake-patched" }
unused = { path = "rust-patches/unused" }

[profile.release]
lto = "thin"
"""


def test_root_manifest_lists_the_remaining_members_and_keeps_comments_and_profiles() -> None:
    out = manifest.root_manifest(
        ROOT,
        "Cargo.toml",
        root="/w",
        members=["/w/src/libB", "/w/src/serviceZ"],
        stub_dirs=set(),
        root_stub=None,
        uses=manifest.WorkspaceUse(),
    )
    doc = tomllib.loads(out)
    assert doc["workspace"]["members"] == ["src/libB", "src/serviceZ"]
    assert doc["workspace"]["default-members"] == ["src/serviceZ"]
    assert doc["profile"]["release"] == {"lto": "thin"}
    assert out.startswith("# The monorepo's workspace.\n")


@pytest.mark.parametrize(
    "members", [[], ["/w/src/serviceZ"], ["/w/src/libB", "/w/src/serviceX", "/w/src/serviceZ"]]
)
def test_member_arrays_written_as_text_are_the_bytes_tomlkit_writes(members: list[str]) -> None:
    """The arrays go in as placeholders replaced by text; a manifest that holds the placeholder's prefix
    itself makes tomlkit build them instead. Both ways give the same manifest."""
    args: dict[str, Any] = {"root": "/w", "members": members, "stub_dirs": set(), "root_stub": None}
    args["uses"] = manifest.WorkspaceUse()
    fast = manifest.root_manifest(ROOT, "Cargo.toml", **args)
    clash = "# @cargo-chefpy-array-0@ in a comment\n"
    built = manifest.root_manifest(ROOT + clash, "Cargo.toml", **args)
    assert built == fast + clash
    assert tomllib.loads(fast)["workspace"]["members"] == [m.removeprefix("/w/") for m in members]


def test_root_manifest_masks_workspace_dependency_on_a_stub_and_drops_unused_patches() -> None:
    out = manifest.root_manifest(
        ROOT, "Cargo.toml", root="/w", members=["/w/src/libB"], stub_dirs={"/w/src/libB"}, root_stub=None,
        uses=manifest.WorkspaceUse(dependencies=frozenset({"libB"})), drop_patches={"/w/rust-patches/unused"},
    )  # fmt: skip
    doc = tomllib.loads(out)
    assert doc["workspace"]["dependencies"]["libB"]["version"] == "0.0.1"
    assert "default-members" not in doc["workspace"]
    assert doc["patch"]["crates-io"] == {"fake-patched": {"path": "rust-patches/fake-patched"}}


def test_stub_files_go_at_the_paths_the_spec_gives_and_the_manifest_names_the_same_paths() -> None:
    text, files = manifest.stub_manifest(
        SERVICE,
        "Cargo.toml",
        spec(
            lib_name="app",
            lib_path="lib/app.rs",
            bins=("rg", "two"),
            bin_paths=("crates/core/main.rs", "src/bin/two.rs"),
            build_script=True,
            build_path="tools/build.rs",
        ),
        set(),
    )
    doc = tomllib.loads(text)
    assert doc["lib"]["path"] == "lib/app.rs"
    assert doc["bin"] == [
        {"name": "rg", "path": "crates/core/main.rs"},
        {"name": "two", "path": "src/bin/two.rs"},
    ]
    assert doc["package"]["build"] == "tools/build.rs"
    assert files == {
        "lib/app.rs": manifest.STUB_LIB,
        "crates/core/main.rs": manifest.STUB_MAIN,
        "src/bin/two.rs": manifest.STUB_MAIN,
        "tools/build.rs": manifest.STUB_MAIN,
    }
    assert doc["package"]["autobins"] is False


def test_a_bin_without_a_path_gets_one_in_the_stub_directory_cargo_never_searches() -> None:
    text, files = manifest.stub_manifest(SERVICE, "Cargo.toml", spec(bin_paths=()), set())
    assert tomllib.loads(text)["bin"] == [{"name": "serviceZ", "path": ".cargo-chefpy-stub/bin-0.rs"}]
    assert files == {".cargo-chefpy-stub/bin-0.rs": manifest.STUB_MAIN}


@pytest.mark.parametrize(
    "text",
    [
        '[workspace]\nmembers = ["a", "b]", \'c#\', """d\n]"""]  # comment ]\nresolver = "2"\n',
        '[workspace]\nresolver = "2"\nmembers = [\n  "a", # ] not the end\n  "b",\n]\n'
        "\n[profile.release]\nlto = true\n",
        '[package]\nname = "x"\nmembers = ["not", "the workspace\'s"]\n\n[workspace]\nmembers = ["a"]\n',
    ],
)
def test_the_members_array_is_emptied_before_tomlkit_parses_and_nothing_else_changes(text: str) -> None:
    parsed = parse_toml(text, "Cargo.toml")
    emptied = manifest._without_members(text, parsed)
    assert emptied != text
    assert parse_toml(emptied, "x") == {**parsed, "workspace": {**parsed["workspace"], "members": []}}


@pytest.mark.parametrize(
    "text",
    [
        'workspace.members = ["a", "b"]\n',  # dotted keys: left to tomlkit
        'workspace = { members = ["a"] }\n',  # an inline table
        '[workspace]\nresolver = "2"\n',  # no members
        '[workspace.metadata]\nmembers = ["x"]\n',  # another table's key
    ],
)
def test_a_members_array_not_found_exactly_leaves_the_text_as_it_is(text: str) -> None:
    assert manifest._without_members(text, parse_toml(text, "Cargo.toml")) == text
