"""Pure Cargo.lock transforms, done on cargo's own text so the output is byte-for-byte what cargo writes.

Pruning walks the lock file's own dependency graph from the members that remain, over every
dependency kind. `cargo metadata` cannot be used for that: it leaves out optional dependencies that
are not activated, yet Cargo.lock lists them, and `--locked` then fails.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import tomli
from packaging.version import InvalidVersion, Version

from cargo_chefpy.errors import ProjectError
from cargo_chefpy.workspace import without_bom


@dataclass(frozen=True, slots=True)
class LockPackage:
    name: str
    version: str
    source: str | None
    dependencies: tuple[str, ...]
    text: str  # the whole `[[package]]` block
    checksum: str | None = None


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
    """Split cargo's lock text into its header, `[[package]]` blocks and trailer (parsed once). A BOM
    at its start, which cargo accepts, is dropped."""
    text = without_bom(text)
    try:
        document = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise _bad_lock(str(exc)) from None
    starts = [m.start() for m in _BLOCK.finditer(text)]
    entries = document.get("package", [])
    if not isinstance(entries, list) or len(entries) != len(starts):
        raise _bad_lock("its [[package]] entries are not laid out as cargo writes them")
    if not starts:
        return Lock(header=text, packages=(), trailer="")
    tail_match = _TABLE.search(text, starts[-1] + 1)
    end = tail_match.start() if tail_match else len(text)
    packages = []
    for (a, b), data in zip(itertools.pairwise([*starts, end]), entries, strict=True):
        name, version = data.get("name"), data.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise _bad_lock("a [[package]] entry without name or version")
        source = data.get("source")
        packages.append(
            LockPackage(
                name=name,
                version=version,
                source=source if isinstance(source, str) else None,
                dependencies=tuple(str(d) for d in data.get("dependencies", [])),
                text=text[a:b],
                checksum=checksum if isinstance(checksum := data.get("checksum"), str) else None,
            )
        )
    return Lock(header=text[: starts[0]], packages=tuple(packages), trailer=text[end:])


def _by_name(packages: Iterable[LockPackage]) -> dict[str, list[LockPackage]]:
    index: dict[str, list[LockPackage]] = {}
    for p in packages:
        index.setdefault(p.name, []).append(p)
    return index


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


def _resolve(reference: str, index: Mapping[str, list[LockPackage]]) -> list[LockPackage]:
    """A `dependencies` entry: "name", "name version" or "name version (source)"."""
    parts = reference.split(" ", 2)
    found = index.get(parts[0], [])
    if len(parts) >= 2:
        found = [p for p in found if p.version == parts[1]]
    if len(parts) == 3:
        source = parts[2].strip("()")
        found = [p for p in found if p.source == source]
    return found


def _resolve_one(reference: str, user: LockPackage, index: Mapping[str, list[LockPackage]]) -> LockPackage:
    found = _resolve(reference, index)
    if not found:
        raise _bad_lock(
            f"{user.name} {user.version} depends on {reference!r}, which has no [[package]] entry"
        )
    return found[0]


def beyond_pruning(recipe: Lock, cargos: Lock) -> list[str]:
    """What cargo's lock for the recipe's workspace (`cargos`) changed in the recipe's lock besides
    dropping entries and the edges to them: a package added, or one whose checksum or dependencies are
    not the recipe's. Empty when cargo only pruned, as it does for an optional dependency that only a
    pruned member enabled; then every version the cook compiles is the one the recipe pinned."""
    ours = {(p.name, p.version, p.source): p for p in recipe.packages}
    our_index, their_index = _by_name(recipe.packages), _by_name(cargos.packages)

    def edges(p: LockPackage, index: Mapping[str, list[LockPackage]]) -> set[tuple[str, str, str | None]]:
        return {(d.name, d.version, d.source) for ref in p.dependencies for d in _resolve(ref, index)}

    changes = []
    for p in cargos.packages:
        mine = ours.get((p.name, p.version, p.source))
        if mine is None:
            changes.append(f"{p.name} {p.version} added")
        elif mine.checksum != p.checksum:
            changes.append(f"{p.name} {p.version}: another checksum")
        elif not edges(p, their_index) <= edges(mine, our_index):
            new = sorted(f"{n} {v}" for n, v, _ in edges(p, their_index) - edges(mine, our_index))
            changes.append(f"{p.name} {p.version} now depends on {', '.join(new)}")
    return changes


def dropped(recipe: Lock, cargos: Lock) -> list[str]:
    """The packages of `recipe` that `cargos` no longer lists, as "name version" (with the source when
    there is one), in the recipe's order."""
    theirs = {(p.name, p.version, p.source) for p in cargos.packages}
    return [
        " ".join(filter(None, (p.name, p.version, p.source)))
        for p in recipe.packages
        if (p.name, p.version, p.source) not in theirs
    ]


def cargos_changes(recipe: Lock, data: bytes) -> tuple[list[str], list[str]]:
    """What cargo did to the lock `recipe` when it wrote `data` over it: (the packages it dropped, the
    changes beyond dropping, `beyond_pruning`). A lock that cannot be read is all change."""
    try:
        cargos = parse_lock(data.decode("utf-8", errors="replace"))
    except ProjectError as exc:
        return [], [exc.message]
    return dropped(recipe, cargos), beyond_pruning(recipe, cargos)


def reachable(lock: Lock, roots: Iterable[tuple[str, str]]) -> list[LockPackage]:
    """The packages reachable from the local packages `roots` ((name, version) pairs), over every
    dependency kind, in the lock's order."""
    index = _by_name(lock.packages)
    wanted = set(roots)
    start = [p for p in lock.packages if p.source is None and (p.name, p.version) in wanted]
    seen: set[int] = set()
    stack = list(start)
    while stack:
        package = stack.pop()
        if id(package) in seen:
            continue
        seen.add(id(package))
        for reference in package.dependencies:
            stack.extend(_resolve(reference, index))
    return [p for p in lock.packages if id(p) in seen]


def local_dependencies(lock: Lock, package: LockPackage) -> list[LockPackage]:
    """The local (path) packages `package` depends on in `lock`: what cargo resolved, so only the
    optional dependencies some feature enables, and no dev-dependency of a crate outside the members."""
    index = _by_name(lock.packages)
    return [d for reference in package.dependencies for d in _resolve(reference, index) if d.source is None]


def write_lock(lock: Lock, kept: list[LockPackage], masks: Mapping[str, str]) -> str:
    """The lock file holding only `kept` (packages of `lock`, e.g. from `reachable`), the local packages
    named in `masks` (name -> new version) given the new version, written as cargo writes it."""
    index = _by_name(lock.packages)

    def version(p: LockPackage) -> str:
        return masks[p.name] if p.source is None and p.name in masks else p.version

    names = Counter(p.name for p in kept)
    versions = Counter((p.name, version(p)) for p in kept)

    def encode(p: LockPackage) -> str:
        """Cargo's reference: the version only when the name is ambiguous, the source only when both are."""
        if names[p.name] == 1:
            return p.name
        if versions[(p.name, version(p))] == 1 or p.source is None:
            return f"{p.name} {version(p)}"
        return f"{p.name} {version(p)} ({p.source})"

    blocks = []
    for package in kept:
        block = package.text
        if version(package) != package.version:
            block = block.replace(f'version = "{package.version}"', f'version = "{version(package)}"', 1)
        references = [encode(_resolve_one(r, package, index)) for r in package.dependencies]
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


def drop_unused_patches(text: str, names: set[str]) -> str:
    """Remove the `[[patch.unused]]` entries of these patches (their [patch] entries were removed)."""

    def keep(match: re.Match[str]) -> str:
        return "" if match.group(1) in names else match.group(0)

    return _UNUSED.sub(keep, text).rstrip("\n") + "\n"


def check_members(lock: Lock | str, members: Iterable[tuple[str, str, tuple[str, ...]]]) -> None:
    """Fail early, as `--locked` would later, when a member or one of its dependencies is not in the lock.

    `members` holds (name, version, names of its declared dependencies) for each member.
    """
    if isinstance(lock, str):
        lock = parse_lock(lock)
    local = {p.name: p for p in reversed(lock.packages) if p.source is None}
    for name, version, dep_names in members:
        entry = local.get(name)
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
