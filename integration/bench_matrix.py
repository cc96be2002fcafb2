"""Scenario x approach x mtime mode: the final stage after one modification of the bench workspace.

For each scenario a fresh copy of the base context gets one modification; each approach then plans, cooks
(or reuses its cooked layer) and runs its final stage `runs` times in each mtime mode. The runs are
interleaved (run 1 of every approach and mode, then run 2, ...) with a lower-bound sample in each round, so
that load on the machine hits every approach alike.
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from integration.bench_flow import TARGET, Approach, Flow, LowerBound, Stage, make_flow
from integration.bench_workspace import (
    MEMBER_VERSION,
    PATCHED_DIR,
    SERVICE_Y_GREETING,
    SERVICE_Z_GREETING,
    append_text,
    replace_once,
)
from integration.bench_workspace import relock as _relock

MODES: Final = (("preserved", True), ("ci", False))


def _add_dependency(root: Path, member: str, line: str) -> None:
    append_text(root / "src" / member / "Cargo.toml", line + "\n")
    _relock(root)


def _bump_version(root: Path, member: str, version: str) -> None:
    replace_once(
        root / "src" / member / "Cargo.toml", f'version = "{MEMBER_VERSION}"', f'version = "{version}"'
    )
    _relock(root)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    key: str
    title: str
    apply: Callable[[Path], None]
    expect: tuple[str, ...] = ()  # what serviceZ must print afterwards (beyond the defaults)


EDITED_GREETING: Final = "serviceZ says hello, edited"
BUMPED_VERSION: Final = "0.2.1"

SCENARIOS: Final = (
    Scenario(
        key="edit-serviceZ",
        title="edit serviceZ",
        apply=lambda r: replace_once(r / "src/serviceZ/src/main.rs", SERVICE_Z_GREETING, EDITED_GREETING),
        expect=(EDITED_GREETING,),
    ),
    Scenario(
        key="edit-libA",
        title="edit libA",
        apply=lambda r: append_text(
            r / "src/libA/src/lib.rs", "\n/// Added by the benchmark.\npub const BENCH_EDIT: u32 = 1;\n"
        ),
    ),
    Scenario(
        key="edit-serviceY",
        title="edit serviceY's source",
        apply=lambda r: replace_once(r / "src/serviceY/src/main.rs", SERVICE_Y_GREETING, "serviceY says hi"),
    ),
    Scenario(
        key="dep-serviceY",
        title="add a dependency to serviceY",
        apply=lambda r: _add_dependency(r, "serviceY", 'anyhow = "1"'),
    ),
    Scenario(
        key="bump-serviceZ",
        title="bump serviceZ's version",
        apply=lambda r: _bump_version(r, TARGET, BUMPED_VERSION),
        expect=(f'"version":"{BUMPED_VERSION}"',),
    ),
    Scenario(
        key="dep-serviceZ",
        title="add a dependency to serviceZ",
        apply=lambda r: _add_dependency(r, "serviceZ", 'once_cell = "1"'),
    ),
    Scenario(
        key="edit-patch",
        title="edit the [patch] crate",
        apply=lambda r: append_text(
            r / PATCHED_DIR / "src/lib.rs", "\n/// Added by the benchmark.\npub const BENCH_EDIT: u32 = 1;\n"
        ),
    ),
    Scenario(key="no-change", title="no change", apply=lambda r: None),
)


@dataclass(slots=True, kw_only=True)
class Cell:
    """One approach in one scenario and one mtime mode."""

    approach: str
    scenario: str
    mode: str
    reused: bool | None  # None: the approach has no dependency layer
    cook_seconds: float | None  # when the layer had to be built for this scenario
    compiled: list[str] = field(default_factory=list)  # crates compiled in the first run
    compiled_counts: list[int] = field(default_factory=list)  # per run (they should all agree)
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    correct: bool = True  # the binary printed what the scenario's sources say
    output: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds)


@dataclass(slots=True, kw_only=True)
class MatrixResult:
    cells: list[Cell]
    lower_bound: list[float]
    lower_bound_cpu: list[float]
    lower_bound_compiled: list[str]
    no_cache_scenarios: list[str]  # where the no-cache approach was measured


def expected_output(scenario: Scenario) -> tuple[str, ...]:
    defaults = [] if EDITED_GREETING in scenario.expect else [f'"greeting":"{SERVICE_Z_GREETING}"']
    if not any('"version"' in e for e in scenario.expect):
        defaults.append(f'"version":"{MEMBER_VERSION}"')
    return (*defaults, *scenario.expect)


def run_matrix(
    work: Path,
    base_context: Path,
    *,
    runs: int,
    runs_for: Mapping[str, int] | None = None,
    approaches: Sequence[Approach],
    tool: Sequence[str],
    scenarios: Sequence[Scenario] = SCENARIOS,
    no_cache_scenarios: Sequence[str] = ("edit-serviceZ",),
    say: Callable[[str], None],
) -> MatrixResult:
    """Measure every approach in every scenario and mode, `runs` times (`runs_for`: scenario key -> runs,
    where a scenario needs more).

    The no-cache approach builds into an empty target dir, which neither the scenario nor the mtime mode
    changes, so it runs only in `no_cache_scenarios`, in one mode."""
    flows: dict[Approach, Flow] = {
        a: make_flow(a, work / "flows" / a.name.lower(), base_context, tool) for a in approaches
    }
    say("warming the lower bound's target dir (a full build of serviceZ)")
    lower = LowerBound(work / "lower-bound", base_context)
    lower_samples: list[Stage] = []
    for approach, flow in flows.items():
        if approach is not Approach.NO_CACHE:
            say(f"{approach.value}: cooking the base workspace's layer")
            flow.cook(flow.plan(base_context))
    cells: list[Cell] = []
    for scenario in scenarios:
        context = work / "contexts" / scenario.key / base_context.name
        shutil.rmtree(context.parent, ignore_errors=True)
        shutil.copytree(base_context, context, symlinks=True)  # copy2: the checkout's old mtimes stay
        scenario.apply(context)
        expect = expected_output(scenario)
        active: list[tuple[Flow, Cell, bool]] = []
        for approach, flow in flows.items():
            if approach is Approach.NO_CACHE and scenario.key not in no_cache_scenarios:
                continue
            reused = flow.cook(flow.plan(context))
            cook = None if reused in (True, None) else flow.cook_seconds
            state = "reused" if reused else ("no layer" if reused is None else f"rebuilt in {cook:.1f} s")
            say(f"{scenario.key}: {approach.value}: dependency layer {state}")
            modes = MODES[:1] if approach is Approach.NO_CACHE else MODES
            for mode, preserve in modes:
                cell = Cell(
                    approach=approach.value,
                    scenario=scenario.key,
                    mode=mode,
                    reused=reused,
                    cook_seconds=cook,
                )
                cells.append(cell)
                active.append((flow, cell, preserve))
        scenario_runs = (runs_for or {}).get(scenario.key, runs)
        for run in range(scenario_runs):
            for flow, cell, preserve in active:
                stage = flow.run_final(preserve_mtimes=preserve)
                cell.seconds.append(stage.seconds)
                cell.cpu_seconds.append(stage.cpu_seconds)
                cell.compiled_counts.append(len(stage.compiled))
                if run == 0:
                    cell.compiled = sorted(stage.compiled)
                    cell.output = stage.output
                cell.correct = cell.correct and all(e in stage.output for e in expect)
            lower_samples.append(lower.sample())
            say(
                f"{scenario.key}: run {run + 1}/{scenario_runs}: "
                + ", ".join(f"{c.approach}/{c.mode} {c.seconds[-1]:.1f} s" for _, c, _ in active)
                + f", lower bound {lower_samples[-1].seconds:.2f} s"
            )
    bad = [s for s in lower_samples if s.compiled != {TARGET}]
    if bad:
        raise AssertionError(f"a lower-bound sample compiled {sorted(bad[0].compiled)}, not only {TARGET}")
    return MatrixResult(
        cells=cells,
        lower_bound=[s.seconds for s in lower_samples],
        lower_bound_cpu=[s.cpu_seconds for s in lower_samples],
        lower_bound_compiled=sorted(lower_samples[0].compiled) if lower_samples else [],
        no_cache_scenarios=list(no_cache_scenarios),
    )
