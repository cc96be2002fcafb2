"""A typed, frozen model of the `cargo metadata --format-version 1` fields this tool uses."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from cargo_chefpy.errors import CargoError


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency:
    name: str
    path: str | None  # absolute path of a path dependency's directory, None for registry/git


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    name: str
    kinds: tuple[str, ...]
    crate_types: tuple[str, ...]
    src_path: str

    @property
    def is_lib(self) -> bool:
        return any(k in ("lib", "rlib", "dylib", "cdylib", "staticlib", "proc-macro") for k in self.kinds)

    @property
    def is_bin(self) -> bool:
        return "bin" in self.kinds

    @property
    def is_build_script(self) -> bool:
        return "custom-build" in self.kinds


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    id: str
    name: str
    version: str
    manifest_path: str
    dependencies: tuple[Dependency, ...]
    targets: tuple[Target, ...]

    @property
    def directory(self) -> str:
        return os.path.dirname(self.manifest_path)  # cargo prints absolute, normalised paths

    @property
    def lib(self) -> Target | None:
        return next((t for t in self.targets if t.is_lib), None)

    @property
    def bins(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.is_bin)

    @property
    def build_script(self) -> Target | None:
        return next((t for t in self.targets if t.is_build_script), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata:
    packages: tuple[Package, ...]
    workspace_members: tuple[str, ...]
    workspace_root: str
    target_directory: str

    @property
    def members(self) -> tuple[Package, ...]:
        ids = set(self.workspace_members)
        return tuple(p for p in self.packages if p.id in ids)


def _bad(detail: str) -> CargoError:
    return CargoError(
        f"`cargo metadata` printed output of an unexpected shape ({detail})",
        hint="check that `cargo --version` is 1.70 or newer and that $CARGO is really cargo",
    )


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _bad(f"{where}.{key} is not a string")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _bad(f"{where}.{key} is not a list")
    return value


def _dependency(raw: Any, where: str) -> Dependency:
    if not isinstance(raw, dict):
        raise _bad(f"{where} is not an object")
    path = raw.get("path")
    return Dependency(name=_str(raw, "name", where), path=path if isinstance(path, str) else None)


def _target(raw: Any, where: str) -> Target:
    if not isinstance(raw, dict):
        raise _bad(f"{where} is not an object")
    return Target(
        name=_str(raw, "name", where),
        kinds=tuple(str(k) for k in _list(raw, "kind", where)),
        crate_types=tuple(str(k) for k in _list(raw, "crate_types", where)),
        src_path=_str(raw, "src_path", where),
    )


def parse_metadata(text: str) -> Metadata:
    """Parse `cargo metadata --format-version 1` output. Pure; raises CargoError on any surprise."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise _bad(f"not JSON: {exc}") from None
    except RecursionError:  # cargo's metadata is a few levels deep; this is not cargo's
        raise _bad("JSON nested too deeply to read") from None
    if not isinstance(raw, dict):
        raise _bad("the top level is not an object")
    if raw.get("version") not in (None, 1):
        raise _bad(f"format version {raw.get('version')!r}")
    packages = []
    for i, p in enumerate(_list(raw, "packages", "metadata")):
        where = f"packages[{i}]"
        if not isinstance(p, dict):
            raise _bad(f"{where} is not an object")
        packages.append(
            Package(
                id=_str(p, "id", where),
                name=_str(p, "name", where),
                version=_str(p, "version", where),
                manifest_path=_str(p, "manifest_path", where),
                dependencies=tuple(
                    _dependency(d, f"{where}.dependencies[{j}]")
                    for j, d in enumerate(_list(p, "dependencies", where))
                ),
                targets=tuple(
                    _target(t, f"{where}.targets[{j}]") for j, t in enumerate(_list(p, "targets", where))
                ),
            )
        )
    members = _list(raw, "workspace_members", "metadata")
    if not all(isinstance(m, str) for m in members):
        raise _bad("workspace_members holds a non-string")
    known = {p.id for p in packages}
    missing = [m for m in members if m not in known]
    if missing:
        raise _bad(f"workspace member {missing[0]} has no package entry")
    return Metadata(
        packages=tuple(packages),
        workspace_members=tuple(members),
        workspace_root=_str(raw, "workspace_root", "metadata"),
        target_directory=_str(raw, "target_directory", "metadata"),
    )
