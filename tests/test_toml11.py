"""Every TOML file cargo reads, prepare reads: TOML 1.1 syntax and a leading UTF-8 BOM included."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cargo_chefpy import lockfile, manifest, prepare
from cargo_chefpy.cli import main
from cargo_chefpy.errors import ProjectError
from cargo_chefpy.manifest import StubSpec
from cargo_chefpy.workspace import parse_toml
from tests.conftest import DATA, FakeWorkspace

Make = Callable[..., FakeWorkspace]
BOM = "\ufeff"

# What cargo 1.95 reads and Python 3.11's tomllib refuses: newlines and a trailing comma in an inline
# table, the \e and \xHH escapes, a time without seconds.
MEMBER_11 = """\
[package]
name = "libB"
version = "0.2.0"
edition = "2021"
description = "escapes \\e and \\x41"

[package.metadata.release]
at = 10:30

[dependencies]
libA = {
    path = "../libA",
    version = "1.2.3",
}
"""

ROOT_11 = """\
# The monorepo.
[workspace]
resolver = "2"
members = ["src/libA", "src/libB"]

[workspace.dependencies]
libA = {
    path = "src/libA",  # the base library
    version = "1.2.3",
}

[profile.release]
lto = "thin"
"""


def test_tomllib_alone_would_refuse_these_manifests() -> None:
    for text in (MEMBER_11, ROOT_11, BOM + "[workspace]\n"):
        with pytest.raises(tomllib.TOMLDecodeError):
            tomllib.loads(text)


@pytest.mark.parametrize("bom", ["", BOM], ids=["plain", "bom"])
def test_a_toml_1_1_manifest_parses_as_cargo_reads_it(bom: str) -> None:
    doc = parse_toml(bom + MEMBER_11, "src/libB/Cargo.toml")
    assert doc["dependencies"]["libA"] == {"path": "../libA", "version": "1.2.3"}
    assert doc["package"]["description"] == "escapes \x1b and A"
    assert str(doc["package"]["metadata"]["release"]["at"]) == "10:30:00"


def test_a_bom_only_at_the_start_is_ignored_as_cargo_ignores_it() -> None:
    assert parse_toml(BOM + '[package]\nname = "a"\n', "Cargo.toml") == {"package": {"name": "a"}}
    with pytest.raises(ProjectError):
        parse_toml('[package]\nname = "a"\n' + BOM, "Cargo.toml")


def test_a_stub_of_a_toml_1_1_manifest_with_a_bom_is_plain_toml() -> None:
    spec = StubSpec(
        directory="/w/src/libB",
        lib_name="libB",
        proc_macro=False,
        crate_types=(),
        bins=(),
        build_script=False,
    )
    text, _ = manifest.stub_manifest(BOM + MEMBER_11, "Cargo.toml", spec, set())
    assert not text.startswith(BOM)
    assert tomllib.loads(text)["dependencies"]["libA"] == {"path": "../libA", "version": "1.2.3"}


@pytest.mark.parametrize("bom", ["", BOM], ids=["plain", "bom"])
def test_the_root_manifest_keeps_its_toml_1_1_layout_and_loses_only_the_bom(bom: str) -> None:
    args: dict[str, Any] = {"root": "/w", "members": ["/w/src/libA"], "stub_dirs": set(), "root_stub": None}
    args["uses"] = manifest.WorkspaceUse(dependencies=frozenset({"libA"}))
    out = manifest.root_manifest(bom + ROOT_11, "Cargo.toml", **args)
    assert out.startswith("# The monorepo.\n")
    assert '    path = "src/libA",  # the base library\n    version = "1.2.3",\n}' in out
    assert parse_toml(out, "Cargo.toml")["workspace"]["members"] == ["src/libA"]
    early = manifest.parse_document(bom + ROOT_11)
    assert manifest.root_manifest(bom + ROOT_11, "Cargo.toml", document=early, **args) == out


def test_a_stubbed_root_package_with_a_bom_and_toml_1_1_gives_a_plain_root_manifest() -> None:
    root = BOM + MEMBER_11.replace('name = "libB"', 'name = "app"') + '\n[workspace]\nmembers = ["lib"]\n'
    spec = StubSpec(
        directory="/w", lib_name=None, proc_macro=False, crate_types=(), bins=("app",), build_script=False
    )
    out = manifest.root_manifest(
        root,
        "Cargo.toml",
        root="/w",
        members=["/w"],
        stub_dirs={"/w"},
        root_stub=spec,
        uses=manifest.WorkspaceUse(),
    )
    doc = tomllib.loads(out)
    assert doc["package"]["version"] == "0.0.1"
    assert "members" not in doc["workspace"] or doc["workspace"]["members"] == []


def test_a_lock_file_with_a_bom_is_read_and_written_without_it() -> None:
    text = (DATA / "seed.lock").read_text()
    lock = lockfile.parse_lock(BOM + text)
    assert lock == lockfile.parse_lock(text)


def test_a_cargo_config_with_a_bom_and_toml_1_1_names_its_vendored_directory(tmp_path: Path) -> None:
    (tmp_path / ".cargo").mkdir()
    (tmp_path / ".cargo" / "config.toml").write_text(
        BOM + '[source.crates-io]\nreplace-with = "v"\n\n[source.v]\ndirectory = "vendored"\n'
        '\n[env]\nX = {\n    value = "1",\n}\n'
    )
    assert prepare.vendored_directories(str(tmp_path)) == [str(tmp_path / "vendored")]


def test_prepare_reads_toml_1_1_and_bom_manifests_and_its_recipe_is_the_same(
    workspace: Make, tmp_path: Path
) -> None:
    ws = workspace("seed", register=2)
    before = tmp_path / "before.json"
    assert main(["prepare", "-p", "serviceZ", "--recipe-path", str(before)], cwd=ws.root) == 0
    lib_b = ws.root / "src/libB/Cargo.toml"
    lib_b.write_text(BOM + lib_b.read_text().replace('{ path = "../libA" }', '{\n    path = "../libA",\n}'))
    root = ws.root / "Cargo.toml"
    root.write_text(BOM + root.read_text())
    service = ws.root / "src/serviceZ/Cargo.toml"  # a stub: its manifest is rewritten
    service.write_text(BOM + service.read_text().replace('{ path = "../libC" }', '{ path = "../libC", }'))
    after = tmp_path / "after.json"
    assert main(["prepare", "-p", "serviceZ", "--recipe-path", str(after)], cwd=ws.root) == 0
    files = {f["path"]: f for f in json.loads(after.read_text())["files"]}
    old = {f["path"]: f for f in json.loads(before.read_text())["files"]}
    assert set(files) == set(old)
    changed = sorted(p for p in files if files[p] != old[p])
    assert changed == ["src/libB/Cargo.toml"]  # a kept crate's file, carried byte for byte


def test_a_manifest_prepare_cannot_parse_gets_a_hint_that_claims_nothing_false() -> None:
    with pytest.raises(ProjectError) as info:
        parse_toml("[package\n", "/w/other/Cargo.toml")
    assert "cargo metadata" not in info.value.hint
    assert "shows the same error" not in info.value.hint
    assert "/w/other/Cargo.toml" in info.value.hint
