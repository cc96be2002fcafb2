"""Finding the workspace and reading it with `cargo metadata --no-deps`.

Kept apart from prepare so that `build`, on every final stage's start-up path, imports no tomlkit.
"""

from __future__ import annotations

import errno
from pathlib import Path

from cargo_chefpy import cargo
from cargo_chefpy.errors import CargoError, ProjectError
from cargo_chefpy.metadata import Metadata, parse_metadata


def find_project(cwd: Path, manifest_path: Path | None) -> Path:
    """The Cargo.toml cargo would use, or a clear error instead of cargo's."""
    if manifest_path is not None:
        path = manifest_path if manifest_path.is_absolute() else cwd / manifest_path
        try:
            is_file = path.is_file()
        except OSError as exc:  # a name too long, no permission: is_file raises these
            shorter = ", by a shorter path" if exc.errno == errno.ENAMETOOLONG else ""
            raise ProjectError(
                f"the manifest path {manifest_path} cannot be read: {exc.strerror}",
                hint=f"pass --manifest-path pointing at the workspace's Cargo.toml{shorter}",
            ) from None
        if path.name != "Cargo.toml" or not is_file:
            raise ProjectError(
                f"the manifest path {manifest_path} is not a Cargo.toml file",
                hint="pass --manifest-path pointing at the workspace's Cargo.toml",
            )
        return path
    for directory in (cwd, *cwd.parents):
        if (directory / "Cargo.toml").is_file():
            return directory / "Cargo.toml"
    raise ProjectError(
        f"could not find Cargo.toml in {cwd} or any parent directory",
        hint="run the command inside your workspace, or pass --manifest-path path/to/Cargo.toml",
    )


class PendingMetadata:
    """`cargo metadata --no-deps` started on a project: `result()` waits for it and parses it. As a context
    manager it stops cargo should the block it guards raise first (`cargo.Captured`)."""

    def __init__(self, cargo_bin: str, cwd: Path, manifest_path: Path) -> None:
        self._started = cargo.Captured(cargo_bin, cargo.metadata_args(manifest_path), cwd=cwd)

    def __enter__(self) -> PendingMetadata:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self._started.__exit__(kind, exc, tb)

    def result(self) -> Metadata:
        try:
            text = self._started.result()
        except CargoError as exc:  # decide whether the project itself is at fault
            output = exc.output
            lowered = output.lower()
            # cargo's TOML diagnostics do not always say "parse"; they point at the file
            # (` --> Cargo.toml:1:11`).
            if "parse" in lowered or " --> " in output or "utf-8" in lowered:
                raise ProjectError(
                    "a manifest of this workspace does not parse",
                    hint="fix the manifest error cargo reports above",
                ).with_output(output) from None
            raise
        return parse_metadata(text)


def read_metadata(cargo_bin: str, cwd: Path, manifest_path: Path) -> Metadata:
    """`cargo metadata --no-deps` of the project at `manifest_path`, run in `cwd`, parsed."""
    with PendingMetadata(cargo_bin, cwd, manifest_path) as pending:
        return pending.result()


def start_project(cwd: Path, manifest_path: Path | None) -> PendingMetadata:
    """Find cargo and the project, in that order of errors, and start reading the workspace."""
    cargo_bin = cargo.find_cargo()
    return PendingMetadata(cargo_bin, cwd, find_project(cwd, manifest_path))


def read_project(cwd: Path, manifest_path: Path | None) -> Metadata:
    """Find cargo and the project, and read the workspace, in that order of errors."""
    with start_project(cwd, manifest_path) as pending:
        return pending.result()
