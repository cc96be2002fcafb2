"""`cargo chefpy dockerfile` (placeholder until the generator lands)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cargo_chefpy.errors import UsageError
from cargo_chefpy.log import Log


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerfileOptions:
    package: str | None = None
    bin: str | None = None
    base_image: str = "rust:1-bookworm"
    runtime_image: str = "debian:bookworm-slim"
    output: str = "-"
    manifest_path: Path | None = None


def dockerfile(options: DockerfileOptions, *, cwd: Path, log: Log) -> int:
    raise UsageError("`cargo chefpy dockerfile` is not implemented yet", hint="see the README's Dockerfile")
