"""Remove every compiled output of the stubbed crates after cook.

A stub's outputs must not survive: a dummy binary with an old-mtime real `main.rs` copied over it
would count as fresh (the stale-binary trap). The outputs are found from cargo's own JSON artifact
messages, by the unit hash in their names, never by crate-name globs, so a vendored crate that
shares a stub's name keeps its artifacts.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cargo_chefpy.fsutil import remove_tree

_HASH = re.compile(r"-([0-9a-f]{16})(?:\.[^/]*)?$")
_UNIT_PREFIXES = ("bin-", "test-", "example-", "bench-", "doc-", "run-")


@dataclass(slots=True)
class StubArtifacts:
    """What cargo reported building for the stubbed packages."""

    stub_dirs: frozenset[str]
    names: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    uplifted: set[str] = field(default_factory=set)
    # Every profile directory cargo reported an output in (any package's): `<dir>/<profile>` and
    # `<dir>/<triple>/<profile>`, in the target dir and, with `build.build-dir`, in the build dir. The
    # stubs' outputs are looked for there, whatever decided them (flags, environment, cargo config).
    profile_dirs: set[str] = field(default_factory=set)

    def observe(self, message: Mapping[str, Any]) -> None:
        self.profile_dirs.update(_profile_dirs(message))
        manifest = message.get("manifest_path")
        if not isinstance(manifest, str) or os.path.dirname(os.path.normpath(manifest)) not in self.stub_dirs:
            return
        package_id = message.get("package_id")
        if isinstance(package_id, str):
            self.names.add(_package_name(package_id, manifest))
        reason = message.get("reason")
        paths: list[str] = []
        if reason == "compiler-artifact":
            paths += [p for p in message.get("filenames") or [] if isinstance(p, str)]
            if isinstance(message.get("executable"), str):
                paths.append(message["executable"])
        elif reason == "build-script-executed" and isinstance(message.get("out_dir"), str):
            paths.append(os.path.dirname(message["out_dir"]))
        for path in paths:
            parent = os.path.basename(os.path.dirname(path))
            match = _HASH.search(os.path.basename(path)) or (
                _HASH.search(parent) if parent not in ("deps", "examples") else None
            )
            if match:
                self.hashes.add(match.group(1))
            else:
                self.uplifted.add(path)


def _profile_dirs(message: Mapping[str, Any]) -> list[str]:
    """The profile directories that the outputs named in one of cargo's JSON messages are in."""
    found = []
    reason = message.get("reason")
    if reason == "compiler-artifact":
        paths = [p for p in message.get("filenames") or [] if isinstance(p, str)]
        if isinstance(message.get("executable"), str):
            paths.append(message["executable"])
        for path in paths:
            parent = os.path.dirname(os.path.normpath(path))
            if os.path.basename(parent) in ("deps", "examples"):
                found.append(os.path.dirname(parent))  # <profile>/deps/libx-<hash>.rlib
            elif os.path.basename(os.path.dirname(parent)) == "build":
                found.append(
                    os.path.dirname(os.path.dirname(parent))
                )  # <profile>/build/x-<hash>/build-script-build
            else:
                found.append(parent)  # an uplifted copy: <profile>/x
    elif reason == "build-script-executed" and isinstance(message.get("out_dir"), str):
        found.append(os.path.dirname(os.path.dirname(os.path.dirname(os.path.normpath(message["out_dir"])))))
    return [d for d in found if os.path.isabs(d)]


def _package_name(package_id: str, manifest: str) -> str:
    # path+file:///dir#name@0.0.1, or path+file:///dir/name#0.0.1
    fragment = package_id.rsplit("#", 1)[-1]
    if "@" in fragment:
        return fragment.split("@", 1)[0]
    return os.path.basename(os.path.dirname(manifest))


def remove(found: StubArtifacts, profile_dirs: Iterable[Path]) -> int:
    """Delete the stubs' outputs under each profile directory; returns how many entries were removed."""
    hashes = set(found.hashes)
    dirs = [d for d in profile_dirs if d.is_dir()]
    for profile in dirs:
        fingerprints = profile / ".fingerprint"
        if not fingerprints.is_dir():
            continue
        for unit in fingerprints.iterdir():
            name, _, unit_hash = unit.name.rpartition("-")
            if (
                name in found.names
                and unit.is_dir()
                and any(f.name.startswith(_UNIT_PREFIXES) for f in unit.iterdir())
            ):
                hashes.add(unit_hash)
    removed = 0
    for profile in dirs:
        for sub in (".fingerprint", "build", "deps", "examples", "incremental"):
            directory = profile / sub
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                match = _HASH.search(entry.name)
                if match and match.group(1) in hashes:
                    removed += _delete(entry)
    for path in sorted(found.uplifted):
        stem, _ = os.path.splitext(path)
        for candidate in {path, stem + ".d", path + ".d"}:
            removed += _delete(Path(candidate))
    return removed


def _delete(path: Path) -> int:
    try:
        kind = os.lstat(path).st_mode
    except OSError:
        return 0
    if stat.S_ISDIR(kind):
        remove_tree(path)  # not shutil.rmtree: Python 3.11's recurses once per level
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return 1
