"""The shipped artefact: a reproducible shiv zipapp that cargo runs as `cargo chefpy`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cargo_chefpy import __version__
from integration.support.workspaces import write_seed
from integration.support.zipapp import build_zipapp


@pytest.fixture(scope="module")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_zipapp(tmp_path_factory.mktemp("zipapp"))


def test_zipapp_is_reproducible(zipapp: Path, tmp_path: Path) -> None:
    again = build_zipapp(tmp_path / "again")
    assert again.read_bytes() == zipapp.read_bytes()
    assert zipapp.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_cargo_finds_the_installed_zipapp_as_the_chefpy_subcommand(zipapp: Path, tmp_path: Path) -> None:
    home = tmp_path / "cargo-home"
    (home / "bin").mkdir(parents=True)
    shutil.copy2(zipapp, home / "bin" / "cargo-chefpy")
    cargo = shutil.which("cargo")
    assert cargo is not None
    env = {**os.environ, "CARGO_HOME": str(home), "SHIV_ROOT": str(tmp_path / "shiv")}
    env["PATH"] = os.pathsep.join([str(home / "bin"), os.path.dirname(cargo), "/usr/bin", "/bin"])
    out = subprocess.run([cargo, "chefpy", "--version"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"cargo-chefpy {__version__}"
    direct = subprocess.run([str(home / "bin" / "cargo-chefpy"), "--version"], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert direct.stdout == out.stdout


def test_zipapp_prepares_a_real_workspace(zipapp: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_seed(root)
    env = {**os.environ, "SHIV_ROOT": str(tmp_path / "shiv")}
    proc = subprocess.run(
        [str(zipapp), "chefpy", "prepare", "--recipe-path", "-", "-p", "serviceZ"],
        cwd=root, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(proc.stdout)["packages"] == ["serviceZ"]
    assert "Prepared recipe on stdout: 1 stubbed, 3 kept, 2 pruned" in proc.stderr


def test_zipapp_prepare_runs_cargo_metadata_once_from_a_member_directory(
    zipapp: Path, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    write_seed(root)
    calls = tmp_path / "calls"
    cargo = tmp_path / "cargo"  # logs every cargo command, then runs the real one
    cargo.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {shutil.which("cargo")} "$@"\n')
    cargo.chmod(0o755)
    env = {**os.environ, "SHIV_ROOT": str(tmp_path / "shiv"), "CARGO": str(cargo)}
    subprocess.run(
        [str(zipapp), "chefpy", "prepare", "--recipe-path", "recipe.json", "-p", "serviceZ"],
        cwd=root / "src" / "serviceZ", env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert calls.read_text().splitlines() == [
        f"metadata --format-version 1 --no-deps --offline --manifest-path {root}/src/serviceZ/Cargo.toml"
    ]
    assert json.loads((root / "src" / "serviceZ" / "recipe.json").read_text())["packages"] == ["serviceZ"]
