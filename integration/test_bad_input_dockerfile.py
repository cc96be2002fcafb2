"""The hostile-input catalogue, dockerfile: its output and its selection.

Every case gets one clear error, its documented exit code and no damage (integration/support/bad_input.py
says exactly what is checked).
"""

from __future__ import annotations

import os

import pytest

from integration.support.bad_input import (
    DOCUMENTED,
    LONG,
    Case,
    Lab,
    Run,
    catalogue,
    check_case,
    run_tool,
)

CASES: list[Case] = []
case = catalogue(CASES)


@case(4, "dockerfile: --bin names no binary", "serviceYY")
def dockerfile_unknown_bin(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "--bin", "serviceYY"], ws, (ws,))


@case(4, "dockerfile: -p names no package", "nope")
def dockerfile_unknown_package(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "nope"], ws, (ws,))


@case(6, "dockerfile: stdout closed", "stdout is closed", "--output FILE")
def dockerfile_to_closed_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceZ"], ws, (ws,), stdout="closed")


@case(6, "dockerfile: --output through a link to /dev/fd/1, stdout closed", "stdout is closed", "a file name")
def dockerfile_to_a_link_to_closed_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    (ws / "out").symlink_to("/dev/fd/1")
    return Run(["dockerfile", "-p", "serviceZ", "--output", "out"], ws, (ws,), stdout="closed")


@case(6, "dockerfile: a full stdout", "no space left")
def dockerfile_to_full_stdout(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceZ"], ws, (ws,), stdout="full")


@case(6, "dockerfile: --output with a name too long", "file name too long")
def dockerfile_output_too_long(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceZ", "--output", LONG], ws, (ws,))


@case(3, "dockerfile: --manifest-path with a name too long", "File name too long")
def dockerfile_manifest_path_too_long(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "--manifest-path", f"{LONG}/Cargo.toml"], ws, (ws,))


@case(
    2,
    "dockerfile: --bin given twice (an image runs one binary)",
    "--bin given twice",
    "pass --bin once",
)
def dockerfile_repeated_bin(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "--bin", "serviceX", "--bin", "serviceY"], ws, (ws,))


@case(
    2,
    "dockerfile: several -p with --bin (each image runs its own package's binary)",
    "--bin picks the binary of one image",
    "drop --bin",
)
def dockerfile_services_with_bin(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceX", "-p", "serviceY", "--bin", "serviceX"], ws, (ws,))


@case(4, "dockerfile: several -p, one of them unknown", "matches no member", "serviceX")
def dockerfile_services_unknown(lab: Lab) -> Run:
    ws = lab.workspace()
    return Run(["dockerfile", "-p", "serviceX", "-p", "servicX2"], ws, (ws,))


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_error_one_hint_its_exit_code_and_changes_nothing(lab: Lab, c: Case) -> None:
    check_case(lab, c)


def test_the_cases_are_unique_and_use_only_documented_exit_codes() -> None:
    assert CASES
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.exit_code for c in CASES} <= DOCUMENTED


def test_dockerfile_output_through_a_symlink_writes_its_target_and_keeps_the_link(lab: Lab) -> None:
    ws = lab.workspace()
    (ws / "docker").mkdir()
    (ws / "Dockerfile").symlink_to("docker/Dockerfile.generated")
    proc = run_tool(Run(["dockerfile", "-p", "serviceZ", "--output", "Dockerfile"], ws, ()))
    assert proc.returncode == 0, proc.stderr
    assert os.readlink(ws / "Dockerfile") == "docker/Dockerfile.generated"
    assert (ws / "docker/Dockerfile.generated").read_text().startswith("# Dockerfile for serviceZ")
