"""The bench times a cook stage as its commands alone, as it times the final stage: the copies that stand in
for Docker's layers (`cp -a` of the WORKDIR, the vendored and context copies) are not charged. No process
runs: the commands and the copies are stand-ins that report a known wall time or take a known time."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from integration import bench_day, bench_flow
from integration.bench_day import StackedFlow
from integration.bench_flow import Approach, CargoNewFlow, ChefFlow

COMMAND_SECONDS = 2.0  # what each stand-in cook command reports as its wall time
COPY_SECONDS = 0.3  # what each stand-in layer copy really takes
RECIPE = json.dumps({"workspace": ".", "vendored": []}).encode()


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every timed command, which reports COMPILING... and COMMAND_SECONDS; every layer copy is slow."""
    ran: list[list[str]] = []

    def timed(
        command: list[str], cwd: Path, env: dict[str, str] | None = None
    ) -> tuple[subprocess.CompletedProcess[str], float, float]:
        ran.append(command)
        proc = subprocess.CompletedProcess(command, 0, "", "   Compiling libA v0.1.0\n")
        return proc, COMMAND_SECONDS, 1.0

    def slow_copy(src: Path, dst: Path, **_: object) -> None:
        time.sleep(COPY_SECONDS)
        (dst / "src" / "serviceZ" / "src").mkdir(parents=True, exist_ok=True)

    for module in (bench_flow, bench_day):
        monkeypatch.setattr(module, "timed", timed)
        monkeypatch.setattr(module, "replace_tree", slow_copy)
        monkeypatch.setattr(module, "copy_tree", slow_copy)
    return ran


def test_a_cargo_chef_style_cook_is_timed_as_its_cook_command_without_the_layer_snapshot(
    commands: list[list[str]], tmp_path: Path
) -> None:
    flow = ChefFlow(tmp_path / "flow", tmp_path / "ws", Approach.CARGO_CHEF, ["tool"])
    assert flow.cook(RECIPE) is False
    assert flow.cook_seconds == COMMAND_SECONDS
    assert flow.cook_compiled == {"local": frozenset({"libA"})}


def test_a_stacked_cook_is_timed_as_its_two_cook_commands_summed_without_the_layer_copies(
    commands: list[list[str]], tmp_path: Path
) -> None:
    flow = StackedFlow(tmp_path / "flow", tmp_path / "ws", ["tool"])
    flow.deps_bytes = RECIPE
    assert flow.cook(RECIPE) is False  # layer 1, its snapshot, the restore, layer 2, its snapshot
    assert [c[1:2] + c[-1:] for c in commands] == [["cook", "recipe.deps.json"], ["cook", "serviceZ"]]
    assert flow.cook_seconds == 2 * COMMAND_SECONDS


def test_a_hand_made_cook_is_timed_as_its_cargo_build_without_the_context_copy_or_the_snapshot(
    commands: list[list[str]], tmp_path: Path
) -> None:
    flow = CargoNewFlow(tmp_path / "flow", tmp_path / "ws")
    assert flow.cook(b"0123456789abcdef") is False
    assert flow.cook_seconds == pytest.approx(COMMAND_SECONDS, abs=COPY_SECONDS / 3)
    assert flow.cook_compiled == {"local": frozenset({"libA"})}
