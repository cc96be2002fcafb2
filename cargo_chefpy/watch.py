"""What the cooked build scripts watch: the paths they named with `cargo:rerun-if-changed`.

Cargo checks a vendored (or registry) crate's files by mtime nowhere but there: a build script that
printed `rerun-if-changed=PATH` runs again when PATH, or for a directory anything under it (directories
included), is newer than its last run. So build settles exactly those paths in the vendored directories,
not every vendored file; and, in vendored and kept crates alike, the directories among them.

The paths come from each build script's `output` file, beside the `out_dir` that cargo's
`build-script-executed` message names (a build script's stdout, which is what cargo reads them from).
Where that file cannot be read, the whole crate counts as watched: settling more is slower, never wrong.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cargo_chefpy.paths import inside

_RERUN_PREFIXES = ("cargo:rerun-if-changed=", "cargo::rerun-if-changed=")


@dataclass(slots=True)
class BuildScripts:
    """What cargo reported about build scripts during cook: collect with `observe`, then ask `watched`."""

    package_roots: dict[str, str] = field(default_factory=dict)  # package id -> its directory
    outputs: dict[str, set[str]] = field(default_factory=dict)  # package id -> its scripts' output files

    def observe(self, message: Mapping[str, Any]) -> None:
        package_id = message.get("package_id")
        if not isinstance(package_id, str):
            return
        reason = message.get("reason")
        if reason == "compiler-artifact":
            target = message.get("target")
            manifest = message.get("manifest_path")
            kinds = target.get("kind") if isinstance(target, dict) else None
            if isinstance(kinds, list) and "custom-build" in kinds and isinstance(manifest, str):
                self.package_roots[package_id] = os.path.dirname(os.path.normpath(manifest))
        elif reason == "build-script-executed":
            out_dir = message.get("out_dir")
            if isinstance(out_dir, str):
                output = os.path.join(os.path.dirname(os.path.normpath(out_dir)), "output")
                self.outputs.setdefault(package_id, set()).add(output)

    def watched(
        self, root: str, *, skip_packages: Collection[str] = (), skip_dirs: Iterable[str] = ()
    ) -> Iterator[str]:
        """Every path under `root` (relative to it, posix) that a build script of a package under `root`
        watches; the package's whole directory when its script's output cannot be read.

        `skip_packages`: package directories to leave out (stubs: they compile again anyway, and cook
        removes their outputs). `skip_dirs`: directories no path may lie in (the target directory)."""
        skipped = tuple(os.path.normpath(d) for d in skip_dirs)
        for package_id, outputs in sorted(self.outputs.items()):
            package_root = self.package_roots.get(package_id)
            if package_root is None or package_root in skip_packages or not inside(package_root, root):
                continue
            for output in sorted(outputs):
                paths = rerun_paths(output)
                for path in [package_root] if paths is None else paths:
                    full = os.path.normpath(os.path.join(package_root, path))
                    if inside(full, root) and not any(inside(full, d) or inside(d, full) for d in skipped):
                        yield os.path.relpath(full, root).replace(os.sep, "/")


def rerun_paths(output: str) -> list[str] | None:
    """The rerun-if-changed paths of one build script run, or None when its output cannot be read."""
    try:
        with open(output, "rb") as handle:
            text = handle.read().decode(errors="surrogateescape")
    except OSError:
        return None
    paths = []
    for line in text.split("\n"):  # as cargo reads it: lines end at \n, values lose trailing whitespace
        for prefix in _RERUN_PREFIXES:
            value = line[len(prefix) :].rstrip() if line.startswith(prefix) else ""
            if value:
                paths.append(value)
    return paths
