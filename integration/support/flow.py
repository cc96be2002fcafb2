"""A simulated multi-stage Docker build, with real cargo, at one fixed absolute WORKDIR.

1. planner: a copy of the context, then `prepare`;
2. cook: an empty WORKDIR with only the recipe and the vendored directories, then `cook`; when the
   recipe bytes equal the last cooked recipe, the cooked WORKDIR is reused as is, old mtimes included,
   as a Docker cache hit does;
   with `layers=True`, two cook stages as the generated Dockerfile has: layer 1 (`recipe.deps.json`,
   reused when its bytes equal the last cooked ones), then layer 2 (`recipe.json`) on top of it,
   reused only when layer 1 was and its recipe bytes are unchanged;
3. final: the cooked WORKDIR plus `COPY . .` of the context (mtimes preserved, or all new as in a CI
   checkout), then `cargo chefpy build`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from integration.support.workspaces import copy_tree

ROOT = Path(__file__).resolve().parents[2]
_COMPILING = re.compile(r"^\s+Compiling (\S+) v")


def chefpy(
    args: list[str], cwd: Path, *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the tool from this source tree as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bin" / "cargo-chefpy"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


@dataclass(frozen=True, slots=True)
class FinalStage:
    compiled: frozenset[str]
    stderr: str
    seconds: float
    workdir: Path
    workspace: Path


def compiled(proc: subprocess.CompletedProcess[str]) -> frozenset[str]:
    """The crates cargo compiled, from its `Compiling` lines."""
    return frozenset(
        m.group(1) for line in proc.stderr.splitlines() if (m := _COMPILING.match(line)) is not None
    )


def replace_tree(src: Path, dst: Path) -> None:
    """`dst` becomes an exact copy of `src`, mtimes, modes and symlinks kept (a layer saved or restored)."""
    shutil.rmtree(dst, ignore_errors=True)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


class DockerFlow:
    """One Dockerfile's worth of stages for the context directory `context` (a workspace root, whose
    parent also holds any path dependency outside it)."""

    def __init__(
        self,
        tmp: Path,
        context: Path,
        *,
        prepare_args: list[str],
        cook_args: list[str],
        build_args: list[str],
        env: dict[str, str] | None = None,
        layers: bool = False,
    ) -> None:
        self.tmp = tmp
        self.context = context
        self.prepare_args = prepare_args
        self.cook_args = cook_args
        self.build_args = build_args
        self.env = env
        self.workdir = tmp / "app"  # the fixed WORKDIR of the cook and final stages
        self.snapshot = tmp / "cooked-layer"
        self.cooked_recipe: bytes | None = None
        self.cooks = 0
        self.layers = layers
        self.deps_snapshot = tmp / "cooked-deps-layer"
        self.deps_recipe: bytes | None = None  # the last prepared layer-1 recipe
        self.cooked_deps: bytes | None = None
        self.deps_cooks = 0
        self.deps_reused = False
        # What each cook stage of the last cook() compiled (cargo's Compiling lines): "deps", "local".
        self.cook_compiled: dict[str, frozenset[str]] = {}

    def prepare(self) -> bytes:
        planner = self.tmp / "planner"
        shutil.rmtree(planner, ignore_errors=True)
        self._copy_context(planner, preserve_mtimes=False)
        ok(
            chefpy(
                ["prepare", "--recipe-path", str(self.tmp / "recipe.json"), *self.prepare_args],
                planner / self.context.name,
                env=self.env,
            )
        )
        if self.layers:
            self.deps_recipe = (self.tmp / "recipe.deps.json").read_bytes()
        return (self.tmp / "recipe.json").read_bytes()

    def _recipe_root(self, recipe: bytes) -> str:
        return str(json.loads(recipe)["workspace"])

    def cook(self, recipe: bytes) -> bool:
        """Returns True when the (last) cooked layer was reused (a cache hit)."""
        self.cook_compiled = {}
        if self.layers:
            return self._cook_layers(recipe)
        if recipe == self.cooked_recipe:
            return True
        self._fresh_workdir(recipe)
        (self.workdir / "recipe.json").write_bytes(recipe)
        self.cook_compiled["local"] = compiled(
            ok(chefpy(["cook", *self.cook_args], self.workdir, env=self.env))
        )
        replace_tree(self.workdir, self.snapshot)
        self.cooked_recipe = recipe
        self.cooks += 1
        return False

    def _fresh_workdir(self, recipe: bytes) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        for vendored in json.loads(recipe)["vendored"]:
            source = self.context.parent / self._context_relative(recipe, vendored)
            copy_tree(source, self.workdir / vendored, preserve_mtimes=False)

    def _cook_layers(self, recipe: bytes) -> bool:
        deps = self.deps_recipe
        assert deps is not None, "prepare() first"
        self.deps_reused = deps == self.cooked_deps
        if not self.deps_reused:
            # FROM chef; COPY recipe.deps.json; COPY vendored; RUN cook --recipe-path recipe.deps.json
            self._fresh_workdir(deps)
            (self.workdir / "recipe.deps.json").write_bytes(deps)
            args = self._cook_argv(["--recipe-path", "recipe.deps.json", "--layer", "deps"])
            self.cook_compiled["deps"] = compiled(ok(chefpy(args, self.workdir, env=self.env)))
            replace_tree(self.workdir, self.deps_snapshot)
            self.cooked_deps = deps
            self.cooked_recipe = None  # layer 2's cache hangs on layer 1
            self.deps_cooks += 1
        if recipe == self.cooked_recipe:
            return True
        # FROM deps; COPY recipe.json; RUN cook
        replace_tree(self.deps_snapshot, self.workdir)
        (self.workdir / "recipe.json").write_bytes(recipe)
        args = self._cook_argv(["--layer", "local"])
        self.cook_compiled["local"] = compiled(ok(chefpy(args, self.workdir, env=self.env)))
        replace_tree(self.workdir, self.snapshot)
        self.cooked_recipe = recipe
        self.cooks += 1
        return False

    def _cook_argv(self, ours: list[str]) -> list[str]:
        """`cook` with the user's flags and `ours`, which go before any `--` (after it, cargo's)."""
        args = self.cook_args
        cut = args.index("--") if "--" in args else len(args)
        return ["cook", *args[:cut], *ours, *args[cut:]]

    def _context_relative(self, recipe: bytes, path: str) -> str:
        # Recipe paths are relative to the recipe root; the context's parent plays that role when the
        # recipe's workspace is a sub-directory, the context itself otherwise.
        workspace = self._recipe_root(recipe)
        return path if workspace != "." else f"{self.context.name}/{path}"

    def _copy_context(self, dest_parent: Path, *, preserve_mtimes: bool) -> None:
        dest_parent.mkdir(parents=True, exist_ok=True)
        for entry in sorted(self.context.parent.iterdir()):
            if entry.is_dir() and (entry == self.context or entry.name.startswith("outside-")):
                copy_tree(
                    entry, dest_parent / entry.name, preserve_mtimes=preserve_mtimes, exclude=("target",)
                )

    def final(
        self, *, preserve_mtimes: bool, extra_build_args: list[str] | None = None, cwd: Path | None = None
    ) -> FinalStage:
        """Restore the cooked layer, COPY the context over it, run build; report what compiled."""
        replace_tree(self.snapshot, self.workdir)
        workspace_rel = self._recipe_root(self.cooked_recipe or b'{"workspace": "."}')
        if workspace_rel == ".":
            copy_tree(self.context, self.workdir, preserve_mtimes=preserve_mtimes, exclude=("target",))
            workspace = self.workdir
        else:
            self._copy_context(self.workdir, preserve_mtimes=preserve_mtimes)
            workspace = self.workdir / workspace_rel
        start = time.monotonic()
        proc = ok(
            chefpy(["build", *self.build_args, *(extra_build_args or [])], cwd or workspace, env=self.env)
        )
        seconds = time.monotonic() - start
        return FinalStage(
            compiled=compiled(proc),
            stderr=proc.stderr,
            seconds=seconds,
            workdir=self.workdir,
            workspace=workspace,
        )

    def run_binary(self, stage: FinalStage, name: str, profile_dir: str = "release") -> str:
        candidates = sorted(stage.workspace.glob(f"target/**/{profile_dir}/{name}"))
        assert candidates, f"no {name} binary under {stage.workspace / 'target'}"
        proc = subprocess.run([str(candidates[0])], capture_output=True, text=True, check=True)
        return proc.stdout.strip()
