"""A day of edits: one fixed sequence of edits to the bench workspace, applied one after the other, each
built by every approach in both mtime modes, as a team's CI would build them through the day.

An edit's cost for an approach is what its Docker build would spend: the cook stages it could not reuse
(layer 1 and/or layer 2 for stacked chefpy, the one dependency layer for the others) plus its final stage.
Each edit is built once per approach and mode (the cooks are shared by both modes, as a Docker cache on
two machines would build them twice; each mode is charged the cook). No cache builds everything each time,
whatever the mtimes and whatever the edit, so it is measured once per kind of edit, in one mode, and that
figure is charged to every edit of the kind in both modes (`measured=False` on the rows that reuse it): on
a loaded 2-core machine a no-cache build per edit would more than double the scenario's time.

Stages are timed as their RUN commands alone, the cook stages as the final stage: a cook's seconds are the
wall time of its `cook` (or `cargo build`) command, layer 1's and layer 2's summed for stacked chefpy; the
`cp -a` copies that restore and snapshot layers in this simulation are not counted (Docker restores a `FROM`
layer by overlay). bench_flow's docstring says it in full.

Approaches: stacked chefpy (two cooked layers), single-layer chefpy, cargo-chef style (`--stub-all`, plain
`cargo build`), hand-made `cargo new`, no cache. A lower-bound sample (serviceZ alone, recompiled in a warm
target dir) is taken at each serviceZ edit.

A library edit's target is a ratio of two rows of a few seconds each (stacked chefpy against the cargo-chef
style), and one final stage slowed by the machine moves it by 10%. So those two approaches measure each
library edit LIBRARY_SAMPLES times, and the row holds the medians: the cook stages the edit rebuilt run again
from the layer beneath them (`recook`), and the final stage runs again on the same cooked layer. Every
sample is kept in the row. Every other row is one sample.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from integration.bench_flow import (
    Approach,
    CargoNewFlow,
    ChefFlow,
    Flow,
    LowerBound,
    NoCacheFlow,
    compiled_crates,
    timed,
)
from integration.bench_workspace import SERVICE_Z_GREETING, append_text, replace_once
from integration.bench_workspace import relock as _relock
from integration.support.flow import replace_tree
from integration.support.workspaces import copy_tree

MODES: Final = (("preserved", True), ("ci", False))
LIBRARY_KINDS: Final = ("libB", "libA-description")
LIBRARY_SAMPLES: Final = 3
STACKED: Final = "stacked chefpy"
SINGLE: Final = "single-layer chefpy"
APPROACHES: Final = (
    STACKED,
    SINGLE,
    Approach.CARGO_CHEF.value,
    Approach.CARGO_NEW.value,
    Approach.NO_CACHE.value,
)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class StackedFlow(ChefFlow):
    """Two cook stages as the generated Dockerfile has: layer 1 (recipe.deps.json) FROM chef, layer 2
    (recipe.json) FROM layer 1. Every layer ever built is kept, keyed by its recipes, as Docker's cache."""

    def __init__(self, tmp: Path, context: Path, tool: Sequence[str]) -> None:
        super().__init__(tmp, context, Approach.CHEFPY, tool)
        self.deps_bytes = b""
        self.cook_compiled: dict[str, frozenset[str]] = {}

    def recook(self) -> float:
        """The last cook again, from the layers beneath it: layer 2 alone when layer 1 was reused."""
        assert self.cooked_recipe is not None
        shutil.rmtree(self.snapshot)
        if "deps" in self.cook_compiled:
            shutil.rmtree(self.tmp / f"deps-{_digest(self.deps_bytes)}")
        self.cook(self.cooked_recipe)
        return float(self.cook_seconds or 0.0)

    def prepare(self) -> bytes:
        recipe = super().prepare()
        self.deps_bytes = (self.tmp / "recipe.deps.json").read_bytes()
        return recipe

    def cook(self, recipe: bytes) -> bool:
        deps_snapshot = self.tmp / f"deps-{_digest(self.deps_bytes)}"
        self.snapshot = self.tmp / f"layer-{_digest(self.deps_bytes)}-{_digest(recipe)}"
        self.cook_compiled = {}
        if self.snapshot.is_dir():
            self.cooked_recipe = recipe
            return True
        seconds = 0.0  # the two cook commands alone, as every stage is timed (bench_flow's docstring)
        if not deps_snapshot.is_dir():
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir.mkdir(parents=True)
            (self.workdir / "recipe.deps.json").write_bytes(self.deps_bytes)
            for vendored in json.loads(self.deps_bytes)["vendored"]:
                source = self.context.parent / self._context_relative(self.deps_bytes, vendored)
                copy_tree(source, self.workdir / vendored, preserve_mtimes=False)
            args = ["cook", *self.cook_args, "--recipe-path", "recipe.deps.json"]
            proc, wall, _ = timed([*self.tool, *args], self.workdir)
            seconds += wall
            self.cook_compiled["deps"] = compiled_crates(proc.stderr)
            replace_tree(self.workdir, deps_snapshot)
        replace_tree(deps_snapshot, self.workdir)
        (self.workdir / "recipe.json").write_bytes(recipe)
        proc, wall, _ = timed([*self.tool, "cook", *self.cook_args], self.workdir)
        seconds += wall
        self.cook_compiled["local"] = compiled_crates(proc.stderr)
        replace_tree(self.workdir, self.snapshot)
        self.cooked_recipe = recipe
        self.cooks += 1
        self.cook_seconds = seconds
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    key: str  # "serviceZ", "libB", "libA-description", "third-party"
    title: str
    apply: Callable[[Path], None]
    expect: str | None = None  # what serviceZ must print afterwards


def _service_edit(n: int) -> Edit:
    before = SERVICE_Z_GREETING if n == 1 else f"{SERVICE_Z_GREETING}, edit {n - 1}"
    after = f"{SERVICE_Z_GREETING}, edit {n}"
    return Edit(
        key="serviceZ",
        title=f"serviceZ edit {n}",
        apply=lambda r: replace_once(r / "src/serviceZ/src/main.rs", f'"{before}"', f'"{after}"'),
        expect=after,
    )


def _lib_b_edit(n: int) -> Edit:
    return Edit(
        key="libB",
        title=f"libB edit {n}",
        apply=lambda r: append_text(
            r / "src/libB/src/lib.rs", f"\n/// Day of edits.\npub const DAY_EDIT_{n}: u32 = {n};\n"
        ),
    )


def _lib_a_description(root: Path) -> None:
    manifest = root / "src/libA/Cargo.toml"
    lines = manifest.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("description = "))
    lines[at] = 'description = "libA, described anew during the day of edits"\n'
    manifest.write_text("".join(lines))


def _third_party(root: Path) -> None:
    """Stands in for a version bump (Debian's registry holds one version of each crate): a new
    third-party dependency of serviceZ, which changes the lock and serviceZ's dependency table."""
    append_text(root / "src/serviceZ/Cargo.toml", 'once_cell = "1"\n')
    _relock(root)


def day_sequence() -> list[Edit]:
    """10 serviceZ edits, 3 libB edits, 1 libA description change, 1 third-party change, interleaved."""
    z = iter(_service_edit(n) for n in range(1, 11))
    b = iter(_lib_b_edit(n) for n in range(1, 4))
    order = "ZZBZZAZZBZTZBZZ"
    edits: list[Edit] = []
    for kind in order:
        if kind == "Z":
            edits.append(next(z))
        elif kind == "B":
            edits.append(next(b))
        elif kind == "A":
            edits.append(Edit(key="libA-description", title="libA description", apply=_lib_a_description))
        else:
            edits.append(Edit(key="third-party", title="third-party change", apply=_third_party))
    return edits


@dataclass(slots=True, kw_only=True)
class Row:
    """One edit, one approach, one mode."""

    edit: str
    kind: str
    approach: str
    mode: str
    cook_seconds: float  # the cook stages it had to run (0 when every layer was reused)
    final_seconds: float
    compiled: list[str] = field(default_factory=list)  # in the final stage
    cook_compiled: dict[str, list[str]] = field(default_factory=dict)  # per cook layer: deps, local
    correct: bool = True
    measured: bool = True  # False: a no-cache figure measured at an earlier edit of the same kind
    # Every sample when there are several (a library edit, LIBRARY_SAMPLES): the seconds above are medians.
    cook_samples: list[float] = field(default_factory=list)
    final_samples: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.cook_seconds + self.final_seconds


@dataclass(slots=True, kw_only=True)
class DayResult:
    rows: list[Row]
    lower_bound: list[float]
    totals: dict[str, dict[str, float]]  # approach -> mode -> seconds


def run_day(work: Path, base_context: Path, *, tool: Sequence[str], say: Callable[[str], None]) -> DayResult:
    context = work / "context" / base_context.name
    shutil.rmtree(context.parent, ignore_errors=True)
    shutil.copytree(base_context, context, symlinks=True)
    flows: dict[str, Flow] = {
        STACKED: StackedFlow(work / "stacked", context, tool),
        SINGLE: ChefFlow(work / "single", context, Approach.CHEFPY, tool),
        Approach.CARGO_CHEF.value: ChefFlow(work / "cargo-chef", context, Approach.CARGO_CHEF, tool),
        Approach.CARGO_NEW.value: CargoNewFlow(work / "cargo-new", context),
        Approach.NO_CACHE.value: NoCacheFlow(work / "no-cache", context),
    }
    say("day: warming the lower bound's target dir")
    lower = LowerBound(work / "lower-bound", context)
    for name, flow in flows.items():
        if name != Approach.NO_CACHE.value:
            say(f"day: {name}: cooking the morning's layers")
            flow.cook(flow.plan(context))
    rows: list[Row] = []
    samples: list[float] = []
    no_cache_by_kind: dict[str, Row] = {}
    for i, edit in enumerate(day_sequence(), 1):
        edit.apply(context)
        for name, flow in flows.items():
            if name == Approach.NO_CACHE.value and edit.key in no_cache_by_kind:
                earlier = no_cache_by_kind[edit.key]
                for mode, _ in MODES:
                    rows.append(
                        Row(**{**_fields(earlier), "edit": edit.title, "mode": mode, "measured": False})
                    )
                continue
            reused = flow.cook(flow.plan(context))
            cook = 0.0 if reused in (True, None) else float(flow.cook_seconds or 0.0)
            cooked = getattr(flow, "cook_compiled", {}) if not reused else {}
            modes = MODES[:1] if name == Approach.NO_CACHE.value else MODES
            resampled = edit.key in LIBRARY_KINDS and name in (STACKED, Approach.CARGO_CHEF.value)
            for mode, preserve in modes:
                stage = flow.run_final(preserve_mtimes=preserve)
                row = Row(
                    edit=edit.title,
                    kind=edit.key,
                    approach=name,
                    mode=mode,
                    cook_seconds=cook,
                    final_seconds=stage.seconds,
                    compiled=sorted(stage.compiled),
                    cook_compiled={k: sorted(v) for k, v in cooked.items()},
                    correct=edit.expect is None or edit.expect in stage.output,
                )
                rows.append(row)
            if resampled:
                _resample(flow, rows[-len(modes) :], rebuilt=not reused)
            if name == Approach.NO_CACHE.value:  # mtimes do not matter without a cache: charged to both
                no_cache_by_kind[edit.key] = rows[-1]
                rows.append(Row(**{**_fields(rows[-1]), "mode": "ci"}))
        if edit.key == "serviceZ":
            samples.append(lower.sample().seconds)
        say(
            f"day {i:2d}/15 {edit.title:<20} "
            + ", ".join(
                f"{r.approach}/{r.mode} {r.seconds:.1f}s"
                for r in rows
                if r.edit == edit.title and r.mode == "ci"
            )
        )
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        totals.setdefault(row.approach, {}).setdefault(row.mode, 0.0)
        totals[row.approach][row.mode] += row.seconds
    return DayResult(rows=rows, lower_bound=samples, totals=totals)


def _resample(flow: Flow, rows: Sequence[Row], *, rebuilt: bool) -> None:
    """LIBRARY_SAMPLES samples of one edit's rows (one per mode): its cook again from the layer beneath
    (when the edit rebuilt it; the rows share it), its final stage again per mode; the rows get the medians.
    The last cook's layer stays, as the first one's would have."""
    cooks = [rows[0].cook_seconds]
    finals = {row.mode: [row.final_seconds] for row in rows}
    for _ in range(LIBRARY_SAMPLES - 1):
        if rebuilt:
            assert isinstance(flow, ChefFlow)  # stacked chefpy and the cargo-chef style
            cooks.append(flow.recook())
        for row, (_, preserve) in zip(rows, MODES, strict=False):
            stage = flow.run_final(preserve_mtimes=preserve)
            finals[row.mode].append(stage.seconds)
    for row in rows:
        row.cook_samples = cooks if rebuilt else []
        row.final_samples = finals[row.mode]
        row.cook_seconds = statistics.median(cooks)
        row.final_seconds = statistics.median(finals[row.mode])


def _fields(row: Row) -> dict[str, Any]:
    return {
        "edit": row.edit,
        "kind": row.kind,
        "approach": row.approach,
        "mode": row.mode,
        "cook_seconds": row.cook_seconds,
        "final_seconds": row.final_seconds,
        "compiled": list(row.compiled),
        "cook_compiled": dict(row.cook_compiled),
        "correct": row.correct,
        "measured": row.measured,
        "cook_samples": list(row.cook_samples),
        "final_samples": list(row.final_samples),
    }
