"""The `-Z` check asks the cargo that will build: cargo is faked (pytest-subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_subprocess import FakeProcess

from cargo_chefpy import build
from cargo_chefpy.errors import UsageError
from cargo_chefpy.log import Log
from cargo_chefpy.options import CargoOptions

STABLE = (
    "error: the `-Z` flag is only accepted on the nightly channel of Cargo, "
    "but this is the `stable` channel\n"
)


def test_build_asks_about_z_flags_beside_the_manifest_where_rustup_finds_its_toolchain_file(
    tmp_path: Path, fake_cargo: str, fp: FakeProcess
) -> None:
    """`--manifest-path sub/Cargo.toml` builds in sub/, where a rust-toolchain.toml may pin nightly:
    the check in the user's directory asked the default (stable) toolchain and refused a build that works."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Cargo.toml").write_text('[package]\nname = "a"\nversion = "0.1.0"\n')
    asked_in: list[Path] = []

    def record(process: object) -> None:
        asked_in.append(Path(process.kwargs["cwd"]))  # type: ignore[attr-defined]

    fp.register(
        [fake_cargo, "-Z", "unstable-options", "version"], callback=record, returncode=101, stderr=STABLE
    )
    options = CargoOptions(unstable=("unstable-options",), manifest_path="sub/Cargo.toml")
    with pytest.raises(UsageError):
        build.build(options, cwd=tmp_path, log=Log(quiet=True))
    assert asked_in == [tmp_path / "sub"]
