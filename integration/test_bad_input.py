"""The hostile-input catalogue: every bad input gets one clear error, its exit code, and no damage.

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

Inputs that must *succeed* (a binary file, a CRLF manifest, a symlink to a file inside a kept crate,
`build` with no cook, a 1000-member workspace, a rerun after Ctrl-C) have their own tests below.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cargo_chefpy.errors import EXIT_CODES
from integration.workspaces import run_cargo, write_seed

ROOT = Path(__file__).resolve().parent.parent
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
    stdout: str = "pipe"  # "closed" (`>&-`) or "full" (`>/dev/full`)


def child_env(overrides: dict[str, str | None]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPOTHESIS")}
    env["NO_COLOR"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_tool(run: Run, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    limit = run.fsize_limit

    closed = run.stdout == "closed"

    def preexec() -> None:  # pragma: no cover - runs in the child
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        if closed:
            os.close(1)

    with contextlib.ExitStack() as stack:
        stdout: Any = subprocess.PIPE
        if run.stdout == "full":
            stdout = stack.enter_context(open("/dev/full", "wb"))
        elif closed:
            stdout = subprocess.DEVNULL
        proc = subprocess.run(
            [sys.executable, str(TOOL), *run.args],
            cwd=run.cwd,
            env=child_env(run.env),
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            preexec_fn=preexec if limit is not None or closed else None,
        )
    if proc.stdout is None:  # not captured: nothing to check there
        proc.stdout = ""
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


CASES: list[Case] = []


def case(
    exit_code: int,
    what: str,
    *expect: str,
    keeps_existing: bool = False,
    cargo_streams: bool = False,
) -> Callable[[Callable[[Lab], Run]], Callable[[Lab], Run]]:
    def register(setup: Callable[[Lab], Run]) -> Callable[[Lab], Run]:
        CASES.append(
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


def prepare_in(ws: Path, *args: str, env: dict[str, str | None] | None = None) -> Run:
    return Run(["prepare", *args], ws, (ws,), env or {})


def cook_in(app: Path, *args: str, env: dict[str, str | None] | None = None) -> Run:
    return Run(["cook", *args], app, (app,), env or {})


# --- project -------------------------------------------------------------------------------------


@case(3, "prepare: no Cargo.toml in the directory or any parent", "could not find Cargo.toml")
def prepare_without_cargo_toml(lab: Lab) -> Run:
    empty = lab.tmp / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a project\n")
    return prepare_in(empty)


@case(3, "prepare: --manifest-path that is not a Cargo.toml", "is not a Cargo.toml")
def prepare_manifest_path_not_a_manifest(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, "--manifest-path", "Cargo.lock")


@case(3, "prepare: the root Cargo.toml does not parse", "does not parse", "  | ")
def prepare_unparsable_root_manifest(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "Cargo.toml").write_text("[workspace\nmembers = [\n")
    return prepare_in(ws)


@case(3, "prepare: a member's Cargo.toml does not parse", "does not parse")
def prepare_unparsable_member_manifest(lab: Lab) -> Run:
    ws = lab.workspace()
    with (ws / "src/libB/Cargo.toml").open("a") as handle:
        handle.write("\n[dependencies\n")
    return prepare_in(ws)


@case(3, "prepare: a member's Cargo.toml is not UTF-8", "does not parse", "not valid utf-8")
def prepare_non_utf8_member_manifest(lab: Lab) -> Run:
    ws = lab.workspace()
    path = ws / "src/libB/Cargo.toml"
    path.write_bytes(path.read_bytes() + b"\n# caf\xe9\n")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: Cargo.lock is missing", "Cargo.lock is missing", "generate-lockfile")
def prepare_missing_lock(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "Cargo.lock").unlink()
    return prepare_in(ws)


@case(3, "prepare: Cargo.lock is out of date (a member depends on a crate it does not list)", "out of date")
def prepare_lock_missing_a_dependency(lab: Lab) -> Run:
    ws = lab.workspace()
    manifest = ws / "src/libB/Cargo.toml"
    manifest.write_text(
        manifest.read_text().replace("[dependencies]\n", '[dependencies]\nfake-extra = "0.1"\n')
    )
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: Cargo.lock is out of date (a member's version changed)", "out of date")
def prepare_lock_with_old_member_version(lab: Lab) -> Run:
    ws = lab.workspace()
    manifest = ws / "src/libB/Cargo.toml"
    text = manifest.read_text()
    assert 'version = "0.2.0"' in text
    manifest.write_text(text.replace('version = "0.2.0"', 'version = "0.2.9"', 1))
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: Cargo.lock is not TOML", "Cargo.lock")
def prepare_lock_not_toml(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "Cargo.lock").write_text("version = 3\n[[package]\nname = \n")
    return prepare_in(ws)


@case(7, "prepare: cargo is not on PATH and $CARGO is unset", "cargo was not found", "rustup")
def prepare_without_cargo(lab: Lab) -> Run:
    ws = lab.workspace()
    empty_bin = lab.tmp / "no-cargo-here"
    empty_bin.mkdir()
    return prepare_in(ws, env={"PATH": str(empty_bin), "CARGO": None})


@case(7, "prepare: $CARGO is a file without execute permission", "not an executable file")
def prepare_cargo_not_executable(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.script("exit 0", mode=0o644))})


@case(7, "prepare: $CARGO is a directory", "not an executable file")
def prepare_cargo_is_a_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.tmp)})


@case(7, "prepare: $CARGO cannot be started (bad interpreter)", "could not run")
def prepare_cargo_cannot_start(lab: Lab) -> Run:
    ws = lab.workspace()
    path = lab.tmp / "bin" / "cargo"
    path.parent.mkdir()
    path.write_text("#!/nonexistent/interpreter\n")
    path.chmod(0o755)
    return prepare_in(ws, env={"CARGO": str(path)})


@case(7, "prepare: cargo exits non-zero (its message is quoted)", "failed with exit code 1", "  | boom")
def prepare_cargo_exits_non_zero(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.script("echo boom >&2; exit 1"))})


@case(7, "prepare: cargo is killed by a signal", "failed")
def prepare_cargo_killed(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.script("kill -9 $$"))})


@case(7, "prepare: `cargo metadata` prints garbage", "unexpected shape", "not JSON")
def prepare_metadata_garbage(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.script("echo 'this is not json'"))})


@case(7, "prepare: `cargo metadata` prints JSON of an unexpected shape", "unexpected shape")
def prepare_metadata_wrong_shape(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.script("echo '{\"packages\": 5}'"))})


@case(7, "prepare: `cargo metadata` prints JSON nested deeper than Python reads", "nested too deeply")
def prepare_metadata_deeply_nested(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.script("yes '[' | head -n 200000 | tr -d '\\n'"))})


@case(7, "prepare: `cargo metadata` prints a JSON list", "unexpected shape")
def prepare_metadata_json_list(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, env={"CARGO": str(lab.script("echo '[1, 2]'"))})


@case(7, "prepare: `cargo metadata` names a member it does not describe", "unexpected shape")
def prepare_metadata_member_without_package(lab: Lab) -> Run:
    ws = lab.workspace()
    doc = {"packages": [], "workspace_members": ["ghost 0.1.0"], "workspace_root": str(ws)}
    return prepare_in(ws, env={"CARGO": str(lab.script(f"echo '{json.dumps(doc)}'"))})


# --- selection -----------------------------------------------------------------------------------


@case(4, "prepare: -p names no package (close match offered)", "matches no package", "did you mean serviceZ")
def prepare_unknown_package(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "servceZ")


@case(
    4, "prepare: --bin names no binary (close match offered)", "matches no package", "did you mean serviceY"
)
def prepare_unknown_bin(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "--bin", "serviceYY")


@case(4, "prepare: --keep matches no crate", "matches no package")
def prepare_keep_matches_nothing(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--keep", "nothing-*")


@case(4, "prepare: --stub names a [patch] crate outside the members", "outside the workspace members")
def prepare_stub_patch_crate(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--stub", "fake-patched")


@case(4, "prepare: --keep a crate whose dependency is stubbed", "cannot be kept")
def prepare_keep_depends_on_stub(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--stub", "libA", "--keep", "libB")


@case(2, "prepare: a crate both --stub and --keep", "both --stub and --keep")
def prepare_stub_and_keep_same_crate(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--stub", "libA", "--keep", "libA")


@case(2, "prepare: --keep the build target itself", "cannot be kept")
def prepare_keep_the_target(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--keep", "serviceZ")


@case(2, "prepare: --stub-all with --keep", "--stub-all cannot be combined")
def prepare_stub_all_with_keep(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "--stub-all", "--keep", "libA")


@case(2, "prepare: --out-dir with --recipe-path -", "both ask for the output")
def prepare_out_dir_and_stdout(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "--out-dir", "out", "--recipe-path", "-")


@case(2, "prepare: an unknown flag", "unrecognized arguments")
def prepare_unknown_flag(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "--frobnicate")


@case(2, "cook: --release with --profile dev", "contradict each other")
def cook_release_and_profile_dev(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--release", "--profile", "dev")


@case(2, "cook: --check with --clippy", "exclude each other")
def cook_check_and_clippy(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--check", "--clippy")


@case(2, "cook: a stray positional argument (not after --)", "unexpected argument")
def cook_stray_positional(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "serviceZ")


@case(2, "build: --release with --profile dev", "contradict each other")
def build_release_and_profile_dev(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["build", "--release", "--profile", "dev"], ws, (ws,))


@case(4, "dockerfile: --bin names no binary", "serviceYY")
def dockerfile_unknown_bin(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "--bin", "serviceYY"], ws, (ws,))


@case(4, "dockerfile: -p names no package", "nope")
def dockerfile_unknown_package(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "nope"], ws, (ws,))


# --- writing the recipe --------------------------------------------------------------------------


@case(6, "prepare: --recipe-path is an existing directory", "is a directory")
def prepare_recipe_path_is_a_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "out").mkdir()
    return prepare_in(ws, "-p", "serviceZ", "--recipe-path", "out")


@case(6, "prepare: --recipe-path in a directory that does not exist", "could not write")
def prepare_recipe_path_in_missing_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, "-p", "serviceZ", "--recipe-path", "no/such/dir/recipe.json")


@case(6, "prepare: --recipe-path on a read-only file system", "could not write", "read-only")
def prepare_recipe_path_read_only(lab: Lab) -> Run:
    ws = lab.workspace()
    outbox = lab.tmp / "outbox"
    outbox.mkdir()
    (outbox / "keep.txt").write_text("mine\n")
    view = lab.read_only(outbox)
    return Run(["prepare", "-p", "serviceZ", "--recipe-path", str(view / "recipe.json")], ws, (ws, outbox))


@case(6, "prepare: the disk fills up while the recipe is written (no partial file)", "could not write")
def prepare_disk_full(lab: Lab) -> Run:
    ws = lab.workspace()
    # A kept crate's 200 KB file makes the recipe larger than the 64 KiB disk.
    (ws / "src/libA/big.txt").write_text("x" * 200_000 + "\n")
    disk, limit = lab.small_disk("full")
    return Run(
        ["prepare", "-p", "serviceZ", "--recipe-path", str(disk / "recipe.json")],
        ws,
        (ws, disk),
        fsize_limit=limit,
    )


# --- kept crates that prepare refuses --------------------------------------------------------------


@case(3, "prepare: a kept crate has a file name that is not UTF-8", "not valid UTF-8", "rename")
def prepare_non_utf8_file_name(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / os.fsdecode(b"src/libA/caf\xe9.txt")).write_bytes(b"x\n")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: a kept crate has a dangling symlink", "dangling symlink")
def prepare_dangling_symlink(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "src/libA/gone.txt").symlink_to("nowhere.txt")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: a kept crate has a symlink to a directory", "symlink to a directory")
def prepare_symlinked_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "src/libA/assets").symlink_to("src")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: a kept crate has a symlink to a file outside the workspace", "outside")
def prepare_symlink_outside_workspace(lab: Lab) -> Run:
    ws = lab.workspace()
    secret = lab.tmp / "secret.txt"
    secret.write_text("not for the recipe\n")
    (ws / "src/libA/secret.txt").symlink_to(secret)
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: a kept crate has a named pipe (it must not hang)", "not a regular file")
def prepare_fifo_in_kept_crate(lab: Lab) -> Run:
    ws = lab.workspace()
    os.mkfifo(ws / "src/libA/pipe")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: a kept crate has a socket (it cannot even be opened)", "not a regular file")
def prepare_socket_in_kept_crate(lab: Lab) -> Run:
    ws = lab.workspace()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(ws / "src/libA/sock"))
    server.close()  # the socket file stays
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: a kept crate has a file larger than a recipe entry may be", "larger than")
def prepare_oversized_kept_file(lab: Lab) -> Run:
    ws = lab.workspace()
    with (ws / "src/libA/huge.bin").open("wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: cheap to make
    return prepare_in(ws, "-p", "serviceZ")


# --- recipe ----------------------------------------------------------------------------------------


@case(5, "cook: the recipe does not exist", "does not exist", "prepare")
def cook_missing_recipe(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "recipe.json").unlink()
    return cook_in(app)


@case(5, "cook: the recipe path is a directory", "cannot read the recipe")
def cook_recipe_is_a_directory(lab: Lab) -> Run:
    app = lab.cook_dir()
    return cook_in(app, "--recipe-path", "vendored")


@case(5, "cook: the recipe is empty", "is empty")
def cook_empty_recipe(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(b""))


@case(5, "cook: the recipe is truncated", "not JSON", "truncated")
def cook_truncated_recipe(lab: Lab) -> Run:
    data = lab.templates.recipe
    return cook_in(lab.cook_dir(data[: len(data) // 2]))


@case(5, "cook: the recipe is not JSON", "not JSON")
def cook_recipe_not_json(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(b"[package]\nname = 'x'\n"))


@case(5, "cook: the recipe is not UTF-8", "not JSON")
def cook_recipe_not_utf8(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(b'{"format": "\xff\xfe"}'))


@case(5, "cook: the recipe is nested too deeply", "not JSON")
def cook_recipe_too_deep(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(b"[" * 100_000 + b"]" * 100_000))


@case(5, "cook: the recipe is a JSON list (wrong shape)", "not a cargo-chefpy recipe")
def cook_recipe_json_list(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(b"[]"))


@case(5, "cook: the recipe is cargo-chef's, not ours", "not a cargo-chefpy recipe", "cargo-chef")
def cook_cargo_chef_recipe(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(encode({"skeleton": {"manifests": [], "lock_file": None}})))


@case(5, "cook: 'files' is not a list", "'files' is not a list")
def cook_files_not_a_list(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: d.update(files={"Cargo.toml": "x"})))


@case(5, "cook: a file entry has an unknown role", "role")
def cook_unknown_role(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: file_entry(d, "Cargo.lock").update(role="magic")))


@case(5, "cook: the recipe's format version is newer than this tool", "format version 4", "upgrade")
def cook_future_version(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: d.update(version=4)))


@case(5, "cook: the format version is not an integer", "not an integer")
def cook_version_not_integer(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: d.update(version=True)))


@case(5, "cook: a path appears twice", "appears twice")
def cook_duplicate_paths(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: d["files"].append(copy.deepcopy(d["files"][0]))))


@case(5, "cook: an absolute path", "is absolute")
def cook_absolute_path(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: add_file(d, "/tmp/chefpy-pwned")))


@case(5, "cook: a path with `..`", "not a plain relative path")
def cook_dotdot_path(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: add_file(d, "src/../../escape.txt")))


@case(5, "cook: a path with a NUL byte", "NUL")
def cook_nul_in_path(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: add_file(d, "src/libA/a\x00b.rs")))


@case(5, "cook: a path with a backslash", "backslash")
def cook_backslash_path(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: add_file(d, "src\\..\\..\\x")))


@case(5, "cook: a path that is both a file and a directory", "both a file and the directory")
def cook_file_and_directory(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: add_file(d, "Cargo.toml/inner.rs")))


@case(5, "cook: a vendored path that leaves the cook directory", "not a plain relative path")
def cook_vendored_dotdot(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: d.update(vendored=["../vendored"])))


@case(5, "cook: an entry larger than 64 MiB", "larger than 64 MiB")
def cook_oversized_entry(lab: Lab) -> Run:
    big = "A" * (64 * 1024 * 1024 * 4 // 3 + 8)
    return cook_in(lab.cook_with(lambda d: add_file(d, "src/libA/huge.bin", text=None, base64=big)))


@case(5, "cook: an entry with bad base64", "not valid base64")
def cook_bad_base64(lab: Lab) -> Run:
    def mutate(d: dict[str, Any]) -> None:
        entry = file_entry(d, "src/libA/src/lib.rs")
        del entry["text"]
        entry["base64"] = "not*base64!"

    return cook_in(lab.cook_with(mutate))


@case(5, "cook: an entry with both text and base64", "exactly one of")
def cook_text_and_base64(lab: Lab) -> Run:
    entry = base64.b64encode(b"x").decode()
    return cook_in(lab.cook_with(lambda d: file_entry(d, "src/libA/src/lib.rs").update(base64=entry)))


@case(5, "cook: text with a lone surrogate (not encodable)", "not valid UTF-8")
def cook_lone_surrogate(lab: Lab) -> Run:
    doc = lab.recipe_doc()
    file_entry(doc, "src/libA/src/lib.rs")["text"] = "@SURROGATE@"
    return cook_in(lab.cook_dir(encode(doc).replace(b"@SURROGATE@", b"\\ud800")))


@case(5, "cook: a symlinked directory in the cook dir points outside it", "points outside")
def cook_symlinked_directory_outside(lab: Lab) -> Run:
    app = lab.cook_dir()
    outside = lab.tmp / "outside"
    outside.mkdir()
    (app / "src").symlink_to(outside)
    return Run(["cook"], app, (app, outside))


@case(5, "cook: a symlink at a file's path points outside the cook dir", "points outside")
def cook_symlinked_file_outside(lab: Lab) -> Run:
    app = lab.cook_dir()
    victim = lab.tmp / "victim.toml"
    victim.write_text("precious\n")
    (app / "Cargo.toml").symlink_to(victim)
    return Run(["cook"], app, (app, victim.parent))


# --- the cook directory ----------------------------------------------------------------------------


@case(6, "cook: a file in the cook dir differs (no --force): refused", "would overwrite", "--force")
def cook_refuses_differing_files(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "Cargo.toml").write_text("# my own workspace\n")
    (app / "src/libA/src").mkdir(parents=True)
    (app / "src/libA/src/lib.rs").write_text("// my own code\n")
    return cook_in(app)


@case(6, "cook: a directory stands where the recipe has a file (no --force)", "would overwrite")
def cook_directory_in_the_way(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "Cargo.lock").mkdir()
    return cook_in(app)


@case(6, "cook: a file stands where the recipe needs a directory", "is a file")
def cook_file_in_the_way(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "src").write_text("a file, not a directory\n")
    return cook_in(app, "--force")


@case(6, "cook: the cook directory is read-only", "could not write", "read-only")
def cook_read_only_directory(lab: Lab) -> Run:
    app = lab.cook_dir()
    view = lab.read_only(app)
    return Run(["cook"], view, (app,))


@case(6, "cook: the disk fills up while the skeleton is written (rolled back)", "could not write")
def cook_disk_full(lab: Lab) -> Run:
    def mutate(d: dict[str, Any]) -> None:
        d.update(vendored=[], vendored_crates=[])
        add_file(d, "src/libA/big.txt", text="x" * 200_000 + "\n")

    doc = lab.recipe_doc()
    mutate(doc)
    recipe = lab.tmp / "recipe.json"
    recipe.write_bytes(encode(doc))
    disk, limit = lab.small_disk("app")
    return Run(
        ["cook", "--no-build", "--recipe-path", str(recipe)], disk, (disk, recipe.parent), fsize_limit=limit
    )


@case(7, "cook: cargo is absent (found before anything is written)", "cargo was not found")
def cook_without_cargo(lab: Lab) -> Run:
    app = lab.cook_dir()
    empty_bin = lab.tmp / "no-cargo-here"
    empty_bin.mkdir()
    return cook_in(app, env={"PATH": str(empty_bin), "CARGO": None})


@case(
    7, "cook: `cargo fetch` fails (no vendored sources, no network)", "`cargo fetch` failed with exit code",
    keeps_existing=True, cargo_streams=True,
)  # fmt: skip
def cook_fetch_fails(lab: Lab) -> Run:
    app = lab.cook_with(lambda doc: doc.update(vendored=[], vendored_crates=[]))
    cargo = lab.script('echo "error: failed to download from crates.io" >&2; exit 101')
    return cook_in(app, env={"CARGO": str(cargo)})


@case(
    7,
    "cook: `cargo metadata` prints garbage after the build",
    "unexpected shape",
    keeps_existing=True,
)
def cook_metadata_garbage(lab: Lab) -> Run:
    app = lab.cook_dir()
    fake = lab.script('if [ "$1" = metadata ]; then echo garbage; fi; exit 0')
    return cook_in(app, env={"CARGO": str(fake)})


# --- vendored sources ------------------------------------------------------------------------------


@case(8, "cook: the vendored directory is missing", "vendored directory vendored/", "COPY vendored")
def cook_vendored_missing(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(vendored=False))


@case(8, "cook: one vendored crate directory is missing", "incomplete", "fake-log 0.4.0")
def cook_vendored_crate_missing(lab: Lab) -> Run:
    app = lab.cook_dir()
    shutil.rmtree(app / "vendored/fake-log")
    return cook_in(app)


@case(8, "cook: a vendored crate lost its .cargo-checksum.json", "incomplete")
def cook_vendored_checksum_file_missing(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "vendored/fake-serde/.cargo-checksum.json").unlink()
    return cook_in(app)


@case(
    8,
    "cook: a vendored file was edited (cargo's checksum message quoted under ours)",
    "does not match its checksum",
    "  | error: the listed checksum of",
    "[patch]",
    keeps_existing=True,
    cargo_streams=True,
)
def cook_vendored_file_edited(lab: Lab) -> Run:
    app = lab.cook_dir()
    with (app / "vendored/fake-log/src/lib.rs").open("a") as handle:
        handle.write("// edited in place\n")
    return cook_in(app)


# --- stamp and build -------------------------------------------------------------------------------


def build_with_stamp(lab: Lab, content: bytes | None, *, directory: bool = False) -> Run:
    ws = lab.workspace()
    stamp = ws / "target" / "cargo-chefpy-stamp.json"
    stamp.parent.mkdir()
    if directory:
        stamp.mkdir()
    elif content is not None:
        stamp.write_bytes(content)
    return Run(["build", "-p", "serviceZ"], ws, (ws,))


@case(9, "build: the cook stamp is not JSON", "stamp", "is corrupt", "cook")
def build_stamp_not_json(lab: Lab) -> Run:
    return build_with_stamp(lab, b'{"format": "cargo-chefpy-st')


@case(9, "build: the cook stamp is another tool's JSON", "not a cargo-chefpy stamp")
def build_stamp_wrong_format(lab: Lab) -> Run:
    return build_with_stamp(lab, b'{"format": "something-else", "version": 1}')


def stamp_doc(**changes: object) -> bytes:
    doc = {
        "format": "cargo-chefpy-stamp",
        "version": 1,
        "recipe": "0" * 64,
        "workspace": ".",
        "options": {},
        "packages": [],
        "files": {},
        "vendored": {},
        "vendored_dirs": [],
        "kept_crates": 0,
        "external_crates": 0,
    }
    return encode({**doc, **changes})


@case(9, "build: the cook stamp has an unsafe file path", "unsafe path")
def build_stamp_unsafe_path(lab: Lab) -> Run:
    return build_with_stamp(lab, stamp_doc(files={"../../etc/passwd": "0" * 64}))


@case(9, "build: the cook stamp's workspace path leaves the tree", "unsafe path")
def build_stamp_unsafe_workspace(lab: Lab) -> Run:
    return build_with_stamp(lab, stamp_doc(workspace="../.."))


@case(9, "build: the cook stamp's workspace is deeper than the file system", "expects the workspace at")
def build_stamp_workspace_too_deep(lab: Lab) -> Run:
    return build_with_stamp(lab, stamp_doc(workspace="/".join("d" * 64)))


@case(9, "build: the cook stamp is a directory", "is corrupt")
def build_stamp_is_a_directory(lab: Lab) -> Run:
    return build_with_stamp(lab, None, directory=True)


@case(3, "build: no Cargo.toml", "could not find Cargo.toml")
def build_without_cargo_toml(lab: Lab) -> Run:
    empty = lab.tmp / "empty"
    empty.mkdir()
    return Run(["build"], empty, (empty,))


@case(3, "build: the Cargo.toml does not parse", "does not parse")
def build_unparsable_manifest(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "Cargo.toml").write_text("[workspace\n")
    return Run(["build"], ws, (ws,))


@case(7, "build: cargo is absent", "cargo was not found")
def build_without_cargo(lab: Lab) -> Run:
    ws = lab.workspace()
    empty_bin = lab.tmp / "no-cargo-here"
    empty_bin.mkdir()
    return Run(["build"], ws, (ws,), {"PATH": str(empty_bin), "CARGO": None})


@case(7, "build: `cargo metadata` prints garbage", "unexpected shape")
def build_metadata_garbage(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["build"], ws, (ws,), {"CARGO": str(lab.script("echo garbage"))})


@case(7, "build: `cargo metadata` prints JSON without a target directory", "unexpected shape")
def build_metadata_wrong_shape(lab: Lab) -> Run:
    ws = lab.workspace()
    doc = {"packages": [], "workspace_members": [], "workspace_root": str(ws)}
    return Run(["build"], ws, (ws,), {"CARGO": str(lab.script(f"echo '{json.dumps(doc)}'"))})


# --- what is at an output path, closed or full stdout, names too long (issue 12, D and E) ---------------

LONG = "x" * 300  # longer than a file name may be (255 bytes)


@case(6, "prepare: --recipe-path - with stdout closed (`>&-`)", "stdout is closed", "--recipe-path FILE")
def prepare_recipe_to_closed_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--recipe-path", "-"], ws, (ws,), stdout="closed")


@case(6, "prepare: --recipe-path - with a full stdout (`>/dev/full`)", "no space left")
def prepare_recipe_to_full_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--recipe-path", "-"], ws, (ws,), stdout="full")


@case(6, "prepare: --explain with stdout closed (no recipe written either)", "stdout is closed")
def prepare_explain_to_closed_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--explain"], ws, (ws,), stdout="closed")


@case(6, "prepare: --explain with a full stdout (no recipe written either)", "no space left")
def prepare_explain_to_full_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--explain"], ws, (ws,), stdout="full")


@case(6, "dockerfile: stdout closed", "stdout is closed", "--output FILE")
def dockerfile_to_closed_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceZ"], ws, (ws,), stdout="closed")


@case(6, "dockerfile: a full stdout", "no space left")
def dockerfile_to_full_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceZ"], ws, (ws,), stdout="full")


@case(6, "prepare: --recipe-path is a socket (refused, not replaced)", "is a socket")
def prepare_recipe_path_is_a_socket(lab: Lab) -> Run:
    ws = lab.workspace()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(ws / "recipe.json"))
    server.close()
    return prepare_in(ws, "-p", "serviceZ")


@case(6, "prepare: --recipe-path is a symlink loop (the link stays)", "symlink loop")
def prepare_recipe_path_symlink_loop(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "recipe.json").symlink_to("recipe.json")
    return prepare_in(ws, "-p", "serviceZ")


@case(6, "prepare: --recipe-path with a name too long", "file name too long", "shorter path")
def prepare_recipe_path_too_long(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--recipe-path", LONG)


@case(3, "prepare: --manifest-path with a name too long", "File name too long", "shorter path")
def prepare_manifest_path_too_long(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "--manifest-path", f"{LONG}/Cargo.toml")


@case(6, "prepare: --out-dir with a name too long (the parents it made are removed)", "file name too long")
def prepare_out_dir_too_long(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--out-dir", f"new/parents/{LONG}")


@case(
    6, "prepare: --out-dir whose skeleton cannot be written (the directories it made are removed)", "too long"
)
def prepare_out_dir_write_fails(lab: Lab) -> Run:
    ws = lab.workspace()
    room = 4070 - len(str(ws)) - 1  # the directory fits in PATH_MAX, its files do not
    parts = ["o" * 200] * (room // 201) + ["p" * (room % 201 - 1 or 1)]
    return prepare_in(ws, "-p", "serviceZ", "--out-dir", "/".join(parts))


@case(6, "dockerfile: --output with a name too long", "file name too long")
def dockerfile_output_too_long(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceZ", "--output", LONG], ws, (ws,))


@case(3, "dockerfile: --manifest-path with a name too long", "File name too long")
def dockerfile_manifest_path_too_long(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "--manifest-path", f"{LONG}/Cargo.toml"], ws, (ws,))


@case(5, "cook: --recipe-path with a name too long", "cannot read the recipe", "shorter --recipe-path")
def cook_recipe_path_too_long(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--recipe-path", LONG)


@case(6, "cook: --target-dir with a name too long (refused before the skeleton is written)", "too long")
def cook_target_dir_too_long(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--target-dir", f"t/{LONG}")


@case(6, "build: --target-dir with a name too long", "too long")
def build_target_dir_too_long(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["build", "-p", "serviceZ", "--target-dir", f"t/{LONG}"], ws, (ws,))


@case(6, "cook: a recipe path too long for the cook directory's file system", "too long for the file system")
def cook_recipe_file_name_too_long(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: add_file(d, f"src/libA/{LONG}.txt")))


@case(5, "cook: a recipe without the workspace's Cargo.lock (checked before any write)", "Cargo.lock")
def cook_recipe_without_lock(lab: Lab) -> Run:
    return cook_in(lab.cook_with(lambda d: d["files"].remove(file_entry(d, "Cargo.lock"))))


@case(6, "cook: a dangling symlink where the recipe needs a directory (the link stays)", "leads nowhere")
def cook_dangling_symlink_in_the_way(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "src").mkdir()
    (app / "src/libA").symlink_to("gone")
    return cook_in(app, "--force")


@case(6, "cook: a symlink loop where the recipe needs a directory", "leads nowhere")
def cook_symlink_loop_in_the_way(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "src").symlink_to("src")
    return cook_in(app)


@case(6, "cook: a byte-identical file whose executable bit differs", "only its executable bit", "--force")
def cook_mode_only_difference(lab: Lab) -> Run:
    app = lab.cook_dir()
    entry = file_entry(json.loads(lab.templates.recipe), "src/libA/src/lib.rs")
    path = app / entry["path"]
    path.parent.mkdir(parents=True)
    path.write_text(entry["text"])
    path.chmod(0o755)
    return cook_in(app)


@case(3, "prepare: a kept crate holds a symlink loop", "is a symlink loop")
def prepare_symlink_loop_in_kept_crate(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "src/libA/loop").symlink_to("loop")
    return prepare_in(ws, "-p", "serviceZ")


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_error_one_hint_its_exit_code_and_changes_nothing(lab: Lab, c: Case) -> None:
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


def test_the_catalogue_has_at_least_forty_cases_and_uses_only_documented_exit_codes() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.exit_code for c in CASES} <= DOCUMENTED


# --------------------------------------------------------------------------------------------------
# Ctrl-C during cook
# --------------------------------------------------------------------------------------------------


def slow_build_script(marker: Path) -> str:
    """A build script that stalls while `marker` exists: Ctrl-C then surely lands mid-build."""
    return (
        "fn main() {\n"
        f"    let marker = std::path::Path::new({json.dumps(str(marker))});\n"
        "    while marker.exists() {\n"
        "        std::thread::sleep(std::time::Duration::from_millis(100));\n"
        "    }\n"
        "}\n"
    )


def test_sigint_during_cook_exits_130_leaves_no_partial_file_and_a_rerun_succeeds(lab: Lab) -> None:
    marker = lab.tmp / "stall"
    marker.write_text("remove me to let the build script finish\n")
    app = lab.cook_with(lambda d: add_file(d, "src/libA/build.rs", text=slow_build_script(marker)))
    proc = subprocess.Popen(
        [sys.executable, str(TOOL), "cook"],
        cwd=app,
        env=child_env({}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: list[str] = []
    compiling = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.lstrip().startswith("Compiling libA"):
                compiling.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert compiling.wait(60), "".join(lines)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    try:
        proc.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(10)
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr
    completed = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    assert_one_error_and_hint(completed, cargo_streams=True)
    assert "interrupted" in stderr
    snap = snapshot(app)
    assert not temp_leftovers(snap)
    recipe = json.loads((app / "recipe.json").read_bytes())
    for entry in recipe["files"]:  # every skeleton file is complete, or absent
        path = app / entry["path"]
        if path.exists():
            expected = entry["text"].encode() if "text" in entry else base64.b64decode(entry["base64"])
            assert path.read_bytes() == expected, entry["path"]
    marker.unlink()
    rerun = run_tool(Run(["cook"], app, (app,)))
    assert rerun.returncode == 0, rerun.stderr
    assert (app / "target" / "cargo-chefpy-stamp.json").is_file()


# --------------------------------------------------------------------------------------------------
# Inputs that must succeed
# --------------------------------------------------------------------------------------------------


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


def test_kept_binary_file_and_crlf_manifest_round_trip_byte_for_byte(lab: Lab) -> None:
    ws = lab.workspace()
    binary = bytes(range(256)) * 8 + b"\x00\xff\xfe"
    (ws / "src/libA/logo.bin").write_bytes(binary)
    manifest = ws / "src/libA/Cargo.toml"
    crlf = manifest.read_bytes().replace(b"\n", b"\r\n")
    manifest.write_bytes(crlf)
    script = ws / "src/libA/run.sh"
    script.write_bytes(b"#!/bin/sh\r\necho hi\r\n")
    script.chmod(0o755)
    app = prepare_and_cook_skeleton(lab, ws)
    assert (app / "src/libA/logo.bin").read_bytes() == binary
    assert (app / "src/libA/Cargo.toml").read_bytes() == crlf
    assert (app / "src/libA/run.sh").read_bytes() == b"#!/bin/sh\r\necho hi\r\n"
    assert os.stat(app / "src/libA/run.sh").st_mode & stat.S_IXUSR
    # cargo accepts the CRLF manifest in the skeleton
    run_cargo(["metadata", "--format-version", "1", "--no-deps", "--offline"], app)


def test_a_symlink_to_a_file_inside_a_kept_crate_is_carried_as_a_regular_file(lab: Lab) -> None:
    ws = lab.workspace()
    (ws / "src/libA/README.md").write_text("readme\n")
    (ws / "src/libA/README-link.md").symlink_to("README.md")
    app = prepare_and_cook_skeleton(lab, ws)
    carried = app / "src/libA/README-link.md"
    assert not carried.is_symlink()
    assert carried.read_text() == "readme\n"


def tiny_workspace(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "src/main.rs").write_text('fn main() { println!("tiny"); }\n')
    run_cargo(["generate-lockfile", "--offline"], root)
    return root


def test_build_without_a_cook_warns_once_and_still_builds(lab: Lab) -> None:
    ws = tiny_workspace(lab.tmp / "tiny")
    before = snapshot(ws)
    proc = run_tool(Run(["build"], ws, (ws,)))
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, proc.stderr
    assert "no cook stamp" in warnings[0]
    assert "error: " not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (ws / "target/debug/tiny").is_file()
    after = snapshot(ws)
    assert {p: e for p, e in after.items() if p.split("/")[0] != "target" and p != "."} == {
        p: e for p, e in before.items() if p != "."
    }


def thousand_member_workspace(root: Path, n: int = 1000) -> Path:
    root.mkdir()
    names = [f"m{i:04d}" for i in range(n)]
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = [\n' + "".join(f'    "crates/{m}",\n' for m in names) + "]\n"
    )
    for i, name in enumerate(names):
        crate = root / "crates" / name
        (crate / "src").mkdir(parents=True)
        deps = ""
        if i % 10 != 9 and i + 1 < n:  # chains of ten: m0000 -> m0001 -> ... -> m0009
            deps = f'{names[i + 1]} = {{ path = "../{names[i + 1]}" }}\n'
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n{deps}'
        )
        (crate / "src/lib.rs").write_text(f"pub fn {name}() -> u32 {{ {i} }}\n")
    run_cargo(["generate-lockfile", "--offline"], root)
    return root


@pytest.mark.slow
def test_a_workspace_of_1000_members_prepares_and_cooks_quickly(lab: Lab) -> None:
    ws = thousand_member_workspace(lab.tmp / "big")
    timings: dict[str, float] = {}
    for label, args in (
        ("prepare (every member stubbed)", ["prepare", "--recipe-path", str(lab.tmp / "all.json")]),
        ("prepare -p m0000", ["prepare", "-p", "m0000", "--recipe-path", str(lab.tmp / "one.json")]),
        (
            "prepare -p m0000 --keep m0005",
            ["prepare", "-p", "m0000", "--keep", "m0005", "--recipe-path", "-"],
        ),
    ):
        start = time.monotonic()
        proc = run_tool(Run(args, ws, ()), timeout=120)
        timings[label] = time.monotonic() - start
        assert proc.returncode == 0, proc.stderr
    everything = json.loads((lab.tmp / "all.json").read_bytes())
    assert sum(1 for c in everything["crates"] if c["class"] == "stub") == 1000
    one = json.loads((lab.tmp / "one.json").read_bytes())
    assert {c["name"] for c in one["crates"]} == {f"m{i:04d}" for i in range(10)}
    app = lab.tmp / "app"
    app.mkdir()
    start = time.monotonic()
    proc = run_tool(Run(["cook", "--no-build", "--recipe-path", str(lab.tmp / "all.json")], app, ()))
    timings["cook --no-build (1000 stubs)"] = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    start = time.monotonic()
    run_cargo(["metadata", "--format-version", "1", "--offline", "--locked"], app)
    timings["cargo metadata --locked on the skeleton"] = time.monotonic() - start
    small = lab.tmp / "app-one"
    small.mkdir()
    start = time.monotonic()
    proc = run_tool(Run(["cook", "--recipe-path", str(lab.tmp / "one.json")], small, ()))
    timings["cook -p m0000 (real build of 10 crates)"] = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    print("\n".join(f"{label}: {seconds:.2f} s" for label, seconds in timings.items()))
    assert max(timings.values()) < 30, timings


# --------------------------------------------------------------------------------------------------
# What is at an output path (issue 12, D): devices and pipes are written to, symlinks followed
# --------------------------------------------------------------------------------------------------


def test_prepare_to_dev_null_as_root_leaves_the_device_a_device(lab: Lab) -> None:
    ws = lab.workspace()
    before = os.lstat("/dev/null")
    proc = run_tool(Run(["prepare", "-p", "serviceZ", "--recipe-path", "/dev/null"], ws, ()))
    assert proc.returncode == 0, proc.stderr
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_prepare_and_dockerfile_stream_into_a_named_pipe(lab: Lab) -> None:
    ws = lab.workspace()
    fifo = lab.tmp / "pipe"
    os.mkfifo(fifo)
    for args in (
        ["prepare", "-p", "serviceZ", "--recipe-path", str(fifo)],
        ["dockerfile", "-p", "serviceZ", "--output", str(fifo)],
    ):
        reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
        proc = run_tool(Run(args, ws, ()))
        if proc.returncode != 0:
            reader.kill()  # it waits for a writer that never came
        out, _ = reader.communicate(timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert out.startswith(b"{" if args[0] == "prepare" else b"# Dockerfile")
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dockerfile_output_through_a_symlink_writes_its_target_and_keeps_the_link(lab: Lab) -> None:
    ws = lab.workspace()
    (ws / "docker").mkdir()
    (ws / "Dockerfile").symlink_to("docker/Dockerfile.generated")
    proc = run_tool(Run(["dockerfile", "-p", "serviceZ", "--output", "Dockerfile"], ws, ()))
    assert proc.returncode == 0, proc.stderr
    assert os.readlink(ws / "Dockerfile") == "docker/Dockerfile.generated"
    assert (ws / "docker/Dockerfile.generated").read_text().startswith("# Dockerfile for serviceZ")


def test_cook_writes_and_settles_trees_deeper_than_the_recursion_limit(lab: Lab) -> None:
    from cargo_chefpy.fsutil import make_dirs, remove_tree

    deep = "/".join(["d"] * (sys.getrecursionlimit() + 100))
    app = lab.cook_with(lambda d: add_file(d, f"src/libA/{deep}/x.txt"))
    make_dirs(app / "vendored/fake-log" / deep)  # a vendored tree just as deep, which cook settles
    (app / "vendored/fake-log" / deep / "y.txt").write_text("y\n")
    try:
        proc = run_tool(Run(["cook", "--no-build"], app, ()))
        assert proc.returncode == 0, proc.stderr
        assert (app / "src/libA" / deep / "x.txt").read_text() == "x\n"
        assert os.lstat(app / "vendored/fake-log" / deep / "y.txt").st_mtime == 946684800
    finally:  # pytest's clean-up of old temporary directories would recurse
        remove_tree(app)
