"""`cargo chefpy prepare`: workspace -> plan -> recipe, in short named steps."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cargo_chefpy import lockfile, manifest
from cargo_chefpy.errors import ProjectError
from cargo_chefpy.log import Log
from cargo_chefpy.plan import CrateClass, Plan, Selection, drop_unused, make_plan
from cargo_chefpy.project import PendingMetadata
from cargo_chefpy.recipe import MAX_FILE_BYTES, Recipe, RecipeCrate, RecipeFile, Role
from cargo_chefpy.workspace import LocalCrate, Workspace, load_workspace, normalise, parse_toml, relative

CONFIG_FILES = (".cargo/config.toml", ".cargo/config", "rust-toolchain", "rust-toolchain.toml")


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    recipe: Recipe
    plan: Plan
    workspace: Workspace
    recipe_root: str  # absolute directory the recipe paths are relative to


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProjectError(f"{path} is not UTF-8", hint="save the manifest as UTF-8") from None


def vendored_directories(root: str) -> list[str]:
    """Absolute `directory` sources named by the workspace's own cargo config, that replace another source."""
    found: list[str] = []
    for name in (".cargo/config.toml", ".cargo/config"):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            continue
        doc = parse_toml(_read_text(path), path)
        sources = doc.get("source")
        if not isinstance(sources, dict):
            continue
        replaced = {s.get("replace-with") for s in sources.values() if isinstance(s, dict)}
        for key, spec in sources.items():
            if isinstance(spec, dict) and isinstance(spec.get("directory"), str) and key in replaced:
                found.append(normalise(os.path.join(root, spec["directory"])))
    return sorted(set(found))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symlink loop: _file_entry says so
        return False


def _crate_files(directory: str, skip: set[str], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(absolute path, path relative to the crate, kind) for every file of a crate: each directory's
    files, sorted, then its subdirectories, sorted. The kind, from the directory listing: "file" (a
    regular file), "link" (a symlink to a file, or to nothing) or "other" (a pipe, socket or device).

    Skipped: `target/` at the crate root, `.git`, nested packages (directories with a Cargo.toml),
    and the directories in `skip` (other crates, vendored sources). Unreadable directories are
    skipped too, as os.walk does. `prefix`: where `directory` is in the crate ("" at its root).
    """
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError:
        return
    subdirectories = []
    for entry in entries:
        if not _is_dir(entry):  # files, and symlinks to files (or to nothing, or looping)
            kind = "link" if entry.is_symlink() else "file" if entry.is_file() else "other"
            yield entry.path, prefix + entry.name, kind
            continue
        if entry.name == ".git" or entry.path in skip or (not prefix and entry.name == "target"):
            continue
        if entry.is_symlink():
            raise ProjectError(
                f"{entry.path} is a symlink to a directory, which cargo-chefpy does not carry",
                hint="replace the symlinked directory with a real one, or --stub that crate",
            )
        if not os.path.isfile(os.path.join(entry.path, "Cargo.toml")):
            subdirectories.append(entry)
    for entry in subdirectories:
        yield from _crate_files(entry.path, skip, f"{prefix}{entry.name}/")


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
        real_root = os.path.realpath(root)
        if target != real_root and not target.startswith(real_root.rstrip("/") + "/"):
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


def _not_regular(full: str) -> ProjectError:
    return ProjectError(
        f"{full} is not a regular file (a pipe, socket or device)",
        hint="remove it from the crate, or --stub that crate",
    )


def _common_root(paths: list[str]) -> str:
    return normalise(os.path.commonpath(paths)) if paths else "/"


def _stub_spec(crate: LocalCrate, plan: Plan) -> manifest.StubSpec:
    package = crate.package
    if package is None:  # only members are ever stubbed
        raise ValueError(f"{crate.name} is not a member")
    lib = package.lib
    wanted = [t.name for t in package.bins if t.name in plan.bins]
    if not wanted and lib is None and package.bins:
        names = sorted(t.name for t in package.bins)
        wanted = [crate.name] if crate.name in names else names[:1]
    return manifest.StubSpec(
        directory=crate.directory,
        lib_name=lib.name if lib is not None else (None if wanted else crate.name.replace("-", "_")),
        proc_macro=lib is not None and "proc-macro" in lib.kinds,
        crate_types=lib.crate_types if lib is not None else (),
        bins=tuple(wanted),
        build_script=package.build_script is not None,
    )


def build_recipe(
    workspace: Workspace,
    plan: Plan,
    lock: lockfile.Lock,
    root_document: Any = None,
    prefetched: Prefetched | None = None,
) -> tuple[Recipe, str, Plan]:
    """The recipe; `root_document` is the root manifest's tomlkit document when it was parsed already,
    `prefetched` what was read of the members (and of the cargo config) while cargo metadata ran."""
    root = workspace.root
    stubs = plan.of(CrateClass.STUB)
    kept = plan.of(CrateClass.KEEP)
    stub_dirs = {d.crate.directory for d in stubs}
    remaining = [d.crate for d in (*stubs, *kept)]
    # The lock, pruned by walking its own graph from the members that remain, stub versions masked.
    masks = {d.crate.name: manifest.STUB_VERSION for d in stubs}
    kept_packages = lockfile.reachable(lock, [(c.name, c.version) for c in remaining])
    pruned_lock = lockfile.write_lock(lock, kept_packages, masks)
    # A [patch] crate that the pruned graph does not use would need a [[patch.unused]] entry under
    # --locked; it is not needed either, so its [patch] entry goes and its files are not carried.
    used = {(p.name, p.version) for p in kept_packages if p.source is None}
    plan = drop_unused(
        plan,
        {d.crate.directory for d in plan.of(CrateClass.EXTERNAL) if (d.crate.name, d.crate.version) in used},
    )
    dropped = {c.directory for c in workspace.crates if c.via_patch} - plan.directories(CrateClass.EXTERNAL)
    pruned_lock = lockfile.drop_unused_patches(pruned_lock, {workspace.crate_at(d).name for d in dropped})
    externals = plan.of(CrateClass.EXTERNAL)
    sourced = sorted(f"{p.name}-{p.version}" for p in kept_packages if p.source is not None)
    if prefetched is None:
        prefetched = Prefetched(vendored=vendored_directories(root))
    vendored = prefetched.vendored if sourced else []  # the directory sources the cook stage needs
    vendored_crates = sourced if vendored else []

    recipe_root = _common_root([root, *(d.crate.directory for d in externals), *vendored])
    ws = relative(root, recipe_root)

    def at(*parts: str) -> str:
        joined = "/".join(p for p in parts if p not in ("", "."))
        return joined or "."

    files: dict[str, RecipeFile] = {}

    def add(f: RecipeFile) -> None:
        files[f.path] = f

    root_stub = next((_stub_spec(d.crate, plan) for d in stubs if d.crate.directory == root), None)
    root_text = manifest.root_manifest(
        workspace.root_manifest,
        os.path.join(root, "Cargo.toml"),
        root=root,
        members=[c.directory for c in remaining],
        stub_dirs=stub_dirs,
        root_stub=root_stub,
        drop_patches=dropped,
        document=root_document,
    )
    add(RecipeFile(path=at(ws, "Cargo.toml"), data=root_text.encode(), executable=False, role=Role.WORKSPACE))
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
        spec = _stub_spec(crate, plan)
        if crate.directory == root:
            _, dummies = manifest.stub_manifest(workspace.root_manifest, "Cargo.toml", spec, stub_dirs)
        else:
            where = os.path.join(crate.directory, "Cargo.toml")
            text, dummies = manifest.stub_manifest(_read_text(where), where, spec, stub_dirs)
            add(RecipeFile(path=at(rel, "Cargo.toml"), data=text.encode(), executable=False, role=Role.STUB))
        for sub, content in dummies.items():
            add(RecipeFile(path=at(rel, sub), data=content.encode(), executable=False, role=Role.STUB))
    # Vendored sources are never carried, needed or not: the prefetched walks skipped them too.
    skip_base = {c.directory for c in workspace.crates} | set(prefetched.vendored)
    for decision in (*kept, *externals):
        crate = decision.crate
        rel = relative(crate.directory, recipe_root)
        role = Role.KEEP if decision.klass is CrateClass.KEEP else Role.EXTERNAL
        listing: Iterable[tuple[str, str, str]] | None = prefetched.walks.get(crate.directory)
        if listing is None:
            listing = _crate_files(crate.directory, skip_base - {crate.directory})
        for full, sub, kind in listing:
            path = at(rel, sub)
            if path in files:  # the root package's manifest is the workspace manifest
                continue
            if crate.directory == root and sub in CONFIG_FILES:
                continue
            read = prefetched.files.get(full)
            if read is not None and path.isascii():  # else _file_entry checks the name is UTF-8
                add(RecipeFile(path=path, data=read.data, executable=read.executable, role=role))
            else:
                add(_file_entry(full, path, role, root=recipe_root, kind=kind))

    crates = tuple(
        RecipeCrate(
            name=d.crate.name,
            path=relative(d.crate.directory, recipe_root),
            klass=d.klass.value,
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
    )
    return recipe, recipe_root, plan


@dataclass(slots=True, kw_only=True)
class Prefetched:
    """Read while `cargo metadata` ran (`_Early.prefetch`): the directory sources the workspace's cargo
    config names (`vendored`), and members' files: each walk is complete and skipped those sources; a
    file is here only if it is a regular file, not a symlink."""

    vendored: list[str]
    walks: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    files: dict[str, RecipeFile] = field(default_factory=dict)


@dataclass(slots=True)
class _Early:
    """What prepare can parse before `cargo metadata` answers, while it runs: the lock and the manifest
    beside the manifest found (the workspace root's, unless the command runs inside a member). Used only
    where they turn out to be the workspace's; otherwise, or on any error, the ordinary path parses again
    and reports errors in its ordinary order."""

    lock_path: str
    lock: lockfile.Lock | None = None
    root_text: str | None = None
    root_document: Any = None  # tomlkit's
    root_toml: dict[str, Any] | None = None  # tomllib's

    @classmethod
    def parse(cls, manifest_path: Path) -> _Early:
        early = cls(lock_path=str(manifest_path.parent / "Cargo.lock"))
        # Deliberately broad: this is only a head start, and the ordinary path repeats any step that failed.
        with contextlib.suppress(Exception):
            early.lock = lockfile.parse_lock(_read_text(early.lock_path))
        with contextlib.suppress(Exception):
            text = _read_text(str(manifest_path))
            early.root_document = manifest.parse_document(text)
            early.root_toml = parse_toml(text, str(manifest_path))
            early.root_text = text
        return early

    def parse_toml(self, text: str, where: str) -> dict[str, Any]:
        """workspace.parse_toml, answered from what was parsed early when it is the same text."""
        if self.root_toml is not None and text == self.root_text:
            return self.root_toml
        return parse_toml(text, where)

    def prefetch(self, root: str, running: Callable[[], bool]) -> Prefetched | None:
        """List and read the members' files, as far as it gets while cargo still runs: most of them are
        kept, and build_recipe would read them afterwards. Only member directories with a Cargo.toml,
        not excluded; the workspace root's own directory (which holds everything) is left to
        build_recipe; a walk cut short by cargo's answer is dropped; files over 1 MiB are left too."""
        with contextlib.suppress(Exception):
            found = Prefetched(vendored=vendored_directories(root))
            skip = set(found.vendored)
            for directory in self._member_directories(root):
                if not running():
                    break
                listing: list[tuple[str, str, str]] = []
                with contextlib.suppress(Exception):
                    for entry in _crate_files(directory, skip):
                        listing.append(entry)
                        if len(listing) % 64 == 0 and not running():
                            break
                    else:
                        found.walks[directory] = listing
                for full, sub, kind in listing if directory in found.walks else ():
                    if kind == "file" and running():
                        with contextlib.suppress(Exception):
                            found.files[full] = _file_entry(full, sub, Role.KEEP, kind=kind, limit=1 << 20)
            return found
        return None

    def _member_directories(self, root: str) -> list[str]:
        workspace = self.root_document.get("workspace") if self.root_document is not None else None
        if not isinstance(workspace, dict):
            return []
        members, exclude = workspace.get("members"), workspace.get("exclude")
        excluded = [
            normalise(os.path.join(root, e))
            for e in (exclude if isinstance(exclude, list) else ())
            if isinstance(e, str)
        ]
        found = []
        for pattern in members if isinstance(members, list) else ():
            if not isinstance(pattern, str):
                continue
            if any(c in pattern for c in "*?["):
                import glob  # only for glob members

                found.extend(sorted(glob.glob(os.path.join(root, pattern))))
            else:
                found.append(os.path.join(root, pattern))
        return [
            d
            for d in map(normalise, found)
            if d != root
            and not any(d == e or d.startswith(e + "/") for e in excluded)
            and os.path.isfile(os.path.join(d, "Cargo.toml"))
        ]


def prepare(selection: Selection, *, log: Log, pending: PendingMetadata) -> Prepared:
    """The plan and recipe of `selection`. `pending`: the workspace's `cargo metadata`, which the caller
    started (`project.start_metadata`) so that it ran while the caller imported this module, and closes."""
    log.debug(f"reading the workspace of {pending.manifest_path}")
    early = _Early.parse(pending.manifest_path)
    prefetched = early.prefetch(normalise(str(pending.manifest_path.parent)), pending.running)
    metadata = pending.result()
    workspace = load_workspace(metadata, _read_text, early.parse_toml)
    lock_path = Path(workspace.root) / "Cargo.lock"
    if not lock_path.is_file():
        raise ProjectError(
            f"{lock_path} is missing: a cached build needs a lock file",
            hint="run `cargo generate-lockfile` and commit Cargo.lock",
        )
    lock = early.lock if early.lock is not None and early.lock_path == str(lock_path) else None
    if lock is None:
        lock = lockfile.parse_lock(_read_text(str(lock_path)))
    plan = make_plan(workspace, selection)
    remaining = plan.directories(CrateClass.STUB, CrateClass.KEEP)
    lockfile.check_members(
        lock,
        [
            (c.name, c.version, tuple(sorted({d.name for d in c.package.dependencies})))
            for c in workspace.members
            if c.package is not None and c.directory in remaining
        ],
    )
    root_document = early.root_document if early.root_text == workspace.root_manifest else None
    if prefetched is not None and normalise(str(pending.manifest_path.parent)) != workspace.root:
        prefetched = None  # read from a member's directory: its own manifest named no members anyway
    recipe, recipe_root, plan = build_recipe(workspace, plan, lock, root_document, prefetched)
    return Prepared(recipe=recipe, plan=plan, workspace=workspace, recipe_root=recipe_root)


def explain(prepared: Prepared) -> Iterator[str]:
    """The plan, one line per local crate, then the inputs whose change invalidates the cooked layer."""
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
    yield ""
    yield "The cooked layer is rebuilt when any of these change:"
    recipe = prepared.recipe
    counts: dict[str, tuple[int, str]] = {}
    for crate in recipe.crates:
        n = sum(
            1 for f in recipe.files if f.path.startswith(crate.path.rstrip("/") + "/") or crate.path == "."
        )
        what = {
            "stub": "stub manifest only: dependencies, features, edition",
            "keep": "every file (real sources)",
            "external": "every file (real sources)",
        }[crate.klass]
        counts[crate.path] = (n, what)
    ws = recipe.workspace
    for f in recipe.files:
        if f.role is Role.WORKSPACE:
            suffix = " (members pruned, stub versions masked)" if f.path.endswith("Cargo.toml") else ""
            if f.path.endswith("Cargo.lock"):
                suffix = " (entries reachable from the remaining members)"
            yield f"  {f.path}{suffix}"
    for path, (n, what) in sorted(counts.items()):
        if path in (ws, "."):
            continue
        yield f"  {path}/  {what}, {n} file(s)"
    for v in recipe.vendored:
        yield f"  {v}/  vendored sources: not carried in the recipe; COPY them into the cook stage"


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
