"""cook's early check of the vendored sources: every crate the recipe needs is found where `cargo vendor`
puts it (`name`, or `name-version`), whatever `-` its name or version holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cargo_chefpy.cook import check_vendored
from cargo_chefpy.errors import InputError
from cargo_chefpy.prepare import vendored_directories
from cargo_chefpy.recipe import Recipe, VendoredCrate
from cargo_chefpy.workspace import config_patch_paths, parse_toml
from integration.support.workspaces import FakeCrate, registry_dir_names, write_registry

CRATES = (
    FakeCrate(name="fake-rc", version="0.5.0-rc.1"),
    FakeCrate(name="sha-1", version="0.10.1"),
    FakeCrate(name="wasi", version="0.11.0+wasi-snapshot-preview1"),
    FakeCrate(name="fake-log", version="0.4.0"),
    FakeCrate(name="fake-log", version="0.3.9"),
    FakeCrate(name="fake-log", version="0.4.0-beta.2"),
)


def needing(*crates: FakeCrate) -> Recipe:
    return Recipe(
        workspace=".",
        packages=(),
        bins=(),
        crates=(),
        files=(),
        vendored=("vendored",),
        vendored_crates=tuple(VendoredCrate(name=c.name, version=c.version) for c in crates),
    )


def test_the_generator_names_directories_as_cargo_vendor_does() -> None:
    names = registry_dir_names(CRATES, newest_plain=True)
    assert names[("fake-log", "0.4.0")] == "fake-log"
    assert names[("fake-log", "0.4.0-beta.2")] == "fake-log-0.4.0-beta.2"
    assert names[("fake-log", "0.3.9")] == "fake-log-0.3.9"
    assert names[("fake-rc", "0.5.0-rc.1")] == "fake-rc"


@pytest.mark.parametrize("newest_plain", [True, False], ids=["cargo-vendor", "versioned-duplicates"])
def test_pre_release_hyphenated_and_side_by_side_crates_are_all_found(
    tmp_path: Path, newest_plain: bool
) -> None:
    write_registry(tmp_path / "vendored", CRATES, newest_plain=newest_plain)
    check_vendored(needing(*CRATES), tmp_path)


def test_every_crate_is_found_in_versioned_dirs(tmp_path: Path) -> None:
    for crate in CRATES:  # `cargo vendor --versioned-dirs`: every directory is `name-version`
        write_registry(tmp_path / "one", [crate])
        shutil.move(tmp_path / "one" / crate.name, tmp_path / "vendored" / f"{crate.name}-{crate.version}")
    check_vendored(needing(*CRATES), tmp_path)


def test_a_missing_pre_release_crate_is_named_with_its_whole_version(tmp_path: Path) -> None:
    write_registry(tmp_path / "vendored", CRATES[1:], newest_plain=True)
    with pytest.raises(InputError, match=r"incomplete: fake-rc 0\.5\.0-rc\.1 not found in vendored") as info:
        check_vendored(needing(*CRATES), tmp_path)
    assert info.value.exit_code == 8


def test_an_older_version_is_missing_even_when_the_newest_holds_the_plain_name(tmp_path: Path) -> None:
    write_registry(tmp_path / "vendored", CRATES, newest_plain=True)
    shutil.rmtree(tmp_path / "vendored" / "fake-log-0.3.9")
    with pytest.raises(InputError, match=r"incomplete: fake-log 0\.3\.9 not found"):
        check_vendored(needing(*CRATES), tmp_path)


def test_a_plain_directory_of_another_version_does_not_count(tmp_path: Path) -> None:
    write_registry(tmp_path / "vendored", [FakeCrate(name="sha-1", version="0.9.0")])
    with pytest.raises(InputError, match=r"sha-1 0\.10\.1 not found"):
        check_vendored(needing(FakeCrate(name="sha-1", version="0.10.1")), tmp_path)


def test_a_crate_without_its_checksum_file_is_missing(tmp_path: Path) -> None:
    write_registry(tmp_path / "vendored", CRATES, newest_plain=True)
    (tmp_path / "vendored" / "wasi" / ".cargo-checksum.json").unlink()
    with pytest.raises(InputError, match=r"wasi 0\.11\.0\+wasi-snapshot-preview1 not found"):
        check_vendored(needing(*CRATES), tmp_path)


def test_an_unreadable_manifest_is_left_for_cargo_to_judge(tmp_path: Path) -> None:
    write_registry(tmp_path / "vendored", CRATES, newest_plain=True)
    (tmp_path / "vendored" / "sha-1" / "Cargo.toml").write_text("[package\n")
    check_vendored(needing(*CRATES), tmp_path)


def test_a_manifest_without_a_plain_version_is_left_for_cargo_to_judge(tmp_path: Path) -> None:
    write_registry(tmp_path / "vendored", CRATES, newest_plain=True)
    manifest = tmp_path / "vendored" / "sha-1" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('version = "0.10.1"', "version.workspace = true"))
    check_vendored(needing(*CRATES), tmp_path)


CONFIG_VENDORED = '[source.crates-io]\nreplace-with = "v"\n\n[source.v]\ndirectory = "{directory}"\n'
CONFIG_PATCH = '[patch.crates-io]\nfake-log = {{ path = "{directory}" }}\n'


@pytest.mark.parametrize(
    ("files", "vendored", "patches"),
    [
        ({"config.toml": "vendor-a"}, ["vendor-a"], ["patch-a"]),
        ({"config": "vendor-b"}, ["vendor-b"], ["patch-b"]),
        # cargo warns "both exist. Using .cargo/config" and ignores config.toml (checked with cargo 1.95)
        ({"config": "vendor-b", "config.toml": "vendor-a"}, ["vendor-b"], ["patch-b"]),
        ({}, [], []),
    ],
)
def test_the_cargo_config_read_is_the_one_cargo_reads(
    tmp_path: Path, files: dict[str, str], vendored: list[str], patches: list[str]
) -> None:
    (tmp_path / ".cargo").mkdir()
    for name, directory in files.items():
        patch = "patch-" + directory.removeprefix("vendor-")
        (tmp_path / ".cargo" / name).write_text(
            CONFIG_VENDORED.format(directory=directory) + CONFIG_PATCH.format(directory=patch)
        )
    root = str(tmp_path)
    assert vendored_directories(root) == [f"{root}/{d}" for d in vendored]
    assert config_patch_paths(root, lambda p: Path(p).read_text(), parse_toml) == [
        f"{root}/{p}" for p in patches
    ]
