"""The only module that starts processes (ruff's banned-api rule, TID251, enforces it): finds cargo, runs
it with its output captured (`capture`, or `Captured` to read the result later) or streamed
(`run_streamed`).

Every wait for cargo stops it when the wait is interrupted: on Ctrl-C (KeyboardInterrupt) cargo gets
SIGINT, on `errors.Terminated` (SIGTERM, see cli.main) SIGTERM, on anything else SIGTERM too; after
STOP_SECONDS it is killed. So a supervisor or `docker stop` that signals the tool alone leaves no cargo
running behind it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from cargo_chefpy.errors import CargoError, UsageError

METADATA = ("metadata", "--format-version", "1", "--no-deps", "--offline")
METADATA_RESOLVED = ("metadata", "--format-version", "1")  # resolves the dependencies: writes Cargo.lock
STOP_SECONDS = 5.0  # how long a signalled cargo may take to stop before it is killed


def find_cargo(env: Mapping[str, str] | None = None) -> str:
    """`$CARGO` (cargo sets it for subcommands) if set, else cargo on PATH."""
    environ = os.environ if env is None else env
    explicit = environ.get("CARGO")
    if explicit:
        if os.access(explicit, os.X_OK) and not os.path.isdir(explicit):
            return explicit
        raise CargoError(
            f"$CARGO points at {explicit}, which is not an executable file",
            hint="unset CARGO or point it at a working cargo binary",
        )
    found = shutil.which("cargo", path=environ.get("PATH", os.defpath))
    if found is None:
        raise CargoError(
            "cargo was not found on PATH",
            hint="install Rust with rustup (https://rustup.rs) or set $CARGO to the cargo binary",
        )
    return found


def metadata_args(manifest_path: Path) -> list[str]:
    return [*METADATA, "--manifest-path", str(manifest_path)]


def _spawn_error(cargo: str, exc: OSError) -> CargoError:
    return CargoError(
        f"could not run {cargo}: {exc.strerror or exc}",
        hint="check that $CARGO or the cargo on PATH is an executable cargo binary",
    )


def _popen(cargo: str, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen([cargo, *args], **kwargs)
    except OSError as exc:
        raise _spawn_error(cargo, exc) from exc


def stop(proc: subprocess.Popen[bytes], why: BaseException | None = None) -> None:
    """Stop `proc` if it still runs: SIGINT when `why` is a Ctrl-C, else SIGTERM; SIGKILL after
    STOP_SECONDS, or at once should another signal interrupt the wait."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGINT if isinstance(why, KeyboardInterrupt) else signal.SIGTERM)
        proc.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:  # interrupted again while waiting: no more waiting
        proc.kill()
        proc.wait()
        raise


class Captured:
    """`cargo ARGS` started with its output captured; `result()` waits for it. As a context manager it
    stops cargo (`stop`) should the block it guards raise before the result was read."""

    def __init__(self, cargo: str, args: Sequence[str], *, cwd: Path) -> None:
        self.args = tuple(args)
        self.cwd = cwd
        # bytes, decoded here: text=True would decode with the locale's encoding, not cargo's UTF-8
        self._proc = _popen(cargo, args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def __enter__(self) -> Captured:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if self._proc.returncode is None:
            try:
                stop(self._proc, exc)
            finally:
                self._close()

    def _close(self) -> None:
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()

    def result(self) -> str:
        """cargo's stdout; on failure CargoError carrying cargo's own message (its stderr)."""
        proc = self._proc
        try:
            stdout, stderr = proc.communicate()
        except BaseException as exc:
            stop(proc, exc)
            raise
        finally:
            self._close()
        if proc.returncode != 0:
            raise CargoError(
                f"`cargo {' '.join(self.args[:1])}` failed with exit code {proc.returncode} (in {self.cwd})",
                hint="cargo's message is above; fix it and run again",
            ).with_output(stderr.decode(errors="replace"))
        return stdout.decode(errors="replace")


def capture(cargo: str, args: Sequence[str], *, cwd: Path) -> str:
    """Run `cargo ARGS` in `cwd` and return its stdout (`Captured.result`)."""
    with Captured(cargo, args, cwd=cwd) as started:
        return started.result()


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
        env.setdefault("CARGO_TERM_PROGRESS_WIDTH", str(shutil.get_terminal_size().columns))
    return env


def _tee(source: IO[bytes], tail: bytearray) -> None:
    """Copy cargo's stderr to ours as it comes (progress bar included) and keep its last bytes.

    The pipe can be closed under us (when cargo is stopped): that ends the copy quietly.
    """
    err = sys.stderr  # None when closed at start (`2>&-`)
    out = getattr(err, "buffer", None)
    try:
        fd = source.fileno()
        while chunk := os.read(fd, 65536):
            try:
                if out is not None:
                    out.write(chunk)
                    out.flush()
                elif err is not None:
                    err.write(chunk.decode(errors="replace"))
                    err.flush()
            except (OSError, ValueError):  # our stderr is gone: keep draining cargo's, or cargo blocks
                err = out = None
            tail += chunk
            del tail[:-_TAIL_BYTES]
    except (OSError, ValueError):
        return


def message(line: str) -> dict[str, Any] | None:
    """One `--message-format json` line as a message; None for anything else (not JSON, not an object,
    or nested deeper than Python's parser goes), which the caller passes through as text."""
    try:
        parsed = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


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
    anything on stdout that is not a JSON object is passed through. With `stderr_tail`, cargo's stderr is
    still streamed as it comes, and its last lines are added to that list, so that a caller can quote them.
    """
    tail = bytearray()
    proc = _popen(
        cargo,
        args,
        cwd=cwd,
        stdout=subprocess.PIPE if on_message is not None else None,
        stderr=subprocess.PIPE if stderr_tail is not None else None,
        env=_tee_env() if stderr_tail is not None else None,
    )
    reader: threading.Thread | None = None
    try:
        if proc.stderr is not None:
            reader = threading.Thread(target=_tee, args=(proc.stderr, tail), daemon=True)
            reader.start()
        for raw in proc.stdout or ():
            line = raw.decode(errors="replace")
            found = message(line)
            if found is None:
                with contextlib.suppress(OSError, ValueError):  # a stdout gone: cargo's text is lost
                    print(line, end="", flush=True)
            elif on_message is not None:
                on_message(found)
        code = proc.wait()
    except BaseException as exc:
        stop(proc, exc)
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    if reader is not None:
        reader.join(10)
    if proc.stderr is not None:
        proc.stderr.close()
    if stderr_tail is not None:
        stderr_tail.extend(tail.decode(errors="replace").splitlines())
    return code


_NIGHTLY_ONLY = "only accepted on the nightly channel"


def check_unstable(cargo: str, flags: Sequence[str], *, cwd: Path) -> None:
    """Refuse, before any work, `-Z` flags this cargo does not take: cargo itself judges them (its
    channel, RUSTC_BOOTSTRAP, the flag names) when it runs `cargo -Z ... version`."""
    if not flags:
        return
    try:
        capture(cargo, [*flags, "version"], cwd=cwd)
    except CargoError as exc:
        shown = " ".join(flags)
        if _NIGHTLY_ONLY in exc.output:
            raise UsageError(
                f"{shown}: this cargo is not a nightly one, and only nightly cargo takes -Z flags",
                hint="remove the -Z flags, or build with a nightly toolchain (rustup: "
                "`cargo +nightly chefpy ...`, or a nightly base image)",
            ).with_output(exc.output) from None
        if "unknown `-Z` flag" in exc.output:
            raise UsageError(
                f"{shown}: cargo does not know this -Z flag",
                hint="fix or remove it (cargo's message is quoted above)",
            ).with_output(exc.output) from None
        raise
