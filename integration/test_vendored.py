"""Vendored crates as `cargo vendor` really lays them out, through prepare -> cook -> final build with
real cargo: pre-release versions (`0.5.0-rc.1`), names with `-` and a digit (`sha-1`), build metadata
holding `-` (`0.11.0+wasi-snapshot-preview1`), and two versions of one crate side by side (`name` for the
newest, `name-version` for the older). Crate names and versions are never split on `-`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integration.support.flow import DockerFlow
from integration.support.workspaces import FakeCrate, registry_dir_names, run_cargo, write_registry

CRATES = (
    FakeCrate(name="fake-rc", version="0.5.0-rc.1"),
    FakeCrate(name="sha-1", version="0.10.1"),
    FakeCrate(name="wasi", version="0.11.0+wasi-snapshot-preview1"),
    FakeCrate(name="fake-log", version="0.4.0"),
    FakeCrate(name="fake-log", version="0.3.9"),
)

ROOT_MANIFEST = """\
[workspace]
resolver = "2"
members = ["app", "lib"]
"""

LIB_MANIFEST = """\
[package]
name = "lib"
version = "0.1.0"
edition = "2021"

[dependencies]
fake-rc = "=0.5.0-rc.1"
sha-1 = "0.10"
old-log = { package = "fake-log", version = "=0.3.9" }
"""

LIB_RS = """\
pub fn describe() -> String {
    format!("{} / {} / {}", fake_rc::fake_rc(), sha_1::sha_1(), old_log::fake_log())
}
"""

APP_MANIFEST = """\
[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
lib = { path = "../lib" }
fake-log = "0.4"
wasi = "0.11"
"""

APP_RS = """\
fn main() {
    println!("app says hello: {} / {} / {}", lib::describe(), fake_log::fake_log(), wasi::wasi());
}
"""

SOURCE_CONFIG = """\
[source.crates-io]
replace-with = "fake-registry"

[source.fake-registry]
directory = "{directory}"
"""


def vendored_workspace(tmp: Path, *, versioned_dirs: bool) -> Path:
    """A workspace whose `vendored/` is written by real `cargo vendor` from a generated registry."""
    root = tmp / "context" / "ws"
    files = {
        "Cargo.toml": ROOT_MANIFEST,
        "lib/Cargo.toml": LIB_MANIFEST,
        "lib/src/lib.rs": LIB_RS,
        "app/Cargo.toml": APP_MANIFEST,
        "app/src/main.rs": APP_RS,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    registry = tmp / "registry"  # outside the context: only `vendored/` travels
    write_registry(registry, CRATES)
    config = root / ".cargo" / "config.toml"
    config.parent.mkdir()
    config.write_text(SOURCE_CONFIG.format(directory=registry))
    run_cargo(["generate-lockfile", "--offline"], root)
    extra = ["--versioned-dirs"] if versioned_dirs else []
    run_cargo(["vendor", "--offline", "--locked", "--respect-source-config", *extra, "vendored"], root)
    config.write_text(SOURCE_CONFIG.format(directory="vendored"))
    return root


LAYOUTS = pytest.mark.parametrize(
    ("versioned_dirs", "preserve_mtimes"),
    [(False, True), (False, False), (True, False)],
    ids=["cargo-vendor-mtimes-kept", "cargo-vendor-ci-checkout", "versioned-dirs-ci-checkout"],
)


def test_cargo_vendor_names_directories_as_the_generator_does(tmp_path: Path) -> None:
    root = vendored_workspace(tmp_path, versioned_dirs=False)
    expected = set(registry_dir_names(CRATES, newest_plain=True).values())
    assert {p.name for p in (root / "vendored").iterdir()} == expected
    assert {"fake-rc", "sha-1", "wasi", "fake-log", "fake-log-0.3.9"} == expected


@LAYOUTS
def test_pre_release_hyphenated_and_side_by_side_vendored_crates_cook_and_build(
    tmp_path: Path, versioned_dirs: bool, preserve_mtimes: bool
) -> None:
    root = vendored_workspace(tmp_path, versioned_dirs=versioned_dirs)
    args = ["--release", "-p", "app"]
    flow = DockerFlow(tmp_path, root, prepare_args=["-p", "app"], cook_args=args, build_args=args)
    recipe = flow.prepare()
    document = json.loads(recipe)
    assert document["vendored"] == ["vendored"]
    assert document["vendored_crates"] == [
        {"name": "fake-log", "version": "0.3.9"},
        {"name": "fake-log", "version": "0.4.0"},
        {"name": "fake-rc", "version": "0.5.0-rc.1"},
        {"name": "sha-1", "version": "0.10.1"},
        {"name": "wasi", "version": "0.11.0+wasi-snapshot-preview1"},
    ]
    flow.cook(recipe)

    main_rs = root / "app" / "src" / "main.rs"
    main_rs.write_text(APP_RS.replace("app says hello", "app says bonjour"))
    assert flow.cook(flow.prepare()), "an edit to the stubbed app must leave the cooked layer in place"
    stage = flow.final(preserve_mtimes=preserve_mtimes)
    assert stage.compiled == {"app"}
    assert flow.run_binary(stage, "app") == (
        "app says bonjour: fake-rc 0.5.0-rc.1 / sha-1 0.10.1 / fake-log 0.3.9 / fake-log 0.4.0 / "
        "wasi 0.11.0+wasi-snapshot-preview1"
    )
