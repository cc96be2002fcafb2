"""The tool's own process, for real: every command stops its cargo child when the tool alone gets SIGINT
(a supervisor) or SIGTERM (`docker stop`), and exits 130 or 143 with one error and one hint; and the
process ends with its exit code (a profiler still gets its report, a closed stdout changes nothing)."""

from __future__ import annotations

import os
import pstats
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integration.support.zipapp import ROOT

TOOL = str(ROOT / "bin" / "cargo-chefpy")
REAL_CARGO = shutil.which("cargo") or "cargo"


def fake_cargo(tmp_path: Path, *, ignore_signals: bool = False) -> tuple[Path, Path]:
    """A `$CARGO` that answers `cargo metadata` with the real cargo except when prepare asks (so that
    build reaches its build), records its pid and sleeps, as a long build does. Returns (cargo, pidfile)."""
    pidfile = tmp_path / "cargo.pid"
    script = tmp_path / "bin" / "cargo"
    script.parent.mkdir(exist_ok=True)
    trap = "trap '' INT TERM\n" if ignore_signals else ""  # inherited across exec: sleep ignores them
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = metadata ] && [ ! -e "{tmp_path}/hang-metadata" ]; then exec "{REAL_CARGO}" "$@"; fi\n'
        f"{trap}"
        f'echo $$ > "{pidfile}.tmp" && mv "{pidfile}.tmp" "{pidfile}"\n'
        "exec sleep 60\n"
    )
    script.chmod(0o755)
    return script, pidfile


def write_workspace(root: Path) -> None:
    """One member and no dependencies: everything works offline, no registry needed."""
    (root / "app" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["app"]\nresolver = "2"\n')
    (root / "app" / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "app" / "src" / "main.rs").write_text('fn main() { println!("hi"); }\n')
    subprocess.run([REAL_CARGO, "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)


def alive(pid: int) -> bool:
    """Running, and not a zombie left unreaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def setup(command: str, tmp_path: Path) -> tuple[list[str], Path]:
    """The tool's argv and directory for `command`, with everything it needs before cargo starts."""
    ws = tmp_path / "ws"
    write_workspace(ws)
    if command == "prepare":
        (tmp_path / "hang-metadata").touch()
        return ["prepare"], ws
    if command == "build":
        return ["build"], ws
    cook_dir = tmp_path / "cook"
    cook_dir.mkdir()
    subprocess.run(
        [sys.executable, TOOL, "prepare", "--recipe-path", str(cook_dir / "recipe.json")],
        cwd=ws, check=True, capture_output=True,
    )  # fmt: skip
    return ["cook"], cook_dir


def run_until_cargo_starts(
    args: list[str], cwd: Path, cargo: Path, pidfile: Path
) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "CARGO": str(cargo)}
    proc = subprocess.Popen(
        [sys.executable, TOOL, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not pidfile.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "cargo never started"
        time.sleep(0.05)
    return proc, int(pidfile.read_text())


@pytest.mark.parametrize("command", ["prepare", "build", "cook"])  # captured, streamed, streamed + JSON
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_tool_alone_stops_its_cargo_and_exits_with_one_error_and_hint(
    command: str, sig: signal.Signals, code: int, tmp_path: Path
) -> None:
    args, cwd = setup(command, tmp_path)
    cargo, pidfile = fake_cargo(tmp_path)
    proc, cargo_pid = run_until_cargo_starts(args, cwd, cargo, pidfile)
    try:
        os.kill(proc.pid, sig)  # the tool only, as a supervisor or `docker stop` does
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        if alive(cargo_pid):
            os.kill(cargo_pid, signal.SIGKILL)
            pytest.fail(f"cargo (pid {cargo_pid}) was left running")
    assert proc.returncode == code, stderr
    lines = stderr.splitlines()
    assert [line for line in lines if line.startswith("error:")] == [
        "error: interrupted" if sig == signal.SIGINT else "error: terminated (SIGTERM)"
    ], stderr
    assert len([line for line in lines if line.startswith("hint:")]) == 1, stderr
    assert lines[-1].startswith("hint: run the command again"), stderr
    assert "Traceback" not in stderr


def test_a_cargo_that_ignores_the_signal_is_killed_after_a_few_seconds(tmp_path: Path) -> None:
    args, cwd = setup("prepare", tmp_path)
    cargo, pidfile = fake_cargo(tmp_path, ignore_signals=True)
    proc, cargo_pid = run_until_cargo_starts(args, cwd, cargo, pidfile)
    started = time.monotonic()
    try:
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        if alive(cargo_pid):
            os.kill(cargo_pid, signal.SIGKILL)
            pytest.fail(f"cargo (pid {cargo_pid}) was left running")
    assert proc.returncode == 143, stderr
    assert 4 < time.monotonic() - started < 20  # cargo.STOP_SECONDS, then SIGKILL
    assert "Traceback" not in stderr


def test_the_command_ends_with_its_exit_code_and_a_profiler_still_gets_its_report(tmp_path: Path) -> None:
    plain = subprocess.run(
        [sys.executable, TOOL, "cook"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert plain.returncode == 5  # no recipe
    assert plain.stderr.startswith("error: ")
    stats = tmp_path / "cook.pstats"
    profiled = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats), TOOL, "cook"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert profiled.stderr.startswith("error: ")  # (cProfile itself exits 0 whatever the script's code)
    assert pstats.Stats(str(stats)).get_stats_profile().func_profiles  # written at exit


def test_a_closed_stdout_does_not_turn_success_into_failure(tmp_path: Path) -> None:
    closed = subprocess.run(
        ["/bin/sh", "-c", f'"{sys.executable}" "{TOOL}" cook >&-; echo "exit $?"'],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert closed.stdout.strip() == "exit 5"  # the documented code, not an AttributeError's 1
    assert "Traceback" not in closed.stderr
