"""Real Docker, end to end: the README's Dockerfile and the generated one, built by a real engine.

Each Dockerfile variant gets its own copy of the demo workspace (plus the zipapp and the README's
.dockerignore) and runs the scenarios in order, so that each build reuses the cache the previous one
left. Every scenario first builds the current context once more (a no-op when the previous scenario
left it built), so it also holds when run alone. Whether a step was CACHED and which crates compiled
are read from BuildKit's `--progress=plain` log. A per-scenario report (step, cached or not, seconds)
is printed in the terminal summary and appended to /tmp/cargo-chefpy-e2e/report.txt.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from integration.conftest import Docker
from integration.support.docker_engine import STATE_DIR, BuildResult, DockerError, Engine, Step
from integration.support.docker_engine import BuildFailed as DockerBuildFailed
from integration.support.workspaces import copy_tree, set_all_mtimes, write_seed
from integration.test_dockerfile import readme_block

pytestmark = pytest.mark.docker

REPORT_FILE = STATE_DIR / "report.txt"
DEPS_COOK = "RUN cargo chefpy cook --release -p serviceZ --recipe-path recipe.deps.json"  # layer 1
COOK = "RUN cargo chefpy cook --release -p serviceZ"  # layer 2, on top of layer 1
BUILD = "RUN cargo chefpy build"
_COMPILING = re.compile(r"\bCompiling (\S+) v\d")
_DONE = re.compile(r"^DONE (\d+(?:\.\d+)?)s$")
_MESSAGE = re.compile(r'const MESSAGE: &str = "serviceZ says hello[^"]*";')
_LIB_B = re.compile(r'"libB v\d+[^"]*"')
_IMAGE_ID = re.compile(r"writing image (sha256:[0-9a-f]{64})")
DEPENDENCIES = {"fake-json", "fake-libc", "fake-log", "fake-patched", "fake-serde", "libA", "libB", "libC"}
THIRD_PARTY = {"fake-json", "fake-libc", "fake-log", "fake-serde"}  # from vendored/


def step(result: BuildResult, instruction: str) -> Step:
    """The step running exactly `instruction` (layer 2's cook is a prefix of layer 1's)."""
    for s in result.steps():
        if s.instruction == instruction:
            return s
    raise KeyError(f"no step {instruction!r}; steps: {[s.name for s in result.steps()]}")


# ------------------------------------------------------------------------------------------ log reading


def compiled(step: Step) -> set[str]:
    """The crates cargo compiled in this step, from its `Compiling NAME vX` lines."""
    return {m.group(1) for line in step.lines if (m := _COMPILING.search(line)) is not None}


def seconds(step: Step) -> float | None:
    """The step's own duration from its `DONE 1.2s` line; None for a CACHED step."""
    for line in step.lines:
        m = _DONE.match(line)
        if m is not None:
            return float(m.group(1))
    return None


def image_ids(result: BuildResult) -> set[str]:
    """The images a build wrote (each rebuild under the same tag leaves the previous one dangling)."""
    return set(_IMAGE_ID.findall(result.log))


def uncached(result: BuildResult) -> list[str]:
    """The steps (FROM lines aside) that were not CACHED."""
    return [s.name for s in result.steps() if not s.instruction.startswith("FROM ") and not s.cached]


# ------------------------------------------------------------------------------------------ report


@dataclass
class Report:
    """Rows of (variant, scenario, step, cached, seconds), shown in pytest's terminal summary."""

    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, variant: str, scenario: str, result: BuildResult) -> None:
        rows = [(variant, scenario, "docker build (total)", "", f"{result.seconds:.1f}")]
        for needle, name in ((DEPS_COOK, "cook deps"), (COOK, "cook local"), (BUILD, "build")):
            with contextlib.suppress(KeyError):
                found = step(result, needle) if needle != BUILD else result.step(needle)
                took = seconds(found)
                what = f"{name} step"
                built = sorted(compiled(found))
                if built:
                    what += f", compiled {', '.join(built) if len(built) <= 3 else f'{len(built)} crates'}"
                rows.append(
                    (variant, scenario, what, "CACHED" if found.cached else "ran", f"{took or 0:.1f}")
                )
        self.rows += rows
        text = "".join(self.format(rows, header=False))
        sys.stderr.write(text)
        with contextlib.suppress(OSError):
            REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
            with REPORT_FILE.open("a", encoding="utf-8") as handle:
                handle.write(text)

    @staticmethod
    def format(rows: list[tuple[str, str, str, str, str]], *, header: bool = True) -> Iterator[str]:
        if header:
            yield f"{'variant':<10} {'scenario':<26} {'step':<44} {'cached':<7} {'seconds':>7}\n"
        for variant, scenario, step, cached, secs in rows:
            yield f"{variant:<10} {scenario:<26} {step:<44} {cached:<7} {secs:>7}\n"

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.rows:
            return
        terminalreporter.write_sep("-", "cargo-chefpy docker e2e report")
        for line in self.format(self.rows):
            terminalreporter.write(line)
        terminalreporter.write_line(f"(also appended to {REPORT_FILE})")


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> Report:
    found = Report()
    request.config.pluginmanager.register(found, f"cargo-chefpy-e2e-report-{id(found)}")
    with contextlib.suppress(OSError):
        REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
        with REPORT_FILE.open("a", encoding="utf-8") as handle:
            handle.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {request.node.nodeid}\n")
    return found


# ------------------------------------------------------------------------------------------ fixtures


def _run(argv: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@dataclass
class Variant:
    """One Dockerfile variant and the context it is built from."""

    name: str
    engine: Engine
    context: Path  # the workspace root, with the zipapp, the .dockerignore and the Dockerfile
    build_args: dict[str, str]
    report: Report
    tags: list[str] = field(default_factory=list)
    images: set[str] = field(default_factory=set)  # every image this variant's builds wrote

    @property
    def tag(self) -> str:
        return self.tags[0]

    def build(
        self,
        scenario: str | None = None,
        *,
        target: str | None = None,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        cache_from: tuple[str, ...] = (),
        extra: tuple[str, ...] = (),
    ) -> BuildResult:
        """Build the context (tagged as the variant's image unless `tag`; no tag for `tag=""`, when
        `extra` names an --output); report it under `scenario`."""
        result = self.engine.build(
            self.context,
            tag=self.tag if tag is None else (tag or None),
            target=target,
            build_args={**self.build_args, **(build_args or {})},
            cache_from=cache_from,
            extra=extra,
        )
        self.images |= image_ids(result)
        if scenario is not None:
            self.report.add(self.name, scenario, result)
        return result

    def edit_service_z(self) -> str:
        """Give serviceZ's message a new, unique suffix; return the new message."""
        message = f"serviceZ says hello ({uuid.uuid4().hex[:10]})"
        main_rs = self.context / "src/serviceZ/src/main.rs"
        text, n = _MESSAGE.subn(f'const MESSAGE: &str = "{message}";', main_rs.read_text())
        assert n == 1, f"no MESSAGE in {main_rs}"
        main_rs.write_text(text)
        return message

    def edit_lib_b(self) -> str:
        """Replace libB's `"libB v1"` greeting (a kept crate, so the recipe changes); return the new one."""
        greeting = f"libB v2 {uuid.uuid4().hex[:10]}"
        lib_rs = self.context / "src/libB/src/lib.rs"
        text, n = _LIB_B.subn(f'"{greeting}"', lib_rs.read_text())
        assert n == 1, f"no libB greeting in {lib_rs}"
        lib_rs.write_text(text)
        return greeting


def make_context(root: Path, zipapp: Path) -> Path:
    """The demo workspace + the zipapp + the README's .dockerignore.

    A file with a fresh token goes into libA, a kept crate, and a comment with one into the cargo config:
    both recipes (layer 2's and layer 1's) differ from any earlier run's, so the first build of each
    variant cooks both layers from scratch.
    """
    context = write_seed(root).root
    shutil.copy2(zipapp, context / "cargo-chefpy")
    (context / ".dockerignore").write_text(readme_block("dockerignore"))
    (context / "src/libA/e2e-token.txt").write_text(f"{uuid.uuid4().hex}\n")
    with (context / ".cargo/config.toml").open("a") as config:
        config.write(f"# e2e token {uuid.uuid4().hex}\n")
    return context


@pytest.fixture(scope="module", params=["readme", "generated"])
def variant(
    request: pytest.FixtureRequest,
    docker: Docker,
    zipapp: Path,
    report: Report,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Variant]:
    engine, base = docker.engine, docker.base
    name = f"{request.param}" if docker.kind == "host" else f"{request.param}@{docker.kind}"
    context = make_context(tmp_path_factory.mktemp(f"e2e-{request.param}") / "ws", zipapp)
    if request.param == "readme":  # as printed in the README; the images come in as build args
        (context / "Dockerfile").write_text(readme_block("dockerfile"))
        build_args = {"BASE_IMAGE": base, "RUNTIME_IMAGE": base}
    else:  # as `cargo chefpy dockerfile` writes it, run from the zipapp as a user would
        args = ["dockerfile", "-p", "serviceZ", "--base-image", base, "--runtime-image", base]
        _run([sys.executable, str(zipapp), *args, "--output", "Dockerfile"], cwd=context)
        build_args = {}
    token = uuid.uuid4().hex[:12]
    v = Variant(
        name=name,
        engine=engine,
        context=context,
        build_args=build_args,
        report=report,
        tags=[f"cargo-chefpy-e2e/{request.param}:{token}", f"cargo-chefpy-e2e/{request.param}-cook:{token}"],
    )
    yield v
    for ref in (*v.tags, *sorted(v.images)):
        with contextlib.suppress(DockerError):
            engine.docker_cmd("image", "rm", "--force", ref)


# ------------------------------------------------------------------------------------------ scenarios


def assert_only_service_z_compiles(result: BuildResult) -> None:
    final = result.step(BUILD)
    assert not final.cached, result.log
    assert compiled(final) == {"serviceZ"}, final.output


def test_first_build_succeeds_and_the_image_prints_service_z_output(variant: Variant) -> None:
    result = variant.build("1 first build")
    deps, cook = step(result, DEPS_COOK), step(result, COOK)
    assert not deps.cached, "the first build of a fresh recipe cooks"
    assert not cook.cached
    assert compiled(deps) >= THIRD_PARTY, deps.output
    assert compiled(cook) >= DEPENDENCIES - THIRD_PARTY, cook.output
    assert not compiled(cook) & THIRD_PARTY, "layer 2 compiles local crates only"
    assert_only_service_z_compiles(result)
    out = variant.engine.run(variant.tag)
    assert "serviceZ says hello" in out
    assert "libB v1 + libA v1" in out, "the real libraries, not stubs, are linked in"


def test_rebuild_without_changes_is_cached_at_every_step(variant: Variant) -> None:
    variant.build()
    again = variant.build("2 no change")
    assert uncached(again) == [], again.log
    assert "Compiling" not in again.log


def test_editing_service_z_keeps_the_cook_layer_cached_and_compiles_only_service_z(
    variant: Variant,
) -> None:
    variant.build()
    message = variant.edit_service_z()
    result = variant.build("3 edit serviceZ")
    assert step(result, DEPS_COOK).cached, result.log
    assert step(result, COOK).cached, result.log
    assert_only_service_z_compiles(result)
    assert message in variant.engine.run(variant.tag)


def test_fresh_checkout_with_new_mtimes_keeps_the_cook_layer_and_compiles_only_service_z(
    variant: Variant, tmp_path: Path
) -> None:
    variant.build()
    checkout = tmp_path / "checkout"
    copy_tree(variant.context, checkout, preserve_mtimes=False, exclude=("target",))  # every mtime "now"
    variant.context = checkout
    message = variant.edit_service_z()
    result = variant.build("4 fresh checkout")
    assert step(result, DEPS_COOK).cached, result.log
    assert step(result, COOK).cached, result.log
    assert_only_service_z_compiles(result)
    settled = re.search(r"Settled (\d+) unchanged path", result.step(BUILD).output)
    assert settled, result.step(BUILD).output
    assert int(settled.group(1)) > 0
    assert message in variant.engine.run(variant.tag)


@pytest.mark.parametrize("when", ["after the cook", "before the cook"])
def test_every_file_at_one_commit_time_keeps_the_cook_layer_and_compiles_only_service_z(
    variant: Variant, tmp_path: Path, when: str
) -> None:
    """A git build context (BuildKit 0.29) gives every file the commit's time, which may be newer or older
    than the cooked outputs."""
    variant.build()
    checkout = tmp_path / "checkout"
    copy_tree(variant.context, checkout, preserve_mtimes=False, exclude=("target",))
    variant.context = checkout
    message = variant.edit_service_z()
    set_all_mtimes(checkout, int(time.time()) + 60 if when == "after the cook" else int(time.time()) - 86400)
    result = variant.build(f"4b one mtime, {when}")
    assert step(result, DEPS_COOK).cached, result.log
    assert step(result, COOK).cached, result.log
    assert_only_service_z_compiles(result)
    assert message in variant.engine.run(variant.tag)


def test_editing_lib_b_recooks_and_the_final_stage_compiles_only_service_z(variant: Variant) -> None:
    variant.build()
    greeting = variant.edit_lib_b()
    result = variant.build("5 edit libB")
    assert step(result, DEPS_COOK).cached, "an edit to libB leaves the third-party layer cached"
    cook = step(result, COOK)
    assert not cook.cached, result.log
    assert "libB" in compiled(cook)
    everywhere = {
        m.group(1) for line in result.log.splitlines() if (m := _COMPILING.search(line)) is not None
    }
    assert not everywhere & THIRD_PARTY, f"a third-party crate compiled: {everywhere}"
    assert_only_service_z_compiles(result)
    assert greeting in variant.engine.run(variant.tag)


def test_cook_layer_moved_to_another_machine_by_inline_cache_is_reused(
    variant: Variant, tmp_path: Path
) -> None:
    engine, cook_tag = variant.engine, variant.tags[1]
    exported = variant.build(
        "6a export cook stage",
        target="cook",
        tag=cook_tag,
        build_args={"BUILDKIT_INLINE_CACHE": "1"},
    )
    assert step(exported, COOK).stage == "cook", "the image exported is the cook stage"
    tar = tmp_path / "cook.tar"
    # Move it as a CI fleet would: save, forget every cache and image, load on the "other machine".
    engine.docker_cmd("save", "--output", str(tar), cook_tag)
    engine.docker_cmd("builder", "prune", "--all", "--force")
    for tag in variant.tags:
        with contextlib.suppress(DockerError):
            engine.docker_cmd("image", "rm", "--force", tag)
    assert not engine.image_exists(cook_tag)
    engine.docker_cmd("load", "--input", str(tar))
    tar.unlink()  # about the size of the base image; pytest keeps the last runs' tmp dirs
    message = variant.edit_service_z()  # the other machine builds a newer commit
    # Control: without --cache-from this engine has nothing to reuse, so the cook step runs.
    control = engine.build(variant.context, target="cook", build_args=variant.build_args)
    variant.images |= image_ids(control)
    assert not step(control, COOK).cached, "the build cache survived `docker builder prune`"
    engine.docker_cmd("builder", "prune", "--all", "--force")
    result = variant.build("6b --cache-from", cache_from=(cook_tag,))
    assert f"importing cache manifest from {cook_tag}" in result.log
    assert step(result, DEPS_COOK).cached, result.log
    assert step(result, COOK).cached, result.log
    assert_only_service_z_compiles(result)
    assert message in engine.run(variant.tag)


def test_context_without_the_vendored_dir_fails_at_cook_with_the_chefpy_error(
    variant: Variant, tmp_path: Path
) -> None:
    broken = tmp_path / "no-vendored"
    copy_tree(variant.context, broken, preserve_mtimes=True, exclude=("target", "vendored"))
    with pytest.raises(DockerBuildFailed) as info:
        variant.engine.build(broken, build_args=variant.build_args)
    log = info.value.result.log
    failed = [s for s in info.value.result.steps() if any(line.startswith("ERROR") for line in s.lines)]
    assert [s.instruction for s in failed] == [DEPS_COOK], log
    lines = [line.split(" ", 1)[-1] for s in failed for line in s.lines]  # without the timestamps
    assert any(line.startswith("error: the vendored directory vendored/ ") for line in lines), log
    assert any(line.startswith("hint: ") for line in lines), log
    assert "exit code: 8" in log
    assert "error[" not in log, "a cargo error stack instead of cargo-chefpy's message"
    assert "failed to load source" not in log
