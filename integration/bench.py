"""`make bench`: cache effectiveness and tool overhead, measured side by side; writes BENCHMARKS.md.

    python -m integration.bench                   # everything (about 45 minutes on 2 cores)
    python -m integration.bench --only matrix     # one part, for development (BENCHMARKS.md is left alone)
    python -m integration.bench --only day        # the day of edits alone (integration/bench_day.py)
    python -m integration.bench --only services   # cold builds of every service image (bench_services.py)
    python -m integration.bench --report-only    # BENCHMARKS.md and the chart again from the results

A full run writes integration/bench-results/results.json and BENCHMARKS.md. A run of some parts (`--only`)
writes a file of its own named after them (day.json, prepare-startup.json) and leaves both alone;
`--report-only` renders results.json with the parts of the later separate runs in place of its own, each
such section saying which run it comes from.

Parts:
- matrix: a real workspace built from Debian's crate packages (integration/bench_workspace.py), four
  approaches (no cache, cargo-chef style, the hand-made `cargo new` approach, chefpy) through a simulated
  multi-stage Docker flow, in 8 scenarios and both mtime modes (integration/bench_matrix.py);
- prepare: prepare against the bare `cargo metadata` it makes, on generated workspaces of growing size,
  and the same for the tool as it was at bench_overhead.BEFORE_COMMIT (its zipapp built from git history);
- cook: cook against a plain `cargo build` of the same skeleton;
- startup: the zipapp's cold and warm start for `--version`, now and at BEFORE_COMMIT;
- day: a day of edits (10 serviceZ, 3 libB, 1 libA description, 1 third-party change) on the same
  workspace, for stacked and single-layer chefpy, cargo-chef style, hand-made and no cache;
- services: a cold build of every service image, for the bench workspace's 3 services and a generated one
  of 10: the multi-service Dockerfile's shared deps layer, N single-service Dockerfiles, and the
  cargo-chef style (integration/bench_services.py).

Every figure in BENCHMARKS.md comes from one run's results.json (or a later separate run's file), written
next to the chart. Every stage is timed as its RUN commands alone (integration/bench_flow.py's docstring).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from integration.bench_flow import COOK_TIMING, Approach, cargo
from integration.bench_report import (
    NEEDS_CRATES,
    PREPARE_TARGET,
    day_summary,
    merge_separate_runs,
    results_name,
)
from integration.support.flow import ROOT

PARTS: Final = ("matrix", "prepare", "cook", "startup", "day", "services")
RESULTS_DIR: Final = ROOT / "integration" / "bench-results"
REPORT: Final = ROOT / "BENCHMARKS.md"
SIZES: Final = (10, 50, 200, 500, 1000, 2000)
_START: Final = time.monotonic()


def say(message: str) -> None:
    elapsed = time.monotonic() - _START
    print(f"[{int(elapsed // 60):3d}:{int(elapsed % 60):02d}] {message}", file=sys.stderr, flush=True)


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def machine() -> dict[str, Any]:
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "cargo_chefpy"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(_memory_gib(), 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cargo": _first_line([cargo(), "--version"]),
        "rustc": _first_line(["rustc", "--version"]),
        "commit": commit + (" (cargo_chefpy/ modified)" if dirty else ""),
        "load_start": list(os.getloadavg()),
    }


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def freeze_tool(dest: Path) -> tuple[Path, str]:
    """Copy what runs and builds the tool (cargo_chefpy/, bin/, pyproject.toml, README.md) to `dest`.

    The whole run measures that copy, so edits to the checkout while the bench runs cannot mix two versions
    of the tool into one set of figures. Returns the copy and a sha256 over its Python sources.
    """
    shutil.rmtree(dest, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "cargo_chefpy", dest / "cargo_chefpy", ignore=ignore)
    shutil.copytree(ROOT / "bin", dest / "bin", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    digest = hashlib.sha256()
    for path in sorted((dest / "cargo_chefpy").rglob("*.py")):
        digest.update(path.relative_to(dest).as_posix().encode() + b"\0" + path.read_bytes())
    return dest, digest.hexdigest()


def tool_command(work: Path, source: Path) -> tuple[list[str], str]:
    """How the bench runs the tool: as a Docker image does, the zipapp (built from `source`) under the
    system's python3 (Debian's /usr/bin/python3, what `/usr/bin/env python3` finds in a Debian image), or
    this interpreter where that is missing or older than 3.11. Its shiv cache lives in `work`."""
    from integration.support.zipapp import build_zipapp

    zipapp = build_zipapp(work, source)
    system = "/usr/bin/python3"
    check = [system, "-c", "import sys; sys.exit(sys.version_info < (3, 11))"]
    usable = os.path.exists(system) and subprocess.run(check, check=False).returncode == 0
    interpreter = system if usable else sys.executable
    os.environ["SHIV_ROOT"] = str(work / "shiv-root")  # every tool run inherits it
    subprocess.run([interpreter, str(zipapp), "--version"], check=True, capture_output=True)  # extracts
    return [interpreter, str(zipapp)], f"{interpreter} cargo-chefpy (the zipapp)"


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from integration import bench_overhead
    from integration.bench_matrix import run_matrix
    from integration.bench_workspace import ensure_debian_crates, write_workspace

    parts = args.only or list(PARTS)
    source, digest = freeze_tool(work / "tool")
    script = source / "bin" / "cargo-chefpy"  # the same code from source, for cProfile
    tool, tool_label = tool_command(work / "tool-zipapp", source)
    say(f"measuring a frozen copy of the tool ({digest[:12]}) in {source}, run as `{tool_label}`")
    results: dict[str, Any] = {
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            **machine(),
            "dont_write_bytecode_dropped": args.dont_write_bytecode,
            "tool_digest": digest,
            "tool_command": tool_label,
        },
        "runs": args.runs,
        "headline_runs": max(args.runs, args.headline_runs),
        "parts": parts,
        "cook_timing": COOK_TIMING,
    }
    context: Path | None = None
    if any(p in parts for p in NEEDS_CRATES):
        skip = ensure_debian_crates(say)
        if skip is not None:
            say(f"skipping the {', '.join(p for p in parts if p in NEEDS_CRATES)} parts: {skip}")
            results["skipped"] = skip
            parts = [p for p in parts if p not in NEEDS_CRATES]
        else:
            context = work / "context" / "ws"
            say(f"writing the bench workspace at {context} (cargo vendor from Debian's registry)")
            # A checkout made a day ago: the final stage's COPY keeps these mtimes when they are preserved.
            write_workspace(context, mtime=time.time() - 86_400)
            results["workspace"] = workspace_facts(context)
    if "matrix" in parts and context is not None:
        approaches = [Approach[a] for a in args.approaches] if args.approaches else list(Approach)
        matrix = run_matrix(
            work / "matrix",
            context,
            runs=args.runs,
            runs_for={"edit-serviceZ": max(args.runs, args.headline_runs)},
            approaches=approaches,
            tool=tool,
            no_cache_scenarios=["edit-serviceZ", *(args.no_cache_in or [])],
            say=say,
        )
        results["matrix"] = _jsonable(matrix)
        if Approach.CHEFPY in approaches:
            # The chefpy flow's WORKDIR still holds its last final stage: cargo has nothing left to do there.
            ratio = _edit_ratio(matrix)
            say("measuring `cargo chefpy build` against `cargo build` where both have nothing to compile")
            overhead = bench_overhead.measure_build_overhead(
                work / "matrix" / "flows" / "chefpy" / "app",
                7,
                tool,
                script=script,
                with_profile=ratio > 1.15,
            )
            results["build_overhead"] = _jsonable(overhead)
    before = None
    if "prepare" in parts or "startup" in parts:
        before = bench_overhead.build_before(work / "before", ROOT)
        results["before"] = _jsonable(before)
        say(f"before: {before.skipped or f'the zipapp of {before.commit}, run as `{tool[0]} cargo-chefpy`'}")
    if "prepare" in parts:
        old = [tool[0], before.zipapp] if before is not None and before.zipapp else None
        if old is not None:
            subprocess.run([*old, "--version"], check=True, capture_output=True)  # extracts
        scales = bench_overhead.measure_prepare(
            work / "prepare", args.sizes, max(args.runs, 5), tool, say, before=old
        )
        results["prepare"] = _jsonable(scales)
        big = next((s for s in scales if s.members == 500), scales[-1])
        if big.ratio > PREPARE_TARGET:
            say(f"prepare is {big.ratio:.2f}x cargo metadata at {big.members} members: profiling it")
            root = work / "prepare" / f"wide-{big.members}"
            prepare_args = ["prepare", "-p", "app", "--recipe-path", str(work / "p.json")]
            top = bench_overhead.profile(script, prepare_args, root, work / "prepare.pstats")
            results["prepare_profile"] = {"members": big.members, "top": top}
    if "cook" in parts and context is not None:
        results["cook"] = _jsonable(bench_overhead.measure_cook(work / "cook", context, args.runs, tool, say))
    if "day" in parts and context is not None:
        from integration.bench_day import run_day

        day = run_day(work / "day", context, tool=tool, say=say)
        results["day"] = _jsonable(day)
        results["day_summary"] = day_summary(results["day"])
        for line in results["day_summary"]:
            say(line)
    if "services" in parts and context is not None:
        from integration.bench_services import run_services, verdict

        workspaces = _jsonable(
            run_services(
                work / "services", context, args.service_counts, tool, say, mtime=time.time() - 86_400
            )
        )
        for ws in workspaces:
            ws["verdict"] = {k: v for k, v in verdict(ws).items() if k != "approaches"}
        results["services"] = {"workspaces": workspaces}
    if "startup" in parts:
        startup = bench_overhead.measure_startup(work / "startup", source, 3, 15, say, before=before)
        results["startup"] = _jsonable(startup)
    results["machine"]["load_end"] = list(os.getloadavg())
    results["minutes"] = round((time.monotonic() - _START) / 60, 1)
    return results


def _edit_ratio(matrix: Any) -> float:
    import statistics

    cells = [c for c in matrix.cells if c.approach == Approach.CHEFPY.value and c.scenario == "edit-serviceZ"]
    lower = statistics.median(matrix.lower_bound)
    return max((c.median / lower for c in cells), default=0.0)


def workspace_facts(context: Path) -> dict[str, Any]:
    lock = (context / "Cargo.lock").read_text()
    vendored = sorted(p.name for p in (context / "vendored").iterdir() if p.is_dir())
    size = sum(f.stat().st_size for f in (context / "vendored").rglob("*") if f.is_file())
    local_lines = 0
    for lib in ("libA", "libB", "libC"):
        for source in (context / "src" / lib).rglob("*.rs"):
            local_lines += len(source.read_text().splitlines())
    return {
        "packages": lock.count("[[package]]"),
        "vendored": vendored,
        "vendored_mib": round(size / 1024 / 1024, 1),
        "local_lib_lines": local_lines,
    }


def load_results(results_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """results.json with the parts of the separate runs (`--only`) beside it that are later than it;
    (the merged results, the files used)."""
    full = results_dir / "results.json"
    results = json.loads(full.read_text())
    separate: dict[str, dict[str, Any]] = {}
    for path in sorted(results_dir.glob("*.json")):
        if path != full:
            run = json.loads(path.read_text())
            if isinstance(run, dict) and "parts" in run and "started" in run:
                separate[path.name] = run
    merged = merge_separate_runs(results, separate)
    used = sorted({info["file"] for info in merged.get("separate_runs", {}).values()})
    return merged, [full, *(results_dir / name for name in used)]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m integration.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="final-stage runs per cell (at least 3)")
    parser.add_argument(
        "--headline-runs",
        type=int,
        default=7,
        help="final-stage runs per cell in the headline scenario, edit serviceZ (default 7)",
    )
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts")
    parser.add_argument(
        "--approaches", action="append", choices=[a.name for a in Approach], help="matrix: only these"
    )
    parser.add_argument(
        "--no-cache-in",
        action="append",
        metavar="SCENARIO",
        help="also measure the no-cache approach in this scenario (always: edit-serviceZ)",
    )
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=list(SIZES), help="prepare: members"
    )
    parser.add_argument(
        "--service-counts",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[3, 10],
        help="services: how many services (3: the bench workspace's own; more: generated; default 3,10)",
    )
    parser.add_argument("--work-dir", type=Path, help="scratch directory (default: a new one under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--report", type=Path, default=REPORT, help="where BENCHMARKS.md goes")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from results.json")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from integration.bench_report import write_report

    args = parse_args(argv)
    if args.report_only:
        results, read = load_results(args.results_dir)
        write_report(results, args.report, args.results_dir / "chart.png")
        say(f"wrote {args.report} from {', '.join(str(f) for f in read)}")
        return 0
    results_file = args.results_dir / results_name(args.only, PARTS)
    # Measure the tool as installed copies run: with their bytecode cached. A PYTHONDONTWRITEBYTECODE
    # inherited from the calling environment would make every run compile every module again (the
    # zipapp's extracted site-packages and the checkout's __pycache__ would never be written).
    args.dont_write_bytecode = os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="chefpy-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"scratch directory {work}")
    try:
        results = run(args, work)
    finally:
        if not args.keep and args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    say(f"results in {results_file} ({results['minutes']} minutes)")
    if results_file.name != "results.json":
        say(f"--only given: {args.report} left alone (--report-only rewrites it with these results)")
        return 0
    write_report(results, args.report, args.results_dir / "chart.png")
    say(f"wrote {args.report} and {args.results_dir / 'chart.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
