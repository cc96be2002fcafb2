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


def test_demo_shows_only_service_z_recompiling_after_an_edit() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "integration.demo"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    rows = [re.split(r"\s{2,}", line) for line in proc.stdout.splitlines() if line.startswith("cargo-chef")]
    table = {(r[0], r[1]): (r[2], r[3]) for r in rows if len(r) == 5}
    assert table[("cargo-chefpy", "edit serviceZ")] == ("CACHED", "serviceZ")
    assert table[("cargo-chefpy", "edit serviceZ, CI fresh checkout")] == ("CACHED", "serviceZ")
    assert table[("cargo-chefpy", "edit libB")][1] == "serviceZ"
    assert table[("cargo-chef style (--stub-all)", "edit serviceZ")][1] == "libA, libB, libC, serviceZ"
    assert "stub     serviceZ" in proc.stdout
