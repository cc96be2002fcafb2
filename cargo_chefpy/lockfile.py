"""Pure Cargo.lock transforms, done on cargo's own text so the output is byte-for-byte what cargo writes.

Pruning walks the lock file's own dependency graph from the members that remain, over every
dependency kind. `cargo metadata` cannot be used for that: it leaves out optional dependencies that
are not activated, yet Cargo.lock lists them, and `--locked` then fails.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from cargo_chefpy.errors import ProjectError


@dataclass(frozen=True, slots=True)
class LockPackage:
    name: str
    version: str
    source: str | None
    dependencies: tuple[str, ...]
    text: str  # the whole `[[package]]` block


@dataclass(frozen=True, slots=True)
class Lock:
    header: str
    packages: tuple[LockPackage, ...]
    trailer: str  # anything after the packages ([metadata], [[patch.unused]])


_BLOCK = re.compile(r"^\[\[package\]\]\n", re.MULTILINE)
_TABLE = re.compile(r"^\[(?!\[package\]\])", re.MULTILINE)


def _bad_lock(detail: str) -> ProjectError:
    return ProjectError(
        f"Cargo.lock cannot be read ({detail})",
        hint="regenerate it with `cargo generate-lockfile` (or restore it from version control)",
    )


def parse_lock(text: str) -> Lock:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad_lock(str(exc)) from None
    starts = [m.start() for m in _BLOCK.finditer(text)]
    if not starts:
        return Lock(header=text, packages=(), trailer="")
    header = text[: starts[0]]
    tail_match = _TABLE.search(text, starts[-1] + 1)
    end = tail_match.start() if tail_match else len(text)
    bounds = [*starts, end]
    packages = []
    for a, b in itertools.pairwise(bounds):
        block = text[a:b]
        data = tomllib.loads(block).get("package", [{}])[0]
        name, version = data.get("name"), data.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise _bad_lock("a [[package]] entry without name or version")
        deps = data.get("dependencies", [])
        source = data.get("source")
        packages.append(
            LockPackage(
                name=name,
                version=version,
                source=source if isinstance(source, str) else None,
                dependencies=tuple(str(d) for d in deps),
                text=block,
            )
        )
    return Lock(header=header, packages=tuple(packages), trailer=text[end:])


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def _reference_key(reference: str) -> tuple[str, tuple[int, Version | str], str]:
    parts = reference.split(" ", 2)
    return (
        parts[0],
        _version_key(parts[1]) if len(parts) > 1 else (0, ""),
        parts[2] if len(parts) > 2 else "",
    )


def _cargo_order(packages: list[LockPackage], blocks: list[str], masks: Mapping[str, str]) -> list[str]:
    """Cargo orders packages by name, then version: a masked version may have to move within its name."""
    if not masks:
        return blocks
    out: list[str] = []
    i = 0
    while i < len(packages):
        j = i
        while j < len(packages) and packages[j].name == packages[i].name:
            j += 1
        group = list(zip(packages[i:j], blocks[i:j], strict=True))
        if j - i > 1 and packages[i].name in masks:

            def version(item: tuple[LockPackage, str]) -> tuple[int, Version | str]:
                package, _ = item
                is_masked = package.source is None
                return _version_key(masks[package.name] if is_masked else package.version)

            group.sort(key=version)
        out.extend(block for _, block in group)
        i = j
    return out


def _resolve(reference: str, packages: tuple[LockPackage, ...]) -> list[LockPackage]:
    """A `dependencies` entry: "name", "name version" or "name version (source)"."""
    parts = reference.split(" ", 2)
    found = [p for p in packages if p.name == parts[0]]
    if len(parts) >= 2:
        found = [p for p in found if p.version == parts[1]]
    if len(parts) == 3:
        source = parts[2].strip("()")
        found = [p for p in found if p.source == source]
    return found


def _resolve_one(reference: str, user: LockPackage, packages: tuple[LockPackage, ...]) -> LockPackage:
    found = _resolve(reference, packages)
    if not found:
        raise _bad_lock(
            f"{user.name} {user.version} depends on {reference!r}, which has no [[package]] entry"
        )
    return found[0]


def prune_and_mask(text: str, roots: Iterable[tuple[str, str]], masks: Mapping[str, str]) -> str:
    """Keep only the packages reachable from the local packages `roots` ((name, version) pairs);
    then give the local packages named in `masks` (name -> new version) the new version."""
    lock = parse_lock(text)
    wanted = set(roots)
    start = [p for p in lock.packages if p.source is None and (p.name, p.version) in wanted]
    seen: dict[int, LockPackage] = {}
    stack = list(start)
    while stack:
        package = stack.pop()
        if id(package) in seen:
            continue
        seen[id(package)] = package
        for reference in package.dependencies:
            stack.extend(_resolve(reference, lock.packages))
    kept = [p for p in lock.packages if id(p) in seen]

    def version(p: LockPackage) -> str:
        return masks[p.name] if p.source is None and p.name in masks else p.version

    def encode(p: LockPackage) -> str:
        """Cargo's reference: the version only when the name is ambiguous, the source only when both are."""
        same_name = [q for q in kept if q.name == p.name]
        if len(same_name) == 1:
            return p.name
        if sum(1 for q in same_name if version(q) == version(p)) == 1 or p.source is None:
            return f"{p.name} {version(p)}"
        return f"{p.name} {version(p)} ({p.source})"

    blocks = []
    for package in kept:
        block = package.text
        if version(package) != package.version:
            block = block.replace(f'version = "{package.version}"', f'version = "{version(package)}"', 1)
        references = [encode(_resolve_one(r, package, lock.packages)) for r in package.dependencies]
        references.sort(key=_reference_key)
        if references != list(package.dependencies):
            old = "".join(f' "{r}",\n' for r in package.dependencies)
            new = "".join(f' "{r}",\n' for r in references)
            block = block.replace(old, new, 1)
        blocks.append(block)
    # Blocks are separated by one blank line; the last one ends the file, or precedes the trailer.
    body = "\n".join(b.rstrip("\n") + "\n" for b in _cargo_order(kept, blocks, masks))
    if body and lock.trailer:
        body += "\n"
    return lock.header + body + lock.trailer


_UNUSED = re.compile(r'\[\[patch\.unused\]\]\nname = "([^"]+)"\n(?:[^\[\n][^\n]*\n)*\n?')


def local_packages(text: str) -> set[tuple[str, str]]:
    """(name, version) of every path package in the lock."""
    return {(p.name, p.version) for p in parse_lock(text).packages if p.source is None}


def drop_unused_patches(text: str, names: set[str]) -> str:
    """Remove the `[[patch.unused]]` entries of these patches (their [patch] entries were removed)."""

    def keep(match: re.Match[str]) -> str:
        return "" if match.group(1) in names else match.group(0)

    return _UNUSED.sub(keep, text).rstrip("\n") + "\n"


def check_members(text: str, members: Iterable[tuple[str, str, tuple[str, ...]]]) -> None:
    """Fail early, as `--locked` would later, when a member or one of its dependencies is not in the lock.

    `members` holds (name, version, names of its declared dependencies) for each member.
    """
    lock = parse_lock(text)
    for name, version, dep_names in members:
        entry = next((p for p in lock.packages if p.source is None and p.name == name), None)
        if entry is None or entry.version != version:
            raise ProjectError(
                f"Cargo.lock is out of date: it has no entry for {name} {version}",
                hint="run `cargo generate-lockfile --offline` (or any cargo build) and commit Cargo.lock",
            )
        listed = {d.split(" ", 1)[0] for d in entry.dependencies}
        missing = sorted(set(dep_names) - listed)
        if missing:
            raise ProjectError(
                f"Cargo.lock is out of date: {name} depends on {', '.join(missing)}, "
                "which the lock does not list",
                hint="run `cargo generate-lockfile --offline` (or any cargo build) and commit Cargo.lock",
            )
