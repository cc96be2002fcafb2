"""The only module that starts processes: finds cargo, captures its output, streams builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

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
    found = _which("cargo", environ.get("PATH"))
    if found is None:
        raise CargoError(
            "cargo was not found on PATH",
            hint="install Rust with rustup (https://rustup.rs) or set $CARGO to the cargo binary",
        )
    return found


def _which(name: str, path: str | None) -> str | None:
    """shutil.which's answer for a plain name on POSIX, without importing shutil on every start-up."""
    if path is None:
        try:
            path = os.confstr("CS_PATH") or os.defpath
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def _spawn_error(cargo: str, exc: OSError) -> CargoError:
    return CargoError(
        f"could not run {cargo}: {exc.strerror or exc}",
        hint="check that $CARGO or the cargo on PATH is an executable cargo binary",
    )


class Capture:
    """`cargo ARGS` running in the background, its output drained by a thread so that cargo never blocks
    on a full pipe; `result()` waits for it. Lets prepare parse what it can while cargo metadata runs.
    Whoever starts one and may not reach `result()` calls `close()`."""

    def __init__(self, cargo: str, args: Sequence[str], *, cwd: Path) -> None:
        self.cargo, self.args, self.cwd = cargo, list(args), cwd
        try:
            # bytes, decoded later: text=True would import locale on every start-up
            self._proc = subprocess.Popen(
                [cargo, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise _spawn_error(cargo, exc) from exc
        self._output: tuple[bytes, bytes] = (b"", b"")
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        self._output = self._proc.communicate()

    def result(self) -> str:
        """cargo's stdout; on failure a CargoError carrying cargo's own message."""
        self._thread.join()
        stdout, stderr = self._output
        if self._proc.returncode != 0:
            raise CargoError(
                f"`cargo {' '.join(self.args[:1])}` failed with exit code {self._proc.returncode} "
                f"(in {self.cwd})",
                hint="cargo's message is above; fix it and run again",
            ).with_output(stderr.decode(errors="replace"))
        return stdout.decode(errors="replace")

    def close(self) -> None:
        """Stop cargo if it still runs (after an error or Ctrl-C elsewhere), and wait for the drain."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._thread.join()


def capture(cargo: str, args: Sequence[str], *, cwd: Path) -> str:
    """Run `cargo ARGS` and return its stdout; on failure raise CargoError carrying cargo's own message."""
    running = Capture(cargo, args, cwd=cwd)
    try:
        return running.result()
    finally:
        running.close()


def metadata_no_deps(cargo: str, *, cwd: Path, manifest_path: Path | None) -> Capture:
    """`cargo metadata --no-deps`, started in the background."""
    args = ["metadata", "--format-version", "1", "--no-deps", "--offline"]
    if manifest_path is not None:
        args += ["--manifest-path", str(manifest_path)]
    return Capture(cargo, args, cwd=cwd)


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
