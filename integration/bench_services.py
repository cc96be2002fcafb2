"""`make bench`, part `services`: a cold build of every service image, three ways, with real cargo.

    python -m integration.bench --only services                      # 3 and 10 services
    python -m integration.bench --only services --service-counts 3   # the demo's 3 services only

For the bench workspace (integration/bench_workspace.py: serviceX, serviceY and serviceZ on ripgrep's
libraries, third-party crates vendored from Debian's registry) and for the same workspace with 7 more
services (EXTRA_SERVICES: each its own realistic subset of the same third-party crates and local libraries),
every service image is built from nothing, three ways:

- shared: the multi-service Dockerfile (`dockerfile -p A -p B ...`). The planner prepares the union
  (`--deps-recipe-path recipe.deps.json`) and one recipe per service; the deps stage cooks
  recipe.deps.json once per service (`cook --release -p S --recipe-path recipe.deps.json`) into ONE target
  directory; then per service, from a copy of that deps layer, its layer-2 cook and its final build;
- per-service: N single-service Dockerfiles (`dockerfile -p S`): each service's own planner, deps cook,
  layer-2 cook and build, in a target directory of its own;
- cargo-chef style: per service `prepare --stub-all`, `cook --release -p S` and a plain
  `cargo build --release -p S` (as bench_flow.ChefFlow with Approach.CARGO_CHEF).

Third-party compile work is what the issue's target is about: the number of third-party crate compilations
(cargo's `Compiling` lines for the crates whose Cargo.lock entry has a `source`) and the CPU seconds of the
cook stages (user + system of the command and all it ran). Each stage is timed as its command alone; the
`cp -a` of a layer and the `COPY . .` are not. Target: shared at most 1/N of per-service.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from integration.bench_flow import cargo, timed
from integration.bench_workspace import SERVICES, Service, write_workspace
from integration.support.flow import replace_tree
from integration.support.workspaces import copy_tree

APPROACHES: Final = ("shared", "per-service", "cargo-chef style")
COOK_STAGES: Final = frozenset({"deps", "cook"})
COUNTS: Final = (3, 10)
_COMPILING: Final = "Compiling "

_LIB_A: Final = '{ path = "../libA", package = "libA" }'
_LIB_B: Final = '{ path = "../libB", package = "libB" }'
_LIB_C: Final = '{ path = "../libC", package = "libC" }'
_SERDE: Final = '{ version = "1", features = ["derive"] }'

# Seven more services on the same libraries, each with its own subset of the third-party crates the first
# three use (same versions and features asked; cargo still unifies regex's features differently per
# service, as real services would).
_EXTRA_DEPS: Final[tuple[tuple[str, Mapping[str, str]], ...]] = (
    ("service04", {"globset": _LIB_A, "anyhow": '"1"', "log": '"0.4"'}),
    ("service05", {"serde": _SERDE, "serde_json": '"1"', "anyhow": '"1"', "log": '"0.4"'}),
    ("service06", {"ignore": _LIB_B, "once_cell": '"1"', "thiserror": '"1"'}),
    ("service07", {"grep-regex": _LIB_C, "grep-searcher": '"0.1"', "anyhow": '"1"'}),
    ("service08", {"libc": '"0.2"', "log": '"0.4"', "once_cell": '"1"', "thiserror": '"1"'}),
    ("service09", {"globset": _LIB_A, "ignore": _LIB_B, "serde": _SERDE, "serde_json": '"1"'}),
    ("service10", {"grep-regex": _LIB_C, "serde": _SERDE, "serde_json": '"1"', "thiserror": '"1"'}),
)


def _extra_main(name: str, deps: Mapping[str, str]) -> str:
    uses = [f"use {key.replace('-', '_')} as _;" for key in sorted(deps)]
    head = f"//! {name}: a service of the generated bench workspace.\n\n"
    return head + "\n".join(uses) + f'\n\nfn main() {{\n    println!("{name} says hello");\n}}\n'


EXTRA_SERVICES: Final[tuple[Service, ...]] = tuple(
    (name, deps, _extra_main(name, deps)) for name, deps in _EXTRA_DEPS
)


def services_for(count: int) -> tuple[Service, ...]:
    every = (*SERVICES, *EXTRA_SERVICES)
    if not 1 <= count <= len(every):
        raise ValueError(f"between 1 and {len(every)} services, not {count}")
    return every[:count]


@dataclass(frozen=True, slots=True, kw_only=True)
class StageRun:
    """One stage's command: what cargo compiled (every `Compiling` line, in order), how long it took."""

    service: str
    stage: str  # planner, deps, cook (layer 2) or build
    compiled: tuple[str, ...]
    third_party: int  # of those lines, third-party crates
    seconds: float  # wall
    cpu_seconds: float  # user + system, the command and everything it ran


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproachRun:
    approach: str
    stages: tuple[StageRun, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceRun:
    services: tuple[str, ...]
    third_party_in_lock: tuple[str, ...]  # the third-party packages of Cargo.lock (every platform)
    approaches: tuple[ApproachRun, ...]


def third_party(root: Path) -> frozenset[str]:
    """The crates whose Cargo.lock entry has a `source` (a registry: here, the vendored directory)."""
    lock = tomllib.loads((root / "Cargo.lock").read_text())
    return frozenset(p["name"] for p in lock["package"] if "source" in p)


def compiling_lines(stderr: str) -> tuple[str, ...]:
    """Every crate of cargo's `Compiling NAME vX` lines, duplicates kept (a crate compiled twice, e.g. once
    per feature set, counts twice)."""
    names = []
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith(_COMPILING):
            names.append(stripped[len(_COMPILING) :].split(" ", 1)[0])
    return tuple(names)


class _Runner:
    """The stages of one approach, each timed as its command alone."""

    def __init__(self, context: Path, tool: Sequence[str], external: frozenset[str]) -> None:
        self.context = context
        self.tool = list(tool)
        self.external = external
        self.stages: list[StageRun] = []

    def run(self, service: str, stage: str, command: list[str], cwd: Path, env: dict[str, str]) -> StageRun:
        proc, wall, cpu = timed(command, cwd, env)
        names = compiling_lines(proc.stderr)
        run = StageRun(
            service=service,
            stage=stage,
            compiled=names,
            third_party=sum(1 for n in names if n in self.external),
            seconds=round(wall, 3),
            cpu_seconds=round(cpu, 3),
        )
        self.stages.append(run)
        return run

    def planner(self, where: Path) -> Path:
        """A fresh checkout of the context (`COPY . .` in the planner stage); the workspace root in it."""
        shutil.rmtree(where, ignore_errors=True)
        copy_tree(self.context, where, preserve_mtimes=False, exclude=("target",))
        return where

    def fresh_workdir(self, app: Path, recipe: Path, as_name: str) -> None:
        """An empty WORKDIR with the recipe and the vendored directories it names (the deps stage's COPYs)."""
        shutil.rmtree(app, ignore_errors=True)
        app.mkdir(parents=True)
        shutil.copy(recipe, app / as_name)
        for vendored in json.loads(recipe.read_bytes())["vendored"]:
            copy_tree(self.context / vendored, app / vendored, preserve_mtimes=False)

    def copy_context(self, app: Path) -> None:
        """`COPY . .` of a fresh checkout over the cooked WORKDIR (target/ left out by .dockerignore)."""
        copy_tree(self.context, app, preserve_mtimes=False, exclude=("target",))


def _env(target: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR")}
    if target is not None:
        env["CARGO_TARGET_DIR"] = str(target)  # the Dockerfile's ENV CARGO_TARGET_DIR=/app-target
    return env


def run_shared(tmp: Path, r: _Runner, names: Sequence[str]) -> None:
    """`dockerfile -p A -p B ...`: one planner, one deps layer cooked once per service, then per service its
    layer-2 cook and final build from a copy of that layer."""
    planner = r.planner(tmp / "planner")
    env = _env(tmp / "app-target")
    union = [w for n in names for w in ("-p", n)]
    prepare = [*r.tool, "prepare", *union, "--recipe-path", "recipe.all.json"]
    r.run("", "planner", [*prepare, "--deps-recipe-path", "recipe.deps.json"], planner, env)
    for n in names:
        r.run(n, "planner", [*r.tool, "prepare", "-p", n, "--recipe-path", f"recipe.{n}.json"], planner, env)
    app, target = tmp / "app", tmp / "app-target"
    shutil.rmtree(target, ignore_errors=True)
    r.fresh_workdir(app, planner / "recipe.deps.json", "recipe.deps.json")
    for n in names:
        r.run(
            n, "deps", [*r.tool, "cook", "--release", "-p", n, "--recipe-path", "recipe.deps.json"], app, env
        )
    deps_app, deps_target = tmp / "deps-app", tmp / "deps-target"
    replace_tree(app, deps_app)
    replace_tree(target, deps_target)
    for n in names:  # FROM deps AS cook-n; FROM cook-n AS build-n
        replace_tree(deps_app, app)
        replace_tree(deps_target, target)
        shutil.copy(planner / f"recipe.{n}.json", app / "recipe.json")
        r.run(n, "cook", [*r.tool, "cook", "--release", "-p", n], app, env)
        r.copy_context(app)
        r.run(n, "build", [*r.tool, "build", "--release", "-p", n], app, env)


def run_per_service(tmp: Path, r: _Runner, names: Sequence[str]) -> None:
    """`dockerfile -p S` once per service: each its own planner, deps layer, layer 2 and build."""
    app, target = tmp / "app", tmp / "app-target"
    env = _env(target)
    for n in names:
        planner = r.planner(tmp / "planner")
        r.run(n, "planner", [*r.tool, "prepare", "-p", n, "--recipe-path", "recipe.json"], planner, env)
        shutil.rmtree(target, ignore_errors=True)
        r.fresh_workdir(app, planner / "recipe.deps.json", "recipe.deps.json")
        r.run(
            n, "deps", [*r.tool, "cook", "--release", "-p", n, "--recipe-path", "recipe.deps.json"], app, env
        )
        shutil.copy(planner / "recipe.json", app / "recipe.json")
        r.run(n, "cook", [*r.tool, "cook", "--release", "-p", n], app, env)
        r.copy_context(app)
        r.run(n, "build", [*r.tool, "build", "--release", "-p", n], app, env)


def run_cargo_chef(tmp: Path, r: _Runner, names: Sequence[str]) -> None:
    """cargo-chef's Dockerfile once per service: `prepare --stub-all`, cook, then a plain cargo build, with
    cargo's target/ in the WORKDIR (cargo-chef sets no CARGO_TARGET_DIR)."""
    app = tmp / "app"
    env = _env(None)
    for n in names:
        planner = r.planner(tmp / "planner")
        r.run(n, "planner", [*r.tool, "prepare", "--stub-all", "--recipe-path", "recipe.json"], planner, env)
        r.fresh_workdir(app, planner / "recipe.json", "recipe.json")
        r.run(n, "cook", [*r.tool, "cook", "--release", "-p", n], app, env)
        r.copy_context(app)
        r.run(n, "build", [cargo(), "build", "--release", "-p", n, "--offline"], app, env)


_FLOWS: Final[Mapping[str, Callable[[Path, _Runner, Sequence[str]], None]]] = {
    "shared": run_shared,
    "per-service": run_per_service,
    "cargo-chef style": run_cargo_chef,
}


def run_workspace(tmp: Path, context: Path, tool: Sequence[str], say: Callable[[str], None]) -> WorkspaceRun:
    """Every approach's cold build of every binary member of the workspace at `context`."""
    names = tuple(sorted(p.name for p in (context / "src").iterdir() if p.name.startswith("service")))
    external = third_party(context)
    approaches = []
    for approach in APPROACHES:
        work = tmp / approach.replace(" ", "-")
        runner = _Runner(context, tool, external)
        say(f"services ({len(names)}): {approach}, a cold build of every image")
        _FLOWS[approach](work, runner, names)
        shutil.rmtree(work, ignore_errors=True)  # a few GiB of target directories
        result = ApproachRun(approach=approach, stages=tuple(runner.stages))
        totals = summary_of({"stages": [_stage(s) for s in result.stages]}, external)
        say(
            f"  {totals['third_party']} third-party compilations, cook stages "
            f"{totals['cook_cpu_seconds']:.0f} CPU s; all stages {totals['seconds']:.0f} s wall"
        )
        approaches.append(result)
    return WorkspaceRun(
        services=names, third_party_in_lock=tuple(sorted(external)), approaches=tuple(approaches)
    )


def run_services(
    tmp: Path,
    bench_context: Path,
    counts: Sequence[int],
    tool: Sequence[str],
    say: Callable[[str], None],
    *,
    mtime: float,
) -> list[WorkspaceRun]:
    """The bench workspace itself for 3 services; a workspace generated with more services otherwise."""
    runs = []
    for count in counts:
        if count == len(SERVICES):
            context = bench_context
        else:
            context = tmp / f"ws-{count}" / "ws"
            say(f"writing a bench workspace with {count} services at {context}")
            write_workspace(context, mtime=mtime, services=services_for(count))
        runs.append(run_workspace(tmp / f"run-{count}", context, tool, say))
    return runs


def _stage(s: StageRun) -> dict[str, Any]:
    return {
        "service": s.service,
        "stage": s.stage,
        "compiled": list(s.compiled),
        "third_party": s.third_party,
        "seconds": s.seconds,
        "cpu_seconds": s.cpu_seconds,
    }


# ----------------------------------------------------------------------------------------------------
# Figures from the JSON (what bench_report renders)
# ----------------------------------------------------------------------------------------------------


def summary_of(approach: Mapping[str, Any], external: Collection[str]) -> dict[str, Any]:
    """Totals of one approach's stages (a JSON dict); `external`: the third-party crate names."""
    stages = approach["stages"]
    cook = [s for s in stages if s["stage"] in COOK_STAGES]
    third = Counter(n for s in stages for n in s["compiled"] if n in external)
    return {
        "third_party": sum(s["third_party"] for s in stages),
        "third_party_outside_cook": sum(s["third_party"] for s in stages if s["stage"] not in COOK_STAGES),
        "cook_cpu_seconds": round(sum(s["cpu_seconds"] for s in cook), 1),
        "cook_seconds": round(sum(s["seconds"] for s in cook), 1),
        "cpu_seconds": round(sum(s["cpu_seconds"] for s in stages), 1),
        "seconds": round(sum(s["seconds"] for s in stages), 1),
        "compiled_by_name": dict(sorted(third.items())),
    }


def verdict(workspace: Mapping[str, Any]) -> dict[str, Any]:
    """Shared against per-service for one workspace: the ratios, the target 1/N, and the best ratio these
    services' subsets allow (each third-party crate compiled exactly once)."""
    n = len(workspace["services"])
    external = frozenset(workspace["third_party_in_lock"])
    by = {a["approach"]: summary_of(a, external) for a in workspace["approaches"]}
    shared, alone = by["shared"], by["per-service"]
    compilations = shared["third_party"] / alone["third_party"] if alone["third_party"] else 0.0
    cpu = shared["cook_cpu_seconds"] / alone["cook_cpu_seconds"] if alone["cook_cpu_seconds"] else 0.0
    # The third-party crates compiled at all, by name (each once at best), against per-service's count.
    distinct = len(alone["compiled_by_name"])
    floor = distinct / alone["third_party"] if alone["third_party"] else 0.0
    return {
        "services": n,
        "target": 1 / n,
        "compilation_ratio": round(compilations, 3),
        "cpu_ratio": round(cpu, 3),
        "floor_ratio": round(floor, 3),
        "distinct_third_party": distinct,
        "compilations_met": compilations <= 1 / n,
        "cpu_met": cpu <= 1 / n,
        "approaches": by,
    }
