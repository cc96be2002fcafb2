"""Which files of a kept package the recipe carries, and the extra paths a user asks it to carry.

A kept package's files are the package's files, as cargo packages them: `package.include` or
`package.exclude` (gitignore-style patterns), sub-packages and the root `target/` left out. The root
package's directory is the workspace root, which holds everything (docs, CI files, Dockerfiles), so
without `include` it carries only what its build reads by cargo's conventions (see `PackageFiles`).
Extra paths (`prepare --include`, `[workspace.metadata.chefpy] include`) carry files that kept
crates read outside their package directory.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cargo_chefpy.errors import ProjectError, SelectionError, UsageError
from cargo_chefpy.metadata import Package
from cargo_chefpy.workspace import normalise, relative

METADATA_KEY = "workspace.metadata.chefpy.include"
FLAG = "--include"


# --- gitignore-style patterns ----------------------------------------------------------------------


def _segment_regex(segment: str) -> str:
    """One path segment of a glob: `*` and `?` never match `/`, `[...]` is a class, `\\x` is x."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":  # `a**b` is `a*b`, as in git
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        elif c == "[":
            start = i + 2 if segment[i + 1 : i + 2] in ("!", "^") else i + 1
            start += segment[start : start + 1] == "]"  # a `]` first in the class is literal
            end = segment.find("]", start)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = segment[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                escaped = body.replace("[", "\\[").replace("]", "\\]")  # `\x` stays an escape
                out.append("[" + ("^/" if negate else "") + escaped + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    segments: tuple[re.Pattern[str] | None, ...]  # None for `**`
    negated: bool
    dir_only: bool


def _compile(pattern: str) -> _Pattern | None:
    text = pattern
    stripped = pattern.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(pattern):
        stripped += " "  # `foo\ ` keeps its escaped space
    pattern = stripped
    if not pattern or pattern.startswith("#"):
        return None
    negated = pattern.startswith("!")
    if negated or pattern.startswith(("\\!", "\\#")):
        pattern = pattern[1:]
    dir_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    if not pattern:
        return None
    anchored = "/" in pattern
    parts = pattern.lstrip("/").split("/") if anchored else ["**", pattern]
    parts = [p for p in parts if p]  # `a//b` is `a/b`
    regex: list[str] = []
    segments: list[re.Pattern[str] | None] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex.append(".*" if last else "(?:.*/)?")
            segments.append(None)
        else:
            seg = _segment_regex(part)
            regex.append(seg if last else seg + "/")
            segments.append(re.compile(seg))
    return _Pattern(
        text=text,
        regex=re.compile("".join(regex)),
        segments=tuple(segments),
        negated=negated,
        dir_only=dir_only,
    )


class Patterns:
    """gitignore-style patterns as cargo applies them to `include` and `exclude`: the last pattern that
    matches a path decides (`!` negates); a path no pattern matches takes the decision of its nearest
    parent directory that one matches. Paths are relative to the package root, POSIX, no leading `/`."""

    def __init__(self, patterns: Sequence[str], where: str = "a pattern list") -> None:
        compiled = []
        for pattern in patterns:
            try:
                compiled.append(_compile(pattern))
            except re.error as exc:  # such as a reversed range, `[z-a]`
                raise ProjectError(
                    f"the pattern {pattern!r} in {where} is not a valid gitignore-style pattern ({exc.msg})",
                    hint=f"fix {where}",
                ) from None
        self.patterns = tuple(p for p in compiled if p is not None)
        self.negations = any(p.negated for p in self.patterns)

    def match(self, path: str, *, is_dir: bool) -> bool | None:
        """True: the last matching pattern matched; False: it was a negation; None: none matched."""
        found: bool | None = None
        for p in self.patterns:
            if (is_dir or not p.dir_only) and p.regex.fullmatch(path):
                found = not p.negated
        return found

    def matches(self, path: str, *, is_dir: bool = False) -> bool:
        """Whether `path`, or else its nearest parent directory any pattern decides, matches."""
        found = self.match(path, is_dir=is_dir)
        while found is None and "/" in path:
            path = path.rsplit("/", 1)[0]
            found = self.match(path, is_dir=True)
        return found is True

    def may_match_below(self, directory: str) -> bool:
        """Whether some file under `directory` may match: a walk of `include` can skip it otherwise.
        Pattern by pattern, segment by segment: O(patterns) per directory, whatever its depth."""
        parts = directory.split("/")
        for p in self.patterns:
            if p.negated:
                continue
            for i, segment in enumerate(p.segments):
                if segment is None or i >= len(parts):  # `**`, or the pattern goes deeper
                    return True
                if not segment.fullmatch(parts[i]):
                    break
            else:  # `directory` is, or is inside, a directory the pattern matches
                return True
        return False


# --- a package's files -----------------------------------------------------------------------------


def _string_list(value: object, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProjectError(
            f"{where} is not a list of strings", hint=f"fix {where}: a list of paths or patterns"
        )
    return tuple(str(v) for v in value)


def _inherited(table: Mapping[str, Any], key: str, workspace_package: Mapping[str, Any]) -> object:
    value = table.get(key)
    if isinstance(value, dict) and value.get("workspace") is True:
        return workspace_package.get(key)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageFiles:
    """Which of a kept package's files the recipe carries. Always: Cargo.toml, the targets' source
    files (the build script among them), and an explicit `readme`/`license-file` (cargo packages those
    too). Then, with `include`: what it matches (`exclude` is ignored, as cargo does); else, for the
    root package, the directories that hold its targets' sources (a target file directly in the root:
    that file only), minus what `exclude` matches; else every file minus what `exclude` matches."""

    always: frozenset[str]
    include: Patterns | None
    exclude: Patterns | None
    roots: tuple[str, ...] | None  # the root package's directories ("src/") and files ("build.rs")

    def wants(self, path: str) -> bool:
        if path in self.always:
            return True
        if self.include is not None:
            return self.include.matches(path)
        if self.roots is not None and not any(
            path == r or (r.endswith("/") and path.startswith(r)) for r in self.roots
        ):
            return False
        return self.exclude is None or not self.exclude.matches(path)

    def walks_into(self, directory: str) -> bool:
        """Whether a walk needs to enter `directory` (relative, no trailing `/`)."""
        if any(a.startswith(directory + "/") for a in self.always):
            return True
        if self.include is not None:
            return self.include.may_match_below(directory)
        if self.roots is not None and not any(
            r.startswith(directory + "/") or (directory + "/").startswith(r)
            for r in self.roots
            if r.endswith("/")
        ):
            return False
        if self.exclude is not None and not self.exclude.negations:
            # The walk entered each parent only if it was not excluded: the directory's own match decides.
            return self.exclude.match(directory, is_dir=True) is not True
        return True


def package_files(
    directory: str,
    manifest: Mapping[str, Any],
    package: Package | None,
    *,
    is_root: bool,
    workspace_package: Mapping[str, Any],
) -> PackageFiles:
    """The file selection of the package at `directory`, whose parsed manifest is `manifest`."""
    table = manifest.get("package")
    table = table if isinstance(table, dict) else {}
    where = f"{directory}/Cargo.toml"
    include = _string_list(_inherited(table, "include", workspace_package), f"package.include of {where}")
    exclude = _string_list(_inherited(table, "exclude", workspace_package), f"package.exclude of {where}")
    always = {"Cargo.toml"}
    for key in ("readme", "license-file"):
        value = _inherited(table, key, workspace_package)
        if isinstance(value, str):
            always.add(posixpath.normpath(value))
    sources = [relative(normalise(t.src_path), directory) for t in package.targets] if package else []
    sources = [s for s in sources if not s.startswith("../")]
    always.update(sources)
    roots = None
    if is_root and include is None:
        roots = tuple(sorted({s if "/" not in s else s.rsplit("/", 1)[0] + "/" for s in sources}))
    return PackageFiles(
        always=frozenset(always),
        include=Patterns(include, f"package.include of {where}") if include is not None else None,
        exclude=(
            Patterns(exclude, f"package.exclude of {where}")
            if exclude is not None and include is None
            else None
        ),
        roots=roots,
    )


# --- extra paths -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtraPath:
    spec: str  # as the user wrote it
    source: str  # "--include" or "workspace.metadata.chefpy.include"
    paths: tuple[str, ...]  # absolute, normalised: the files and directories it names


def metadata_include(root_manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """`[workspace.metadata.chefpy] include = [...]` of the root manifest."""
    node: object = root_manifest
    for key in ("workspace", "metadata", "chefpy"):
        node = node.get(key) if isinstance(node, dict) else None
    value = node.get("include") if isinstance(node, dict) else None
    found = _string_list(value, f"{METADATA_KEY} in the root Cargo.toml")
    return found or ()


def resolve_extra(root: str, specs: Sequence[str], source: str, crate_dirs: set[str]) -> list[ExtraPath]:
    """The paths each spec names: a file, a directory or a glob, relative to the workspace root; each
    must exist (a glob must match) and stay inside the root, symlinks resolved."""
    on_flag = source == FLAG
    fix = f"fix `{FLAG} {{}}`" if on_flag else f"fix {METADATA_KEY} in {root}/Cargo.toml"
    real_root = os.path.realpath(root)
    found = []
    for spec in specs:
        full = normalise(os.path.join(root, spec))
        error = UsageError if on_flag else ProjectError
        if not spec.strip() or "\x00" in spec:
            raise error(
                f"the extra path {spec!r} ({source}) is not a path",
                hint=f"{fix.format(spec)}: name a file, directory or glob relative to the workspace root",
            )
        if full != root and not full.startswith(root.rstrip("/") + "/"):
            raise error(
                f"the extra path {spec!r} ({source}) is outside the workspace root {root}",
                hint=f"{fix.format(spec)}: name paths inside the workspace, relative to its root",
            )
        if any(c in spec for c in "*?["):
            pattern = spec if os.path.isabs(spec) else spec.lstrip("/")
            try:
                matches = glob.glob(pattern, root_dir=root, recursive=True)
            except RecursionError:  # `**` over a tree deeper than Python's recursion limit
                raise ProjectError(
                    f"the extra path {spec!r} ({source}) reaches a directory tree too deep to search",
                    hint=f"{fix.format(spec)}: name the directory instead of a `**` glob",
                ) from None
            matched = sorted(normalise(os.path.join(root, m)) for m in matches)
        else:
            matched = [full] if os.path.lexists(full) else []
        if not matched:
            raise SelectionError(
                f"the extra path {spec!r} ({source}) matches nothing in {root}",
                hint=f"{fix.format(spec)}, or create the path (paths are relative to the workspace root)",
            )
        for path in matched:
            real = os.path.realpath(path)
            if real != real_root and not real.startswith(real_root.rstrip("/") + "/"):
                raise error(
                    f"the extra path {relative(path, root)} ({source}) leads outside the workspace "
                    f"(to {real})",
                    hint=f"{fix.format(spec)}: copy what it points to into the workspace",
                )
            if path in crate_dirs:
                raise SelectionError(
                    f"the extra path {relative(path, root)} ({source}) is a package directory",
                    hint="`--keep` that package to carry its real files, or name paths inside it",
                )
        found.append(ExtraPath(spec=spec, source=source, paths=tuple(matched)))
    return found
