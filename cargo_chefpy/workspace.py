"""The local crates of a workspace and the path-dependency graph between them.

Members come from `cargo metadata --no-deps`, which needs nothing downloaded. Local crates outside
the member list (`[patch]` path crates, path dependencies outside the workspace root or excluded from
it) are not in that output, so they are found by following `path` keys in their manifests.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import tomli

from cargo_chefpy.errors import ProjectError
from cargo_chefpy.metadata import Metadata, Package
from cargo_chefpy.options import spec_name


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalCrate:
    name: str
    version: str
    directory: str  # absolute, normalised
    member: bool
    local_deps: tuple[str, ...]  # directories of local path packages it depends on, over all kinds
    package: Package | None  # cargo's view, for members
    via_patch: bool = False
    patch_in_config: bool = False  # a [patch] of the workspace's cargo config: cargo reads it, used or not
    patched: bool = False  # a member a [patch] entry points at, built as itself (named by -p or --bin)

    @property
    def keeps_version(self) -> bool:
        """A stub of a crate a [patch] entry points at keeps its version: it decides whether the patch
        applies (masked, the crates using it through the registry would look the version up there)."""
        return self.via_patch or self.patched


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    root: str  # absolute workspace root
    root_manifest: str  # text of the root Cargo.toml
    crates: tuple[LocalCrate, ...]  # sorted by directory
    root_package: str | None  # directory of the root package in a non-virtual workspace

    def crate_at(self, directory: str) -> LocalCrate:
        return next(c for c in self.crates if c.directory == directory)

    @property
    def members(self) -> tuple[LocalCrate, ...]:
        return tuple(c for c in self.crates if c.member)


def normalise(path: str) -> str:
    return os.path.normpath(path)


BOM = "\ufeff"


def without_bom(text: str) -> str:
    """The text of a TOML file as cargo parses it: a UTF-8 byte order mark at its start is dropped."""
    return text[1:] if text.startswith(BOM) else text


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """A TOML file cargo reads (manifest, config, lock): TOML 1.1, which cargo reads and Python 3.11's
    tomllib does not, and a leading BOM, which cargo drops."""
    try:
        return tomli.loads(without_bom(text))
    except tomli.TOMLDecodeError as exc:
        raise unparsable(where, str(exc)) from None


def unparsable(where: str, detail: str) -> ProjectError:
    # cargo read this file before (it fails first on what it cannot parse), or reads it in cook.
    return ProjectError(
        f"{where} is not valid TOML: {detail}",
        hint=f"fix that line of {where}; if cargo itself accepts the file, report this as a cargo-chefpy bug",
    )


def dependency_tables(manifest: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every dependency table of a manifest: plain, dev, build, and their target-specific forms."""
    sections = (
        "dependencies",
        "dev-dependencies",
        "dev_dependencies",
        "build-dependencies",
        "build_dependencies",
    )
    for section in sections:
        table = manifest.get(section)
        if isinstance(table, dict):
            yield table
    targets = manifest.get("target")
    if isinstance(targets, dict):
        for spec in targets.values():
            if isinstance(spec, dict):
                for section in sections:
                    table = spec.get(section)
                    if isinstance(table, dict):
                        yield table


def path_dependencies(manifest: Mapping[str, Any], directory: str) -> list[str]:
    found = []
    for table in dependency_tables(manifest):
        for spec in table.values():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                found.append(normalise(os.path.join(directory, spec["path"])))
    return found


def patch_paths(root_manifest: Mapping[str, Any], root: str) -> list[str]:
    found = []
    patch = root_manifest.get("patch")
    if isinstance(patch, dict):
        for source in patch.values():
            if isinstance(source, dict):
                for spec in source.values():
                    if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                        found.append(normalise(os.path.join(root, spec["path"])))
    return found


def cargo_config(root: str) -> str | None:
    """The cargo config file cargo reads in `root`/.cargo: `config` when it exists, even beside
    `config.toml` (cargo warns and ignores `config.toml` then), else `config.toml`; None without either."""
    for name in (".cargo/config", ".cargo/config.toml"):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    return None


def config_patch_paths(
    root: str, read_text: Callable[[str], str], parse: Callable[[str, str], dict[str, Any]]
) -> list[str]:
    """The `[patch]` path crates of the workspace's own cargo config (paths relative to the root, the
    directory holding `.cargo/`), which cargo applies like the manifest's."""
    path = cargo_config(root)
    return [] if path is None else patch_paths(parse(read_text(path), path), root)


def load_workspace(
    metadata: Metadata,
    read_text: Callable[[str], str],
    parse: Callable[[str, str], dict[str, Any]] = parse_toml,
    *,
    targets: Collection[str] = (),
    bins: Collection[str] = (),
) -> Workspace:
    """Combine cargo's member list with the external local crates reachable from it. `parse`: how the
    root manifest is parsed (prepare hands over what it parsed while cargo ran). `targets` and `bins`: the
    -p specs and --bin names, whose members stay members even where a [patch] entry points at them (built
    as themselves)."""
    root = normalise(metadata.workspace_root)
    root_manifest_path = os.path.join(root, "Cargo.toml")
    root_text = read_text(root_manifest_path)
    root_doc = parse(root_text, root_manifest_path)
    crates: dict[str, LocalCrate] = {}
    in_config = set(config_patch_paths(root, read_text, parse))
    patched = set(patch_paths(root_doc, root)) | in_config
    for package in metadata.members:
        directory = normalise(package.directory)
        deps = sorted({normalise(d.path) for d in package.dependencies if d.path is not None})
        # A member that a [patch] entry points at (a fork kept in the monorepo) is a [patch] crate: the
        # lock's graph, not the members' path dependencies, says whether the targets use it.
        named = any(fnmatch.fnmatchcase(package.name, spec_name(spec)) for spec in targets) or any(
            t.name in bins for t in package.bins
        )
        fork = directory in patched and directory != root and not named
        crates[directory] = LocalCrate(
            name=package.name,
            version=package.version,
            directory=directory,
            member=not fork,
            local_deps=tuple(deps),
            package=None if fork else package,
            via_patch=fork,
            patch_in_config=fork and directory in in_config,
            patched=named and directory in patched and directory != root,
        )
    # A member using a fork built as itself through the registry dependency the [patch] replaces depends
    # on it as on a path dependency: on its stub, it is a stub too.
    forks = {c.name: d for d, c in crates.items() if c.patched}
    if forks:
        for package in metadata.members:
            crate = crates[normalise(package.directory)]
            uses = {forks[d.name] for d in package.dependencies if d.path is None and d.name in forks}
            if crate.member and uses - set(crate.local_deps):
                crates[crate.directory] = replace(crate, local_deps=tuple(sorted({*crate.local_deps, *uses})))
    pending = sorted(patched | {d for c in crates.values() for d in c.local_deps} - set(crates))
    while pending:
        directory = pending.pop()
        if directory in crates:
            continue
        manifest_path = os.path.join(directory, "Cargo.toml")
        try:
            text = read_text(manifest_path)
        except FileNotFoundError:
            raise ProjectError(
                f"the local crate at {directory} has no Cargo.toml",
                hint="fix the `path` of that dependency or [patch] entry in your manifests",
            ) from None
        doc = parse_toml(text, manifest_path)
        table = doc.get("package")
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise ProjectError(
                f"{manifest_path} has no [package] name",
                hint="a path dependency must point at a package directory",
            )
        version = table.get("version", "0.0.0")
        deps = sorted(set(path_dependencies(doc, directory)))
        crates[directory] = LocalCrate(
            name=table["name"],
            version=version if isinstance(version, str) else "0.0.0",
            directory=directory,
            member=False,
            local_deps=tuple(deps),
            package=None,
            via_patch=directory in patched,
            patch_in_config=directory in in_config,
        )
        pending.extend(d for d in deps if d not in crates)
    root_package = root if root in crates and crates[root].member else None
    return Workspace(
        root=root,
        root_manifest=root_text,
        crates=tuple(crates[d] for d in sorted(crates)),
        root_package=root_package,
    )


def relative(path: str, base: str) -> str:
    """A POSIX path of `path` relative to `base` ('.' for the same directory)."""
    if path == base:
        return "."
    if path.startswith(base) and path[len(base) : len(base) + 1] == os.sep and os.sep == "/":
        return path[len(base) + 1 :]  # the common case (a path below base), without relpath's cost
    rel = os.path.relpath(path, base)
    return PurePosixPath(Path(rel).as_posix()).as_posix()
