"""Cargo-style status lines on stderr. stdout is left for machine output."""

from __future__ import annotations

import os
import sys
from typing import TextIO

_GREEN = "\x1b[1;32m"
_YELLOW = "\x1b[1;33m"
_RED = "\x1b[1;31m"
_CYAN = "\x1b[1;36m"
_RESET = "\x1b[0m"


class Log:
    """Writes `    Verb message` lines like cargo does; colour only on a terminal without NO_COLOR."""

    def __init__(self, stream: TextIO | None = None, *, verbose: int = 0, quiet: bool = False) -> None:
        self.stream: TextIO | None = stream if stream is not None else sys.stderr  # None: closed at start
        self.mute = False  # set once a write failed
        self.verbose = verbose
        self.quiet = quiet
        isatty = getattr(self.stream, "isatty", None)
        self.colour = bool(isatty and isatty()) and "NO_COLOR" not in os.environ

    def _paint(self, text: str, colour: str) -> str:
        return f"{colour}{text}{_RESET}" if self.colour else text

    def _write(self, line: str) -> None:
        """One line, flushed. A stderr that cannot take it (closed at start, `2>&-`; full; a pipe whose
        reader has gone) is left alone from then on: the message is lost, the exit code still says it."""
        if self.stream is None or self.mute:
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            self.mute = True

    def status(self, verb: str, message: str) -> None:
        if not self.quiet:
            self._write(f"{self._paint(verb.rjust(12), _GREEN)} {message}")

    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self._write(f"{self._paint('debug'.rjust(12), _CYAN)} {message}")

    def warning(self, message: str, hint: str | None = None) -> None:
        self._write(f"{self._paint('warning', _YELLOW)}: {message}")
        if hint is not None:
            self._write(f"{self._paint('hint', _CYAN)}: {hint}")

    def error(self, message: str, hint: str, *, detail: str = "") -> None:
        """`error:` line, then a child process's own message (indented), then the `hint:` line."""
        self._write(f"{self._paint('error', _RED)}: {message}")
        for line in detail.splitlines():
            self._write(f"  | {line}")
        self._write(f"{self._paint('hint', _CYAN)}: {hint}")
