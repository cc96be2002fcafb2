"""The bench report's prepare and start-up verdicts, from hand-made results (no process runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integration import bench_overhead
from integration.bench_report import (
    prepare_ratios,
    prepare_section,
    prepare_target_check,
    services_section,
    startup_section,
)


def _scale(members: int, metadata: float, prepare: float, before: float | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "members": members,
        "metadata": [metadata] * 3,
        "prepare": [prepare] * 3,
        "own": [prepare - metadata] * 3,
        "before": [],
        "before_own": [],
    }
    if before is not None:
        row["before"] = [before] * 3
        row["before_own"] = [before - metadata] * 3
    return row


def test_prepare_ratios_are_median_prepare_over_median_metadata_by_member_count() -> None:
    raw = [_scale(10, 0.04, 0.2, before=0.16), _scale(500, 0.5, 0.75)]
    assert prepare_ratios(raw) == pytest.approx({10: 5.0, 500: 1.5})
    assert prepare_ratios(raw, "before") == pytest.approx({10: 4.0})  # 500 has no before runs


def test_the_prepare_target_is_met_when_every_size_from_500_members_is_within_2x() -> None:
    raw = [_scale(10, 0.04, 0.4), _scale(500, 0.5, 0.9), _scale(1000, 1.0, 1.2)]
    name, measured, met = prepare_target_check(raw) or ("", "", False)
    assert met  # 10 members at 10x does not count
    assert measured == "500: 1.80x; 1000: 1.20x"
    assert "2.0x cargo metadata at 500 members and above" in name


def test_the_prepare_target_is_missed_when_any_size_from_500_members_is_above_2x() -> None:
    raw = [_scale(500, 0.5, 0.9), _scale(1000, 1.0, 2.1)]
    check = prepare_target_check(raw)
    assert check is not None
    assert not check[2]
    assert check[1] == "500: 1.80x; 1000: 2.10x"


def test_the_prepare_target_is_not_judged_without_a_size_of_500_members_or_more() -> None:
    assert prepare_target_check([_scale(10, 0.04, 0.4), _scale(200, 0.1, 0.3)]) is None


def test_the_prepare_table_shows_before_and_after_with_their_ratios_and_own_cost_per_member() -> None:
    raw = [_scale(10, 0.04, 0.2, 0.18), _scale(500, 0.5, 0.75, 0.7), _scale(1000, 1.0, 1.3, 1.25)]
    lines, checks = prepare_section(raw, None, {"commit": "accaaa4", "zipapp": "z", "skipped": ""})
    text = "\n".join(lines)
    assert "| members | cargo metadata | before | ratio | own cost | after | ratio | own cost |" in text
    assert "| 500 | 500 ms | 700 ms | 1.40x | 200 ms | 750 ms | **1.50x** | 250 ms | 0.50 ms |" in text
    assert "accaaa4" in text
    assert [c[2] for c in checks] == [True, True]  # the 2.0x target, and linear growth (1000 vs 500: 1.2x)


def test_the_prepare_section_says_why_before_was_not_measured() -> None:
    raw = [_scale(500, 0.5, 0.75), _scale(1000, 1.0, 1.3)]
    lines, _ = prepare_section(raw, None, {"commit": "accaaa4", "zipapp": "", "skipped": "git is missing"})
    text = "\n".join(lines)
    assert "The tool as it was was not measured: git is missing." in text
    assert "| members | cargo metadata | after | ratio |" in text


def test_the_old_tools_start_up_is_a_row_in_the_table_but_not_a_target() -> None:
    def interp(label: str, warm: float, *, before: bool) -> dict[str, Any]:
        return {
            "label": label,
            "resolved": "/usr/bin/python3.11",
            "cold": [0.2],
            "warm": [warm],
            "floor": [0.015],
            "importtime": [],
            "before": before,
        }

    raw = {
        "zipapp_bytes": 300_000,
        "source_tree": [0.07],
        "interpreters": [interp("now", 0.08, before=False), interp("at accaaa4 (before)", 0.3, before=True)],
    }
    lines, checks = startup_section(raw)
    assert any("at accaaa4 (before)" in line and "300 ms" in line for line in lines)
    assert [c[0] for c in checks] == ["warm `--version` at most 100 ms: now"]


def test_without_git_the_old_version_is_skipped_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("integration.bench_overhead.shutil.which", lambda _: None)
    before = bench_overhead.build_before(tmp_path / "before", tmp_path)
    assert before.zipapp == ""
    assert before.skipped == "git is not installed, so the old version cannot be checked out"


def _stage(service: str, stage: str, compiled: list[str], cpu: float = 1.0) -> dict[str, Any]:
    external = {"serde", "log", "libc"}
    third = sum(1 for c in compiled if c in external)
    return {
        "service": service,
        "stage": stage,
        "compiled": compiled,
        "third_party": third,
        "seconds": cpu,
        "cpu_seconds": cpu,
    }


def _services(shared: list[list[str]], alone: list[list[str]]) -> dict[str, Any]:
    """Two services, A and B: what each approach's deps stages compiled (one list per service)."""

    def approach(name: str, deps: list[list[str]]) -> dict[str, Any]:
        stages = [_stage(s, "deps", c, cpu=len(c)) for s, c in zip("AB", deps, strict=True)]
        stages += [_stage(s, "build", [s]) for s in "AB"]
        return {"approach": name, "stages": stages}

    ws = {
        "services": ["A", "B"],
        "third_party_in_lock": ["libc", "log", "serde"],
        "approaches": [
            approach("shared", shared),
            approach("per-service", alone),
            approach("cargo-chef style", alone),
        ],
    }
    return {"started": "today", "minutes": 1.0, "machine": {"cores": 2}, "workspaces": [ws]}


def test_services_target_is_met_when_the_shared_layer_compiles_half_of_what_two_services_compile_apart() -> (
    None
):
    raw = _services(shared=[["serde", "log"], []], alone=[["serde", "log"], ["serde", "log"]])
    lines, checks = services_section(raw)
    name = "2 services, cold: shared third-party work at most 1/2 of per-service"
    assert checks == [(name, "0.50 compilations, 0.50 cook CPU (at best 0.50 with these services)", True)]
    text = "\n".join(lines)
    assert "| shared | 2 | 0 | 2.00 s | 4.00 s | 4.00 s |" in text
    assert "| per-service | 4 | 0 | 4.00 s | 6.00 s | 6.00 s |" in text
    assert "reachable only when" not in text


def test_services_target_missed_says_why_with_the_floor_that_these_subsets_allow() -> None:
    # A uses serde and log, B log and libc: log is shared; 4 compilations apart, 3 at best.
    raw = _services(shared=[["serde", "log"], ["libc"]], alone=[["serde", "log"], ["log", "libc"]])
    lines, checks = services_section(raw)
    assert checks[0][1:] == ("0.75 compilations, 0.75 cook CPU (at best 0.75 with these services)", False)
    text = "\n".join(lines)
    assert "compilations **missed**, cook CPU **missed**" in text
    assert "These services use 3 third-party crates between them, 1.3 services per crate" in text
    assert "the ratio could not go below 0.75." in text


def test_services_a_crate_compiled_once_per_feature_set_in_the_shared_layer_is_named() -> None:
    raw = _services(shared=[["serde", "log"], ["serde"]], alone=[["serde", "log"], ["serde"]])
    text = "\n".join(services_section(raw)[0])
    assert "Compiled more than once in the shared layer (once per feature set asked): serde (2x)." in text
