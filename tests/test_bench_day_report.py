"""The bench report's day of edits: the ratios, the verdicts and the rendering, from a real run's figures
(tests/data/day-results.json, every key of the day part of one `--only day` run, unchanged)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integration import bench
from integration.bench_day import LIBRARY_KINDS, MODES, STACKED, Row, _resample
from integration.bench_flow import ChefFlow, Stage
from integration.bench_report import (
    _ratio,
    day_checks,
    day_ratios,
    day_section,
    day_summary,
    merge_separate_runs,
    results_name,
    write_report,
)

DATA = Path(__file__).parent / "data" / "day-results.json"


@pytest.fixture
def run() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DATA.read_text())
    return loaded


def _one_mode(day: dict[str, Any], mode: str) -> dict[str, Any]:
    """The same run's figures in one mtime mode only."""
    return {
        **day,
        "rows": [r for r in day["rows"] if r["mode"] == mode],
        "totals": {a: {mode: t[mode]} for a, t in day["totals"].items()},
    }


def _full_run(started: str, machine: dict[str, Any]) -> dict[str, Any]:
    """A full run's results.json around the parts a test gives it (its machine: the day run's)."""
    return {"started": started, "minutes": 30.0, "runs": 3, "parts": [], "machine": machine}


def test_each_library_edit_is_stacked_seconds_over_the_cargo_chef_styles_in_the_order_of_the_day(
    run: dict[str, Any],
) -> None:
    preserved = day_ratios(run["day"], "preserved", ("libB",))
    assert [edit for edit, _ in preserved] == ["libB edit 1", "libB edit 2", "libB edit 3"]
    assert [round(r, 2) for _, r in preserved] == [0.84, 1.23, 1.30]
    assert [round(r, 2) for _, r in day_ratios(run["day"], "ci", ("libA-description",))] == [0.84]


def test_the_days_targets_are_judged_in_both_modes_and_a_miss_in_one_mode_is_a_miss(
    run: dict[str, Any],
) -> None:
    total, library, crates, lower_bound, output = day_checks(run["day"])
    assert "total at most 0.5x the cargo-chef style's" in total[0]
    assert total[1:] == ("preserved: 0.58x, ci: 0.38x", False)  # ci meets 0.5x, preserved does not
    assert "each library edit" in library[0]
    assert library[1:] == (
        "preserved: libB 0.84x 1.23x 1.30x, libA-description 1.49x; "
        "ci: libB 0.58x 0.76x 0.75x, libA-description 0.84x",
        False,
    )
    assert crates[1:] == ("crates compiled: 1", True)
    assert "at most 1.15x the lower bound" in lower_bound[0]
    assert lower_bound[1:] == ("preserved: 1.08x, ci: 1.06x", True)
    assert output[1:] == ("128 of 128 measured rows", True)


def test_the_day_meets_the_total_and_library_targets_where_every_ratio_is_within_them(
    run: dict[str, Any],
) -> None:
    verdicts = [met for _, _, met in day_checks(_one_mode(run["day"], "ci"))]
    assert verdicts == [True, True, True, True, True]


def test_the_day_summary_says_missed_in_capitals_for_the_terminal(run: dict[str, Any]) -> None:
    lines = day_summary(run["day"])
    assert lines[0].endswith("preserved: 0.58x, ci: 0.38x (MISSED)")
    assert lines[3].endswith("preserved: 1.08x, ci: 1.06x (met)")


def test_the_day_section_shows_totals_per_approach_and_mode_and_every_edit_of_every_approach(
    run: dict[str, Any],
) -> None:
    text = "\n".join(day_section(run["day"], cook_timing="commands"))
    assert (
        "| stacked chefpy | **77.2 s** (0.58x cargo-chef style) | **77.9 s** (0.38x cargo-chef style) |"
        in text
    )
    assert "| no cache | 392.7 s (2.97x cargo-chef style) | 392.7 s (1.90x cargo-chef style) |" in text
    for approach in ("stacked chefpy", "single-layer chefpy", "cargo-chef style", "hand-made cargo new"):
        assert f"#### {approach}" in text
    assert "#### no cache" in text
    # stacked: layer 2 alone on a libB edit, both layers on the third-party change; the final stage's crates
    assert "| libB edit 1 | 6.29 s (layer 2: 4 crates) | 1.13 s | 1 | 7.43 s |" in text
    assert "| third-party change | 27.2 s (layer 1: 37, layer 2: 4 crates) | 1.41 s | 1 | 28.6 s |" in text
    assert "| libB edit 2 | 7.43 s" not in text
    # the edit-by-edit comparison marks each library edit
    assert "| libB edit 2 | 8.75 s | 7.15 s | 1.23x **missed** | 9.22 s | 12.1 s | 0.76x met |" in text
    # no cache, measured once per kind of edit: the reused figure is marked
    assert "| serviceZ edit 2 | - | 25.5 s * | 37 | 25.5 s * |" in text
    assert "median 1.26 s (min 1.13 s, max 1.73 s)" in text
    assert "predate" not in text


def test_day_results_timed_with_the_layer_copies_say_so(run: dict[str, Any]) -> None:
    text = "\n".join(day_section(run["day"], cook_timing=None))
    assert "**These results predate the timing rule" in text
    assert "`cp -a`" in text


def test_a_day_only_run_renders_its_targets_and_section_without_the_other_parts(
    run: dict[str, Any], tmp_path: Path
) -> None:
    report = tmp_path / "BENCHMARKS.md"
    write_report(run, report, tmp_path / "chart.png")
    text = report.read_text()
    assert "## A day of edits" in text
    assert (
        "| day of edits: stacked chefpy's total at most 0.5x the cargo-chef style's, in both modes | "
        "preserved: 0.58x, ci: 0.38x; cook timed with the layer copies | **missed** |"
    ) in text
    assert "Cache effectiveness\n\nNot measured in this run." in text
    assert "How stages are timed" in text
    assert not (tmp_path / "chart.png").exists()


def test_a_run_of_some_parts_has_a_results_file_of_its_own_named_after_them() -> None:
    assert results_name(["day"], bench.PARTS) == "day.json"
    assert results_name(["startup", "prepare"], bench.PARTS) == "prepare-startup.json"
    assert results_name(None, bench.PARTS) == "results.json"
    assert results_name(list(bench.PARTS), bench.PARTS) == "results.json"


def test_a_later_day_run_joins_the_full_runs_report_and_says_where_it_comes_from(
    run: dict[str, Any], tmp_path: Path
) -> None:
    merged = merge_separate_runs(_full_run("2026-11-25 15:50 UTC", run["machine"]), {"day.json": run})
    assert merged["day"] == run["day"]
    assert merged["separate_runs"]["day"]["file"] == "day.json"
    report = tmp_path / "BENCHMARKS.md"
    write_report(merged, report, tmp_path / "chart.png")
    text = report.read_text()
    assert "(separate run, see A day of edits) | preserved: 0.58x, ci: 0.38x" in text
    assert (
        "This section is not from the full run: `python -m integration.bench --only day --runs 1` started "
        "2026-11-29 21:39 UTC, measuring commit 02990d9"
    ) in text
    assert "`integration/bench-results/day.json`" in text
    assert "except the sections that say they come from a separate run (A day of edits)" in text


def test_a_separate_run_older_than_the_full_runs_own_part_is_left_out(run: dict[str, Any]) -> None:
    full = {**_full_run("2026-11-30 08:00 UTC", run["machine"]), "parts": ["day"], "day": {"rows": []}}
    merged = merge_separate_runs(full, {"day.json": run})
    assert merged["day"] == {"rows": []}
    assert "separate_runs" not in merged


def test_report_only_reads_results_json_and_the_later_day_json_beside_it(
    run: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "results.json").write_text(json.dumps(_full_run("2026-11-25 15:50 UTC", run["machine"])))
    (tmp_path / "day.json").write_text(json.dumps(run))
    (tmp_path / "notes.json").write_text("[]")  # not a run's results: ignored
    merged, read = bench.load_results(tmp_path)
    assert read == [tmp_path / "results.json", tmp_path / "day.json"]
    assert merged["day"]["totals"] == run["day"]["totals"]


def test_library_rows_sampled_several_times_are_said_to_be_medians(run: dict[str, Any]) -> None:
    assert not any("median of" in line for line in day_section(run["day"], cook_timing="commands"))
    rows = [
        {**r, "final_samples": [r["final_seconds"]] * 3}
        if r["kind"] in LIBRARY_KINDS and r["approach"] in (STACKED, "cargo-chef style")
        else r
        for r in run["day"]["rows"]
    ]
    text = "\n".join(day_section({**run["day"], "rows": rows}, cook_timing="commands"))
    assert "Library edits, stacked chefpy and cargo-chef style: each row is the median of 3 samples" in text


class _Sampled(ChefFlow):
    """A flow whose cook and final stages take the seconds it is given, one after the other."""

    def __init__(self, cooks: list[float], finals: list[float]) -> None:
        self.cooks_left, self.finals_left = cooks, finals

    def recook(self) -> float:
        return self.cooks_left.pop(0)

    def run_final(self, *, preserve_mtimes: bool) -> Stage:
        seconds = self.finals_left.pop(0)
        return Stage(compiled=frozenset({"libB"}), seconds=seconds, cpu_seconds=0.0, output="")


def _rows(cook: float, finals: tuple[float, float]) -> list[Row]:
    return [
        Row(edit="libB edit 1", kind="libB", approach=STACKED, mode=mode, cook_seconds=cook, final_seconds=f)
        for (mode, _), f in zip(MODES, finals, strict=True)
    ]


def test_a_resampled_library_edit_holds_the_medians_of_its_cooks_and_of_each_modes_final_stages() -> None:
    rows = _rows(5.0, (1.0, 1.1))
    # Samples 2 and 3, in the order they run: a cook, then the final stage in each mode.
    flow = _Sampled(cooks=[4.0, 9.0], finals=[3.0, 1.2, 0.9, 1.4])
    _resample(flow, rows, rebuilt=True)
    assert [r.cook_samples for r in rows] == [[5.0, 4.0, 9.0]] * 2
    assert [r.final_samples for r in rows] == [[1.0, 3.0, 0.9], [1.1, 1.2, 1.4]]
    assert [(r.cook_seconds, r.final_seconds) for r in rows] == [(5.0, 1.0), (5.0, 1.2)]
    assert (flow.cooks_left, flow.finals_left) == ([], [])


def test_a_resampled_edit_that_reused_its_cooked_layer_samples_only_its_final_stages() -> None:
    rows = _rows(0.0, (6.0, 11.0))
    flow = _Sampled(cooks=[], finals=[5.0, 12.0, 7.0, 10.0])
    _resample(flow, rows, rebuilt=False)
    assert [(r.cook_seconds, r.final_seconds) for r in rows] == [(0.0, 6.0), (0.0, 11.0)]
    assert [r.cook_samples for r in rows] == [[], []]


def test_a_library_ratio_just_over_its_target_is_never_printed_as_the_target(run: dict[str, Any]) -> None:
    """1.1008x would print as 1.10x next to **missed**: a third decimal says why it is a miss."""
    seconds = {STACKED: 5.8036, "cargo-chef style": 5.2723}
    rows = [
        {**r, "cook_seconds": 0.0, "final_seconds": seconds[r["approach"]]}
        if r["edit"] == "libB edit 1" and r["approach"] in seconds
        else r
        for r in run["day"]["rows"]
    ]
    day = {**run["day"], "rows": rows}
    assert "libB 1.101x" in day_checks(day)[1][1]
    assert "| 1.101x **missed** |" in "\n".join(day_section(day, cook_timing="commands"))
    assert "libB 0.84x" in day_checks(run["day"])[1][1]  # two decimals otherwise


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (1.1008, "1.101x"),
        (1.1004, "1.1004x"),
        (1.10004, "1.10004x"),
        (1.1, "1.10x"),
        (1.0996, "1.10x"),
        (1.2, "1.20x"),
    ],
)
def test_a_ratio_over_its_target_never_prints_as_the_target_however_close(ratio: float, text: str) -> None:
    assert _ratio(ratio, 1.1) == text
