"""`cargo metadata` started before the tool is imported: the guess must be exactly prepare's own call, or
nothing; a guess prepare does not take is stopped."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_subprocess import FakeProcess

from cargo_chefpy import early
from cargo_chefpy.cargo import find_cargo
from cargo_chefpy.cli import build_parser, main
from cargo_chefpy.project import find_project
from tests.conftest import FakeWorkspace

Make = Callable[..., FakeWorkspace]


@pytest.fixture(autouse=True)
def no_guess_left() -> object:
    yield
    assert not early._started  # every test takes or discards what it started


def prepare_call(args: list[str], cwd: Path) -> list[str]:
    """The `cargo metadata` command line prepare itself makes for `args` (see cli._prepare)."""
    ns = build_parser().parse_args(args[1:] if args[:1] == ["chefpy"] else args)
    return [find_cargo(), *early.metadata_args(str(find_project(cwd, ns.manifest_path)))]


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["prepare"], "."),
        (["chefpy", "prepare", "-p", "serviceZ", "--recipe-path", "r.json"], "."),
        (["prepare", "--explain"], "src/serviceZ/src"),  # found by walking up, as cargo does
        (["prepare", "--manifest-path", "Cargo.toml"], "."),
        (["prepare", "--manifest-path", "./sub/../Cargo.toml"], "."),
        (["prepare", "--manifest-path=.//Cargo.toml", "--stub-all"], "."),
        (["prepare", "--manifest-path", "../../Cargo.toml"], "src/serviceZ"),
        (["prepare", "-q", "--manifest-path", "@ROOT@/Cargo.toml"], "src"),
    ],
)
def test_the_guess_is_exactly_the_call_prepare_makes(
    workspace: Make, args: list[str], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(register=0)
    (ws.root / "sub").mkdir()
    args = [a.replace("@ROOT@", str(ws.root)) for a in args]
    cwd = ws.root / where
    guessed = early.guess(args, str(cwd), os.environ)
    assert guessed == (prepare_call(args, cwd), str(cwd))


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["cook"],
        ["build", "--manifest-path", "Cargo.toml"],
        ["--version", "prepare"],
        ["prepare", "--help"],
        ["prepare", "-h"],
        ["prepare", "--manifest", "Cargo.toml"],  # an abbreviation: argparse decides, not the guess
        ["prepare", "--manifest-path"],
        ["prepare", "--manifest-path", "src/serviceZ/src/main.rs"],
        ["prepare", "--manifest-path", "nowhere/Cargo.toml"],
    ],
)
def test_no_guess_when_in_doubt(workspace: Make, args: list[str]) -> None:
    ws = workspace(register=0)
    assert early.guess(args, str(ws.root), os.environ) is None


def test_no_guess_without_a_workspace_or_a_usable_cargo(tmp_path: Path, workspace: Make) -> None:
    assert early.guess(["prepare"], str(tmp_path), os.environ) is None  # no Cargo.toml up to /
    ws = workspace(register=0)
    assert early.guess(["prepare"], str(ws.root), {"CARGO": str(ws.root)}) is None  # a directory
    assert early.guess(["prepare"], str(ws.root), {"PATH": str(tmp_path)}) is None


def test_prepare_takes_the_cargo_started_early(
    workspace: Make, fp: FakeProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace(register=1)  # cargo metadata may run once only: a second start would raise
    monkeypatch.chdir(ws.root)
    early.prestart(["chefpy", "prepare", "-p", "serviceZ"])
    assert fp.call_count(ws.metadata_argv()) == 1
    assert main(["chefpy", "prepare", "-p", "serviceZ"], cwd=ws.root) == 0
    assert fp.call_count(ws.metadata_argv()) == 1
    assert "1 stubbed, 3 kept, 2 pruned" in capsys.readouterr().err


def until_killed(fp: FakeProcess, argv: list[str]) -> list[int]:
    """Register `argv` as a cargo that runs until a signal comes; returns the signals it got."""
    killed = threading.Event()
    signals: list[int] = []

    def on_signal(process: object, sig: int) -> None:
        signals.append(sig)
        killed.set()

    fp.register(argv, stdout="{}", callback=lambda process: killed.wait(60), signal_callback=on_signal)
    return signals


def test_a_guess_prepare_does_not_take_is_stopped(
    workspace: Make, fp: FakeProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(register=0)
    monkeypatch.chdir(ws.root)
    guessed = until_killed(fp, ws.metadata_argv())
    early.prestart(["prepare"])
    assert early.take([ws.cargo, "metadata"], str(ws.root)) is None
    assert guessed == [signal.SIGKILL]


def test_a_command_that_fails_before_prepare_starts_cargo_stops_the_guess(
    workspace: Make, fp: FakeProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace(register=0)
    monkeypatch.chdir(ws.root)
    guessed = until_killed(fp, ws.metadata_argv())
    args = ["prepare", "--stub-all", "--stub", "libA"]
    early.prestart(args)
    assert main(args, cwd=ws.root) == 2
    assert "error: --stub-all cannot be combined" in capsys.readouterr().err
    assert guessed == [signal.SIGKILL]


def test_a_failing_guess_is_no_guess(workspace: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = workspace(register=0)
    monkeypatch.chdir(ws.root)
    monkeypatch.setenv("TMPDIR", str(ws.root / "Cargo.toml"))  # not a directory: both spools fail

    def no_tempfile() -> None:
        raise OSError("no temporary directory")

    monkeypatch.setattr("tempfile.TemporaryFile", no_tempfile)
    early.prestart(["prepare"])  # no exception, and nothing started
    assert not early._started


def test_without_a_temporary_directory_cargo_s_output_comes_through_pipes(
    workspace: Make, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace(register=1)

    def no_temporary_directory() -> None:
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(early, "spool", no_temporary_directory)
    assert main(["prepare", "-p", "serviceZ", "--recipe-path", "-"], cwd=ws.root) == 0
    out = capsys.readouterr()
    assert '"packages": [' in out.out
    assert "1 stubbed, 3 kept, 2 pruned" in out.err
