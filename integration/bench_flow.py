"""The four approaches of the benchmark, each as one Dockerfile's worth of stages at its own fixed WORKDIR.

Every approach offers the same three steps, like integration/support/flow.py's DockerFlow (which two of
them extend):

1. `plan(context)`: the planner stage; returns the key of the dependency layer (what Docker's cache compares);
2. `cook(key)`: builds the dependency layer, or reuses a layer built earlier with the same key (a Docker cache
   hit keeps the old layer, old mtimes included). Unlike DockerFlow, every layer ever built is kept, so that
   scenario after scenario the base layer stays in the cache, as it does in Docker's;
3. `run_final(preserve_mtimes)`: restores the layer, `COPY . .` of the context (mtimes kept, or all new as
   in a CI checkout), and the final build; the result has its wall time, CPU time and the crates compiled.

How stages are timed (every flow, the cook stages as the final stage): a stage's seconds are the wall time
of its RUN commands alone, the `cargo chefpy cook` / `cargo build` / `cargo chefpy build` runs (summed when
a stage, or two stacked cook layers, run several). What the simulation does around them is left out: the
`cp -a` that restores a layer as the WORKDIR or snapshots it afterwards, and the copies that stand in for
`COPY` of the recipe, the vendored sources or the context. Docker restores a `FROM` layer by overlay, not by
copying the target dir, so timing those copies would charge an approach for every layer it rebuilds a cost
Docker does not spend.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final, Protocol

from integration.support.flow import DockerFlow, ok, replace_tree
from integration.support.workspaces import copy_tree

TARGET: Final = "serviceZ"
CARGO_BUILD: Final = ("--release", "-p", TARGET)
_COMPILING_PREFIX: Final = "Compiling "


class Approach(Enum):
    NO_CACHE = "no cache"
    CARGO_CHEF = "cargo-chef style"
    CARGO_NEW = "hand-made cargo new"
    CHEFPY = "chefpy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """One final stage: what cargo compiled, how long the build command took, and the binary's output."""

    compiled: frozenset[str]
    seconds: float  # wall time of the build command alone (not the snapshot restore or the COPY)
    cpu_seconds: float  # user + system time of the build command and everything it ran
    output: str  # what serviceZ printed when run


def compiled_crates(stderr: str) -> frozenset[str]:
    names = set()
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith(_COMPILING_PREFIX):
            names.add(stripped[len(_COMPILING_PREFIX) :].split(" ", 1)[0])
    return frozenset(names)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `command`; (process, wall seconds, CPU seconds of it and its descendants). Fails loudly."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    return ok(proc), wall, _children_cpu() - cpu


def cargo() -> str:
    return os.environ.get("CARGO") or shutil.which("cargo") or "cargo"


def run_service(workspace: Path) -> str:
    """Run the final stage's serviceZ on a small directory of its own sources."""
    binary = workspace / "target" / "release" / TARGET
    proc = subprocess.run(
        [str(binary), str(workspace / "src" / TARGET), "fn main"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout.strip()


def final_stage(
    workdir: Path, context: Path, layer: Path | None, command: list[str], *, preserve_mtimes: bool
) -> Stage:
    """One final stage: the cooked `layer` restored as the WORKDIR (an empty one without a layer), the context
    copied over it (`COPY . .`), then `command` timed, and serviceZ run."""
    if layer is None:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        replace_tree(layer, workdir)
    copy_tree(context, workdir, preserve_mtimes=preserve_mtimes, exclude=("target",))
    proc, wall, cpu = timed(command, workdir)
    return Stage(
        compiled=compiled_crates(proc.stderr), seconds=wall, cpu_seconds=cpu, output=run_service(workdir)
    )


COOK_TIMING: Final = "commands"  # results.json's `cook_timing`: cook stages timed as their commands alone


class Flow(Protocol):
    approach: Approach
    cook_seconds: float | None  # the last cook that built a layer: wall time of its commands alone

    def plan(self, context: Path) -> bytes: ...

    def cook(self, key: bytes) -> bool | None: ...

    def run_final(self, *, preserve_mtimes: bool) -> Stage: ...


class ChefFlow(DockerFlow):
    """cargo-chefpy's prepare and cook; the final build is `cargo chefpy build` (chefpy) or, for the
    cargo-chef style, plain `cargo build` as in cargo-chef's Dockerfile (no mtime settling: cargo-chef has
    none).

    The stages are DockerFlow's, but every tool run goes through `tool` (the argv that starts the tool):
    the bench runs a copy of the tool frozen when the run started, not the live checkout."""

    def __init__(self, tmp: Path, context: Path, approach: Approach, tool: Sequence[str]) -> None:
        prepare = ["--stub-all"] if approach is Approach.CARGO_CHEF else ["-p", TARGET]
        super().__init__(
            tmp, context, prepare_args=prepare, cook_args=list(CARGO_BUILD), build_args=list(CARGO_BUILD)
        )
        self.approach = approach
        self.tool = list(tool)
        self.cook_seconds: float | None = None
        tmp.mkdir(parents=True, exist_ok=True)

    def plan(self, context: Path) -> bytes:
        self.context = context
        return self.prepare()

    def prepare(self) -> bytes:
        planner = self.tmp / "planner"
        shutil.rmtree(planner, ignore_errors=True)
        self._copy_context(planner, preserve_mtimes=False)
        recipe = self.tmp / "recipe.json"
        timed(
            [*self.tool, "prepare", "--recipe-path", str(recipe), *self.prepare_args],
            planner / self.context.name,
        )
        return recipe.read_bytes()

    def cook(self, recipe: bytes) -> bool:
        self.snapshot = self.tmp / f"layer-{hashlib.sha256(recipe).hexdigest()[:16]}"
        if self.snapshot.is_dir():
            self.cooked_recipe = recipe
            return True
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        (self.workdir / "recipe.json").write_bytes(recipe)
        for vendored in json.loads(recipe)["vendored"]:
            source = self.context.parent / self._context_relative(recipe, vendored)
            copy_tree(source, self.workdir / vendored, preserve_mtimes=False)
        proc, wall, _ = timed([*self.tool, "cook", *self.cook_args], self.workdir)
        self.cook_compiled = {"local": compiled_crates(proc.stderr)}
        replace_tree(self.workdir, self.snapshot)
        self.cooked_recipe = recipe
        self.cooks += 1
        self.cook_seconds = wall  # the cook command alone (see the module's docstring)
        return False

    def recook(self) -> float:
        """The last cook again, on the same base: one more sample of the layer it built."""
        assert self.cooked_recipe is not None
        shutil.rmtree(self.snapshot)
        self.cook(self.cooked_recipe)
        return float(self.cook_seconds or 0.0)

    def run_final(self, *, preserve_mtimes: bool) -> Stage:
        if self.approach is Approach.CHEFPY:
            command = [*self.tool, "build", *CARGO_BUILD]
        else:
            command = [cargo(), "build", *CARGO_BUILD, "--offline"]
        return final_stage(
            self.workdir, self.context, self.snapshot, command, preserve_mtimes=preserve_mtimes
        )


class CargoNewFlow:
    """The hand-made approach: COPY everything but serviceZ's sources, put a `cargo new` main.rs in their
    place (serviceZ's real Cargo.toml stays, so its dependencies are the real ones), build serviceZ, and
    delete its binary so that the real one is rebuilt (`rm target/release/deps/serviceZ*`, the usual guard
    against a stale dummy binary); the final stage copies the real workspace over and builds again."""

    approach = Approach.CARGO_NEW
    CARGO_NEW_MAIN: Final = 'fn main() {\n    println!("Hello, world!");\n}\n'

    def __init__(self, tmp: Path, context: Path) -> None:
        self.tmp = tmp
        self.context = context
        self.workdir = tmp / "app"
        self.snapshot = tmp / "layer-none"
        self.cook_seconds: float | None = None
        self.cook_compiled: dict[str, frozenset[str]] = {}
        tmp.mkdir(parents=True, exist_ok=True)

    def _stubbed(self, rel: Path) -> bool:
        return rel.parts[:3] == ("src", TARGET, "src")

    def plan(self, context: Path) -> bytes:
        """Docker's key for the cook stage's COPY: the content (not the mtimes) of every file it copies."""
        self.context = context
        digest = hashlib.sha256()
        for directory, dirnames, filenames in os.walk(context):
            rel_dir = Path(directory).relative_to(context)
            dirnames[:] = sorted(d for d in dirnames if d != "target" and not self._stubbed(rel_dir / d))
            for name in sorted(filenames):
                path = Path(directory, name)
                digest.update(f"{(rel_dir / name).as_posix()}\0{os.access(path, os.X_OK)}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest().encode()

    def cook(self, key: bytes) -> bool:
        self.snapshot = self.tmp / f"layer-{key.decode()[:16]}"
        if self.snapshot.is_dir():
            return True
        shutil.rmtree(self.workdir, ignore_errors=True)
        copy_tree(self.context, self.workdir, preserve_mtimes=False, exclude=("target",))
        sources = self.workdir / "src" / TARGET / "src"
        shutil.rmtree(sources)
        sources.mkdir()
        (sources / "main.rs").write_text(self.CARGO_NEW_MAIN)
        proc, wall, _ = timed([cargo(), "build", *CARGO_BUILD, "--offline"], self.workdir)
        self.cook_compiled = {"local": compiled_crates(proc.stderr)}
        start = time.perf_counter()  # the same RUN removes the dummy's outputs
        for stale in (self.workdir / "target" / "release" / "deps").glob(f"{TARGET}-*"):
            stale.unlink()
        self.cook_seconds = wall + time.perf_counter() - start  # the RUN's commands alone
        replace_tree(self.workdir, self.snapshot)
        return False

    def run_final(self, *, preserve_mtimes: bool) -> Stage:
        command = [cargo(), "build", *CARGO_BUILD, "--offline"]
        return final_stage(
            self.workdir, self.context, self.snapshot, command, preserve_mtimes=preserve_mtimes
        )


class NoCacheFlow:
    """No dependency layer: `COPY . .` into an empty WORKDIR, then `cargo build`."""

    approach = Approach.NO_CACHE

    def __init__(self, tmp: Path, context: Path) -> None:
        self.tmp = tmp
        self.context = context
        self.workdir = tmp / "app"
        self.cook_seconds: float | None = None
        tmp.mkdir(parents=True, exist_ok=True)

    def plan(self, context: Path) -> bytes:
        self.context = context
        return b""

    def cook(self, key: bytes) -> None:
        return None

    def run_final(self, *, preserve_mtimes: bool) -> Stage:
        command = [cargo(), "build", *CARGO_BUILD, "--offline"]
        return final_stage(self.workdir, self.context, None, command, preserve_mtimes=preserve_mtimes)


def make_flow(approach: Approach, tmp: Path, context: Path, tool: Sequence[str]) -> Flow:
    if approach is Approach.NO_CACHE:
        return NoCacheFlow(tmp, context)
    if approach is Approach.CARGO_NEW:
        return CargoNewFlow(tmp, context)
    return ChefFlow(tmp, context, approach, tool)


class LowerBound:
    """serviceZ alone, recompiled in a warm target dir: an edit to its main.rs, then the same cargo build."""

    def __init__(self, tmp: Path, context: Path) -> None:
        self.workdir = tmp / "app"
        shutil.rmtree(self.workdir, ignore_errors=True)
        copy_tree(context, self.workdir, preserve_mtimes=True, exclude=("target",))
        timed([cargo(), "build", *CARGO_BUILD, "--offline"], self.workdir)
        self.edits = 0

    def sample(self) -> Stage:
        main_rs = self.workdir / "src" / TARGET / "src" / "main.rs"
        self.edits += 1
        with main_rs.open("a") as handle:
            handle.write(f"// lower-bound edit {self.edits}\n")
        proc, wall, cpu = timed([cargo(), "build", *CARGO_BUILD, "--offline"], self.workdir)
        return Stage(
            compiled=compiled_crates(proc.stderr),
            seconds=wall,
            cpu_seconds=cpu,
            output=run_service(self.workdir),
        )
