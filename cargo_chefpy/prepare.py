"""`cargo chefpy prepare`: workspace -> plan -> recipe -> output, in short named steps.

`run` is the command, top to bottom: read the workspace that `cargo metadata` describes (started by the
cli, after `options.check_prepare_output` has checked where the output goes), plan (`prepare`: load the
workspace, read the lock, plan, check the lock, `build_recipe`), then write the output (`write_output`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cargo_chefpy import carry as carry_mod
from cargo_chefpy import fsutil, lockfile, manifest
from cargo_chefpy import sources as sources_mod
from cargo_chefpy.errors import ProjectError, RecipeError, SelectionError
from cargo_chefpy.log import Log
from cargo_chefpy.metadata import Metadata, Target
from cargo_chefpy.options import PrepareOptions, Selection, deps_recipe_path, full_path
from cargo_chefpy.paths import inside
from cargo_chefpy.plan import Decision, Plan, drop_unused, make_plan
from cargo_chefpy.project import PendingMetadata
from cargo_chefpy.recipe import (
    MAX_FILE_BYTES,
    CrateClass,
    Layer,
    Recipe,
    RecipeCrate,
    RecipeFile,
    Role,
    VendoredCrate,
    check_path,
    dumps,
)
from cargo_chefpy.workspace import (
    LocalCrate,
    Workspace,
    cargo_config,
    load_workspace,
    normalise,
    parse_toml,
    relative,
)

CONFIG_FILES = (".cargo/config.toml", ".cargo/config", "rust-toolchain", "rust-toolchain.toml")


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    recipe: Recipe
    plan: Plan
    workspace: Workspace
    recipe_root: str  # absolute directory the recipe paths are relative to
    extras: tuple[carry_mod.ExtraPath, ...] = ()  # the extra paths carried
    deps_recipe: Recipe | None = None  # the third-party layer's recipe (layer 1)
    sources: sources_mod.Tree | None = None  # the final build's sources, when asked for


def _read_text(path: str) -> str:
    """A manifest, config or lock file the workspace holds; never waits on a pipe or reads a device."""
    try:
        return _decoded(fsutil.read_regular(path), path)
    except fsutil.NotRegularFile as exc:
        raise ProjectError(
            f"cannot read {path}: it is {exc.kind}, not a regular file",
            hint="replace it with the regular file cargo expects there",
        ) from None
    except OSError as exc:
        raise ProjectError(
            f"cannot read {path}: {exc.strerror}", hint="check the file's permissions"
        ) from None


def _decoded(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProjectError(f"{path} is not UTF-8", hint=f"save {path} as UTF-8, as cargo requires") from None


def vendored_directories(root: str) -> list[str]:
    """Absolute `directory` sources named by the workspace's own cargo config, that replace another source."""
    path = cargo_config(root)
    if path is None:
        return []
    sources = parse_toml(_read_text(path), path).get("source")
    if not isinstance(sources, dict):
        return []
    replaced = {s.get("replace-with") for s in sources.values() if isinstance(s, dict)}
    return sorted(
        {
            normalise(os.path.join(root, spec["directory"]))
            for key, spec in sources.items()
            if isinstance(spec, dict) and isinstance(spec.get("directory"), str) and key in replaced
        }
    )


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symlink loop: _file_entry says so
        return False


def _crate_files(
    directory: str, skip: set[str], prefix: str = "", *, enter: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, str, str]]:
    """(absolute path, path relative to the crate, kind) for every file of a crate: each directory's
    files, sorted, then its subdirectories, sorted. The kind, from the directory listing: "file" (a
    regular file), "link" (a symlink to a file, or to nothing) or "other" (a pipe, socket or device).

    Skipped: `target/` at the crate root, `.git`, nested packages (directories with a Cargo.toml),
    the directories in `skip` (other crates, vendored sources, the target directory), and those whose
    relative path `enter` refuses. Unreadable directories are skipped too, as os.walk does. `prefix`:
    where `directory` is in the crate ("" at its root). Iterative: any depth the file system allows.
    """
    pending = [(directory, prefix)]
    while pending:
        current, at = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise ProjectError(
                    f"cannot read the directory {current[:80]}...: its path is too long "
                    f"({len(current)} bytes; {exc.strerror})",
                    hint="shorten that directory tree, or leave it out of the package (package.exclude)",
                ) from None
            continue
        subdirectories = []
        for entry in entries:
            if not _is_dir(entry):  # files, and symlinks to files (or to nothing, or looping)
                kind = "link" if entry.is_symlink() else "file" if entry.is_file() else "other"
                yield entry.path, at + entry.name, kind
                continue
            if entry.name == ".git" or entry.path in skip or (not at and entry.name == "target"):
                continue
            if enter is not None and not enter(at + entry.name):
                continue
            if entry.is_symlink():
                raise ProjectError(
                    f"{entry.path} is a symlink to a directory, which cargo-chefpy does not carry",
                    hint="replace the symlinked directory with a real one, or --stub that crate",
                )
            if not os.path.isfile(os.path.join(entry.path, "Cargo.toml")):
                subdirectories.append((entry.path, f"{at}{entry.name}/"))
        pending.extend(reversed(subdirectories))


def _file_entry(
    full: str,
    path: str,
    role: Role,
    *,
    root: str | None = None,
    kind: str | None = None,
    limit: int = MAX_FILE_BYTES,
) -> RecipeFile:
    """A file for the recipe. With `root`, a symlink must point at a file inside `root`. `kind`: what
    the directory listing said `full` is (see _crate_files), when the caller knows; only a regular file
    is ever opened. `limit`: the largest size read (larger is an error)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ProjectError(
            f"the file name {full!r} is not valid UTF-8, which a recipe cannot carry",
            hint="rename the file to a UTF-8 name",
        ) from None
    if root is not None and (os.path.islink(full) if kind is None else kind == "link"):
        target = os.path.realpath(full)
        if not inside(target, os.path.realpath(root)):
            raise ProjectError(
                f"{full} is a symlink to {target}, outside the workspace",
                hint="copy the file into the crate, or --stub that crate",
            )
    try:
        if kind == "other" or (kind != "file" and not stat.S_ISREG(os.stat(full).st_mode)):
            raise _not_regular(full)  # never opened: opening a device can act on it
        # O_NONBLOCK: should it have become a FIFO since, opening it must not wait for a writer.
        fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ProjectError(
            f"{full} is a dangling symlink", hint="remove the symlink or restore what it points to"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ProjectError(
                f"{full} is a symlink loop", hint="remove the symlink or point it at a file"
            ) from None
        raise ProjectError(
            f"cannot read {full}: {exc.strerror}", hint="check the file's permissions"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(full)
        if st.st_size > limit:
            raise ProjectError(
                f"{full} is larger than {limit // (1024 * 1024)} MiB, more than a recipe entry may hold",
                hint="move the file out of the crate (or build it in a later stage), or --stub that crate",
            )
        chunks = [os.read(fd, st.st_size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
    except OSError as exc:
        raise ProjectError(
            f"cannot read {full}: {exc.strerror}", hint="check the file's permissions"
        ) from None
    finally:
        os.close(fd)
    return RecipeFile(path=path, data=b"".join(chunks), executable=bool(st.st_mode & stat.S_IXUSR), role=role)


def _refuse_symlinked_parents(recipe_root: str, path: str, real: set[str]) -> None:
    """Every directory above the recipe path `path` must be a real directory in the context: cook writes a
    real one there, and the final stage's `COPY . .` (BuildKit) cannot replace a directory with a symlink.
    `real`: the directories (recipe-relative) already found real, extended here."""
    parts = path.split("/")[:-1]
    for i in range(len(parts)):
        rel = "/".join(parts[: i + 1])
        if rel in real:
            continue
        full = os.path.join(recipe_root, rel)
        if os.path.islink(full):
            target, base = os.path.realpath(full), os.path.realpath(recipe_root)
            where = relative(target, base) if inside(target, base) else target
            raise ProjectError(
                f"{rel} is a symlink to the directory {where}, which cargo-chefpy does not carry"
                f" ({path} is under it; cook would write a real directory that `COPY . .` cannot replace)",
                hint=f"replace the symlink {rel} with the directory it points to ({where})",
            )
        real.add(rel)


def _refuse_real_on_stubs(plan: Plan, lock: lockfile.Lock, kept_packages: list[lockfile.LockPackage]) -> None:
    """An external crate ([patch], or a path dependency outside the workspace) is compiled from its real
    sources: one that depends on a stub (a member stubbed by --stub, or by depending on a stub) would
    fail the cook with rustc's errors. Its lock entry says what it really depends on."""
    stubbed = {(d.crate.name, d.crate.version): d for d in plan.of(CrateClass.STUB) if d.crate.member}
    external = {(d.crate.name, d.crate.version) for d in plan.of(CrateClass.EXTERNAL)}
    for package in kept_packages:
        if package.source is not None or (package.name, package.version) not in external:
            continue
        for dep in lockfile.local_dependencies(lock, package):
            stub = stubbed.get((dep.name, dep.version))
            if stub is not None:
                raise SelectionError(
                    f"{package.name} is compiled from its real sources and depends on {stub.crate.name}, "
                    f"which is stubbed ({stub.reason})",
                    hint=f"{_undo(stub.reason)}: what a real crate uses must be real",
                )


def _undo(reason: str) -> str:
    """How to stop stubbing a crate, from the plan's reason for it."""
    if reason.startswith("--stub "):
        return f"drop {reason}"
    return f"stub fewer crates (this one: {reason})"


def _not_regular(full: str) -> ProjectError:
    return ProjectError(
        f"{full} is not a regular file (a pipe, socket or device)",
        hint="remove it from the crate, or --stub that crate",
    )


def _common_root(paths: list[str]) -> str:
    return normalise(os.path.commonpath(paths)) if paths else "/"


def _stub_spec(crate: LocalCrate, plan: Plan, crate_dirs: Collection[str] = ()) -> manifest.StubSpec:
    """What `crate`'s stub provides, each stub file at its target's real path (cargo metadata's
    `src_path`). `crate_dirs`: every local crate's directory; a path inside another crate (nested in
    this one) or outside this package falls back to a path in `manifest.STUB_DIR`."""
    package = crate.package
    if package is None:  # only members are ever stubbed
        raise ValueError(f"{crate.name} is not a member")
    lib = package.lib
    kept = [t for t in package.bins if t.name in plan.bins]
    if not kept and lib is None and package.bins:
        names = sorted(t.name for t in package.bins)
        first = crate.name if crate.name in names else names[0]
        kept = [next(t for t in package.bins if t.name == first)]
    taken: set[str] = set()

    def place(target: Target | None, fallback: str) -> str:
        # crate_dirs as it is: _in_package never looks `crate.directory` itself up (was a copy per stub).
        path = _in_package(target.src_path, crate.directory, crate_dirs) if target is not None else None
        if path is None or path in taken:
            path = f"{manifest.STUB_DIR}/{fallback}"
        taken.add(path)
        return path

    lib_path = place(lib, "lib.rs")
    bin_paths = tuple(place(t, f"bin-{i}.rs") for i, t in enumerate(kept))
    build_path = place(package.build_script, "build.rs")
    return manifest.StubSpec(
        directory=crate.directory,
        lib_name=lib.name if lib is not None else (None if kept else crate.name.replace("-", "_")),
        proc_macro=lib is not None and "proc-macro" in lib.kinds,
        crate_types=lib.crate_types if lib is not None else (),
        bins=tuple(t.name for t in kept),
        build_script=package.build_script is not None,
        lib_path=lib_path,
        bin_paths=bin_paths,
        build_path=build_path,
        version=crate.version if crate.keeps_version else manifest.STUB_VERSION,
    )


def _in_package(src_path: str, directory: str, others: Collection[str]) -> str | None:
    """`src_path` relative to the package `directory`, when a recipe may carry it there: inside the
    package, not inside another crate nested in it (`others`: the crates' directories, this one's may be
    among them), a safe recipe path. None otherwise. (Only the directories between the file and the
    package are looked up: a workspace of 500 crates made this quadratic.)"""
    full = normalise(src_path)
    if not inside(full, directory) or full == directory:
        return None
    parent = os.path.dirname(full)
    while parent != directory:
        if parent in others:
            return None
        parent = os.path.dirname(parent)
    rel = relative(full, directory)
    try:
        return check_path(rel, "stub")
    except RecipeError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Carry:
    """What prepare carries besides the packages' files, and what it never carries."""

    include: tuple[str, ...] = ()  # --include, as given
    extras: tuple[carry_mod.ExtraPath, ...] = ()  # --include and the workspace metadata's, resolved
    avoid: tuple[str, ...] = ()  # absolute paths never carried: the recipe or skeleton being written
    target_directory: str | None = None  # cargo's, never carried


def _never_carried(carry: Carry, skipped: set[str]) -> Callable[[str], bool]:
    """Whether an absolute file path is (inside) one never carried: the output, the target directory.
    Paths are compared as given and with symlinks resolved (the walks build them from cargo's)."""
    prefixes = set(skipped)
    for path in carry.avoid:
        prefixes.update((normalise(path), os.path.realpath(path)))
    if not prefixes:
        return lambda full: False
    slashed = tuple(p.rstrip("/") + "/" for p in prefixes)
    return lambda full: full in prefixes or full.startswith(slashed)


class _Manifests:
    """The manifests both recipes read, each file read once and each text parsed once (the parsed
    documents are never changed: a stub copies what it takes); the kept packages' file selections."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._root: dict[str, Any] | None = None
        self._texts: dict[str, str] = {}
        self._docs: dict[str, dict[str, Any]] = {}

    def text(self, where: str) -> str:
        text = self._texts.get(where)
        if text is None:
            text = self._texts[where] = _read_text(where)
        return text

    def parsed(self, text: str, where: str) -> dict[str, Any]:
        doc = self._docs.get(text)
        if doc is None:
            doc = self._docs[text] = parse_toml(text, where)
        return doc

    @property
    def root(self) -> dict[str, Any]:
        if self._root is None:
            self._root = parse_toml(self.workspace.root_manifest, f"{self.workspace.root}/Cargo.toml")
        return self._root

    def workspace_package(self) -> dict[str, Any]:
        table = self.root.get("workspace")
        package = table.get("package") if isinstance(table, dict) else None
        return package if isinstance(package, dict) else {}

    def package_files(self, crate: LocalCrate) -> carry_mod.PackageFiles:
        is_root = crate.directory == self.workspace.root
        if is_root:
            doc = self.root
        else:
            where = os.path.join(crate.directory, "Cargo.toml")
            text = self.text(where)
            doc = self.parsed(text, where) if "clude" in text else {}
        return carry_mod.package_files(
            crate.directory,
            doc,
            crate.package,
            is_root=is_root,
            workspace_package=self.workspace_package() if doc else {},
        )


def extra_paths(workspace: Workspace, include: Iterable[str]) -> tuple[carry_mod.ExtraPath, ...]:
    """The paths of `--include` and of `[workspace.metadata.chefpy] include`, resolved and checked."""
    crate_dirs = {c.directory for c in workspace.crates}
    found = carry_mod.resolve_extra(workspace.root, list(include), carry_mod.FLAG, crate_dirs)
    if "chefpy" in workspace.root_manifest:
        doc = parse_toml(workspace.root_manifest, f"{workspace.root}/Cargo.toml")
        listed = carry_mod.metadata_include(doc)
        found += carry_mod.resolve_extra(workspace.root, listed, carry_mod.METADATA_KEY, crate_dirs)
    return tuple(found)


def deps_plan(plan: Plan, lock: lockfile.Lock) -> Plan:
    """Layer 1's plan from the final (local) plan: every remaining local crate a stub. A [patch] crate
    that a third-party crate depends on stays real: that crate could not compile against a stub."""
    used_by_third_party = {
        r.split(" ", 1)[0] for p in lock.packages if p.source is not None for r in p.dependencies
    }

    def stubbed(d: Decision) -> Decision:
        if d.klass is CrateClass.PRUNE or d.klass is CrateClass.STUB:
            return d
        if d.klass is CrateClass.EXTERNAL and d.crate.via_patch and d.crate.name in used_by_third_party:
            return Decision(crate=d.crate, klass=d.klass, reason="[patch] crate a third-party crate uses")
        return Decision(
            crate=d.crate, klass=CrateClass.STUB, reason=f"{d.klass.value} crate, stubbed in layer 1"
        )

    return Plan(decisions=tuple(stubbed(d) for d in plan.decisions), targets=plan.targets, bins=plan.bins)


def build_recipe(
    workspace: Workspace,
    plan: Plan,
    lock: lockfile.Lock,
    *,
    carry: Carry | None = None,
    layer: Layer = Layer.LOCAL,
    manifests: _Manifests | None = None,
) -> tuple[Recipe, str, Plan]:
    """The recipe, its root directory, and the plan without the [patch] crates the pruned lock dropped.
    `carry`: the extra paths asked for and the paths never carried. `layer`: LOCAL, today's recipe;
    DEPS, the third-party layer's, from the plan LOCAL returned (`deps_plan` applied here).
    `manifests`: the manifests read so far (prepare hands the first recipe's to the second)."""
    root = workspace.root
    manifests = manifests or _Manifests(workspace)
    if layer is Layer.DEPS:
        plan = deps_plan(plan, lock)
        carry = Carry(
            avoid=carry.avoid if carry else (), target_directory=carry.target_directory if carry else None
        )
    stubs = plan.of(CrateClass.STUB)
    kept = plan.of(CrateClass.KEEP)
    # A stubbed [patch] crate keeps its version: it decides whether the patch applies.
    stub_dirs = {d.crate.directory for d in stubs if not d.crate.keeps_version}
    remaining = [d.crate for d in (*stubs, *kept) if d.crate.member]
    # The lock, pruned by walking its own graph from the members that remain, stub versions masked.
    masks = {d.crate.name: manifest.STUB_VERSION for d in stubs if not d.crate.keeps_version}
    kept_packages = lockfile.reachable(lock, [(c.name, c.version) for c in remaining])
    pruned_lock = lockfile.write_lock(lock, kept_packages, masks)
    # A [patch] crate that the pruned graph does not use would need a [[patch.unused]] entry under
    # --locked; it is not needed either, so its [patch] entry goes and its files are not carried.
    # A [patch] of the cargo config stays, used or not: the config is carried as is, and cargo reads it.
    if layer is Layer.LOCAL:
        used = {(p.name, p.version) for p in kept_packages if p.source is None}
        plan = drop_unused(
            plan,
            {
                d.crate.directory
                for d in plan.of(CrateClass.EXTERNAL)
                if (d.crate.name, d.crate.version) in used or d.crate.patch_in_config
            },
        )
        _refuse_real_on_stubs(plan, lock, kept_packages)
    # The local crates outside the workspace: external, or stubbed in layer 1.
    outside = plan.directories(CrateClass.EXTERNAL) | {d.crate.directory for d in stubs if not d.crate.member}
    dropped = {c.directory for c in workspace.crates if c.via_patch} - outside
    pruned_lock = lockfile.drop_unused_patches(pruned_lock, {workspace.crate_at(d).name for d in dropped})
    externals = plan.of(CrateClass.EXTERNAL)
    sourced = sorted(
        VendoredCrate(name=p.name, version=p.version) for p in kept_packages if p.source is not None
    )
    all_vendored = vendored_directories(root)
    vendored = all_vendored if sourced else []  # the directory sources the cook stage needs
    vendored_crates = sourced if vendored else []

    recipe_root = _common_root([root, *sorted(outside - dropped), *vendored])
    ws = relative(root, recipe_root)

    def at(*parts: str) -> str:
        joined = "/".join(p for p in parts if p not in ("", "."))
        return joined or "."

    files: dict[str, RecipeFile] = {}
    real_directories: set[str] = {"."}

    def add(f: RecipeFile) -> None:
        _refuse_symlinked_parents(recipe_root, f.path, real_directories)
        files[f.path] = f

    root_path = at(ws, "Cargo.toml")  # written last: it keeps what the crates below take from it
    uses = manifest.WorkspaceUse()
    crate_dirs = {c.directory for c in workspace.crates}
    add(
        RecipeFile(
            path=at(ws, "Cargo.lock"), data=pruned_lock.encode(), executable=False, role=Role.WORKSPACE
        )
    )
    for name in CONFIG_FILES:
        full = os.path.join(root, name)
        if os.path.isfile(full):
            add(_file_entry(full, at(ws, name), Role.WORKSPACE, root=recipe_root))
    for decision in stubs:
        crate = decision.crate
        rel = relative(crate.directory, recipe_root)
        spec = _stub_spec(crate, plan, crate_dirs) if crate.member else _external_stub_spec(crate, crate_dirs)
        if crate.directory == root:
            _, dummies = manifest.stub_manifest(workspace.root_manifest, "Cargo.toml", spec, stub_dirs)
        else:
            where = os.path.join(crate.directory, "Cargo.toml")
            original = manifests.parsed(manifests.text(where), where)
            text, dummies, stub_uses = manifest.stub_from(original, spec, stub_dirs)
            add(RecipeFile(path=at(rel, "Cargo.toml"), data=text.encode(), executable=False, role=Role.STUB))
            uses |= stub_uses
        for sub, content in dummies.items():
            add(RecipeFile(path=at(rel, sub), data=content.encode(), executable=False, role=Role.STUB))
    # Vendored sources are never carried, needed or not.
    carry = carry or Carry()
    skip_base = {c.directory for c in workspace.crates} | set(all_vendored)
    if carry.target_directory is not None:
        skip_base.add(carry.target_directory)
    never = _never_carried(carry, skip_base - {c.directory for c in workspace.crates})
    for decision in (*kept, *externals):
        crate = decision.crate
        rel = relative(crate.directory, recipe_root)
        role = Role.KEEP if decision.klass is CrateClass.KEEP else Role.EXTERNAL
        wanted = manifests.package_files(crate)
        # skip_base as it is: a walk never meets its own start directory (was a copy per crate).
        listing: Iterable[tuple[str, str, str]] = _crate_files(
            crate.directory, skip_base, enter=wanted.walks_into
        )
        for full, sub, kind in listing:
            path = at(rel, sub)
            if path in files or path == root_path:  # the root package's manifest is the workspace manifest
                continue
            if (crate.directory == root and sub in CONFIG_FILES) or not wanted.wants(sub) or never(full):
                continue
            add(_file_entry(full, path, role, root=recipe_root, kind=kind))
            if sub == "Cargo.toml":
                uses |= manifest.workspace_use(manifests.parsed(_decoded(files[path].data, full), full))
    for extra in carry.extras:
        for where in extra.paths:
            if os.path.isdir(where) and not os.path.islink(where):
                sub_root = relative(where, root)
                listing = _crate_files(where, skip_base, "" if sub_root == "." else sub_root + "/")
            else:
                listing = [(where, relative(where, root), "link" if os.path.islink(where) else "file")]
            for full, sub, kind in listing:
                path = at(ws, sub)
                if path in files or path == root_path or never(full):
                    continue
                if where == root and sub in CONFIG_FILES:
                    continue
                add(_file_entry(full, path, Role.EXTRA, root=recipe_root, kind=kind))

    root_stub = next(
        (_stub_spec(d.crate, plan, crate_dirs) for d in stubs if d.crate.directory == root), None
    )
    root_text = manifest.root_manifest(
        workspace.root_manifest,
        os.path.join(root, "Cargo.toml"),
        root=root,
        members=[c.directory for c in remaining],
        stub_dirs=stub_dirs,
        root_stub=root_stub,
        uses=uses,
        drop_patches=dropped,
    )
    add(RecipeFile(path=root_path, data=root_text.encode(), executable=False, role=Role.WORKSPACE))

    crates = tuple(
        RecipeCrate(
            name=d.crate.name,
            path=relative(d.crate.directory, recipe_root),
            klass=d.klass,
            reason=d.reason,
        )
        for d in plan.decisions
        if d.klass is not CrateClass.PRUNE
    )
    recipe = Recipe(
        workspace=ws,
        packages=plan.targets,
        bins=plan.bins,
        crates=crates,
        files=tuple(files[p] for p in sorted(files)),
        vendored=tuple(relative(v, recipe_root) for v in vendored),
        vendored_crates=tuple(vendored_crates),
        layer=layer,
    )
    return recipe, recipe_root, plan


def _external_stub_spec(crate: LocalCrate, crate_dirs: Collection[str]) -> manifest.StubSpec:
    """The stub of a local crate outside the workspace (a path dependency or [patch] crate), from its
    own manifest (cargo metadata describes members only): a lib, as a dependency is one, and its build
    script when it has one."""
    where = os.path.join(crate.directory, "Cargo.toml")
    doc = parse_toml(_read_text(where), where)
    package_raw, lib_raw = doc.get("package"), doc.get("lib")
    package: dict[str, Any] = package_raw if isinstance(package_raw, dict) else {}
    lib: dict[str, Any] = lib_raw if isinstance(lib_raw, dict) else {}

    def place(path: object, default: str, fallback: str) -> str:
        rel = path if isinstance(path, str) else default
        found = _in_package(os.path.join(crate.directory, rel), crate.directory, crate_dirs)
        return found if found is not None else f"{manifest.STUB_DIR}/{fallback}"

    build = package.get("build")
    has_build = (
        isinstance(build, str)
        or build is True
        or (build is None and os.path.isfile(os.path.join(crate.directory, "build.rs")))
    )
    crate_types = lib.get("crate-type", lib.get("crate_type", ()))
    proc_macro = lib.get("proc-macro", lib.get("proc_macro")) is True
    name = lib.get("name")
    return manifest.StubSpec(
        directory=crate.directory,
        lib_name=name if isinstance(name, str) else crate.name.replace("-", "_"),
        proc_macro=proc_macro,
        crate_types=tuple(str(t) for t in crate_types) if isinstance(crate_types, list) else (),
        bins=(),
        build_script=has_build,
        lib_path=place(lib.get("path"), "src/lib.rs", "lib.rs"),
        build_path=place(build, "build.rs", "build.rs"),
        version=crate.version if crate.keeps_version else manifest.STUB_VERSION,
    )


def real_plan(plan: Plan) -> Plan:
    """The final build's plan: every stub real again (a member kept, a crate outside the workspace
    external), the pruned crates still pruned."""

    def real(d: Decision) -> Decision:
        if d.klass is not CrateClass.STUB:
            return d
        klass = CrateClass.KEEP if d.crate.member else CrateClass.EXTERNAL
        return Decision(crate=d.crate, klass=klass, reason="built in the final stage")

    return Plan(decisions=tuple(real(d) for d in plan.decisions), targets=plan.targets, bins=plan.bins)


def final_workspace(workspace: Workspace, real: Plan, lock: lockfile.Lock) -> tuple[str, str]:
    """The final build's root manifest and lock, without reading any crate's other files. The lock is
    what build_recipe writes for `real` (a `real_plan` of the plan build_recipe returned: members
    pruned, nothing masked). The manifest is the user's with only what pruning needs taken out: the
    members left out, their [patch] and [workspace.dependencies] path entries; the rest (comments,
    [workspace.package], [workspace.lints], [workspace.metadata], profiles) byte for byte, where the
    recipe masks what the crates do not use."""
    root = workspace.root
    kept = real.of(CrateClass.KEEP)
    remaining = [d.crate for d in kept if d.crate.member]
    kept_packages = lockfile.reachable(lock, [(c.name, c.version) for c in remaining])
    dropped = {c.directory for c in workspace.crates if c.via_patch} - real.directories(CrateClass.EXTERNAL)
    pruned_lock = lockfile.drop_unused_patches(
        lockfile.write_lock(lock, kept_packages, {}), {workspace.crate_at(d).name for d in dropped}
    )
    used = real.directories(CrateClass.KEEP, CrateClass.EXTERNAL)
    root_text = manifest.root_manifest(
        workspace.root_manifest,
        os.path.join(root, "Cargo.toml"),
        root=root,
        members=[c.directory for c in remaining],
        stub_dirs=set(),
        root_stub=None,
        uses=manifest.WorkspaceUse(),
        drop_patches=dropped,
        pruned={c.directory for c in workspace.crates} - used,
    )
    return root_text, pruned_lock


def sources_tree(
    workspace: Workspace,
    plan: Plan,
    lock: lockfile.Lock,
    carry: Carry,
    *,
    recipe_root: str,
) -> sources_mod.Tree:
    """The final build's sources (sources.py): the context (`recipe_root`) without the crates `plan` does
    not use, with the root manifest and lock of `final_workspace`."""
    real = real_plan(plan)
    root_text, lock_text = final_workspace(workspace, real, lock)
    ws = relative(workspace.root, recipe_root)
    prefix = "" if ws == "." else f"{ws}/"
    rules = sources_mod.Rules(
        crate_dirs={c.directory for c in workspace.crates},
        used_dirs=real.directories(CrateClass.KEEP, CrateClass.EXTERNAL),
        skipped={
            *vendored_directories(workspace.root),
            *((carry.target_directory,) if carry.target_directory else ()),
            *(normalise(p) for p in carry.avoid),
        },
        extras={p for e in carry.extras for p in e.paths},
    )
    rewritten = {f"{prefix}Cargo.toml": root_text.encode(), f"{prefix}Cargo.lock": lock_text.encode()}
    return sources_mod.collect(recipe_root, rules, rewritten)


def prepare(
    selection: Selection, *, metadata: Metadata, carry: Carry | None = None, sources: bool = False
) -> Prepared:
    """The plan and recipe of `selection` in the workspace cargo described (`project.read_project`).
    `carry`: the extra paths asked for (`--include`) and the output paths, never carried. `sources`:
    also the final build's sources tree."""
    workspace = load_workspace(metadata, _read_text, targets=selection.packages, bins=selection.bins)
    lock = _read_lock(Path(workspace.root) / "Cargo.lock")
    plan = make_plan(workspace, selection, lock)
    remaining = plan.directories(CrateClass.STUB, CrateClass.KEEP)
    lockfile.check_members(
        lock,
        [
            (c.name, c.version, tuple(sorted({d.name for d in c.package.dependencies})))
            for c in workspace.members
            if c.package is not None and c.directory in remaining
        ],
    )
    carry = carry or Carry()
    carry = Carry(
        include=carry.include,
        extras=extra_paths(workspace, carry.include),
        avoid=carry.avoid,
        target_directory=normalise(metadata.target_directory),
    )
    manifests = _Manifests(workspace)
    recipe, recipe_root, plan = build_recipe(workspace, plan, lock, carry=carry, manifests=manifests)
    deps, _, _ = build_recipe(workspace, plan, lock, carry=carry, layer=Layer.DEPS, manifests=manifests)
    tree = sources_tree(workspace, plan, lock, carry, recipe_root=recipe_root) if sources else None
    return Prepared(
        recipe=recipe,
        plan=plan,
        workspace=workspace,
        recipe_root=recipe_root,
        extras=carry.extras,
        deps_recipe=deps,
        sources=tree,
    )


def _read_lock(path: Path) -> lockfile.Lock:
    if not os.path.exists(path):  # a pipe or a directory is there: _read_text says what it is
        raise ProjectError(
            f"{path} is missing: a cached build needs a lock file",
            hint="run `cargo generate-lockfile` and commit Cargo.lock",
        )
    return lockfile.parse_lock(_read_text(str(path)))


def run(options: PrepareOptions, project: PendingMetadata, *, cwd: Path, log: Log) -> int:
    """The command: plan `options.selection` and write the recipe (or the skeleton tree) where asked.
    `options` have passed `options.check_prepare_output`; `project` is the `cargo metadata` started on
    the workspace (cli starts it before it imports this module: see cli._prepare)."""
    metadata = project.result()
    log.debug(f"read the workspace at {metadata.workspace_root}")
    output = options.out_dir or (None if options.recipe_path == "-" else Path(options.recipe_path))
    deps_output = deps_recipe_path(options, cwd)
    # never carried
    outputs = (output, deps_output, options.sources_dir)
    avoid = tuple(os.path.abspath(cwd / o) for o in outputs if o is not None)
    carry = Carry(include=options.include, avoid=avoid)
    wants_sources = options.sources_dir is not None
    prepared = prepare(options.selection, metadata=metadata, carry=carry, sources=wants_sources)
    if prepared.sources is None or options.sources_dir is None:
        write_output(prepared, options, cwd=cwd, log=log)
        return 0
    out = full_path(cwd, options.sources_dir)
    n, undo = sources_mod.write(prepared.sources, out)
    try:
        write_output(prepared, options, cwd=cwd, log=log)
    except BaseException:
        undo()  # the recipes and the tree, or none of them
        raise
    log.status("Wrote", f"the final build's sources to {options.sources_dir} ({n} files)")
    return 0


def write_output(prepared: Prepared, options: PrepareOptions, *, cwd: Path, log: Log) -> None:
    """The plan on stdout with --explain; then the skeleton tree, or the recipe on stdout or in a file
    (fsutil.write_output: a device or FIFO is streamed to, a symlink followed, a file replaced atomically)."""
    deps_path = deps_recipe_path(options, cwd)
    if options.explain:
        plan = "\n".join(explain(prepared, options, deps_path=deps_path)) + "\n"
        fsutil.write_stdout(plan.encode(), what="plan")
    restore = _undo_write(None)
    deps_note = ""
    if prepared.deps_recipe is not None and (deps_path is not None or options.deps_recipe_path == "-"):
        deps_full = None if deps_path is None else full_path(cwd, deps_path)
        restore = _undo_write(deps_full)
        fsutil.write_output(
            deps_full, dumps(prepared.deps_recipe), what="deps recipe", to_file="--deps-recipe-path FILE"
        )
        deps_note = f"; layer 1 (third-party) in {deps_path or 'stdout'}"
    try:
        _write_recipe(prepared, options, cwd=cwd, log=log, note=deps_note)
    except BaseException:
        restore()  # both recipes or neither: the layer-1 recipe goes back to what it was
        raise


def _undo_write(path: Path | None) -> Callable[[], None]:
    """How to put the regular file that an output to `path` replaces back as it is now (absent: removed).
    A symlink is followed, as fsutil.write_output follows it: the file behind it is restored, the link
    stays. A stream (device, pipe) cannot be restored."""
    if path is None:
        return lambda: None
    target = Path(os.path.realpath(path))  # what write_output replaces, a symlink's target included
    if os.path.lexists(target) and not target.is_file():
        return lambda: None
    try:
        old = target.read_bytes() if os.path.lexists(target) else None
    except OSError:
        return lambda: None

    def undo() -> None:
        with contextlib.suppress(OSError):
            if old is None:
                os.unlink(target)
            else:
                fsutil.atomic_write(target, old)

    return undo


def _write_recipe(prepared: Prepared, options: PrepareOptions, *, cwd: Path, log: Log, note: str) -> None:
    if options.out_dir is not None:
        from cargo_chefpy import skeleton  # only for --out-dir: not imported by every prepare

        out = full_path(cwd, options.out_dir)
        created = fsutil.make_dirs(out)
        try:
            skeleton.write(skeleton.plan_writes(prepared.recipe, out), out, force=False)
        except BaseException:
            fsutil.remove_dirs(created)  # what it created, parents too; skeleton.write rolled back its files
            raise
        log.status("Prepared", summary(prepared, f"skeleton in {options.out_dir}") + note)
        return
    data = dumps(prepared.recipe)
    to_stdout = options.recipe_path == "-"
    path = Path(options.recipe_path)
    fsutil.write_output(
        None if to_stdout else full_path(cwd, path), data, what="recipe", to_file="--recipe-path FILE"
    )
    log.status("Prepared", summary(prepared, "recipe on stdout" if to_stdout else str(path)) + note)


def explain(
    prepared: Prepared, options: PrepareOptions | None = None, *, deps_path: Path | None = None
) -> Iterator[str]:
    """The plan, one line per local crate, then the inputs whose change invalidates each cooked layer:
    layer 1 (third-party, the deps recipe), then layer 2 (local, the recipe)."""
    root = prepared.recipe_root
    rows = [
        (d.klass.value, d.crate.name, relative(d.crate.directory, root), d.reason)
        for d in prepared.plan.decisions
    ]
    order = {"stub": 0, "keep": 1, "external": 2, "prune": 3}
    rows.sort(key=lambda r: (order[r[0]], r[2]))
    width = max((len(r[1]) for r in rows), default=0)
    pwidth = max((len(r[2]) for r in rows), default=0)
    targets = ", ".join(prepared.plan.targets) or "the whole workspace"
    yield f"Plan for {targets}:"
    for klass, name, path, reason in rows:
        yield f"  {klass:<8} {name:<{width}}  {path:<{pwidth}}  {reason}"
    if prepared.deps_recipe is not None:
        yield ""
        yield (
            f"Layer 1, third-party ({deps_path or 'the deps recipe'}), is rebuilt when any of these change "
            "(and then layer 2 too):"
        )
        yield from _explain_deps(prepared.deps_recipe)
        packages = prepared.plan.targets
        if len(packages) > 1:
            first, rest = packages[0], packages[1:]
            deps = deps_path or "the deps recipe"
            yield (
                "  Feature unification: cargo unifies a third-party crate's features across the packages "
                "of one invocation."
            )
            yield "  So cook this layer once per package, into one target directory (as `dockerfile` does):"
            yield (
                f"  `cook -p {first} --recipe-path {deps}`, then the same for {', '.join(rest)}: "
                "a crate compiles once per feature set, and no package's own cook or build compiles it again."
            )
    yield ""
    where = options.recipe_path if options is not None and options.out_dir is None else "the recipe"
    yield f"Layer 2, local ({'stdout' if where == '-' else where}), is rebuilt when any of these change:"
    recipe = prepared.recipe
    counts: dict[str, tuple[int, str]] = {}
    for crate in recipe.crates:
        n = sum(
            1
            for f in recipe.files
            if f.role is not Role.EXTRA and (inside(f.path, crate.path) or crate.path == ".")
        )
        what = {
            CrateClass.STUB: "stub manifest only: dependencies, features, edition",
            CrateClass.KEEP: "package files (real sources)",
            CrateClass.EXTERNAL: "package files (real sources)",
        }[crate.klass]
        counts[crate.path] = (n, what)
    ws = recipe.workspace
    for f in recipe.files:
        if f.role is Role.WORKSPACE:
            suffix = (
                " (members pruned, stub versions masked, unused [workspace] keys dropped)"
                if f.path.endswith("Cargo.toml")
                else ""
            )
            if f.path.endswith("Cargo.lock"):
                suffix = " (entries reachable from the remaining members)"
            yield f"  {f.path}{suffix}"
    for path, (n, what) in sorted(counts.items()):
        if path in (ws, "."):
            continue
        yield f"  {path}/  {what}, {n} file(s)"
    yield from _explain_root_package(prepared)
    for extra in prepared.extras:
        for full in extra.paths:
            rel = relative(full, root)
            n = sum(1 for f in recipe.files if f.role is Role.EXTRA and _under(f.path, rel))
            slash = "/" if os.path.isdir(full) and rel != "." else ""
            yield f"  {rel}{slash}  extra path ({extra.source} {extra.spec}), {n} file(s)"
    for v in recipe.vendored:
        yield f"  {v}/  vendored sources: not carried in the recipe; COPY them into the cook stage"


def _explain_deps(recipe: Recipe) -> Iterator[str]:
    for f in recipe.files:
        if f.role is Role.WORKSPACE:
            suffix = ""
            if f.path.endswith("Cargo.toml"):
                suffix = " (members pruned, every local version masked)"
            elif f.path.endswith("Cargo.lock"):
                suffix = " (third-party entries reachable from the remaining members, local versions masked)"
            yield f"  {f.path}{suffix}"
    for crate in sorted(recipe.crates, key=lambda c: c.path):
        if crate.klass is CrateClass.STUB:
            yield f"  {crate.path}/  {crate.name}: stub: dependencies, features, target tables, edition"
        else:
            yield f"  {crate.path}/  {crate.name}: package files (real sources: a third-party crate uses it)"
    for v in recipe.vendored:
        yield f"  {v}/  vendored sources: not carried in the recipe; COPY them into the deps cook stage"
    yield "  not: any local crate's sources, version, description or other metadata; bins, examples, tests"


def _under(path: str, directory: str) -> bool:
    return directory in (".", path) or path.startswith(directory + "/")


def _explain_root_package(prepared: Prepared) -> Iterator[str]:
    """The kept root package's line: which of the workspace root's entries it carries."""
    recipe = prepared.recipe
    ws = recipe.workspace
    if not any(c.path == ws and c.klass is CrateClass.KEEP for c in recipe.crates):
        return
    others = [c.path for c in recipe.crates if c.path != ws]
    top: set[str] = set()
    n = 0
    for f in recipe.files:
        if f.role is Role.KEEP and _under(f.path, ws) and not any(_under(f.path, o) for o in others):
            rest = f.path if ws == "." else f.path[len(ws) + 1 :]
            top.add(rest.split("/", 1)[0] + ("/" if "/" in rest else ""))
            n += 1
    shown = ", ".join(sorted(top)) or "no file besides Cargo.toml"
    yield f"  {ws}/  root package: {shown} (real sources), {n} file(s)"


def summary(prepared: Prepared, destination: str) -> str:
    plan = prepared.plan
    n = {k: len(plan.of(k)) for k in CrateClass}
    size = prepared.recipe.total_bytes
    human = f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} B"
    return (
        f"{destination}: {n[CrateClass.STUB]} stubbed, {n[CrateClass.KEEP]} kept, "
        f"{n[CrateClass.PRUNE]} pruned, {n[CrateClass.EXTERNAL]} external "
        f"({len(prepared.recipe.files)} files, {human})"
    )
