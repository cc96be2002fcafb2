"""What the tool itself costs: prepare against the `cargo metadata` call it makes, cook against a plain
`cargo build` of the same skeleton, and the zipapp's start-up for `--version`."""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from integration.bench_flow import CARGO_BUILD, TARGET, cargo, timed
from integration.support.workspaces import copy_tree, run_cargo
from integration.support.zipapp import build_zipapp

METADATA: Final = ("metadata", "--format-version", "1", "--no-deps", "--offline")


# ----------------------------------------------------------------------------------------------------
# prepare against cargo metadata, as the workspace grows
# ----------------------------------------------------------------------------------------------------


def write_wide_workspace(root: Path, members: int) -> None:
    """`members` members: libraries in chains of four (each uses the one before it), and `app`, which uses the
    last library of every other chain, so that prepare -p app keeps about half the libraries and prunes the
    rest. Each library has a manifest and two source files; no registry dependencies."""
    libs = members - 1
    names = [f"lib{i:04d}" for i in range(libs)]
    app_deps = [names[i] for i in range(libs) if i % 8 == 3 or (i == libs - 1 and i % 8 < 4)]
    root.mkdir(parents=True)
    member_dirs = [*(f"crates/{n}" for n in names), "app"]
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = [\n'
        + "".join(f'    "{d}",\n' for d in member_dirs)
        + ']\n\n[workspace.package]\nversion = "0.1.0"\nedition = "2021"\n'
    )
    for i, name in enumerate(names):
        crate = root / "crates" / name
        (crate / "src").mkdir(parents=True)
        deps = f'{names[i - 1]} = {{ path = "../{names[i - 1]}" }}\n' if i % 4 else ""
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion.workspace = true\nedition.workspace = true\n\n'
            f"[dependencies]\n{deps}"
        )
        (crate / "src" / "lib.rs").write_text(
            f"pub mod util;\n\npub fn {name}() -> u32 {{ util::value() }}\n"
        )
        (crate / "src" / "util.rs").write_text(f"pub fn value() -> u32 {{ {i} }}\n")
    app = root / "app"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion.workspace = true\nedition.workspace = true\n\n[dependencies]\n'
        + "".join(f'{d} = {{ path = "../crates/{d}" }}\n' for d in app_deps)
    )
    (app / "src" / "main.rs").write_text(
        "fn main() {\n" + "".join(f'    println!("{{}}", {d}::{d}());\n' for d in app_deps) + "}\n"
    )
    run_cargo(["generate-lockfile", "--offline"], root)


@dataclass(slots=True, kw_only=True)
class PrepareScale:
    members: int
    metadata: list[float] = field(default_factory=list)
    prepare: list[float] = field(default_factory=list)
    own: list[float] = field(default_factory=list)  # each run's prepare minus the metadata run beside it
    before: list[float] = field(default_factory=list)  # prepare by the tool as it was (BEFORE_COMMIT)
    before_own: list[float] = field(default_factory=list)
    summary: str = ""  # prepare's own status line

    @property
    def ratio(self) -> float:
        return statistics.median(self.prepare) / statistics.median(self.metadata)


def measure_prepare(
    work: Path,
    sizes: Sequence[int],
    runs: int,
    tool: Sequence[str],
    say: Callable[[str], None],
    *,
    before: Sequence[str] | None = None,
) -> list[PrepareScale]:
    """Bare `cargo metadata`, then prepare and (given `before`, the tool as it was) the old prepare, in turn
    in every round, so that the load of the moment weighs on all three alike."""
    results = []
    for members in sizes:
        root = work / f"wide-{members}"
        shutil.rmtree(root, ignore_errors=True)
        write_wide_workspace(root, members)
        row = PrepareScale(members=members)
        recipe = work / f"recipe-{members}.json"
        prepare = [*tool, "prepare", "-p", "app", "--recipe-path", str(recipe)]
        old = [*before, "prepare", "-p", "app", "--recipe-path", str(recipe)] if before else None
        # One untimed round of each warms the page cache and cargo's own caches.
        timed([cargo(), *METADATA], root)
        timed(prepare, root)
        if old is not None:
            timed(old, root)
        for run in range(runs):
            row.metadata.append(timed([cargo(), *METADATA], root)[1])
            # before and after swap places every round: neither always runs on the other's heels.
            for which in ("before", "after") if run % 2 else ("after", "before"):
                if which == "before" and old is not None:
                    wall = timed(old, root)[1]
                    row.before.append(wall)
                    row.before_own.append(wall - row.metadata[-1])
                elif which == "after":
                    proc, wall, _ = timed(prepare, root)
                    row.prepare.append(wall)
                    row.own.append(wall - row.metadata[-1])
                    row.summary = proc.stderr.strip().splitlines()[-1].strip()
        then = ""
        if row.before:
            before_median = statistics.median(row.before)
            then = f"; before {before_median:.3f} s ({before_median / statistics.median(row.metadata):.2f}x)"
        say(
            f"prepare at {members} members: {statistics.median(row.prepare):.3f} s against cargo metadata "
            f"{statistics.median(row.metadata):.3f} s ({row.ratio:.2f}x){then}"
        )
        results.append(row)
    return results


# ----------------------------------------------------------------------------------------------------
# the tool as it was: BEFORE_COMMIT, with its start-up machinery (early.py, the prefetch, os._exit)
# ----------------------------------------------------------------------------------------------------

BEFORE_COMMIT: Final = "accaaa4"


@dataclass(slots=True, kw_only=True)
class Before:
    """The zipapp of BEFORE_COMMIT, or why there is none (`skipped`)."""

    commit: str
    zipapp: str = ""
    skipped: str = ""


def build_before(work: Path, repo: Path, commit: str = BEFORE_COMMIT) -> Before:
    """Check `commit` out of the git history of `repo` (`git archive`, into `work/src`) and build its zipapp
    with that commit's own integration/zipapp.py, as its Makefile built it (shiv plus the archive rewrite
    that starts `cargo metadata` early). Without git or that commit, `skipped` says why."""
    result = Before(commit=commit)
    git = shutil.which("git")
    if git is None:
        result.skipped = "git is not installed, so the old version cannot be checked out"
        return result
    found = subprocess.run(
        [git, "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True, check=False
    )
    if found.returncode != 0:
        result.skipped = (
            f"commit {commit} is not in the git history of {repo} (a shallow or exported checkout?)"
        )
        return result
    src = work / "src"
    shutil.rmtree(work, ignore_errors=True)
    src.mkdir(parents=True)
    archive = subprocess.run(
        [git, "-C", str(repo), "archive", "--format=tar", commit], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")
    # `-c` puts the working directory first on sys.path: the old tree's integration package is the one used.
    build = (
        "import sys, pathlib, integration.zipapp as z; "  # the old tree's own module
        "print(z.build_zipapp(*map(pathlib.Path, sys.argv[1:])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", build, str(work / "zipapp"), str(src)],
        cwd=src,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result.zipapp = out.strip().splitlines()[-1]
    return result


def profile(
    script: Path, args: Sequence[str], cwd: Path, stats_file: Path, top: int = 15
) -> list[tuple[str, int, float, float]]:
    """cProfile of one tool run (`python -m cProfile bin/cargo-chefpy ARGS`, `script` being the frozen
    copy's bin/cargo-chefpy): its own functions and the TOML parsers it calls, as (function, calls, own
    seconds, cumulative seconds), costliest first; the CLI wrappers that only call the rest are left out."""
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats_file), str(script), *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )
    import pstats

    wrappers = {"main", "entry", "_run", "_prepare", "<module>"}
    rows = []
    for name, f in pstats.Stats(str(stats_file)).get_stats_profile().func_profiles.items():
        ours = "cargo_chefpy" in f.file_name and name not in wrappers
        toml = name in ("loads", "parse", "dumps") and ("toml" in f.file_name)
        if ours or toml:
            where = "/".join(Path(f.file_name).parts[-2:])
            calls = int(str(f.ncalls).split("/")[0])
            rows.append((f"{where}:{f.line_number}({name})", calls, f.tottime, f.cumtime))
    return sorted(rows, key=lambda r: -r[3])[:top]


@dataclass(slots=True, kw_only=True)
class BuildOverhead:
    """`cargo chefpy build` against plain `cargo build` when cargo has nothing to do, in a final stage."""

    chefpy: list[float] = field(default_factory=list)
    cargo: list[float] = field(default_factory=list)
    profile: list[tuple[str, int, float, float]] = field(default_factory=list)


def measure_build_overhead(
    workspace: Path, runs: int, tool: Sequence[str], *, script: Path, with_profile: bool
) -> BuildOverhead:
    result = BuildOverhead()
    timed([*tool, "build", *CARGO_BUILD], workspace)
    for _ in range(runs):
        result.chefpy.append(timed([*tool, "build", *CARGO_BUILD], workspace)[1])
        result.cargo.append(timed([cargo(), "build", *CARGO_BUILD, "--offline"], workspace)[1])
    if with_profile:
        result.profile = profile(
            script, ["build", *CARGO_BUILD], workspace, workspace.parent / "build.pstats"
        )
    return result


# ----------------------------------------------------------------------------------------------------
# cook against a plain cargo build of the same skeleton
# ----------------------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class CookOverhead:
    cook: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    cook_cpu: list[float] = field(default_factory=list)
    plain_cpu: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.cook) / statistics.median(self.plain)


def measure_cook(
    work: Path, context: Path, runs: int, tool: Sequence[str], say: Callable[[str], None]
) -> CookOverhead:
    """Both at the same WORKDIR: `cargo chefpy cook` from the recipe and the vendored sources; then the
    skeleton that cook wrote (`cook --no-build`) built by plain `cargo build` with the same flags."""
    recipe = work / "recipe.json"
    planner = work / "planner"
    shutil.rmtree(planner, ignore_errors=True)
    copy_tree(context, planner, preserve_mtimes=True, exclude=("target",))
    timed([*tool, "prepare", "-p", TARGET, "--recipe-path", str(recipe)], planner)
    vendored = json.loads(recipe.read_bytes())["vendored"]
    app = work / "app"
    result = CookOverhead()

    def fresh() -> None:
        shutil.rmtree(app, ignore_errors=True)
        app.mkdir(parents=True)
        shutil.copy(recipe, app / "recipe.json")
        for directory in vendored:
            copy_tree(context / directory, app / directory, preserve_mtimes=False)

    for run in range(runs):
        fresh()
        _, wall, cpu = timed([*tool, "cook", *CARGO_BUILD], app)
        result.cook.append(wall)
        result.cook_cpu.append(cpu)
        fresh()
        timed([*tool, "cook", "--no-build", *CARGO_BUILD], app)
        _, wall, cpu = timed([cargo(), "build", *CARGO_BUILD, "--offline"], app)
        result.plain.append(wall)
        result.plain_cpu.append(cpu)
        say(f"cook run {run + 1}/{runs}: cook {result.cook[-1]:.1f} s, plain cargo build {wall:.1f} s")
    shutil.rmtree(app, ignore_errors=True)
    return result


# ----------------------------------------------------------------------------------------------------
# zipapp start-up
# ----------------------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Interpreter:
    """The zipapp started by one interpreter."""

    label: str
    command: list[str]  # what runs the zipapp (empty: its own shebang line)
    resolved: str  # the interpreter's real path; "(script)" when it is a wrapper such as a pyenv shim
    env: dict[str, str] = field(default_factory=dict)  # laid over os.environ
    cold: list[float] = field(default_factory=list)  # first run with an empty shiv cache (extracts)
    warm: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # `<interpreter> -c pass`
    importtime: list[tuple[str, int]] = field(default_factory=list)  # top cumulative imports (us), warm
    zipapp: str = ""  # another zipapp than the one measure_startup builds: the tool as it was
    before: bool = False  # it is BEFORE_COMMIT's zipapp


@dataclass(slots=True, kw_only=True)
class Startup:
    zipapp_bytes: int
    interpreters: list[Interpreter] = field(default_factory=list)
    source_tree: list[float] = field(default_factory=list)  # bin/cargo-chefpy --version, the dev venv


def _wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def _interpreters() -> list[Interpreter]:
    found = shutil.which("python3")
    resolved = os.path.realpath(found) if found else "python3"
    try:
        with open(resolved, "rb") as handle:
            is_script = handle.read(2) == b"#!"
    except OSError:
        is_script = False
    shebang = Interpreter(
        label="`/usr/bin/env python3` (the zipapp's shebang)",
        command=[],
        resolved=f"{found} (a script: {resolved})" if is_script else resolved,
    )
    out = [shebang]
    system = "/usr/bin/python3"
    if os.path.exists(system) and os.path.realpath(system) != resolved:
        out.append(
            Interpreter(label=f"`{system} cargo-chefpy`", command=[system], resolved=os.path.realpath(system))
        )
    last = out[-1]
    out.append(
        Interpreter(
            label=f"{last.label} with PYTHONDONTWRITEBYTECODE=1",
            command=last.command,
            resolved=last.resolved,
            env={"PYTHONDONTWRITEBYTECODE": "1"},
        )
    )
    return out


def _before_interpreter(before: Before) -> Interpreter:
    """BEFORE_COMMIT's zipapp under the system python3, as users' images run it."""
    system = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    return Interpreter(
        label=f"`{system} cargo-chefpy` at {before.commit} (before)",
        command=[system],
        resolved=os.path.realpath(system),
        zipapp=before.zipapp,
        before=True,
    )


def measure_startup(
    work: Path,
    source: Path,
    cold_runs: int,
    warm_runs: int,
    say: Callable[[str], None],
    *,
    before: Before | None = None,
) -> Startup:
    """`source`: the project directory the zipapp is built from; its bin/cargo-chefpy is timed too.
    `before`: the tool as it was, timed beside it under the system python3 (unless it was skipped)."""
    zipapp = build_zipapp(work, source)
    tool = [sys.executable, str(source / "bin" / "cargo-chefpy")]
    result = Startup(zipapp_bytes=zipapp.stat().st_size, interpreters=_interpreters())
    if before is not None and before.zipapp:
        result.interpreters.append(_before_interpreter(before))
    for i, interp in enumerate(result.interpreters):
        run_zipapp = [*interp.command, interp.zipapp or str(zipapp), "--version"]
        for run in range(cold_runs):
            shiv_root = work / f"shiv-{i}-cold-{run}"
            shutil.rmtree(shiv_root, ignore_errors=True)
            interp.cold.append(_wall(run_zipapp, {**os.environ, **interp.env, "SHIV_ROOT": str(shiv_root)}))
        _wall(run_zipapp, {**os.environ, **interp.env, "SHIV_ROOT": str(work / f"shiv-{i}-cold-0")})
    for _ in range(warm_runs):
        for i, interp in enumerate(result.interpreters):
            warm_env = {**os.environ, **interp.env, "SHIV_ROOT": str(work / f"shiv-{i}-cold-0")}
            interp.warm.append(_wall([*interp.command, interp.zipapp or str(zipapp), "--version"], warm_env))
            interp.floor.append(_wall([*(interp.command or ["python3"]), "-c", "pass"], warm_env))
        result.source_tree.append(_wall([*tool, "--version"], dict(os.environ)))
    for i, interp in enumerate(result.interpreters):
        proc = subprocess.run(
            [*interp.command, interp.zipapp or str(zipapp), "--version"],
            check=True,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                **interp.env,
                "SHIV_ROOT": str(work / f"shiv-{i}-cold-0"),
                "PYTHONPROFILEIMPORTTIME": "1",
            },
        )
        cumulative: list[tuple[str, int]] = []
        for line in proc.stderr.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[1].isdigit():
                cumulative.append((parts[2], int(parts[1])))
        interp.importtime = sorted(cumulative, key=lambda item: -item[1])[:12]
        say(
            f"--version with {interp.label}: zipapp cold {statistics.median(interp.cold) * 1000:.0f} ms, "
            f"warm {statistics.median(interp.warm) * 1000:.0f} ms, interpreter floor "
            f"{statistics.median(interp.floor) * 1000:.0f} ms"
        )
    return result
