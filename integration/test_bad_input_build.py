"""The hostile-input catalogue, build: the cook stamp and the final build.

Every case gets one clear error, its documented exit code and no damage (integration/support/bad_input.py
says exactly what is checked).
"""

from __future__ import annotations

import json
import os
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
    encode,
    run_tool,
    snapshot,
)
from integration.support.workspaces import run_cargo

CASES: list[Case] = []
case = catalogue(CASES)


def build_with_stamp(lab: Lab, content: bytes | None, *, directory: bool = False) -> Run:
    ws = lab.workspace()
    stamp = ws / "target" / "cargo-chefpy-stamp.json"
    stamp.parent.mkdir()
    if directory:
        stamp.mkdir()
    elif content is not None:
        stamp.write_bytes(content)
    return Run(["build", "-p", "serviceZ"], ws, (ws,))


@case(2, "build: --release with --profile dev", "contradict each other")
def build_release_and_profile_dev(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["build", "--release", "--profile", "dev"], ws, (ws,))


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


@case(9, "build: the cook stamp is a named pipe (never waited on)", "is corrupt", "named pipe")
def build_stamp_is_a_fifo(lab: Lab) -> Run:
    run = build_with_stamp(lab, None)
    os.mkfifo(run.cwd / "target" / "cargo-chefpy-stamp.json")
    return Run(run.args, run.cwd, run.watch, timeout=20)


@case(2, "build: a `--config` file after `--` that is a named pipe", "--config", "named pipe")
def build_config_file_is_a_fifo(lab: Lab) -> Run:
    ws = lab.workspace()
    os.mkfifo(ws / "extra.toml")
    return Run(["build", "-p", "serviceZ", "--", "--config", "extra.toml"], ws, (ws,), timeout=20)


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


@case(6, "build: --target-dir with a name too long", "too long")
def build_target_dir_too_long(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["build", "-p", "serviceZ", "--target-dir", f"t/{LONG}"], ws, (ws,))


@case(2, "build: a -Z flag on a stable cargo", "nightly")
def build_unstable_flag_on_stable(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["build", "-p", "serviceZ", "-Z", "unstable-options"], ws, (ws,), {"RUSTC_BOOTSTRAP": None})


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_error_one_hint_its_exit_code_and_changes_nothing(lab: Lab, c: Case) -> None:
    check_case(lab, c)


def test_the_cases_are_unique_and_use_only_documented_exit_codes() -> None:
    assert CASES
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.exit_code for c in CASES} <= DOCUMENTED


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
