"""Atomic writes: a process killed while writing leaves each file complete (old or new) or absent.

A child process runs the real write path (prepare's recipe, cook's skeleton, the cook stamp) and is
SIGKILLed in the middle of it: deterministically (the child is paused inside `atomic_write`, after half
of the data reached the temporary file, or just before the rename), and at random moments during a
large write. These tests start real processes (a Python child and, for prepare, cargo), which is why they
live in integration/, not with the unit tests.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cargo_chefpy import recipe
from cargo_chefpy.recipe import CrateClass, Recipe, RecipeCrate, RecipeFile, Role

ROOT = Path(__file__).resolve().parent.parent
TMP_SUFFIX = ".chefpy-tmp"
BIG = 16 * 1024 * 1024
TRIES = 5

# The child: pause (and tell the parent) at a chosen point of atomic_write, then run one real command.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    pause_at, command = sys.argv[1], sys.argv[2]

    def ready():
        sys.stdout.write("ready\\n")
        sys.stdout.flush()
        time.sleep(600)

    if pause_at == "half":
        real_fdopen = os.fdopen

        class HalfThenPause:
            def __init__(self, handle):
                self.handle = handle
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self.handle.__exit__(*exc)
            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                os.fsync(self.handle.fileno())
                ready()
            def __getattr__(self, name):
                return getattr(self.handle, name)

        os.fdopen = lambda *a, **k: HalfThenPause(real_fdopen(*a, **k))
    elif pause_at == "before-rename":
        real_replace = os.replace

        def pause_then_replace(src, dst):
            if str(src).endswith(".chefpy-tmp"):
                ready()
            real_replace(src, dst)

        os.replace = pause_then_replace

    if command == "stamp":
        from cargo_chefpy import stamp
        st = stamp.Stamp(
            recipe="0" * 64, workspace=".", options={}, packages=(), files={"a": "b" * 64 * 20000},
            vendored={}, vendored_dirs=(), kept_crates=0, external_crates=0,
        )
        stamp.write(Path(sys.argv[3]), st)
    else:
        from cargo_chefpy.cli import main
        sys.exit(main(sys.argv[3:], cwd=Path.cwd()))
    """
)


def start(pause_at: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, pause_at, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_ready(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    proc.kill()
    _, stderr = proc.communicate(timeout=30)
    assert line == "ready\n", f"the child never reached the write\n{stderr}"
    assert proc.returncode == -signal.SIGKILL


def kill_after(command: list[str], *, cwd: Path, env: dict[str, str], seconds: float) -> None:
    """Start `command`, SIGKILL it after `seconds` (wherever it is then), and reap it."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.kill()
    proc.wait()


def leftovers(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob(f"*{TMP_SUFFIX}"))


def tiny_workspace(root: Path, big_file: int = BIG) -> Path:
    """`app` (the target, stubbed) depends on `lib` (kept), which carries a large data file."""
    for name, body in (("lib", "src/lib.rs"), ("app", "src/main.rs")):
        (root / name / "src").mkdir(parents=True)
        deps = 'lib = { path = "../lib" }\n' if name == "app" else ""
        (root / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n{deps}'
        )
        (root / name / body).write_text("fn main() {}\n" if name == "app" else "pub fn f() {}\n")
    (root / "lib" / "data.txt").write_bytes(b"0123456789abcdef" * (big_file // 16))
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["app", "lib"]\n')
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    return root


def big_recipe(path: Path) -> bytes:
    data = recipe.dumps(
        Recipe(
            workspace="ws",  # its Cargo.toml and Cargo.lock sort after lib/: the big file is written first
            packages=("app",),
            bins=(),
            crates=(RecipeCrate(name="lib", path="lib", klass=CrateClass.KEEP, reason="test"),),
            files=(
                RecipeFile(path="lib/a-small.rs", data=b"pub fn f() {}\n", executable=False, role=Role.KEEP),
                RecipeFile(path="lib/big.bin", data=os.urandom(BIG), executable=False, role=Role.KEEP),
                RecipeFile(path="lib/z-small.rs", data=b"// last\n", executable=False, role=Role.KEEP),
                RecipeFile(path="ws/Cargo.lock", data=b"version = 4\n", executable=False, role=Role.KEEP),
                RecipeFile(path="ws/Cargo.toml", data=b"[workspace]\n", executable=False, role=Role.KEEP),
            ),
            vendored=(),
        )
    )
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("pause_at", ["half", "before-rename"])
@pytest.mark.parametrize("existing", [None, b"the previous recipe\n"], ids=["new", "replacing"])
def test_a_recipe_killed_mid_write_is_absent_or_the_previous_one(
    tmp_path: Path, pause_at: str, existing: bytes | None
) -> None:
    ws = tiny_workspace(tmp_path / "ws")
    target = tmp_path / "out" / "recipe.json"
    target.parent.mkdir()
    if existing is not None:
        target.write_bytes(existing)
    kill_when_ready(start(pause_at, "cli", "prepare", "-p", "app", "--recipe-path", str(target), cwd=ws))
    assert leftovers(target.parent), "the kill did not land inside the write"
    if existing is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == existing


@pytest.mark.parametrize("pause_at", ["half", "before-rename"])
def test_a_stamp_killed_mid_write_is_absent_or_the_previous_one(tmp_path: Path, pause_at: str) -> None:
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    previous = b'{"format": "cargo-chefpy-stamp", "previous": true}\n'
    (target_dir / "cargo-chefpy-stamp.json").write_bytes(previous)
    kill_when_ready(start(pause_at, "stamp", str(target_dir), cwd=tmp_path))
    assert leftovers(target_dir)
    assert (target_dir / "cargo-chefpy-stamp.json").read_bytes() == previous


@pytest.mark.parametrize("pause_at", ["half", "before-rename"])
def test_a_skeleton_file_killed_mid_write_is_absent(tmp_path: Path, pause_at: str) -> None:
    recipe_path = tmp_path / "recipe.json"
    big_recipe(recipe_path)
    app = tmp_path / "app"
    app.mkdir()
    kill_when_ready(start(pause_at, "cli", "cook", "--no-build", "--recipe-path", str(recipe_path), cwd=app))
    assert leftovers(app)
    assert not (app / "lib/big.bin").exists()


def expected_files(data: bytes) -> dict[str, bytes]:
    loaded = recipe.loads(data)
    return {f.path: f.data for f in loaded.files}


def test_random_kills_during_prepare_and_cook_leave_only_complete_files(tmp_path: Path) -> None:
    """SIGKILL at random moments of real, large writes: every file is complete or absent."""
    ws = tiny_workspace(tmp_path / "ws")
    full = tmp_path / "full.json"
    env = {**os.environ, "NO_COLOR": "1"}
    tool = [sys.executable, str(ROOT / "bin" / "cargo-chefpy")]
    start_time = time.monotonic()
    subprocess.run([*tool, "prepare", "-p", "app", "--recipe-path", str(full)], cwd=ws, env=env, check=True)
    prepare_seconds = time.monotonic() - start_time
    complete = full.read_bytes()
    files = expected_files(complete)
    rng = random.Random(20240229)  # noqa: S311 - kill times, not secrets
    outcomes: dict[str, int] = {"absent": 0, "complete": 0, "killed mid-write": 0}
    for i in range(TRIES):
        out = tmp_path / f"try-{i}" / "recipe.json"
        out.parent.mkdir()
        delay = rng.uniform(0.05, prepare_seconds * 1.1)
        kill_after([*tool, "prepare", "-p", "app", "--recipe-path", str(out)], cwd=ws, env=env, seconds=delay)
        if out.exists():
            assert out.read_bytes() == complete
            outcomes["complete"] += 1
        else:
            outcomes["absent"] += 1
        outcomes["killed mid-write"] += bool(leftovers(out.parent))

        app = tmp_path / f"cook-{i}"
        app.mkdir()
        delay = rng.uniform(0.05, prepare_seconds * 1.1)
        kill_after([*tool, "cook", "--no-build", "--recipe-path", str(full)], cwd=app, env=env, seconds=delay)
        for path, data in files.items():
            written = app / path
            if written.exists():
                assert written.read_bytes() == data, path
    assert outcomes["absent"] + outcomes["complete"] == TRIES
    print(outcomes)
