"""The versioned recipe: what prepare writes and cook reads.

`dumps` is deterministic (sorted keys, sorted files, relative POSIX paths, no timestamps, no tool
version). `loads` validates everything before cook writes a single byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cargo_chefpy.errors import RecipeError
from cargo_chefpy.paths import stays_inside

FORMAT = "cargo-chefpy-recipe"
FORMAT_VERSION = 3  # 2: json's own encoder; vendored_crates as name/version objects. 3: "layer"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_RECIPE_BYTES = 1024 * 1024 * 1024


class CrateClass(Enum):
    """What the plan does with a local crate; a recipe records every class but PRUNE."""

    STUB = "stub"
    KEEP = "keep"
    PRUNE = "prune"
    EXTERNAL = "external"


class Layer(Enum):
    """Which cooked layer a recipe describes. `deps`: every local crate a stub, only what decides how the
    third-party crates compile; `local`: the kept and external crates' real sources, cooked on top of the
    deps layer (or alone: the single-layer flow)."""

    DEPS = "deps"
    LOCAL = "local"


class Role(Enum):
    """Why a file is in the recipe; cook and build treat kept sources and generated stubs differently."""

    WORKSPACE = "workspace"  # root manifest, lock, config, toolchain file
    STUB = "stub"  # generated stub manifest or dummy source
    KEEP = "keep"  # a kept member's real file, byte for byte
    EXTERNAL = "external"  # a [patch] or outside path crate's real file
    EXTRA = "extra"  # a file carried on request (--include, workspace.metadata.chefpy), byte for byte


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipeFile:
    path: str
    data: bytes
    executable: bool
    role: Role

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipeCrate:
    name: str
    path: str
    klass: CrateClass  # never PRUNE: pruned crates are not recorded, their changes must not matter
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class VendoredCrate:
    """A registry or git package the build needs from a vendored directory. Name and version stay
    apart: a version may hold `-` (`0.5.0-rc.1`) and so may a name (`sha-1`)."""

    name: str
    version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipe:
    workspace: str  # the workspace root, relative to the recipe root ('.' normally)
    packages: tuple[str, ...]  # the targets; cook builds these by default
    bins: tuple[str, ...]
    crates: tuple[RecipeCrate, ...]
    files: tuple[RecipeFile, ...]
    vendored: tuple[str, ...]  # directory sources the build needs; never carried
    vendored_crates: tuple[VendoredCrate, ...] = ()  # crates expected in them, for an early check
    layer: Layer = Layer.LOCAL

    def file(self, path: str) -> RecipeFile | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def total_bytes(self) -> int:
        return sum(len(f.data) for f in self.files)


def _encode_file(f: RecipeFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": f.path, "role": f.role.value}
    if f.executable:
        entry["executable"] = True
    try:
        text = f.data.decode("utf-8")
    except UnicodeDecodeError:
        entry["base64"] = base64.b64encode(f.data).decode("ascii")
    else:
        entry["text"] = text
    return entry


def dumps(recipe: Recipe) -> bytes:
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "layer": recipe.layer.value,
        "workspace": recipe.workspace,
        "packages": sorted(recipe.packages),
        "bins": sorted(recipe.bins),
        "crates": [
            {"name": c.name, "path": c.path, "class": c.klass.value, "reason": c.reason}
            for c in sorted(recipe.crates, key=lambda c: (c.path, c.name))
        ],
        "vendored": sorted(recipe.vendored),
        "vendored_crates": [{"name": c.name, "version": c.version} for c in sorted(recipe.vendored_crates)],
        "files": [_encode_file(f) for f in sorted(recipe.files, key=lambda f: f.path)],
    }
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- validation -----------------------------------------------------------------------------------


def _fail(detail: str) -> RecipeError:
    return RecipeError(f"the recipe is not valid: {detail}")


def check_path(path: object, where: str) -> str:
    """A recipe path: relative, POSIX, no `..`, no empty or `.` parts, no NUL, no backslash."""
    if not isinstance(path, str):
        raise _fail(f"{where} is not a string")
    if not path:
        raise _fail(f"{where} is empty")
    if "\x00" in path:
        raise _fail(f"{where} contains a NUL byte")
    if "\\" in path:
        raise _fail(f"{where} {path!r} contains a backslash")
    if not stays_inside(path):
        if path.startswith("/"):
            raise _fail(f"{where} {path!r} is absolute")
        raise _fail(f"{where} {path!r} is not a plain relative path (empty, '.' or '..' part)")
    if path != "." and any(p in ("", ".") for p in path.split("/")):
        raise _fail(f"{where} {path!r} is not a plain relative path (empty, '.' or '..' part)")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(f"{where} {path!r} is not valid UTF-8") from None
    return path


def _strings(value: object, where: str, *, paths: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{where} is not a list of strings")
    if paths:
        for i, v in enumerate(value):
            check_path(v, f"{where}[{i}]")
    return tuple(value)


def _file(raw: object, i: int) -> RecipeFile:
    where = f"files[{i}]"
    if not isinstance(raw, dict):
        raise _fail(f"{where} is not an object")
    unknown = set(raw) - {"path", "role", "executable", "text", "base64"}
    if unknown:
        raise _fail(f"{where} has unknown keys {sorted(unknown)}")
    path = check_path(raw.get("path"), f"{where}.path")
    try:
        role = Role(raw.get("role"))
    except ValueError:
        raise _fail(f"{where}.role is {raw.get('role')!r}") from None
    executable = raw.get("executable", False)
    if not isinstance(executable, bool):
        raise _fail(f"{where}.executable is not a boolean")
    if ("text" in raw) == ("base64" in raw):
        raise _fail(f"{where} needs exactly one of 'text' and 'base64'")
    if "text" in raw:
        text = raw["text"]
        if not isinstance(text, str):
            raise _fail(f"{where}.text is not a string")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise _fail(f"{where}.text is not valid UTF-8") from None
    else:
        encoded = raw["base64"]
        if not isinstance(encoded, str):
            raise _fail(f"{where}.base64 is not a string")
        if len(encoded) > MAX_FILE_BYTES * 4 // 3 + 4:
            raise _fail(f"{where} ({path}) is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(f"{where}.base64 ({path}) is not valid base64") from None
    if len(data) > MAX_FILE_BYTES:
        raise _fail(f"{where} ({path}) is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return RecipeFile(path=path, data=data, executable=executable, role=role)


_RECORDED_CLASSES = {c.value: c for c in CrateClass if c is not CrateClass.PRUNE}


def _crate(raw: object, i: int) -> RecipeCrate:
    where = f"crates[{i}]"
    if not isinstance(raw, dict):
        raise _fail(f"{where} is not an object")
    fields = {}
    for key in ("name", "path", "class", "reason"):
        value = raw.get(key)
        if not isinstance(value, str):
            raise _fail(f"{where}.{key} is not a string")
        fields[key] = value
    klass = _RECORDED_CLASSES.get(fields["class"])
    if klass is None:
        raise _fail(f"{where}.class is {fields['class']!r}")
    check_path(fields["path"], f"{where}.path")
    return RecipeCrate(name=fields["name"], path=fields["path"], klass=klass, reason=fields["reason"])


def _vendored_crate(raw: object, i: int) -> VendoredCrate:
    """A name and a version, each one plain directory name part (cook looks for `name` and
    `name-version` directories in the vendored directories)."""
    where = f"vendored_crates[{i}]"
    if not isinstance(raw, dict) or set(raw) != {"name", "version"}:
        raise _fail(f"{where} is not an object with exactly the keys 'name' and 'version'")
    for key in ("name", "version"):
        value = check_path(raw[key], f"{where}.{key}")
        if "/" in value or value == ".":
            raise _fail(f"{where}.{key} {value!r} is not a plain name")
    return VendoredCrate(name=raw["name"], version=raw["version"])


def loads(data: bytes, *, source: str = "recipe") -> Recipe:
    """Parse and validate a recipe. Raises RecipeError, and only RecipeError, for any input."""
    if len(data) > MAX_RECIPE_BYTES:
        raise _fail(f"{source} is larger than 1 GiB")
    if not data.strip():
        raise RecipeError(f"{source} is empty", hint="run `cargo chefpy prepare` to write a recipe")
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RecipeError(
            f"{source} is not JSON ({str(exc)[:80]})",
            hint="the file may be truncated; run `cargo chefpy prepare` again",
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise RecipeError(
            f"{source} is not a cargo-chefpy recipe",
            hint="cook reads recipes written by `cargo chefpy prepare`, not cargo-chef's",
        )
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail("'version' is not an integer")
    if version > FORMAT_VERSION:
        raise RecipeError(
            f"{source} has format version {version}, newer than this cargo-chefpy reads ({FORMAT_VERSION})",
            hint="upgrade the cargo-chefpy used for cook to the version that ran prepare",
        )
    if version < 1:
        raise _fail(f"format version {version} does not exist")
    if version < FORMAT_VERSION:
        raise RecipeError(
            f"{source} has format version {version}, older than this cargo-chefpy reads ({FORMAT_VERSION})",
            hint="the recipe format changed: run `cargo chefpy prepare` again with this cargo-chefpy version",
        )
    workspace = check_path(raw.get("workspace"), "workspace")
    try:
        layer = Layer(raw.get("layer"))
    except ValueError:
        raise _fail(f"'layer' is {raw.get('layer')!r}, not 'deps' or 'local'") from None
    files_raw = raw.get("files")
    if not isinstance(files_raw, list):
        raise _fail("'files' is not a list")
    files = tuple(_file(f, i) for i, f in enumerate(files_raw))
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            raise _fail(f"the path {f.path} appears twice")
        seen.add(f.path)
    _no_file_is_a_directory(f.path for f in files)
    crates_raw = raw.get("crates")
    if not isinstance(crates_raw, list):
        raise _fail("'crates' is not a list")
    vendored_crates_raw = raw.get("vendored_crates", [])
    if not isinstance(vendored_crates_raw, list):
        raise _fail("'vendored_crates' is not a list")
    return Recipe(
        workspace=workspace,
        packages=_strings(raw.get("packages"), "packages"),
        bins=_strings(raw.get("bins"), "bins"),
        crates=tuple(_crate(c, i) for i, c in enumerate(crates_raw)),
        files=files,
        vendored=_strings(raw.get("vendored"), "vendored", paths=True),
        vendored_crates=tuple(_vendored_crate(c, i) for i, c in enumerate(vendored_crates_raw)),
        layer=layer,
    )


def _no_file_is_a_directory(paths: Iterable[str]) -> None:
    all_paths = set(paths)
    for path in all_paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in all_paths:
                raise _fail(f"{parent} is both a file and the directory of {path}")
