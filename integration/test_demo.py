"""`make demo` works, and the shipped example stays what the fixture generator writes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from integration.demo import EXAMPLE
from integration.support.workspaces import seed_files

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_example_is_exactly_the_generated_seed() -> None:
    files, _ = seed_files(root_name=EXAMPLE.name)
    shipped = {
        p.relative_to(EXAMPLE).as_posix(): p.read_text()
        for p in EXAMPLE.rglob("*")
        if p.is_file()
        and not {"target", "vendored"} & set(p.relative_to(EXAMPLE).parts)
        and p.name != "Cargo.lock"
    }
    assert shipped == files


def test_demo_shows_only_service_z_recompiling_after_an_edit_and_layer_1_cached_after_a_library_edit() -> (
    None
):
    proc = subprocess.run(
        [sys.executable, "-m", "integration.demo"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    rows = [re.split(r"\s{2,}", line) for line in proc.stdout.splitlines() if line.startswith("cargo-chef")]
    table = {(r[0], r[1]): tuple(r[2:5]) for r in rows if len(r) == 6}
    assert table[("cargo-chefpy", "edit serviceZ")] == ("1: CACHED, 2: CACHED", "-", "serviceZ")
    assert table[("cargo-chefpy", "edit serviceZ, CI fresh checkout")] == (
        "1: CACHED, 2: CACHED",
        "-",
        "serviceZ",
    )
    cooked, cook_compiled, final = table[("cargo-chefpy", "edit libB")]
    assert cooked.startswith("1: CACHED, 2: rebuilt")
    assert cook_compiled == "fake-patched, libA, libB, libC, serviceZ"  # no vendored crate
    assert final == "serviceZ"
    assert table[("cargo-chef style (--stub-all)", "edit serviceZ")][2] == "libA, libB, libC, serviceZ"
    assert "stub     serviceZ" in proc.stdout
