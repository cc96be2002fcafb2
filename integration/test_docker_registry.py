"""A cooked layer that travels between CI runners through a real registry.

Runner A (the host's engine, or a runner of Debian 13's kind) builds the cook stage, both cooked layers
(third-party, then local), with inline cache metadata and pushes it to a real registry on loopback
(Debian's `docker-registry`). Runner B is another dockerd of the same kind with an empty data root (Debian
12's Docker 20.10 with BuildKit 0.8; Debian 13's Docker 26.1 with buildx 0.13 and BuildKit 0.13). It gets
only the base image, which stands in for `rust:1-bookworm` (CI runners pull it from Docker Hub), then builds
a newer commit with `--cache-from` the registry: both cook steps must be CACHED, no third-party crate may
compile, and only serviceZ may.

Layers from a registry carry whole-second mtimes (containerd's tar writer), so this is also the proof that
settling survives them.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import Docker
from integration.support.docker_engine import DockerError, Engine, EngineUnavailable, host_debian_major
from integration.support.registry import Registry, ensure_registry, stop_registry
from integration.support.runners import available_kinds, copy_image, start_runner, stop_runner
from integration.test_docker_e2e import (
    COOK,
    DEPS_COOK,
    THIRD_PARTY,
    Report,
    Variant,
    assert_only_service_z_compiles,
    compiled,
    make_context,
    step,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    try:
        found = ensure_registry()
    except EngineUnavailable as e:
        pytest.skip(str(e))
    yield found
    stop_registry(found)


@pytest.fixture(scope="module")
def e2e_report(request: pytest.FixtureRequest) -> Report:
    found = Report()
    request.config.pluginmanager.register(found, f"cargo-chefpy-registry-report-{id(found)}")
    return found


def _generated_context(root: Path, zipapp: Path, base: str) -> Path:
    context = make_context(root, zipapp)
    args = ["dockerfile", "-p", "serviceZ", "--base-image", base, "--runtime-image", base]
    subprocess.run(
        [sys.executable, str(zipapp), *args, "--output", "Dockerfile"],
        cwd=context,
        check=True,
        capture_output=True,
    )
    return context


def _cases() -> list[tuple[str, str]]:
    kinds = available_kinds()
    cases = [(kind, "inline cache") for kind in kinds]
    if "debian13" in kinds:  # BuildKit 0.13 reads SOURCE_DATE_EPOCH and can rewrite layer timestamps
        cases.append(("debian13", "SOURCE_DATE_EPOCH, rewrite-timestamp"))
    return cases or [("none", "")]


@contextlib.contextmanager
def empty_runner_b(kind: str, host_docker: Docker) -> Iterator[Engine]:
    """Runner B: an engine of `kind` with an empty data root and only the base image (a CI runner's
    `FROM rust:...` pull); the test skips, with the reason, where it cannot start."""
    try:
        engine = start_runner(f"b-{kind}", kind, fresh=True)
    except EngineUnavailable as e:
        pytest.skip(str(e))
    try:
        copy_image(host_docker.engine, engine, host_docker.base)
        yield engine
    finally:
        stop_runner(engine, kind)


@pytest.fixture(scope="module")
def runners_a(host_docker: Docker) -> Iterator[dict[str, Engine]]:
    """Runner A of each kind: the host's engine for the host's kind, a runner of its own for the other."""
    engines = {f"debian{host_debian_major()}": host_docker.engine}
    started: list[tuple[Engine, str]] = []
    yield_engines = engines
    for kind in available_kinds():
        if kind not in engines:
            try:
                engine = start_runner(f"a-{kind}", kind, fresh=True)
                copy_image(host_docker.engine, engine, host_docker.base)
            except EngineUnavailable:
                continue
            engines[kind] = engine
            started.append((engine, kind))
    yield yield_engines
    for engine, kind in started:
        stop_runner(engine, kind)


@pytest.mark.parametrize(("kind", "how"), _cases())
def test_cook_layer_pushed_by_runner_a_is_cached_on_an_empty_runner_b(
    *,
    kind: str,
    how: str,
    host_docker: Docker,
    runners_a: dict[str, Engine],
    registry: Registry,
    zipapp: Path,
    e2e_report: Report,
    tmp_path: Path,
) -> None:
    if kind == "none":
        pytest.skip("no Debian engine kind can run on this host")
    if kind not in runners_a:
        pytest.skip(f"runner A of kind {kind} could not start")
    engine_a, base = runners_a[kind], host_docker.base
    context = _generated_context(tmp_path / "ws", zipapp, base)
    token = uuid.uuid4().hex[:12]
    cook_ref = registry.ref("cargo-chefpy-e2e/servicez", f"cook-{token}")
    a = Variant(
        name=f"A {kind}",
        engine=engine_a,
        context=context,
        build_args={},
        report=e2e_report,
        tags=[cook_ref],
    )
    if how == "inline cache":
        pushed = a.build(f"A: {how}, push", target="cook", build_args={"BUILDKIT_INLINE_CACHE": "1"})
        engine_a.docker_cmd("push", cook_ref)
    else:  # the exporter pushes; layers are written with every timestamp clamped to the epoch
        epoch = str(int(time.time()) - 3600)
        output = f"type=image,name={cook_ref},push=true,rewrite-timestamp=true"
        pushed = a.build(
            f"A: {how}, push",
            target="cook",
            tag="",
            build_args={"BUILDKIT_INLINE_CACHE": "1", "SOURCE_DATE_EPOCH": epoch},
            extra=("--output", output),
        )
    for instruction in (DEPS_COOK, COOK):  # fresh tokens in the cargo config and libA: both layers cook
        assert not step(pushed, instruction).cached, pushed.log
    try:
        with empty_runner_b(kind, host_docker) as engine_b:
            assert not engine_b.image_exists(cook_ref), "runner B must start without the cook image"
            b = Variant(
                name=f"B {kind} {engine_b.version}",
                engine=engine_b,
                context=context,
                build_args={},
                report=e2e_report,
                tags=[f"cargo-chefpy-e2e/registry-b:{token}"],
            )
            message = b.edit_service_z()  # runner B builds a newer commit
            result = b.build(f"B: --cache-from registry ({how})", cache_from=(cook_ref,))
            for instruction in (DEPS_COOK, COOK):  # both cooked layers came from the registry
                assert step(result, instruction).cached, result.log
            assert_only_service_z_compiles(result)
            assert not any(compiled(s) & THIRD_PARTY for s in result.steps()), result.log
            assert message in engine_b.run(b.tag)
    finally:
        with contextlib.suppress(DockerError):
            engine_a.docker_cmd("image", "rm", "--force", cook_ref, *sorted(a.images))


@pytest.mark.parametrize("kind", available_kinds() or ["none"])
def test_the_shared_third_party_layer_of_several_services_travels_through_the_registry(
    *,
    kind: str,
    host_docker: Docker,
    runners_a: dict[str, Engine],
    registry: Registry,
    zipapp: Path,
    e2e_report: Report,
    tmp_path: Path,
) -> None:
    """`dockerfile -p serviceX -p serviceY -p serviceZ`: runner A pushes each service's cook stage (the
    shared deps stage below it); an empty runner B builds serviceZ's image with `--cache-from` it."""
    if kind == "none" or kind not in runners_a:
        pytest.skip(f"no runner A of kind {kind} here")
    engine_a, base = runners_a[kind], host_docker.base
    context = make_context(tmp_path / "ws", zipapp)
    args = ["dockerfile", "-p", "serviceX", "-p", "serviceY", "-p", "serviceZ"]
    argv = [sys.executable, str(zipapp), *args, "--base-image", base, "--runtime-image", base]
    subprocess.run([*argv, "--output", "Dockerfile"], cwd=context, check=True, capture_output=True)
    token = uuid.uuid4().hex[:12]
    refs = {
        s: registry.ref(f"cargo-chefpy-e2e/{s}", f"cook-{token}")
        for s in ("servicex", "servicey", "servicez")
    }
    a = Variant(
        name=f"A {kind} (3 services)", engine=engine_a, context=context, build_args={}, report=e2e_report
    )
    for service, ref in refs.items():
        a.build(
            f"A: cook-{service}", target=f"cook-{service}", tag=ref, build_args={"BUILDKIT_INLINE_CACHE": "1"}
        )
        engine_a.docker_cmd("push", ref)
    try:
        with empty_runner_b(kind, host_docker) as engine_b:
            b = Variant(
                name=f"B {kind} (3 services)",
                engine=engine_b,
                context=context,
                build_args={},
                report=e2e_report,
                tags=[f"cargo-chefpy-e2e/registry-servicez:{token}"],
            )
            message = b.edit_service_z()
            result = b.build("B: servicez --cache-from", target="servicez", cache_from=(refs["servicez"],))
            cooks = [s for s in result.steps() if "cargo chefpy cook" in s.instruction]
            assert len(cooks) == 4, [s.name for s in result.steps()]  # three deps cooks, then cook-servicez
            assert all(s.cached for s in cooks), result.log
            assert_only_service_z_compiles(result)
            assert message in engine_b.run(b.tag)
    finally:
        with contextlib.suppress(DockerError):
            engine_a.docker_cmd("image", "rm", "--force", *refs.values(), *sorted(a.images))
