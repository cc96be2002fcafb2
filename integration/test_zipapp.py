"""The shipped artefact: a reproducible shiv zipapp that cargo runs as `cargo chefpy`."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cargo_chefpy import __version__
from integration.workspaces import write_seed
from integration.zipapp import ROOT, build_zipapp


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


def test_zipapp_starts_prepare_s_cargo_metadata_before_its_bootstrap_and_only_once(
    zipapp: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(zipapp) as archive:
        assert archive.read("_chefpy_early.py") == (ROOT / "cargo_chefpy" / "early.py").read_bytes()
        main = archive.read("__main__.py").decode()
    assert main.index("_chefpy_early.prestart()") < main.index("import _bootstrap")
    root = tmp_path / "ws"
    write_seed(root)
    calls = tmp_path / "calls"
    cargo = tmp_path / "cargo"  # logs every cargo command, then runs the real one
    cargo.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {shutil.which("cargo")} "$@"\n')
    cargo.chmod(0o755)
    env = {**os.environ, "SHIV_ROOT": str(tmp_path / "shiv"), "CARGO": str(cargo)}
    subprocess.run([str(zipapp), "--version"], env=env, check=True, capture_output=True)  # extracts
    subprocess.run(
        [str(zipapp), "chefpy", "prepare", "--recipe-path", "recipe.json", "-p", "serviceZ"],
        cwd=root / "src" / "serviceZ", env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert calls.read_text().splitlines() == [
        f"metadata --format-version 1 --no-deps --offline --manifest-path {root}/src/serviceZ/Cargo.toml"
    ]
    assert json.loads((root / "src" / "serviceZ" / "recipe.json").read_text())["packages"] == ["serviceZ"]


def test_the_modules_run_from_the_archive_carry_bytecode_that_another_python_may_ignore(
    zipapp: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(zipapp) as archive:
        names = [n for n in archive.namelist() if not n.startswith("site-packages/")]
        compiled = {n: archive.read(n) for n in names if n.endswith(".pyc")}
        assert sorted(n[:-1] for n in compiled) == sorted(
            n for n in names if n.endswith(".py") and n != "__main__.py"
        )
        assert all(data[:4] == importlib.util.MAGIC_NUMBER for data in compiled.values())
        # Another Python's bytecode: a wrong magic number. The archive must still run, from the sources.
        stale = tmp_path / "stale-bytecode"
        with stale.open("wb") as fd:
            fd.write(b"#!/usr/bin/env python3\n")
            with zipfile.ZipFile(fd, "w") as copy:
                for info in archive.infolist():
                    data = archive.read(info)
                    copy.writestr(info, b"\0\0\r\n" + data[4:] if info.filename in compiled else data)
    env = {**os.environ, "SHIV_ROOT": str(tmp_path / "shiv")}
    out = subprocess.run(
        [sys.executable, str(stale), "--version"], env=env, capture_output=True, text=True, check=False
    )
    assert (out.returncode, out.stdout.strip(), out.stderr) == (0, f"cargo-chefpy {__version__}", "")
