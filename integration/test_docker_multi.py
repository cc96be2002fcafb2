"""Real Docker: one Dockerfile for serviceX, serviceY and serviceZ (`dockerfile -p serviceX -p serviceY -p
serviceZ`), one image target each, built one after another on one engine (the plain `docker build
--target` loop, which engines without buildx also run).

Counted from BuildKit's plain log: the `Compiling NAME vX` lines of every step of the three builds.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.conftest import Docker
from integration.support.docker_engine import BuildResult, DockerError, Engine
from integration.support.workspaces import write_seed
from integration.test_docker_e2e import THIRD_PARTY, _run

pytestmark = pytest.mark.docker

SERVICES = ("serviceX", "serviceY", "serviceZ")
_COMPILING = re.compile(r"\bCompiling (\S+) v\d")
_MESSAGE = re.compile(r'const MESSAGE: &str = "serviceZ says hello[^"]*";')


def compiling(result: BuildResult) -> Counter[str]:
    """Every crate a build compiled, with how many times (all its steps)."""
    return Counter(m.group(1) for s in result.steps() for line in s.lines if (m := _COMPILING.search(line)))


@dataclass
class Services:
    engine: Engine
    context: Path
    token: str
    images: set[str]

    def build_all(self) -> dict[str, BuildResult]:
        results = {}
        for s in SERVICES:
            tag = f"cargo-chefpy-multi/{s.lower()}:{self.token}"
            results[s] = self.engine.build(self.context, target=s.lower(), tag=tag)
            self.images.add(tag)
        return results


@pytest.fixture(scope="module")
def services(docker: Docker, zipapp: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    context = write_seed(tmp_path_factory.mktemp("multi") / "ws").root
    shutil.copy2(zipapp, context / "cargo-chefpy")
    # A fresh third-party layer: the cargo config is in the deps recipe.
    with (context / ".cargo/config.toml").open("a") as config:
        config.write(f"# e2e token {uuid.uuid4().hex}\n")
    args = ["dockerfile", *(w for s in SERVICES for w in ("-p", s))]
    args += ["--base-image", docker.base, "--runtime-image", docker.base, "--output", "Dockerfile"]
    _run([sys.executable, str(zipapp), *args], cwd=context)
    assert (context / "docker-bake.hcl").is_file()
    found = Services(engine=docker.engine, context=context, token=uuid.uuid4().hex[:12], images=set())
    yield found
    for ref in sorted(found.images):
        with contextlib.suppress(DockerError):
            docker.engine.docker_cmd("image", "rm", "--force", ref)


def edit_service_z(context: Path) -> None:
    main_rs = context / "src/serviceZ/src/main.rs"
    text, n = _MESSAGE.subn(
        f'const MESSAGE: &str = "serviceZ says hello ({uuid.uuid4().hex[:10]})";', main_rs.read_text()
    )
    assert n == 1
    main_rs.write_text(text)


def assert_only_service_z_is_rebuilt(results: dict[str, BuildResult]) -> None:
    """After an edit to serviceZ, every step of the serviceX and serviceY images is CACHED but the shared
    planner's (their build stages copy only their own sources from it, which the edit left alone), and
    serviceZ's image compiles serviceZ alone: every cooked layer is CACHED. No library and no
    third-party crate compiles anywhere."""
    for s in SERVICES:
        own = [st for st in results[s].steps() if st.stage not in ("planner", "chef", "")]
        assert own, [st.name for st in results[s].steps()]
        cooked = [st for st in own if st.stage == "deps" or st.stage.startswith("cook-")]
        assert cooked, [st.name for st in own]
        assert all(st.cached for st in cooked), (s, [st.name for st in cooked if not st.cached])
        if s == "serviceZ":
            assert compiling(results[s]) == Counter({s: 1}), (s, compiling(results[s]))
            continue
        rerun = [st.name for st in own if not st.cached and st.instruction.startswith(("COPY", "RUN"))]
        assert not rerun, (s, rerun)
        assert not compiling(results[s]), (s, compiling(results[s]))


def test_a_fresh_third_party_layer_compiles_each_third_party_crate_once_across_the_three_images(
    services: Services,
) -> None:
    results = services.build_all()
    total = sum((compiling(r) for r in results.values()), Counter())
    # The demo's services ask the same features of every crate they share: one feature set per crate.
    assert {c: total[c] for c in THIRD_PARTY} == dict.fromkeys(THIRD_PARTY, 1), total
    for s in SERVICES:  # no third-party crate in any service's own cook or build stage
        for st in results[s].steps():
            if st.stage.startswith(("cook-", "build-")):
                assert not set(compiling(BuildResult("\n".join(st.lines), 0))) & THIRD_PARTY
        out = services.engine.run(f"cargo-chefpy-multi/{s.lower()}:{services.token}")
        assert out.strip(), s


def test_after_an_edit_to_service_z_only_service_z_compiles_and_the_other_images_are_cached(
    services: Services,
) -> None:
    services.build_all()
    edit_service_z(services.context)
    assert_only_service_z_is_rebuilt(services.build_all())


def test_a_host_target_dir_in_the_context_changes_nothing_that_compiles(services: Services) -> None:
    services.build_all()
    (services.context / ".dockerignore").unlink(missing_ok=True)  # let target/ into the context
    junk = services.context / "target/release"
    junk.mkdir(parents=True, exist_ok=True)
    (junk / "serviceZ").write_bytes(b"junk")
    (junk / ".fingerprint").mkdir(exist_ok=True)
    (junk / ".fingerprint" / "junk").write_text("junk")
    edit_service_z(services.context)
    # The cooked target directory is /app-target, outside the copied tree: the junk target/ changes nothing.
    assert_only_service_z_is_rebuilt(services.build_all())
