"""The bad-input lab: a real tool run in a child process against a generated workspace, with a snapshot
of what it may touch. The catalogue itself lives in `integration/test_bad_input_<stage>.py`.

Each catalogue case runs the real tool (and, where the case needs it, real cargo) in a child
process and asserts:
- exactly one `error: ` line and one `hint: ` line on stderr, the hint after the error;
- the documented exit code (cargo_chefpy.errors.EXIT_CODES);
- no Python traceback on stdout or stderr;
- a content-and-mode snapshot (path -> sha256, mode, symlink target) of the watched directories that is
  identical before and after. Cases marked `keeps_existing` fail *after* cook has written its skeleton
  (cargo itself failed): there every entry that existed before is identical after, nothing else of
  the user's is touched, and no temporary file is left behind.

Cases where cargo's own failure is streamed (the cook build) print cargo's `error:` lines as well;
there the catalogue checks that our `error:` line is the last one, with cargo's message quoted
under it (`  | ...`) and the hint last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cargo_chefpy.errors import EXIT_CODES
from integration.support.workspaces import write_seed

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "bin" / "cargo-chefpy"
TMP_SUFFIX = ".chefpy-tmp"
DOCUMENTED = {code for code, _ in EXIT_CODES}

# --------------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------------

Entry = tuple[str, int, str]  # (kind, mode, sha256 | link target | "")


def snapshot(root: Path) -> dict[str, Entry]:
    """Every entry under `root` (and `root` itself): kind, permission bits, content or link target."""
    out: dict[str, Entry] = {}
    if not root.exists() and not root.is_symlink():
        return out

    def record(path: Path, rel: str) -> None:
        st = path.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", mode, os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", mode, "")
        elif stat.S_ISREG(st.st_mode):
            out[rel] = ("file", mode, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            out[rel] = ("other", mode, str(stat.S_IFMT(st.st_mode)))

    record(root, ".")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            full = Path(dirpath) / name
            record(full, full.relative_to(root).as_posix())
    return out


def temp_leftovers(snap: dict[str, Entry]) -> list[str]:
    return [p for p in snap if p.endswith(TMP_SUFFIX)]


# --------------------------------------------------------------------------------------------------
# Running the tool
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """How to run one case: argv after `cargo-chefpy`, where, and which directories must not change."""

    args: list[str]
    cwd: Path
    watch: tuple[Path, ...]
    env: dict[str, str | None] = field(default_factory=dict)  # None removes a variable
    fsize_limit: int | None = None  # RLIMIT_FSIZE for the child (disk-full fallback)
    stdout: str = "pipe"  # "closed" (`>&-`), "full" (`>/dev/full`) or "broken" (`| true`: EPIPE)
    stderr: str = "pipe"  # the same choices, for stderr (then nothing of it is captured)
    timeout: float = 120  # seconds; a case that could hang (a named pipe) says less
    wrapper: tuple[str, ...] = ()  # a command that runs the tool (Lab.without_read_override)


def child_env(overrides: dict[str, str | None]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPOTHESIS")}
    env["NO_COLOR"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_tool(run: Run, *, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    timeout = run.timeout if timeout is None else timeout
    limit = run.fsize_limit
    closed = [fd for fd, how in ((1, run.stdout), (2, run.stderr)) if how == "closed"]

    def preexec() -> None:  # pragma: no cover - runs in the child
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        for fd in closed:
            os.close(fd)

    def channel(how: str, stack: contextlib.ExitStack) -> Any:
        if how == "full":
            return stack.enter_context(open("/dev/full", "wb"))
        if how == "closed":
            return subprocess.DEVNULL  # closed in the child, before the tool starts
        if how == "broken":  # a pipe whose reader has gone: every write fails with EPIPE
            read_end, write_end = os.pipe()
            os.close(read_end)
            return stack.enter_context(os.fdopen(write_end, "wb"))
        return subprocess.PIPE

    with contextlib.ExitStack() as stack:
        proc = subprocess.run(
            [*run.wrapper, sys.executable, str(TOOL), *run.args],
            cwd=run.cwd,
            env=child_env(run.env),
            stdout=channel(run.stdout, stack),
            stderr=channel(run.stderr, stack),
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            preexec_fn=preexec if limit is not None or closed else None,
        )
    if proc.stdout is None:  # not captured: nothing to check there
        proc.stdout = ""
    if proc.stderr is None:
        proc.stderr = ""
    return proc


def assert_one_error_and_hint(proc: subprocess.CompletedProcess[str], *, cargo_streams: bool = False) -> None:
    """One `error:` line, then (after any `  | ` lines quoting a child's message) one `hint:` line."""
    out = f"--- exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, out
    assert "Traceback" not in proc.stdout, out
    lines = proc.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    hints = [i for i, line in enumerate(lines) if line.startswith("hint: ")]
    assert len(hints) == 1, out
    assert errors, out
    if not cargo_streams:
        assert len(errors) == 1, out
    ours = errors[-1]
    assert ours < hints[0], out
    between = lines[ours + 1 : hints[0]]
    assert all(line.startswith("  | ") for line in between), out


# --------------------------------------------------------------------------------------------------
# The lab: pristine inputs made once per session, copied per case
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Templates:
    seed: Path  # the seed workspace (vendored, locked)
    recipe: bytes  # a valid recipe of it for `-p serviceZ`


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    base = tmp_path_factory.mktemp("bad-input-templates")
    seed = base / "ws"
    write_seed(seed)
    proc = subprocess.run(
        [sys.executable, str(TOOL), "prepare", "-p", "serviceZ", "--recipe-path", "-"],
        cwd=seed,
        env=child_env({}),
        capture_output=True,
        check=True,
    )
    return Templates(seed=seed, recipe=proc.stdout)


class Lab:
    """One case's scratch space. Mounts made here are undone by the fixture."""

    def __init__(self, tmp: Path, templates: Templates) -> None:
        self.tmp = tmp
        self.templates = templates
        self.mounts: list[Path] = []

    # inputs
    def workspace(self, name: str = "ws") -> Path:
        dest = self.tmp / name
        shutil.copytree(self.templates.seed, dest, symlinks=True)
        return dest

    def recipe_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.templates.recipe)
        return doc

    def cook_dir(self, recipe: bytes | None = None, *, vendored: bool = True, name: str = "app") -> Path:
        app = self.tmp / name
        app.mkdir()
        (app / "recipe.json").write_bytes(self.templates.recipe if recipe is None else recipe)
        if vendored:
            shutil.copytree(self.templates.seed / "vendored", app / "vendored", symlinks=True)
        return app

    def cook_with(self, mutate: Callable[[dict[str, Any]], object]) -> Path:
        doc = self.recipe_doc()
        mutate(doc)
        return self.cook_dir(encode(doc))

    def script(self, body: str, *, name: str = "cargo", mode: int = 0o755) -> Path:
        path = self.tmp / "bin" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(mode)
        return path

    # environment
    def mount(self, target: Path, *args: str) -> None:
        target.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount here ({proc.stderr.strip() or proc.returncode})")
        self.mounts.append(target)

    def read_only(self, source: Path) -> Path:
        """A read-only view of `source` (a read-only bind mount: root ignores permission bits)."""
        view = source.with_name(source.name + "-ro")
        view.mkdir()
        self.mount(view, "--bind", "-o", "ro", str(source))
        probe = subprocess.run(["touch", str(view / ".probe")], capture_output=True, check=False)
        if probe.returncode == 0:
            pytest.skip("a read-only bind mount is writable here")
        return view

    def without_read_override(self) -> tuple[str, ...]:
        """A wrapper under which `chmod 000` keeps the tool from reading a file: nothing for a normal
        user; for root, setpriv dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (root reads anything)."""
        if os.geteuid() != 0:
            return ()
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: a chmod 000 file stays readable")
        caps = "-dac_override,-dac_read_search"
        return (setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}")

    def small_disk(self, name: str, size: str = "64k") -> tuple[Path, int | None]:
        """A directory on a tiny tmpfs; without mount rights, a normal one and an RLIMIT_FSIZE."""
        path = self.tmp / name
        path.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        )
        if proc.returncode == 0:
            self.mounts.append(path)
            return path, None
        return path, 64 * 1024

    def unmount_all(self) -> None:
        for target in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(target)], check=False)
        self.mounts.clear()


@pytest.fixture
def lab(tmp_path: Path, templates: Templates) -> Iterator[Lab]:
    the_lab = Lab(tmp_path, templates)
    try:
        yield the_lab
    finally:
        the_lab.unmount_all()


def encode(doc: object) -> bytes:
    return json.dumps(doc, indent=1).encode()


def file_entry(doc: dict[str, Any], suffix: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(f for f in doc["files"] if f["path"].endswith(suffix))
    return entry


def add_file(doc: dict[str, Any], path: str, **fields: object) -> None:
    entry = {"path": path, "role": "keep", "text": "x\n", **fields}
    doc["files"].append({k: v for k, v in entry.items() if v is not None})


# --------------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    exit_code: int
    what: str  # one line for the README's table
    setup: Callable[[Lab], Run]
    expect: tuple[str, ...] = ()  # substrings of stderr
    keeps_existing: bool = False  # see the module docstring
    cargo_streams: bool = False


def catalogue(cases: list[Case]) -> Callable[..., Callable[[Callable[[Lab], Run]], Callable[[Lab], Run]]]:
    """The `@case(exit_code, what, *expect)` decorator of one stage's catalogue: it appends to `cases`."""

    def case(
        exit_code: int,
        what: str,
        *expect: str,
        keeps_existing: bool = False,
        cargo_streams: bool = False,
    ) -> Callable[[Callable[[Lab], Run]], Callable[[Lab], Run]]:
        def register(setup: Callable[[Lab], Run]) -> Callable[[Lab], Run]:
            cases.append(
                Case(
                    id=setup.__name__,
                    exit_code=exit_code,
                    what=what,
                    setup=setup,
                    expect=expect,
                    keeps_existing=keeps_existing,
                    cargo_streams=cargo_streams,
                )
            )
            return setup

        return register

    return case


def prepare_in(ws: Path, *args: str, env: dict[str, str | None] | None = None, timeout: float = 120) -> Run:
    return Run(["prepare", *args], ws, (ws,), env or {}, timeout=timeout)


def cook_in(app: Path, *args: str, env: dict[str, str | None] | None = None, timeout: float = 120) -> Run:
    return Run(["cook", *args], app, (app,), env or {}, timeout=timeout)


LONG = "x" * 300  # longer than a file name may be (255 bytes)


def prepare_and_cook_skeleton(lab: Lab, ws: Path) -> Path:
    recipe = lab.tmp / "recipe.json"
    proc = run_tool(Run(["prepare", "-p", "serviceZ", "--recipe-path", str(recipe)], ws, ()))
    assert proc.returncode == 0, proc.stderr
    app = lab.tmp / "app"
    app.mkdir()
    shutil.copytree(ws / "vendored", app / "vendored")
    proc = run_tool(Run(["cook", "--no-build", "--recipe-path", str(recipe)], app, ()))
    assert proc.returncode == 0, proc.stderr
    return app


def check_case(lab: Lab, c: Case) -> None:
    """One error, one hint, the documented exit code, the expected words, and no damage."""
    assert c.exit_code in DOCUMENTED
    run = c.setup(lab)
    before = {w: snapshot(w) for w in run.watch}
    proc = run_tool(run)
    after = {w: snapshot(w) for w in run.watch}
    out = f"--- exit {proc.returncode}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == c.exit_code, out
    assert_one_error_and_hint(proc, cargo_streams=c.cargo_streams)
    for text in c.expect:
        assert text in proc.stderr, f"{text!r} not in stderr\n{out}"
    for w in run.watch:
        assert not temp_leftovers(after[w]), f"temporary files left in {w}"
        if c.keeps_existing:
            changed = {p for p, e in before[w].items() if after[w].get(p) != e and p != "."}
            assert not changed, f"entries changed in {w}: {sorted(changed)[:10]}"
        else:
            assert after[w] == before[w], f"{w} changed:\n{diff(before[w], after[w])}"


def diff(a: dict[str, Entry], b: dict[str, Entry]) -> str:
    lines = [f"- {p} {a[p]}" for p in sorted(a) if a[p] != b.get(p)]
    lines += [f"+ {p} {b[p]}" for p in sorted(b) if b[p] != a.get(p)]
    return "\n".join(lines[:40])
