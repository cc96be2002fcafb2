"""Pure manifest transforms: text in, text out.

The root manifest is edited with tomlkit so its formatting survives. Stub manifests are generated:
a stub keeps what decides how its dependencies compile (dependencies, features, edition, links,
build-dependencies) and drops everything else, so that edits which cannot change the cooked layer
(sources, description, version) leave the recipe unchanged.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import tomlkit

from cargo_chefpy.errors import ProjectError
from cargo_chefpy.workspace import dependency_tables, normalise, parse_toml, relative, unparsable, without_bom

STUB_VERSION = "0.0.1"
STUB_LIB = "// Stubbed by cargo-chefpy: the real sources are compiled in the final stage.\n"
STUB_MAIN = "// Stubbed by cargo-chefpy: the real sources are compiled in the final stage.\nfn main() {}\n"

_KEEP_PACKAGE_KEYS = ("name", "edition", "links", "workspace", "rust-version", "resolver")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceUse:
    """What crates take from the root manifest's [workspace] table: the [workspace.package] keys they
    inherit (`key.workspace = true`), the [workspace.dependencies] entries they name with
    `workspace = true`, and whether they inherit [workspace.lints]."""

    package: frozenset[str] = frozenset()
    dependencies: frozenset[str] = frozenset()
    lints: bool = False

    def __or__(self, other: WorkspaceUse) -> WorkspaceUse:
        return WorkspaceUse(
            package=self.package | other.package,
            dependencies=self.dependencies | other.dependencies,
            lints=self.lints or other.lints,
        )


def _inherits(value: Any) -> bool:
    return isinstance(value, dict) and value.get("workspace") is True


def workspace_use(doc: Any) -> WorkspaceUse:
    """What the manifest `doc` (parsed) takes from its workspace's root manifest."""
    package = doc.get("package")
    lints = doc.get("lints")
    return WorkspaceUse(
        package=frozenset(k for k, v in package.items() if _inherits(v))
        if isinstance(package, dict)
        else frozenset(),
        dependencies=frozenset(
            k for table in dependency_tables(doc) for k, v in table.items() if _inherits(v)
        ),
        lints=_inherits(lints),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StubSpec:
    """What a stub must still provide so that cargo accepts it and its dependents."""

    directory: str  # absolute
    lib_name: str | None  # the lib target's name, None when the package has no lib
    proc_macro: bool
    crate_types: tuple[str, ...]
    bins: tuple[str, ...]
    build_script: bool
    # Where each stub file goes, relative to the package directory: the real target's path, so that the
    # final stage's `COPY . .` overwrites it (a stub left beside the real sources would be one more
    # target to cargo's autobins: a dummy binary). `bin_paths` pairs with `bins`.
    lib_path: str = "src/lib.rs"
    bin_paths: tuple[str, ...] = ()
    build_path: str = "build.rs"
    version: str = (
        STUB_VERSION  # a [patch] crate keeps its own: the version decides whether the patch applies
    )

    def bin_path(self, index: int) -> str:
        if index < len(self.bin_paths):
            return self.bin_paths[index]
        return f"{STUB_DIR}/bin-{index}.rs"

    def stub_files(self) -> dict[str, str]:
        """The dummy source files, by path relative to the package."""
        files: dict[str, str] = {}
        if self.lib_name is not None:
            files[self.lib_path] = STUB_LIB
        for i, _ in enumerate(self.bins):
            files[self.bin_path(i)] = STUB_MAIN
        if self.build_script:
            files[self.build_path] = STUB_MAIN
        return files


STUB_DIR = ".cargo-chefpy-stub"
"""Where a stub file goes when its target's real path cannot hold it (outside the package directory,
or shared with another target): a directory cargo never searches for targets."""


def _mask_path_deps(doc: dict[str, Any], base: str, stub_dirs: set[str]) -> None:
    for table in dependency_tables(doc):
        for spec in table.values():
            _mask_spec(spec, base, stub_dirs)


def _mask_spec(spec: Any, base: str, stub_dirs: set[str]) -> None:
    if (
        isinstance(spec, dict)
        and isinstance(spec.get("path"), str)
        and normalise(os.path.join(base, spec["path"])) in stub_dirs
        and "version" in spec
    ):
        spec["version"] = STUB_VERSION


def stub_manifest(text: str, where: str, spec: StubSpec, stub_dirs: set[str]) -> tuple[str, dict[str, str]]:
    """The stub's Cargo.toml and the dummy source files it names (paths relative to the package)."""
    stub_text, files, _ = stub_from(parse_toml(text, where), spec, stub_dirs)
    return stub_text, files


def stub_from(
    original: dict[str, Any], spec: StubSpec, stub_dirs: set[str]
) -> tuple[str, dict[str, str], WorkspaceUse]:
    """`stub_manifest` from the parsed manifest (left unchanged), and what the stub takes from the
    workspace (`workspace_use` of the stub's text, without parsing that text again)."""
    doc = _stub_document(original, spec, stub_dirs)
    return _dump(doc), spec.stub_files(), workspace_use(doc)


def _copied(value: Any) -> Any:
    """A deep copy of parsed TOML (tables, arrays and immutable scalars): copy.deepcopy's result, at a
    third of its cost (no memo; a parsed document shares nothing)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _stub_document(original: dict[str, Any], spec: StubSpec, stub_dirs: set[str]) -> dict[str, Any]:
    package_in = original.get("package", {})
    package: dict[str, Any] = {k: _copied(package_in[k]) for k in _KEEP_PACKAGE_KEYS if k in package_in}
    package["version"] = spec.version
    package["autobins"] = False
    package["autoexamples"] = False
    package["autotests"] = False
    package["autobenches"] = False
    package["build"] = spec.build_path if spec.build_script else False
    package.pop("links", None) if not spec.build_script else None
    doc: dict[str, Any] = {}
    if "cargo-features" in original:
        doc["cargo-features"] = _copied(original["cargo-features"])
    doc["package"] = package
    for key in ("dependencies", "dev-dependencies", "build-dependencies", "target", "features"):
        for alias in (key, key.replace("-", "_")):
            if alias in original:
                doc[key] = _copied(original[alias])
    _mask_path_deps(doc, spec.directory, stub_dirs)
    if spec.lib_name is not None:
        lib: dict[str, Any] = {"path": spec.lib_path}
        default_name = str(package.get("name", "")).replace("-", "_")
        if spec.lib_name != default_name:
            lib["name"] = spec.lib_name
        if spec.proc_macro:
            lib["proc-macro"] = True
        elif spec.crate_types and list(spec.crate_types) not in (["lib"], ["rlib"]):
            lib["crate-type"] = list(spec.crate_types)
        doc["lib"] = lib
    if spec.bins:
        doc["bin"] = [{"name": name, "path": spec.bin_path(i)} for i, name in enumerate(spec.bins)]
    return doc


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _dump(doc: dict[str, Any]) -> str:
    head: dict[str, Any] = {k: doc[k] for k in ("cargo-features", "package") if k in doc}
    rest = {k: v for k, v in doc.items() if k not in head}
    ordered = {**head, **_sorted(rest)}
    try:
        return dumps_plain(ordered)
    except _NotPlain:
        return tomlkit.dumps(ordered)


class _NotPlain(Exception):
    """A value `dumps_plain` leaves to tomlkit."""


def dumps_plain(doc: dict[str, Any]) -> str:
    """`tomlkit.dumps(doc)`, byte for byte, for the documents stubs are made of, without building
    tomlkit's items (0.3 ms instead of 6 ms for a stub with 125 dependencies): tables, top-level arrays
    of tables, and ASCII strings, booleans, integers and arrays of them. Anything else (floats, dates,
    inline tables, nested arrays of tables, strings that need escapes) raises _NotPlain, and tomlkit
    writes it. tests/test_fuzz.py checks the equality."""
    out: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if isinstance(value, dict) or _is_array_of_tables(value):
            tables.append((key, value))
        elif tables:
            raise _NotPlain  # tomlkit moves a top-level value above the tables before it
        else:
            out.append(f"{_plain_key(key)} = {_plain_value(value)}\n")
    for key, value in tables:
        if isinstance(value, dict):
            _plain_table(out, _plain_key(key), value)
            continue
        for entry in value:
            if not entry:
                raise _NotPlain  # tomlkit spaces empty entries differently
            out.append(f"{_blank(out)}[[{_plain_key(key)}]]\n")
            for k, v in entry.items():
                if isinstance(v, dict) or _is_array_of_tables(v):
                    raise _NotPlain
                out.append(f"{_plain_key(k)} = {_plain_value(v)}\n")
    return "".join(out)


def _blank(out: list[str]) -> str:
    return "\n" if out else ""


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _plain_table(out: list[str], header: str, table: dict[str, Any]) -> None:
    values = [(k, v) for k, v in table.items() if not isinstance(v, dict)]
    if any(_is_array_of_tables(v) for _, v in values):
        raise _NotPlain
    if values or not table:  # a table of tables only gets no header of its own: [a.b] says it
        out.append(f"{_blank(out)}[{header}]\n")
        out.extend(f"{_plain_key(k)} = {_plain_value(v)}\n" for k, v in values)
    for key, value in table.items():
        if isinstance(value, dict):
            _plain_table(out, f"{header}.{_plain_key(key)}", value)


_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _plain_key(key: str) -> str:
    if key and _BARE.issuperset(key):
        return key
    return _plain_string(key)


def _plain_string(text: str) -> str:
    if not text.isascii() or not text.isprintable() or '"' in text or "\\" in text:
        raise _NotPlain
    return f'"{text}"'


def _plain_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _plain_string(value)
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        return "[" + ", ".join(_plain_value(v) for v in value) + "]"
    raise _NotPlain


def root_manifest(
    text: str,
    where: str,
    *,
    root: str,
    members: Iterable[str],
    stub_dirs: set[str],
    root_stub: StubSpec | None,
    uses: WorkspaceUse,
    drop_patches: frozenset[str] | set[str] = frozenset(),
    document: Any = None,
    pruned: frozenset[str] | set[str] | None = None,
) -> str:
    """The workspace manifest with members pruned to `members` (absolute dirs), stub versions masked,
    and of the [workspace] table only what a remaining crate uses: `uses`, what the other remaining
    crates take from it (the root package's own use is added here). So an edit to what only stubbed or
    pruned crates use (a version they inherit, a dependency only a pruned member names, metadata) leaves
    the recipe unchanged.

    `pruned` (the final build's manifest, not a recipe's): the directories of the crates left out. Then
    nothing is masked and the [workspace] table stays whole, comments and layout with it, but for the
    members and the [workspace.dependencies] path entries into those directories; `uses` is not read.

    `document`: `tomlkit.parse(text)`, when the caller parsed it already (it is changed here)."""
    remaining = sorted(relative(m, root) for m in members if normalise(m) != root)
    if root_stub is not None:
        original = parse_toml(text, where)
        doc = _stub_document(original, root_stub, stub_dirs)
        for key in ("workspace", "patch", "profile", "replace"):
            if key in original:
                doc[key] = _copied(original[key])
        if "workspace" in doc:
            _prune_members(doc["workspace"], remaining)
            _prune_workspace(doc["workspace"], uses | workspace_use(doc))
        _mask_workspace(doc, root, stub_dirs)
        _drop_patches(doc, root, drop_patches)
        return _dump(doc)
    if document is None:
        parsed = parse_toml(text, where)  # a clear error before tomlkit's
        document = _parse_document(_without_members(text, parsed), where)
    # The member arrays go in as placeholder strings, replaced by their text once tomlkit has written
    # the rest: the same bytes as real arrays, without tomlkit building an item for every member.
    arrays: dict[str, str] = {}

    def placeholder(values: list[str]) -> Any:
        token = f"{_PLACEHOLDER}{len(arrays)}@"
        arrays[json.dumps(token)] = array_text(values)
        return token

    workspace = document.get("workspace")
    if isinstance(workspace, dict):
        _prune_members(workspace, remaining, array=toml_array if _PLACEHOLDER in text else placeholder)
        if pruned is None:
            _prune_workspace(workspace, uses | workspace_use(document))
        else:
            _drop_path_dependencies(workspace, root, pruned)
    if pruned is None:
        _mask_workspace(document, root, stub_dirs)
    _drop_patches(document, root, drop_patches)
    out = tomlkit.dumps(document)
    for token, array in arrays.items():
        out = out.replace(token, array, 1)
    return out


_PLACEHOLDER = "@cargo-chefpy-array-"
_WORKSPACE_HEADER = re.compile(r"^[ \t]*\[[ \t]*workspace[ \t]*\][ \t]*(?:#.*)?$", re.MULTILINE)
_MEMBERS_KEY = re.compile(r"^[ \t]*members[ \t]*=[ \t]*\[", re.MULTILINE)


def _without_members(text: str, parsed: dict[str, Any]) -> str:
    """`text` with the `[workspace]` table's `members` array emptied, when that changes nothing else:
    root_manifest replaces it anyway, and tomlkit takes 40 ms to parse 500 members (measured). `parsed`
    is tomli's reading of `text`; the result is checked against it, and `text` comes back unchanged
    whenever the array is not found exactly."""
    header = _WORKSPACE_HEADER.search(text)
    members = _MEMBERS_KEY.search(text, header.end()) if header is not None else None
    if members is None:
        return text
    end = _array_end(text, members.end() - 1)
    if end is None:
        return text
    emptied = text[: members.end()] + text[end - 1 :]
    workspace = parsed.get("workspace")
    if not isinstance(workspace, dict) or "members" not in workspace:
        return text
    try:
        if parse_toml(emptied, "") != {**parsed, "workspace": {**workspace, "members": []}}:
            return text
    except ProjectError:
        return text
    return emptied


_ARRAY_SPECIAL = re.compile(r"[#\"'\[\]]")
_BASIC_STRING_SPECIAL = re.compile(r'[\\"]')


def _array_end(text: str, start: int) -> int | None:
    """The index after the `]` that closes the array opened at `text[start]`, skipping strings and
    comments; None when it is not closed."""
    depth, i = 0, start
    while i < len(text):
        special = _ARRAY_SPECIAL.search(text, i)  # the characters between matter not: jump over them
        if special is None:
            return None
        i = special.start()
        c = text[i]
        if c == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        elif c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            i = _string_end(text, i + len(quote), quote) + len(quote) - 1
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _string_end(text: str, j: int, quote: str) -> int:
    """The index of the `quote` that closes the string whose contents start at `j` (len(text) or more
    when none does): a basic string skips its escapes, a literal string has none."""
    if quote[0] == "'":
        end = text.find(quote, j)
        return len(text) if end < 0 else end
    while (found := _BASIC_STRING_SPECIAL.search(text, j)) is not None:
        j = found.start()
        if text[j] == "\\":
            j += 2
        elif text.startswith(quote, j):
            return j
        else:
            j += 1
    return max(j, len(text))


def parse_document(text: str) -> Any:
    """The tomlkit document of a manifest (comments and layout kept, a leading BOM dropped as cargo
    does), for `root_manifest`."""
    return tomlkit.parse(without_bom(text))


def _parse_document(text: str, where: str) -> Any:
    try:
        return parse_document(text)
    except tomlkit.exceptions.ParseError as exc:  # tomli read it, so this is tomlkit's limit, not the user's
        raise unparsable(where, str(exc)) from None


def _drop_path_entries(table: Any, root: str, directories: frozenset[str] | set[str]) -> None:
    """Remove the entries of a dependency-like table whose `path` is one of these crate directories."""
    for name in list(table):
        spec = table[name]
        path = spec.get("path") if isinstance(spec, dict) else None
        if isinstance(path, str) and normalise(os.path.join(root, path)) in directories:
            del table[name]


def _drop_path_dependencies(workspace: Any, root: str, directories: frozenset[str] | set[str]) -> None:
    """Remove the [workspace.dependencies] entries whose path is one of these crate directories (and
    the table, if left empty): they name crates the tree leaves out."""
    deps = workspace.get("dependencies")
    if not isinstance(deps, dict) or not directories:
        return
    _drop_path_entries(deps, root, directories)
    if not deps:
        del workspace["dependencies"]


def _drop_patches(doc: Any, root: str, directories: frozenset[str] | set[str]) -> None:
    """Remove [patch] path entries for these crate directories (and tables left empty)."""
    patch = doc.get("patch")
    if not isinstance(patch, dict) or not directories:
        return
    for source in list(patch):
        table = patch[source]
        if not isinstance(table, dict):
            continue
        _drop_path_entries(table, root, directories)
        if not table:
            del patch[source]
    if not patch:
        del doc["patch"]


def array_text(values: list[str]) -> str:
    """A TOML array of strings, one per line when there are several."""
    if len(values) <= 1:
        return f"[{', '.join(json.dumps(v) for v in values)}]"
    return "[\n" + "".join(f"    {json.dumps(v)},\n" for v in values) + "]"


def toml_array(values: list[str]) -> Any:
    """`array_text` as a tomlkit array (parsed from text: five times faster than `Array.extend`)."""
    return tomlkit.parse(f"a = {array_text(values)}\n")["a"]


def _prune_members(
    workspace: Any, remaining: list[str], array: Callable[[list[str]], Any] | None = None
) -> None:
    def make(values: list[str]) -> Any:
        return list(values) if array is None else array(values)

    if "members" in workspace or remaining:
        workspace["members"] = make(remaining)
    defaults = workspace.get("default-members")
    if isinstance(defaults, list):
        patterns = [os.path.normpath(str(p)) for p in defaults]
        kept = [m for m in remaining if any(fnmatch.fnmatchcase(m, p) for p in patterns)]
        if kept:
            workspace["default-members"] = make(kept)
        else:
            del workspace["default-members"]


def _prune_workspace(workspace: Any, uses: WorkspaceUse) -> None:
    """Keep of [workspace.package], [workspace.dependencies] and [workspace.lints] what `uses` names, drop
    [workspace.metadata] (cargo ignores it), and tables left empty. A plain dict or tomlkit's table (its
    layout and comments kept for what remains)."""
    for key, used in (("package", uses.package), ("dependencies", uses.dependencies)):
        table = workspace.get(key)
        if not isinstance(table, dict):
            continue
        for name in [n for n in table if n not in used]:
            del table[name]
        if not table:
            del workspace[key]
    if "lints" in workspace and not uses.lints:
        del workspace["lints"]
    if "metadata" in workspace:
        del workspace["metadata"]


def _mask_workspace(doc: Any, root: str, stub_dirs: set[str]) -> None:
    workspace = doc.get("workspace")
    if isinstance(workspace, dict):
        deps = workspace.get("dependencies")
        if isinstance(deps, dict):
            for spec in deps.values():
                _mask_spec(spec, root, stub_dirs)
    patch = doc.get("patch")
    if isinstance(patch, dict):
        for source in patch.values():
            if isinstance(source, dict):
                for spec in source.values():
                    _mask_spec(spec, root, stub_dirs)
