"""Fixtures shared by the real-Docker tests: the zipapp the images run, and the engines they build on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.support.bad_input import lab, templates  # noqa: F401  (fixtures of test_bad_input_*.py)
from integration.support.docker_engine import (
    Engine,
    EngineUnavailable,
    ensure_base_image,
    ensure_engine,
    host_debian_major,
    stop_engine,
)
from integration.support.flow import ROOT
from integration.support.runners import copy_image, start_runner, stop_runner
from integration.support.zipapp import build_zipapp


@pytest.fixture(scope="session")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/cargo-chefpy built as the Makefile's rule does, from a copy of this tree, into a tmp dir."""
    work = tmp_path_factory.mktemp("zipapp")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "cargo_chefpy", src / "cargo_chefpy", ignore=shutil.ignore_patterns("__pycache__", ".*")
    )
    out = build_zipapp(work / "build", src)
    version = subprocess.run(
        [sys.executable, str(out), "--version"], capture_output=True, text=True, check=False
    )
    assert version.stdout.startswith("cargo-chefpy "), version
    return out


@dataclass(frozen=True, slots=True)
class Docker:
    """An engine that can build the e2e images, with the local base image loaded."""

    engine: Engine
    base: str  # the base image's tag (stands in for rust:1-bookworm)
    kind: str  # "host" (the machine's own engine) or "debian13" (Debian 13's engine on a Debian 12 host)


def engine_params() -> list[str]:
    """The host's engine, and Debian 13's current one where the host is Debian 12 (issue: current engines)."""
    return ["host", "debian13"] if host_debian_major() == 12 else ["host"]


@pytest.fixture(scope="session")
def host_docker() -> Iterator[Docker]:
    try:
        engine = ensure_engine()
        base = ensure_base_image(engine)
    except EngineUnavailable as e:
        pytest.skip(str(e))
    yield Docker(engine=engine, base=base, kind="host")
    stop_engine(engine)  # only a dockerd that this process started


@pytest.fixture(scope="session", params=engine_params())
def docker(request: pytest.FixtureRequest, host_docker: Docker) -> Iterator[Docker]:
    """Every engine kind this host can run; the tests that use it run once on each."""
    if request.param == "host":
        yield host_docker
        return
    try:
        engine = start_runner("current", "debian13", fresh=False)
        copy_image(host_docker.engine, engine, host_docker.base)
    except EngineUnavailable as e:
        pytest.skip(f"Debian 13's engine cannot start here: {e}")
    yield Docker(engine=engine, base=host_docker.base, kind="debian13")
    stop_runner(engine, "debian13", remove_data=False)
