"""The cook stamp: what the cooked build was compiled from, so build can settle and check drift."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cargo_chefpy.errors import StampError
from cargo_chefpy.fsutil import NotRegularFile, atomic_write, make_dirs, read_regular, walk
from cargo_chefpy.paths import stays_inside

STAMP_NAME = "cargo-chefpy-stamp.json"
FORMAT = "cargo-chefpy-stamp"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    recipe: str  # sha256 of the recipe bytes
    workspace: str  # the workspace dir relative to the recipe root
    options: dict[str, Any]  # CargoOptions.drift_fields() of the cook
    packages: tuple[str, ...]  # what cook built
    files: dict[str, str]  # kept and external crate files, and other watched files: path -> sha256
    vendored: dict[str, str]  # vendored files that build scripts watch: path -> sha256
    vendored_dirs: tuple[str, ...]
    kept_crates: int
    external_crates: int
    dirs: dict[str, str] = field(default_factory=dict)  # watched directories: path -> listing_digest
    # The dummy sources cook wrote for stubbed crates (path -> sha256), and the directories it created
    # for them: build removes what the final sources did not replace. Optional keys of format 1: a
    # stamp without them has none, and a tool that does not know them ignores them.
    stub_files: dict[str, str] = field(default_factory=dict)
    stub_created_dirs: tuple[str, ...] = ()
    # Stacked layers (optional keys too): the layer cooked ("deps", "local"; "" before layers), and for
    # a deps cook every file it wrote (path -> sha256), which the local cook on top may overwrite.
    layer: str = ""
    layer_files: dict[str, str] = field(default_factory=dict)
    # The entries of the recipe's Cargo.lock that cargo dropped when it resolved the skeleton ("name
    # version source", an optional key too): build lets cargo drop those alone for --locked.
    lock_drops: tuple[str, ...] = ()
    # (every path is relative to the recipe root, posix)


def file_digest(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def listing_digest(path: str | Path) -> str:
    """A directory's entries (names, `/` after directories): what cargo's check of a watched directory
    depends on besides the files in it."""
    with os.scandir(path) as entries:
        names = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries)
    return "dir:" + hashlib.sha256("\0".join(names).encode(errors="surrogateescape")).hexdigest()


def digest_watched(root: Path, watched: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The watched paths (relative to `root`) as (files, directories), each path -> digest; a watched
    directory brings every file and directory under it. Symlinks and missing paths are left out."""
    files: dict[str, str] = {}
    dirs: dict[str, str] = {}

    def rel(path: str) -> str:
        return os.path.relpath(path, root).replace(os.sep, "/")

    for path in sorted(set(watched)):
        full = os.path.join(root, path)
        # An entry that cannot be read is left out: unstamped, it keeps its new mtime (slower, not wrong).
        with contextlib.suppress(OSError):
            mode = os.lstat(full).st_mode
            if stat.S_ISREG(mode):
                files[path] = file_digest(full)
            elif stat.S_ISDIR(mode):
                for dirpath, dirnames, filenames in walk(full):  # no recursion: any depth
                    dirnames.sort()
                    with contextlib.suppress(OSError):
                        dirs[rel(dirpath)] = listing_digest(dirpath)
                    for name in filenames:
                        child = os.path.join(dirpath, name)
                        with contextlib.suppress(OSError):
                            if stat.S_ISREG(os.lstat(child).st_mode):
                                files[rel(child)] = file_digest(child)
    return files, dirs


def dumps(stamp: Stamp) -> bytes:
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "recipe": stamp.recipe,
        "workspace": stamp.workspace,
        "options": stamp.options,
        "packages": list(stamp.packages),
        "files": stamp.files,
        "vendored": stamp.vendored,
        "vendored_dirs": list(stamp.vendored_dirs),
        "dirs": stamp.dirs,
        "stub_files": stamp.stub_files,
        "stub_created_dirs": list(stamp.stub_created_dirs),
        "kept_crates": stamp.kept_crates,
        "external_crates": stamp.external_crates,
    }
    if stamp.layer:
        document["layer"] = stamp.layer
    if stamp.layer_files:
        document["layer_files"] = stamp.layer_files
    if stamp.lock_drops:
        document["lock_drops"] = list(stamp.lock_drops)
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def write(target_dir: Path, stamp: Stamp) -> Path:
    make_dirs(target_dir)
    path = target_dir / STAMP_NAME
    atomic_write(path, dumps(stamp))
    return path


def _corrupt(path: Path, detail: str) -> StampError:
    return StampError(
        f"the cook stamp {path} is corrupt ({detail})",
        hint=f"delete {path} and run `cargo chefpy cook` again",
    )


def _safe_path(value: str, path: Path, key: str) -> str:
    """build settles files through the stamp's paths: each must stay inside the recipe root.

    (Laxer than a recipe path: a vendored file name may hold a backslash or undecodable bytes.)
    """
    if not value or "\x00" in value or not stays_inside(value):
        raise _corrupt(path, f"'{key}' holds the unsafe path {value!r}")
    return value


def _str_map(value: Any, path: Path, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _corrupt(path, f"'{key}' is not a map of strings")
    for k in value:
        _safe_path(k, path, key)
    return dict(value)


def read(target_dir: Path) -> Stamp | None:
    path = target_dir / STAMP_NAME
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return None
    except NotRegularFile as exc:  # a directory; a pipe or device is never read (it could block)
        raise _corrupt(path, f"it is {exc.kind}") from None
    except OSError as exc:
        raise _corrupt(path, exc.strerror or "unreadable") from None
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        raise _corrupt(path, "not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise _corrupt(path, "not a cargo-chefpy stamp")
    if raw.get("version") != FORMAT_VERSION:
        raise _corrupt(path, f"format version {raw.get('version')!r}")
    try:
        workspace, recipe = raw["workspace"], raw["recipe"]
        options, packages = raw["options"], raw["packages"]
        dirs = raw["vendored_dirs"]
        kept, external = raw["kept_crates"], raw["external_crates"]
    except KeyError as exc:
        raise _corrupt(path, f"missing {exc}") from None
    if not (
        isinstance(workspace, str)
        and isinstance(recipe, str)
        and isinstance(options, dict)
        and isinstance(packages, list)
        and isinstance(dirs, list)
        and isinstance(kept, int)
        and isinstance(external, int)
    ):
        raise _corrupt(path, "a field has the wrong type")
    _safe_path(workspace, path, "workspace")
    return Stamp(
        recipe=recipe,
        workspace=workspace,
        options=options,
        packages=tuple(str(p) for p in packages),
        files=_str_map(raw.get("files"), path, "files"),
        vendored=_str_map(raw.get("vendored"), path, "vendored"),
        vendored_dirs=tuple(str(d) for d in dirs),
        kept_crates=kept,
        external_crates=external,
        dirs=_str_map(raw.get("dirs", {}), path, "dirs"),
        stub_files=_str_map(raw.get("stub_files", {}), path, "stub_files"),
        stub_created_dirs=_path_list(raw.get("stub_created_dirs", []), path, "stub_created_dirs"),
        layer=raw["layer"] if isinstance(raw.get("layer"), str) else "",
        layer_files=_str_map(raw.get("layer_files", {}), path, "layer_files"),
        lock_drops=_strings(raw.get("lock_drops", []), path, "lock_drops"),
    )


def _strings(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _corrupt(path, f"'{key}' is not a list of strings")
    return tuple(value)


def _path_list(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _corrupt(path, f"'{key}' is not a list of strings")
    return tuple(_safe_path(v, path, key) for v in value)
