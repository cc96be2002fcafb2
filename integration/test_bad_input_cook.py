"""The hostile-input catalogue, cook: the recipe, the cook directory, vendored sources; Ctrl-C during
cook; deep trees.

Every case gets one clear error, its documented exit code and no damage (integration/support/bad_input.py
says exactly what is checked).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from integration.support.bad_input import (
    DOCUMENTED,
    LONG,
    TOOL,
    Case,
    Lab,
    Run,
    add_file,
    assert_one_error_and_hint,
    catalogue,
    check_case,
    child_env,
    cook_in,
    encode,
    file_entry,
    run_tool,
    snapshot,
    temp_leftovers,
)

CASES: list[Case] = []
case = catalogue(CASES)


@case(2, "cook: --release with --profile dev", "contradict each other")
def cook_release_and_profile_dev(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--release", "--profile", "dev")


@case(2, "cook: --check with --clippy", "exclude each other")
def cook_check_and_clippy(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--check", "--clippy")


@case(2, "cook: a stray positional argument (not after --)", "unexpected argument")
def cook_stray_positional(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "serviceZ")


@case(5, "cook: the recipe does not exist", "does not exist", "prepare")
def cook_missing_recipe(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "recipe.json").unlink()
    return cook_in(app)


@case(5, "cook: the recipe path is a directory", "cannot read the recipe")
def cook_recipe_is_a_directory(lab: Lab) -> Run:
    app = lab.cook_dir()
    return cook_in(app, "--recipe-path", "vendored")


@case(5, "cook: the recipe path is a named pipe (never waited on)", "cannot read the recipe", "named pipe")
def cook_recipe_is_a_fifo(lab: Lab) -> Run:
    app = lab.cook_dir()
    os.mkfifo(app / "fifo.json")
    return cook_in(app, "--recipe-path", "fifo.json", timeout=20)


@case(5, "cook: the recipe path is a socket", "cannot read the recipe", "a socket")
def cook_recipe_is_a_socket(lab: Lab) -> Run:
    app = lab.cook_dir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(app / "recipe.sock"))
    listener.close()  # the socket file stays
    return cook_in(app, "--recipe-path", "recipe.sock", timeout=20)


@case(5, "cook: the recipe path is a device (never read forever)", "cannot read the recipe", "device")
def cook_recipe_is_a_device(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--recipe-path", "/dev/zero", timeout=20)


@case(5, "cook: the recipe path is a symlink to a named pipe", "cannot read the recipe", "named pipe")
def cook_recipe_links_to_a_fifo(lab: Lab) -> Run:
    app = lab.cook_dir()
    os.mkfifo(lab.tmp / "fifo")
    (app / "recipe.json").unlink()
    (app / "recipe.json").symlink_to(lab.tmp / "fifo")
    return cook_in(app, timeout=20)


@case(2, "cook: a `--config` file after `--` that is a named pipe", "--config", "named pipe")
def cook_config_file_is_a_fifo(lab: Lab) -> Run:
    app = lab.cook_dir()
    os.mkfifo(app / "extra.toml")
    return cook_in(app, "--", "--config", "extra.toml", timeout=20)


@case(8, "cook: a vendored crate's Cargo.toml is a named pipe", "vendored", "named pipe")
def cook_vendored_manifest_is_a_fifo(lab: Lab) -> Run:
    app = lab.cook_dir()
    (app / "vendored/fake-log/Cargo.toml").unlink()
    os.mkfifo(app / "vendored/fake-log/Cargo.toml")
    return cook_in(app, timeout=20)


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


@case(5, "cook: --recipe-path with a name too long", "cannot read the recipe", "shorter --recipe-path")
def cook_recipe_path_too_long(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--recipe-path", LONG)


@case(6, "cook: --target-dir with a name too long (refused before the skeleton is written)", "too long")
def cook_target_dir_too_long(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--target-dir", f"t/{LONG}")


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


@case(2, "cook: a single-valued flag given twice (never the last one kept)", "--profile given twice")
def cook_repeated_profile(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--profile", "dev", "--profile", "release")


@case(2, "cook: a -Z flag on a stable cargo (checked before anything is written)", "nightly", "-Z")
def cook_unstable_flag_on_stable(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "-Z", "unstable-options", env={"RUSTC_BOOTSTRAP": None})


@case(
    2, "cook: a -Z flag cargo does not know (RUSTC_BOOTSTRAP=1 lets a stable cargo take -Z)", "does not know"
)
def cook_unknown_unstable_flag(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "-Z", "no-such-flag", env={"RUSTC_BOOTSTRAP": "1"})


@case(2, "cook: a -Z flag after `--` on a stable cargo", "nightly")
def cook_unstable_flag_after_double_dash_on_stable(lab: Lab) -> Run:
    return cook_in(lab.cook_dir(), "--", "-Zunstable-options", env={"RUSTC_BOOTSTRAP": None})


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_error_one_hint_its_exit_code_and_changes_nothing(lab: Lab, c: Case) -> None:
    check_case(lab, c)


def test_the_cases_are_unique_and_use_only_documented_exit_codes() -> None:
    assert CASES
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.exit_code for c in CASES} <= DOCUMENTED


@pytest.mark.parametrize("how", ["closed", "broken"])
def test_a_stderr_that_cannot_be_written_changes_neither_cooks_exit_code_nor_what_it_writes(
    lab: Lab, how: str
) -> None:
    """`2>&-`, `2>&1 | true`: cargo's progress and our status lines go nowhere, the cook is the same, and
    nothing cargo prints lands in a file."""
    trees = {}
    for name, stderr in (("normal", "pipe"), ("quiet", how)):
        app = lab.cook_dir(name=name)
        proc = run_tool(Run(["cook", "-p", "serviceZ"], app, (app,), stderr=stderr))
        assert proc.returncode == 0, proc.stderr
        trees[name] = {p: e for p, e in snapshot(app).items() if not p.startswith("target")}
    assert trees["quiet"] == trees["normal"]
    app = lab.cook_dir(name="failing")
    (app / "recipe.json").unlink()
    failing = run_tool(Run(["cook"], app, (app,), stderr=how))
    assert failing.returncode == 5, failing.stdout
    assert "Traceback" not in failing.stdout


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
