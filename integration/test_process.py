"""The tool's own process, for real: how it starts cargo before subprocess is even imported
(`early.Spawned`, the posix_spawn stand-in for subprocess.Popen; checked in a fresh interpreter, since
pytest has imported subprocess), and how it ends (os._exit, except under a profiler)."""

from __future__ import annotations

import json
import pstats
import signal
import subprocess
import sys
from pathlib import Path

from integration.zipapp import ROOT

CHILD = r"""
import json, sys
from cargo_chefpy import early

def run(command):
    r = early.Running(command, ".")
    code = r.wait()
    stdout, stderr = r.output()
    out = {"kind": type(r.proc).__name__, "code": code, "stdout": stdout.decode(), "stderr": stderr.decode()}
    r.close()
    return out

ignored = ["/bin/sh", "-c", "grep SigIgn /proc/$$/status"]  # the signals the child ignores
first = run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
spawned_ignores = run(ignored)
imported_before = "subprocess" in sys.modules
import signal  # (not subprocess)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # as a parent may leave it: children are reaped for us
unreapable = run(["/bin/sh", "-c", "echo still read; exit 0"])
signal.signal(signal.SIGCHLD, signal.SIG_DFL)
sleeper = early.Running(["/bin/sleep", "60"], ".")
sleeper.close()
killed = sleeper.proc.returncode
import subprocess  # as the rest of the tool does later: from now on Running uses Popen
popen_ignores = run(ignored)
print(json.dumps([first, spawned_ignores, imported_before, killed, popen_ignores, unreapable]))
"""


def test_spawned_runs_waits_kills_and_resets_signals_as_popen_does() -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, check=True)
    first, spawned_ignores, imported_before, killed, popen_ignores, unreapable = json.loads(proc.stdout)
    assert first == {"kind": "Spawned", "code": 3, "stdout": "out\n", "stderr": "err\n"}
    assert imported_before is False
    assert killed == -9
    assert unreapable == {"kind": "Spawned", "code": 0, "stdout": "still read\n", "stderr": ""}
    assert spawned_ignores["kind"] == "Spawned"
    assert popen_ignores["kind"] == "Popen"
    # Python ignores SIGPIPE and SIGXFSZ; its children get them back at their defaults. (glibc's
    # posix_spawn leaves its two internal signals, 32 and 33, ignored; cargo's glibc sets them again.)
    pipe_and_xfsz = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))
    for ignores in (spawned_ignores, popen_ignores):
        assert int(ignores["stdout"].split()[1], 16) & pipe_and_xfsz == 0


def test_the_command_ends_with_its_exit_code_and_a_profiler_still_gets_its_report(tmp_path: Path) -> None:
    tool = str(ROOT / "bin" / "cargo-chefpy")
    plain = subprocess.run(
        [sys.executable, tool, "cook"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert plain.returncode == 5  # no recipe: os._exit keeps the documented code
    assert plain.stderr.startswith("error: ")
    stats = tmp_path / "cook.pstats"
    profiled = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats), tool, "cook"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert profiled.stderr.startswith("error: ")  # (cProfile itself exits 0 whatever the script's code)
    assert pstats.Stats(str(stats)).get_stats_profile().func_profiles  # written at exit: not os._exit


def test_a_closed_stdout_does_not_turn_success_into_failure(tmp_path: Path) -> None:
    tool = str(ROOT / "bin" / "cargo-chefpy")
    closed = subprocess.run(
        ["/bin/sh", "-c", f'"{sys.executable}" "{tool}" cook >&-; echo "exit $?"'],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert closed.stdout.strip() == "exit 5"  # the documented code, not an AttributeError's 1
    assert "Traceback" not in closed.stderr
