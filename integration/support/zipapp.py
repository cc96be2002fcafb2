"""Build the shiv zipapp exactly as the Makefile's `dist/cargo-chefpy` rule does (for tests and benches).

A plain shiv build, made reproducible: pip installs the package without bytecode, RECORD files or
scripts (which hold build-specific paths or hashes), and `shiv --reproducible` takes every entry's time
from SOURCE_DATE_EPOCH and sorts the entries. The same checkout gives the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EPOCH = "946684800"


def build_zipapp(work: Path, source: Path = ROOT) -> Path:
    """Build `work/cargo-chefpy` reproducibly from the checkout at `source` and return its path."""
    site = work / "site"
    shutil.rmtree(work, ignore_errors=True)
    site.mkdir(parents=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--target", str(site), str(source)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    for record in site.glob("*.dist-info/RECORD"):
        record.unlink()
    shutil.rmtree(site / "bin", ignore_errors=True)
    out = work / "cargo-chefpy"
    subprocess.run(
        [sys.executable, "-m", "shiv", "--reproducible", "--compressed", "--site-packages", str(site),
         "-p", "/usr/bin/env python3", "-e", "cargo_chefpy.cli:entry", "-o", str(out)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    return out


def main() -> int:
    """`python -m integration.support.zipapp`: build dist/cargo-chefpy (what `make zipapp` runs)."""
    built = build_zipapp(ROOT / "build" / "zipapp")
    dist = ROOT / "dist"
    dist.mkdir(exist_ok=True)
    tmp = dist / ".cargo-chefpy.tmp"
    shutil.copy2(built, tmp)
    tmp.replace(dist / "cargo-chefpy")
    print(dist / "cargo-chefpy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
