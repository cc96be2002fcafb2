"""Build the shiv zipapp exactly as the Makefile's `dist/cargo-chefpy` rule does (for tests and benches).

shiv builds it; one step follows: the archive's `__main__.py` first runs `_chefpy_early`, a copy of
`cargo_chefpy/early.py`, which starts prepare's `cargo metadata` before shiv's bootstrap (about 40 ms of
imports) runs, so that the two overlap; and the modules run from the archive itself get their bytecode.
Everything else in the archive is shiv's, byte for byte.
"""

from __future__ import annotations

import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCH = "946684800"


SHIV_MAIN = b"# -*- coding: utf-8 -*-\nimport _bootstrap\n_bootstrap.bootstrap()\n"
MAIN = b"""# -*- coding: utf-8 -*-
# cargo-chefpy: start prepare's cargo metadata before the bootstrap's imports (cargo_chefpy/early.py)
import _chefpy_early
_chefpy_early.prestart()
import _bootstrap
_bootstrap.bootstrap()
"""


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
    start_early(out, (source / "cargo_chefpy" / "early.py").read_bytes())
    return out


def start_early(archive: Path, early: bytes) -> None:
    """Rewrite shiv's archive with `__main__.py` running `early` (as `_chefpy_early`) first; every other
    entry is copied with its own metadata, so the archive stays reproducible.

    The modules that run from the archive itself on every start (`_chefpy_early`, shiv's `_bootstrap`)
    get their bytecode beside them: zipimport cannot cache it, and compiling them cost 6 ms a run. It is
    this interpreter's bytecode; another Python version finds the magic number wrong and compiles the
    source, as before. So the archive is byte-identical from build to build for one Python minor version."""
    shebang, _, _ = archive.read_bytes().partition(b"\n")
    tmp = archive.with_name(archive.name + ".tmp")
    with zipfile.ZipFile(archive) as old, tmp.open("wb") as fd:
        fd.write(shebang + b"\n")
        with zipfile.ZipFile(fd, "w") as new:
            for info in old.infolist():
                data = old.read(info)
                if info.filename == "__main__.py":
                    if data != SHIV_MAIN:
                        raise RuntimeError(f"shiv's __main__.py is not the expected one: {data!r}")
                    data = MAIN
                    _add(new, info, "_chefpy_early.py", early)
                    _add(new, info, "_chefpy_early.pyc", _bytecode(early, "_chefpy_early.py"))
                new.writestr(info, data)
                if info.filename.startswith("_bootstrap/") and info.filename.endswith(".py"):
                    _add(new, info, info.filename + "c", _bytecode(data, info.filename))
    tmp.chmod(archive.stat().st_mode)
    tmp.replace(archive)


def _add(archive: zipfile.ZipFile, like: zipfile.ZipInfo, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=like.date_time)
    info.compress_type, info.external_attr = like.compress_type, like.external_attr
    archive.writestr(info, data)


def _bytecode(source: bytes, name: str) -> bytes:
    """The .pyc of `source`, checked by nothing but its magic number (the source beside it cannot change)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, pyc = Path(tmp, "module.py"), Path(tmp, "module.pyc")
        src.write_bytes(source)
        py_compile.compile(
            str(src), cfile=str(pyc), dfile=name, doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )  # fmt: skip
        return pyc.read_bytes()


def main() -> int:
    """`python -m integration.zipapp`: build dist/cargo-chefpy (what `make zipapp` runs)."""
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
