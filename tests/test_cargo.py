"""The one process boundary (cargo.py): which cargo runs, what comes back, and that an interrupted wait
stops cargo with the signal the tool got. Real processes and real signals: integration/test_process.py."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pytest_subprocess import FakeProcess

from cargo_chefpy import cargo
from cargo_chefpy.errors import CargoError, Terminated
from cargo_chefpy.metadata import parse_metadata

DEEP = "[" * 100_000  # deeper than Python's recursion limit


def test_cargo_is_cargo_s_own_choice_then_path(tmp_path: Path, fake_cargo: str) -> None:
    assert cargo.find_cargo({"CARGO": fake_cargo, "PATH": ""}) == fake_cargo
    (tmp_path / "path").mkdir()
    on_path = tmp_path / "path" / "cargo"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert cargo.find_cargo({"PATH": str(tmp_path / "path")}) == str(on_path)


@pytest.mark.parametrize("what", ["a directory", "not executable"])
def test_a_cargo_variable_naming_no_executable_is_a_cargo_error(tmp_path: Path, what: str) -> None:
    target = tmp_path
    if what == "not executable":
        target = tmp_path / "cargo"
        target.write_text("")
    with pytest.raises(CargoError, match="which is not an executable file") as info:
        cargo.find_cargo({"CARGO": str(target), "PATH": ""})
    assert info.value.hint == "unset CARGO or point it at a working cargo binary"


def test_no_cargo_anywhere_is_a_cargo_error_that_names_rustup(tmp_path: Path) -> None:
    with pytest.raises(CargoError, match="cargo was not found on PATH") as info:
        cargo.find_cargo({"PATH": str(tmp_path)})
    assert "rustup" in info.value.hint


def test_a_captured_cargo_that_fails_is_a_cargo_error_quoting_its_stderr(
    fp: FakeProcess, fake_cargo: str
) -> None:
    fp.register([fake_cargo, "metadata"], returncode=101, stderr="error: boom\n")
    with pytest.raises(CargoError, match="`cargo metadata` failed with exit code 101") as info:
        cargo.capture(fake_cargo, ["metadata"], cwd=Path("/"))
    assert info.value.output == "error: boom"


def test_json_nested_deeper_than_python_reads_is_no_message() -> None:
    assert cargo.message(DEEP) is None
    assert cargo.message("[1]") is None  # not an object either
    assert cargo.message('{"reason": "build-finished"}') == {"reason": "build-finished"}


def test_metadata_nested_deeper_than_python_reads_is_a_clean_cargo_error() -> None:
    with pytest.raises(CargoError, match=r"unexpected shape \(JSON nested too deeply to read\)"):
        parse_metadata(DEEP)


def test_a_build_passes_deeply_nested_lines_through_and_hands_messages_over(
    fp: FakeProcess, fake_cargo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fp.register([fake_cargo, "build"], stdout=[DEEP, '{"reason": "build-finished", "success": true}'])
    seen: list[dict[str, Any]] = []
    assert cargo.run_streamed(fake_cargo, ["build"], cwd=Path("/"), on_message=seen.append) == 0
    assert seen == [{"reason": "build-finished", "success": True}]
    assert capsys.readouterr().out == DEEP + "\n"


class Child:
    """What `cargo.stop` uses of a Popen: a child that ends on the first signal unless `stubborn`.
    (pytest-subprocess cannot stand in here: interrupting its thread's join marks it as ended.)"""

    def __init__(self, *, stubborn: bool = False) -> None:
        self.stubborn = stubborn
        self.signals: list[int] = []
        self.returncode: int | None = None
        self.stdout = self.stderr = None

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if not self.stubborn or sig == signal.SIGKILL:
            self.returncode = -sig

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            raise subprocess.TimeoutExpired("cargo", timeout or 0)
        return self.returncode


@pytest.mark.parametrize(
    ("why", "sent"),
    [(KeyboardInterrupt(), signal.SIGINT), (Terminated(), signal.SIGTERM), (None, signal.SIGTERM)],
)
def test_stopping_cargo_sends_the_signal_the_tool_got(why: BaseException | None, sent: int) -> None:
    child = Child()
    cargo.stop(child, why)  # type: ignore[arg-type]
    assert child.signals == [sent]


def test_a_cargo_that_does_not_stop_in_time_is_killed() -> None:
    child = Child(stubborn=True)
    cargo.stop(child, KeyboardInterrupt())  # type: ignore[arg-type]
    assert child.signals == [signal.SIGINT, signal.SIGKILL]


def test_a_cargo_that_has_ended_gets_no_signal() -> None:
    child = Child()
    child.returncode = 0
    cargo.stop(child, KeyboardInterrupt())  # type: ignore[arg-type]
    assert child.signals == []


@pytest.mark.parametrize(
    ("why", "sent"), [(KeyboardInterrupt(), signal.SIGINT), (RuntimeError("boom"), signal.SIGTERM)]
)
def test_a_started_capture_is_stopped_when_the_work_beside_it_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, why: BaseException, sent: int
) -> None:
    child = Child()
    monkeypatch.setattr(cargo, "_popen", lambda *args, **kwargs: child)
    with pytest.raises(type(why)), cargo.Captured("cargo", cargo.METADATA, cwd=tmp_path):
        raise why
    assert child.signals == [sent]


def test_a_started_capture_whose_result_was_read_gets_no_signal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class Finished(Child):
        def communicate(self) -> tuple[bytes, bytes]:
            self.returncode = 0
            return b"{}", b""

    child = Finished()
    monkeypatch.setattr(cargo, "_popen", lambda *args, **kwargs: child)
    with cargo.Captured("cargo", cargo.METADATA, cwd=tmp_path) as started:
        assert started.result() == "{}"
    assert child.signals == []
