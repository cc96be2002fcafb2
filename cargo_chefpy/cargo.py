"""With early.py, the only modules that start processes: finds cargo, captures its output, streams builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from cargo_chefpy import early
from cargo_chefpy.errors import CargoError


def find_cargo(env: Mapping[str, str] | None = None) -> str:
    """`$CARGO` first (cargo sets it for subcommands), then PATH."""
    environ = os.environ if env is None else env
    found = early.cargo_path(environ)
    explicit = environ.get("CARGO")
    if explicit and found is None:
        raise CargoError(
            f"$CARGO points at {explicit}, which is not an executable file",
            hint="unset CARGO or point it at a working cargo binary",
        )
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


class Capture:
    """`cargo ARGS` running in the background, its output spooled to anonymous files (`early.Running`);
    `result()` waits for it. Lets prepare parse what it can while cargo metadata runs. Whoever starts
    one and may not reach `result()` calls `close()`."""

    def __init__(
        self, cargo: str, args: Sequence[str], *, cwd: Path, running: early.Running | None = None
    ) -> None:
        """`running`: the same command, already started (`early.take`)."""
        self.cargo, self.args, self.cwd = cargo, list(args), cwd
        if running is None:
            try:
                running = early.Running([cargo, *args], str(cwd))
            except OSError as exc:
                raise _spawn_error(cargo, exc) from exc
        self._running = running

    def result(self) -> str:
        """cargo's stdout; on failure a CargoError carrying cargo's own message."""
        code = self._running.wait()
        stdout, stderr = self._running.output()
        if code != 0:
            raise CargoError(
                f"`cargo {' '.join(self.args[:1])}` failed with exit code {code} (in {self.cwd})",
                hint="cargo's message is above; fix it and run again",
            ).with_output(stderr.decode(errors="replace"))
        return stdout.decode(errors="replace")

    def close(self) -> None:
        """Stop cargo if it still runs (after an error or Ctrl-C elsewhere), and free its output."""
        self._running.close()

    def running(self) -> bool:
        return self._running.running()


def capture(cargo: str, args: Sequence[str], *, cwd: Path) -> str:
    """Run `cargo ARGS` and return its stdout; on failure raise CargoError carrying cargo's own message."""
    running = Capture(cargo, args, cwd=cwd)
    try:
        return running.result()
    finally:
        running.close()


def metadata_no_deps(cargo: str, *, cwd: Path, manifest_path: Path) -> Capture:
    """`cargo metadata --no-deps` of `manifest_path`, started in the background, or taken over from
    `early.prestart` when it guessed this very call."""
    args = early.metadata_args(str(manifest_path))
    return Capture(cargo, args, cwd=cwd, running=early.take([cargo, *args], str(cwd)))


_TAIL_BYTES = 64 * 1024


def _tee_env() -> dict[str, str] | None:
    """cargo's stderr goes through a pipe when it is teed: keep its colours and progress bar on a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    if not (isatty and isatty()):
        return None
    env = dict(os.environ)
    if "NO_COLOR" not in env:
        env.setdefault("CARGO_TERM_COLOR", "always")
    if "CARGO_TERM_PROGRESS_WHEN" not in env:
        env["CARGO_TERM_PROGRESS_WHEN"] = "always"
        import shutil  # only when cargo's stderr is teed to a terminal

        env.setdefault("CARGO_TERM_PROGRESS_WIDTH", str(shutil.get_terminal_size().columns))
    return env


def _tee(source: IO[bytes], tail: bytearray) -> None:
    """Copy cargo's stderr to ours as it comes (progress bar included) and keep its last bytes.

    The pipe can be closed under us (Ctrl-C unwinds the Popen context): that ends the copy quietly.
    """
    out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
    try:
        fd = source.fileno()
        while chunk := os.read(fd, 65536):
            if out is not None:
                out.write(chunk)
                out.flush()
            else:
                sys.stderr.write(chunk.decode(errors="replace"))
                sys.stderr.flush()
            tail += chunk
            del tail[:-_TAIL_BYTES]
    except (OSError, ValueError):
        return


def run_streamed(
    cargo: str,
    args: Sequence[str],
    *,
    cwd: Path,
    on_message: Callable[[dict[str, Any]], None] | None = None,
    stderr_tail: list[str] | None = None,
) -> int:
    """Run cargo with stderr left on the terminal (progress bar, diagnostics) and return its exit code.

    With `on_message`, stdout carries `--message-format json` lines, which are parsed and handed over;
    anything on stdout that is not JSON is passed through. With `stderr_tail`, cargo's stderr is still
    streamed as it comes, and its last lines are added to that list, so that a caller can quote them.
    """
    tail = bytearray()
    reader: threading.Thread | None = None
    try:
        if on_message is None and stderr_tail is None:
            return subprocess.run([cargo, *args], cwd=cwd, check=False).returncode
        with subprocess.Popen(
            [cargo, *args],
            cwd=cwd,
            stdout=subprocess.PIPE if on_message is not None else None,
            stderr=subprocess.PIPE if stderr_tail is not None else None,
            env=_tee_env() if stderr_tail is not None else None,
        ) as proc:
            if proc.stderr is not None:
                reader = threading.Thread(target=_tee, args=(proc.stderr, tail), daemon=True)
                reader.start()
            for raw in proc.stdout or ():
                line = raw.decode(errors="replace")
                try:
                    message = json.loads(line)
                except ValueError:
                    print(line, end="", flush=True)
                    continue
                if isinstance(message, dict) and on_message is not None:
                    on_message(message)
            code = proc.wait()
            if reader is not None:
                reader.join(10)
                if stderr_tail is not None:
                    stderr_tail.extend(tail.decode(errors="replace").splitlines())
            return code
    except OSError as exc:
        raise _spawn_error(cargo, exc) from exc
