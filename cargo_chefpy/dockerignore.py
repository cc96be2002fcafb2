"""The build context's `.dockerignore`: does it keep the host's `target/` and `.git/` out of the context?

Without it, the planner's `COPY . .` sends a host `target/` (often gigabytes) to the engine with every
build, and `.git/`, which changes on every commit, reruns the planner on every commit. Neither changes
what compiles (cargo builds in /app-target; the recipes and the sources tree leave both out), but both
cost time. `cargo chefpy dockerfile --output FILE` writes a missing `.dockerignore`, or appends the
missing lines to the user's own under a comment line (never rewriting or reordering what is there);
with `--output -` it only warns.

Docker reads `.dockerignore` at the root of the build context. The rules are moby/patternmatcher's: one
pattern a line (trimmed, `#` lines are comments, a leading `/` and a trailing `/` mean nothing, `!`
re-includes), `*` and `?` never cross a `/`, `**` crosses any number of directories, a pattern that
matches a directory excludes everything under it, and the last matching pattern wins.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from cargo_chefpy.errors import WriteError
from cargo_chefpy.fsutil import NotRegularFile, read_regular, write_output
from cargo_chefpy.log import Log

NAME = ".dockerignore"
COMMENT = (
    "# added by `cargo chefpy dockerfile`: keep the host's build outputs and git history out of the context"
)
WHY = {
    "target": "a host target/ would be sent to the engine with every build",
    ".git": ".git/ changes on every commit and would rerun the planner stage each time",
}

Rule = tuple[bool, re.Pattern[str]]  # (re-includes, the pattern)


def _translate(pattern: str) -> str:
    """A cleaned pattern as a regular expression, as moby/patternmatcher compiles it."""
    out = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*" and pattern[i : i + 1] == "*":
            i += 1
            if pattern[i : i + 1] == "/":
                i += 1
            out += ".*" if i >= len(pattern) else "(?:.*/)?"
        elif ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i < len(pattern):
            out += re.escape(pattern[i])
            i += 1
        elif ch == "[" and pattern.find("]", i) > i:  # a class (`[^...]` negated), as Go's filepath.Match
            end = pattern.index("]", i)
            out += pattern[i - 1 : end + 1]
            i = end + 1
        else:
            out += re.escape(ch)
    return out


def read_rules(text: str) -> list[Rule]:
    rules: list[Rule] = []
    for raw in text.removeprefix("\ufeff").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        invert = line.startswith("!")
        pattern = line[1:].strip() if invert else line
        if not pattern:
            continue
        pattern = posixpath.normpath(pattern)
        if len(pattern) > 1 and pattern.startswith("/"):
            pattern = pattern.lstrip("/") or "/"
        try:
            rules.append((invert, re.compile(_translate(pattern))))
        except re.error:  # Docker refuses such a file; it is not ours to judge here
            continue
    return rules


def excluded(rules: Sequence[Rule], path: str) -> bool:
    """Whether Docker leaves `path` (relative to the context, POSIX) out: the last matching rule wins, and
    a rule matches a path when it matches the path or one of its parent directories."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for invert, regex in rules:
        if invert != result:  # an exclusion of an excluded path, or an exception to an included one
            continue
        if any(regex.fullmatch(c) for c in candidates):
            result = not invert
    return result


def missing(text: str, keep_out: Sequence[str]) -> list[str]:
    """The directories of `keep_out` (relative to the context) whose contents the file lets through."""
    rules = read_rules(text)
    return [d for d in keep_out if not excluded(rules, f"{d}/x")]


def fresh(keep_out: Sequence[str]) -> str:
    lines = [f"{d}/" for d in keep_out]
    lines.insert(1 if lines else 0, "**/target/")  # member crates built on their own
    return "\n".join([COMMENT, *dict.fromkeys(lines)]) + "\n"


def _why(dirs: Sequence[str]) -> str:
    return "; ".join(WHY.get(posixpath.basename(d), f"{d}/ would be sent to the engine") for d in dirs)


def ensure(context: Path, keep_out: Sequence[str], *, write: bool, shown: str, log: Log) -> None:
    """Check the context's .dockerignore keeps `keep_out` out; with `write`, create it or append what is
    missing. Never fails the command: what cannot be read or written is a warning naming the lines."""
    path = context / NAME
    try:
        data: bytes | None = read_regular(path)  # follows a symlink, as Docker does; never a pipe's wait
    except FileNotFoundError:
        data = None
    except (OSError, NotRegularFile) as exc:
        lines = " ".join(f"{d}/" for d in keep_out)
        why = f"it is {exc.kind}" if isinstance(exc, NotRegularFile) else exc.strerror
        log.warning(
            f"could not read {shown} ({why}) to check that it keeps {lines} out of the context",
            hint=f"make it readable, with these lines: {lines}",
        )
        return
    gaps = list(keep_out) if data is None else missing(data.decode("utf-8", "surrogateescape"), keep_out)
    if not gaps:
        log.debug(f"{shown} keeps {_names(keep_out)} out of the build context")
        return
    printf = f"printf '{''.join(f'{d}/{chr(92)}n' for d in gaps)}' >> {shlex.quote(shown)}"
    if write:
        if data is None:
            new = fresh(keep_out).encode()
        else:
            sep = b"" if not data or data.endswith(b"\n") else b"\n"
            new = data + sep + "\n".join([COMMENT, *(f"{d}/" for d in gaps)]).encode() + b"\n"
        try:
            write_output(path, new, what=NAME)
        except WriteError as exc:
            log.warning(f"{exc.message}; {_why(gaps)}", hint=f"run `{printf}` where it can be written")
            return
        if data is None:
            log.status("Wrote", f"{shown}, keeping {_names(keep_out)} out of the build context")
        else:
            them = "it" if len(gaps) == 1 else "them"
            log.status("Appended", f"{_names(gaps)} to {shown}, to keep {them} out of the build context")
        return
    what = (
        f"the build context has no {shown}" if data is None else f"{shown} does not keep {_names(gaps)} out"
    )
    log.warning(
        f"{what}: {_why(gaps)}", hint=f"run `{printf}`, or write the Dockerfile with --output Dockerfile"
    )


def _names(dirs: Sequence[str]) -> str:
    names = [f"{d}/" for d in dirs]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + f" and {names[-1]}"


def shown_path(context: Path, cwd: Path) -> str:
    """The .dockerignore's path as the user would type it, from the current directory."""
    return os.path.relpath(context / NAME, cwd)
