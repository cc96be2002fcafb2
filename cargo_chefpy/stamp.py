"""The cook stamp: what the cooked build was compiled from, so build can settle and check drift."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cargo_chefpy.errors import StampError
from cargo_chefpy.fsutil import atomic_write

STAMP_NAME = "cargo-chefpy-stamp.json"
FORMAT = "cargo-chefpy-stamp"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    recipe: str  # sha256 of the recipe bytes
    workspace: str  # the workspace dir relative to the recipe root
    options: dict[str, Any]  # CargoOptions.drift_fields() of the cook
    packages: tuple[str, ...]  # what cook built
    files: dict[str, str]  # kept and external crate files: path (from the recipe root) -> sha256
    vendored: dict[str, str]  # vendored files: path (from the recipe root) -> sha256
    vendored_dirs: tuple[str, ...]
    kept_crates: int
    external_crates: int


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest_tree(root: Path, directory: str) -> dict[str, str]:
    out: dict[str, str] = {}
    base = root / directory
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_file() and not full.is_symlink():
                out[full.relative_to(root).as_posix()] = file_digest(full)
    return out


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
        "kept_crates": stamp.kept_crates,
        "external_crates": stamp.external_crates,
    }
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def write(target_dir: Path, stamp: Stamp) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
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
    if not value or "\x00" in value or value.startswith("/") or ".." in value.split("/"):
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
        data = path.read_bytes()
    except FileNotFoundError:
        return None
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
    )
