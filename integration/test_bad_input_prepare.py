"""The hostile-input catalogue, prepare: the project, the selection, writing the recipe, kept crates it
refuses; and inputs that must succeed.

Every case gets one clear error, its documented exit code and no damage (integration/support/bad_input.py
says exactly what is checked).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from integration.support.bad_input import (
    DOCUMENTED,
    LONG,
    Case,
    Lab,
    Run,
    catalogue,
    check_case,
    prepare_and_cook_skeleton,
    prepare_in,
    run_tool,
    snapshot,
    temp_leftovers,
)
from integration.support.workspaces import run_cargo

CASES: list[Case] = []
case = catalogue(CASES)


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


@case(6, "prepare: --recipe-path is an existing directory", "is a directory")
def prepare_recipe_path_is_a_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "out").mkdir()
    return prepare_in(ws, "-p", "serviceZ", "--recipe-path", "out")


@case(
    6, "prepare: --recipe-path in a directory that does not exist", "does not exist", "create the directory"
)
def prepare_recipe_path_in_missing_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, "-p", "serviceZ", "--recipe-path", "no/such/dir/recipe.json")


@case(6, "prepare: --deps-recipe-path in a directory that does not exist", "does not exist")
def prepare_deps_recipe_path_in_a_missing_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    return prepare_in(ws, "-p", "serviceZ", "--deps-recipe-path", "nodir/deps.json")


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


@case(3, "prepare: Cargo.lock is a named pipe (never waited on)", "Cargo.lock", "named pipe")
def prepare_lock_is_a_fifo(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "Cargo.lock").unlink()
    os.mkfifo(ws / "Cargo.lock")
    return prepare_in(ws, "-p", "serviceZ", timeout=20)


@case(3, "prepare: an --include path is a named pipe (never waited on)", "not a regular file")
def prepare_include_is_a_fifo(lab: Lab) -> Run:
    ws = lab.workspace()
    os.mkfifo(ws / "shared.pipe")
    return prepare_in(ws, "-p", "serviceZ", "--include", "shared.pipe", timeout=20)


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


@case(6, "prepare: --recipe-path - with stdout closed (`>&-`)", "stdout is closed", "--recipe-path FILE")
def prepare_recipe_to_closed_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--recipe-path", "-"], ws, (ws,), stdout="closed")


@case(6, "prepare: --recipe-path /dev/stdout with stdout closed (`>&-`)", "stdout is closed", "a file name")
def prepare_recipe_to_dev_stdout_closed(lab: Lab) -> Run:
    """The closed descriptor is given /dev/null at start, so that cargo never writes into a file of ours;
    a path leading to it must not swallow the recipe and exit 0."""
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--recipe-path", "/dev/stdout"], ws, (ws,), stdout="closed")


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


@case(6, "prepare: --recipe-path - into a pipe whose reader has gone (EPIPE)", "the reader closed the pipe")
def prepare_recipe_to_broken_pipe(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--recipe-path", "-"], ws, (ws,), stdout="broken")


@case(6, "prepare: --explain into a pipe whose reader has gone (no recipe written)", "the reader closed")
def prepare_explain_to_broken_pipe(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["prepare", "-p", "serviceZ", "--explain"], ws, (ws,), stdout="broken")


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


@case(6, "prepare: --sources-dir that is not empty (left as it is)", "is not empty", "new or an empty")
def prepare_sources_dir_not_empty(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--sources-dir", "src")


@case(2, "prepare: --recipe-path inside --sources-dir", "is inside --sources-dir", "outside that directory")
def prepare_recipe_inside_sources_dir(lab: Lab) -> Run:
    args = ("-p", "serviceZ", "--sources-dir", "out", "--recipe-path", "out/r.json")
    return prepare_in(lab.workspace(), *args)


@case(2, "prepare: --out-dir the same as --sources-dir", "is inside --sources-dir", "outside that directory")
def prepare_out_dir_is_sources_dir(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--sources-dir", "out", "--out-dir", "out")


@case(6, "prepare: --sources-dir that is a file", "is not a directory", "new or an empty")
def prepare_sources_dir_is_a_file(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "serviceZ", "--sources-dir", "Cargo.lock")


@case(
    6,
    "prepare: --sources-dir whose tree cannot be written (what it made is removed, no recipe written)",
    "too long",
)
def prepare_sources_dir_write_fails(lab: Lab) -> Run:
    ws = lab.workspace()
    room = 4070 - len(str(ws)) - 1  # the directory fits in PATH_MAX, its files do not
    parts = ["o" * 200] * (room // 201) + ["p" * (room % 201 - 1 or 1)]
    return prepare_in(ws, "-p", "serviceZ", "--sources-dir", "/".join(parts))


def sources_with_unreadable(lab: Lab, rel: str) -> Run:
    ws = lab.workspace()
    secret = ws / rel
    secret.write_text("cannot be read\n")
    secret.chmod(0)
    tree = lab.tmp / "tree"
    args = ["prepare", "-p", "serviceZ", "--recipe-path", str(lab.tmp / "r.json"), "--sources-dir", str(tree)]
    return Run(args, ws, (ws, tree), wrapper=lab.without_read_override())


@case(3, "prepare: --sources-dir, a file of the built crate cannot be read", "cannot read", "secret.rs")
def prepare_sources_unreadable_crate_file(lab: Lab) -> Run:
    return sources_with_unreadable(lab, "src/serviceZ/src/secret.rs")  # stubbed in the recipe: not read


@case(3, "prepare: --sources-dir, a file outside every crate cannot be read", "cannot read", "notes.txt")
def prepare_sources_unreadable_shared_file(lab: Lab) -> Run:
    return sources_with_unreadable(lab, "notes.txt")


@case(3, "prepare: a kept crate holds a symlink loop", "is a symlink loop")
def prepare_symlink_loop_in_kept_crate(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "src/libA/loop").symlink_to("loop")
    return prepare_in(ws, "-p", "serviceZ")


@case(4, "prepare: -p names a [patch] crate", "fake-patched, a [patch] crate", "depends on it")
def prepare_target_is_a_patch_crate(lab: Lab) -> Run:
    return prepare_in(lab.workspace(), "-p", "fake-patched")


def _symlink_directory(ws: Path, link: str, real: str) -> None:
    """Move the directory `link` to `real` and leave a symlink to it behind (relative, as in a checkout)."""
    (ws / real).parent.mkdir(parents=True, exist_ok=True)
    (ws / link).rename(ws / real)
    (ws / link).symlink_to(os.path.relpath(ws / real, (ws / link).parent))


# A directory the recipe writes files under must not be a symlink in the context: cook would write a real
# directory there, and the final stage's `COPY . .` (BuildKit) cannot replace a directory with a symlink.
@case(3, "prepare: a kept member directory is a symlink", "src/libB is a symlink to the directory libs/libB")
def prepare_symlinked_member_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    _symlink_directory(ws, "src/libB", "libs/libB")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: the stubbed target's directory is a symlink", "src/serviceZ is a symlink")
def prepare_symlinked_target_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    _symlink_directory(ws, "src/serviceZ", "apps/serviceZ")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: the members' parent directory is a symlink", "src is a symlink to the directory code")
def prepare_symlinked_members_parent(lab: Lab) -> Run:
    ws = lab.workspace()
    _symlink_directory(ws, "src", "code")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: .cargo is a symlink to a directory", ".cargo is a symlink")
def prepare_symlinked_cargo_config_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    _symlink_directory(ws, ".cargo", "config/cargo")
    return prepare_in(ws, "-p", "serviceZ")


@case(3, "prepare: --include names a file under a symlinked directory", "assets is a symlink")
def prepare_include_through_symlinked_directory(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "data").mkdir()
    (ws / "data/logo.txt").write_text("logo\n")
    (ws / "assets").symlink_to("data")
    return prepare_in(ws, "-p", "serviceZ", "--include", "assets/logo.txt")


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_error_one_hint_its_exit_code_and_changes_nothing(lab: Lab, c: Case) -> None:
    check_case(lab, c)


def test_the_cases_are_unique_and_use_only_documented_exit_codes() -> None:
    assert CASES
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.exit_code for c in CASES} <= DOCUMENTED


@pytest.mark.parametrize("how", ["closed", "full", "broken"])
def test_a_stderr_that_cannot_be_written_changes_neither_the_exit_code_nor_the_outputs(
    lab: Lab, how: str
) -> None:
    """`2>&-`, `2>/dev/full`, `2>&1 | true`: the status lines and the error cannot be printed, and that
    is all: the recipe is the same, and a failure still exits with its own documented code."""
    ws = lab.workspace()
    before = snapshot(ws)
    normal = run_tool(Run(["prepare", "-p", "serviceZ", "--recipe-path", str(lab.tmp / "a.json")], ws, ()))
    assert normal.returncode == 0, normal.stderr
    quiet = run_tool(
        Run(["prepare", "-p", "serviceZ", "--recipe-path", str(lab.tmp / "b.json")], ws, (), stderr=how)
    )
    assert quiet.returncode == 0, quiet.stdout
    assert (lab.tmp / "b.json").read_bytes() == (lab.tmp / "a.json").read_bytes()
    assert (lab.tmp / "b.deps.json").read_bytes() == (lab.tmp / "a.deps.json").read_bytes()
    on_stdout = run_tool(Run(["prepare", "-p", "serviceZ", "--recipe-path", "-"], ws, (), stderr=how))
    assert on_stdout.returncode == 0
    assert on_stdout.stdout.encode() == (lab.tmp / "a.json").read_bytes()
    for verbose in ([], ["-v"]):  # -v: the traceback it would print must not land on stdout either
        failing = run_tool(Run(["prepare", *verbose, "-p", "nope", "--recipe-path", "-"], ws, (), stderr=how))
        assert failing.returncode == 4, failing.stdout
        assert failing.stdout == ""
    assert snapshot(ws) == before
    assert not temp_leftovers(snapshot(lab.tmp))


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


def _lstat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("device", ["/dev/null", "/dev/stdout"])
def test_prepare_to_a_device_as_root_leaves_it_a_device_and_writes_no_file_beside_it(
    lab: Lab, device: str
) -> None:
    """No `/dev/null.deps.json`: the layer-1 recipe's default place is beside the recipe file, and
    there is no file beside a device (as with `--recipe-path -`, it is written only when named)."""
    ws = lab.workspace()
    before, beside = os.stat(device), _lstat_or_none(f"{device}.deps.json")
    proc = run_tool(Run(["prepare", "-p", "serviceZ", "--recipe-path", device], ws, ()))
    assert proc.returncode == 0, proc.stderr
    after = os.stat(device)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert _lstat_or_none(f"{device}.deps.json") == beside
    assert "layer 1" not in proc.stderr


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
