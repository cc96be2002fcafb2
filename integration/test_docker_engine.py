"""Smoke test of integration/support/docker_engine.py against a real Docker engine."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pytest

from integration.conftest import Docker
from integration.support.docker_engine import DockerError

pytestmark = pytest.mark.docker


def _hello_context(root: Path, base: str, greeting: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
    )
    (root / "src" / "main.rs").write_text(f'fn main() {{\n    println!("{greeting}");\n}}\n')
    (root / "Dockerfile").write_text(
        f"FROM {base}\n"
        "WORKDIR /app\n"
        "COPY Cargo.toml ./\n"
        "COPY src ./src\n"
        "RUN cargo build --offline --release && ./target/release/hello\n"
    )
    return root


def test_engine_builds_and_caches_a_rust_crate(docker: Docker, tmp_path: Path) -> None:
    engine, base = docker.engine, docker.base
    # A fresh greeting each run, so the first build cannot hit BuildKit's cache from an earlier run
    # (COPY cache keys are content, not mtimes).
    greeting = f"hello from cargo-chefpy {uuid.uuid4().hex}"
    context = _hello_context(tmp_path / "ctx", base, greeting)
    tag = f"cargo-chefpy-e2e/smoke:{uuid.uuid4().hex[:12]}"
    try:
        first = engine.build(context, tag=tag)
        steps = {s.instruction: s for s in first.steps()}
        build = steps["RUN cargo build --offline --release && ./target/release/hello"]
        assert not build.cached
        assert "Compiling hello v0.1.0 (/app)" in build.output
        assert greeting in build.output

        assert engine.run(tag, ["/app/target/release/hello"]).strip() == greeting

        second = engine.build(context, tag=tag)
        # Cached steps are printed in no fixed order.
        again = {s.instruction: s.cached for s in second.steps() if not s.instruction.startswith("FROM ")}
        assert again == {
            "WORKDIR /app": True,
            "COPY Cargo.toml ./": True,
            "COPY src ./src": True,
            build.instruction: True,
        }, second.log
        assert "Compiling" not in second.log
    finally:
        with contextlib.suppress(DockerError):
            engine.docker_cmd("image", "rm", "--force", tag)
