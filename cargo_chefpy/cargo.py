"""The only module that starts processes: finds cargo, captures its output, streams builds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cargo_chefpy.errors import CargoError


def find_cargo(env: Mapping[str, str] | None = None) -> str:
    """`$CARGO` first (cargo sets it for subcommands), then PATH."""
    environ = os.environ if env is None else env
    explicit = environ.get("CARGO")
    if explicit:
        if not os.access(explicit, os.X_OK) or Path(explicit).is_dir():
            raise CargoError(
                f"$CARGO points at {explicit}, which is not an executable file",
                hint="unset CARGO or point it at a working cargo binary",
            )
        return explicit
    found = shutil.which("cargo", path=environ.get("PATH"))
    if found is None:
        raise CargoError(
            "cargo was not found on PATH",
            hint="install Rust with rustup (https://rustup.rs) or set $CARGO to the cargo binary",
        )
    return found


def _spawn_error(cargo: str, exc: OSError) -> CargoError:
    return CargoError(
        f"could not run {cargo}: {exc.strerror or exc}",
        hint="check that $CARGO or the cargo on PATH is an executable cargo binary",
    )


def capture(cargo: str, args: Sequence[str], *, cwd: Path) -> str:
    """Run `cargo ARGS` and return its stdout; on failure raise CargoError carrying cargo's own message."""
    try:
        proc = subprocess.run(
            [cargo, *args], cwd=cwd, capture_output=True, text=True, errors="replace", check=False
        )
    except OSError as exc:
        raise _spawn_error(cargo, exc) from exc
    if proc.returncode != 0:
        raise CargoError(
            f"`cargo {' '.join(args[:1])}` failed with exit code {proc.returncode} (in {cwd})",
            hint="cargo's message is above; fix it and run again",
        ).with_output(proc.stderr)
    return proc.stdout


def metadata_no_deps(cargo: str, *, cwd: Path, manifest_path: Path | None) -> str:
    args = ["metadata", "--format-version", "1", "--no-deps", "--offline"]
    if manifest_path is not None:
        args += ["--manifest-path", str(manifest_path)]
    return capture(cargo, args, cwd=cwd)


def run_streamed(
    cargo: str,
    args: Sequence[str],
    *,
    cwd: Path,
    on_message: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Run cargo with stderr left on the terminal (progress bar, diagnostics) and return its exit code.

    With `on_message`, stdout carries `--message-format json` lines, which are parsed and handed over;
    anything on stdout that is not JSON is passed through.
    """
    try:
        if on_message is None:
            return subprocess.run([cargo, *args], cwd=cwd, check=False).returncode
        with subprocess.Popen(
            [cargo, *args], cwd=cwd, stdout=subprocess.PIPE, text=True, errors="replace"
        ) as proc:
            for line in proc.stdout or ():
                try:
                    message = json.loads(line)
                except ValueError:
                    print(line, end="", flush=True)
                    continue
                if isinstance(message, dict):
                    on_message(message)
            return proc.wait()
    except OSError as exc:
        raise _spawn_error(cargo, exc) from exc
