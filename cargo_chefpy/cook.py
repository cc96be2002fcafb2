"""`cargo chefpy cook`: validate, check inputs, write the skeleton, build offline, clean stubs, stamp."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cargo_chefpy import artifacts, cargo, lockfile, recipe, skeleton, stamp, watch
from cargo_chefpy.build import drift
from cargo_chefpy.errors import BuildFailed, CargoError, ChefError, InputError, ProjectError, RecipeError
from cargo_chefpy.fsutil import NotRegularFile, check_name_length, read_regular
from cargo_chefpy.log import Log
from cargo_chefpy.metadata import parse_metadata
from cargo_chefpy.options import CargoOptions, cargo_args
from cargo_chefpy.recipe import CrateClass, Layer, Recipe, RecipeFile, Role, VendoredCrate


@dataclass(frozen=True, slots=True, kw_only=True)
class CookOptions:
    recipe_path: Path = Path("recipe.json")
    force: bool = False
    no_build: bool = False
    cargo: CargoOptions = field(default_factory=CargoOptions)
    layer: str | None = None  # --layer: the layer the recipe must be ("deps", "local")


def load_recipe(path: Path, cwd: Path) -> tuple[Recipe, bytes]:
    full = path if path.is_absolute() else cwd / path
    try:
        data = read_regular(full)
    except NotRegularFile as exc:
        hint = (
            "pass the recipe file's path, not a directory"
            if exc.kind == "a directory"
            else "write the recipe to a regular file first (`cargo chefpy prepare --recipe-path FILE`) "
            "and pass that file"
        )
        raise RecipeError(f"cannot read the recipe {path}: it is {exc.kind}", hint=hint) from None
    except FileNotFoundError:
        raise RecipeError(
            f"the recipe {path} does not exist",
            hint="run `cargo chefpy prepare` first, or pass --recipe-path",
        ) from None
    except OSError as exc:
        too_long = exc.errno == errno.ENAMETOOLONG
        raise RecipeError(
            f"cannot read the recipe {path}: {exc.strerror}",
            hint="pass a shorter --recipe-path" if too_long else "check its permissions",
        ) from None
    return recipe.loads(data, source=str(path)), data


def check_vendored(rec: Recipe, root: Path) -> None:
    for directory in rec.vendored:
        path = root / directory
        if not path.is_dir():
            raise InputError(
                f"the vendored directory {directory}/ that this recipe needs is missing (in {root})",
                hint=f"add `COPY {directory} {directory}` before the cook step of your Dockerfile, and keep "
                f"{directory}/ in the build context (run `cargo vendor`; do not list it in .dockerignore)",
            )
    missing = [
        f"{c.name} {c.version}"
        for c in rec.vendored_crates
        if not any(_holds(root / d, c) for d in rec.vendored)
    ]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            f"the vendored sources are incomplete: {shown} not found in {', '.join(rec.vendored)}",
            hint="run `cargo vendor` again and COPY the whole vendored directory into the cook stage",
        )


def _holds(vendored: Path, crate: VendoredCrate) -> bool:
    """Whether the vendored directory holds `crate` where `cargo vendor` puts it: in `name-version`
    (--versioned-dirs, or an older version beside a newer one) or in `name`, with its checksum file and
    a Cargo.toml of that name and version. A Cargo.toml this check cannot read (unparsable, or no plain
    name and version) counts as a match: cargo judges it."""
    for directory in (vendored / f"{crate.name}-{crate.version}", vendored / crate.name):
        if not (directory / ".cargo-checksum.json").is_file():
            continue
        try:
            text = read_regular(directory / "Cargo.toml").decode("utf-8-sig")
            package = tomllib.loads(text)["package"]
            name, version = package["name"], package["version"]
        except NotRegularFile as exc:  # cargo would wait on a pipe, or read a device forever
            raise InputError(
                f"the vendored file {directory / 'Cargo.toml'} is {exc.kind}, not a regular file",
                hint="run `cargo vendor` again and COPY the whole vendored directory into the cook stage",
            ) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
            return True
        if not (isinstance(name, str) and isinstance(version, str)):
            return True
        if (name, version) == (crate.name, crate.version):
            return True
    return False


def target_directory(cargo_bin: str, workspace: Path, options: CargoOptions) -> Path:
    if options.target_dir is not None:
        return Path(os.path.realpath(workspace / options.target_dir))  # no RuntimeError on a loop
    text = cargo.capture(cargo_bin, list(cargo.METADATA), cwd=workspace)
    return Path(parse_metadata(text).target_directory)


def checksum_failure(cargo_stderr: list[str], root: Path) -> InputError | None:
    """cargo's refusal of an edited vendored file, as our error with cargo's own message under it."""
    start = next((i for i, line in enumerate(cargo_stderr) if "the listed checksum of" in line), None)
    if start is None:
        return None
    quoted = cargo_stderr[start : start + 8]
    end = next((i for i, line in enumerate(quoted) if "not intended to be edited" in line), None)
    quoted = quoted if end is None else quoted[: end + 1]
    path = quoted[0].split("`")[1] if quoted[0].count("`") >= 2 else "a vendored file"
    with contextlib.suppress(ValueError):
        path = Path(path).relative_to(root).as_posix()
    error = InputError(
        f"the vendored file {path} does not match its checksum in .cargo-checksum.json",
        hint="restore the vendored directory exactly as `cargo vendor` wrote it; "
        "to change a dependency, use [patch] with a copy of it",
    )
    error.with_output("\n".join(quoted))
    return error


_COULD_NOT_READ = re.compile(r"couldn't read `(.+?)`: No such file or directory")
_SOURCE = re.compile(r"^\s*--> (.+?):\d+:\d+\s*$")
_BUILD_SCRIPT = re.compile(r"failed to run custom build command for `(\S+) v\S+ \((.+)\)`")
_RERUN = re.compile(r"^\s*cargo::?rerun-if-changed=(.+?)\s*$")
_PATHLIKE = re.compile(r"[\w.@+-]*[/.][\w./@+-]*\w")
_NOT_FOUND = ("No such file or directory", "kind: NotFound", "(os error 2)")


def missing_file_failure(cargo_stderr: list[str], workspace: Path) -> InputError | None:
    """A kept crate that failed because a file it reads is not in the cook directory: rustc's
    `couldn't read` (include_str!, include_bytes!, include!), or a build script that failed on a
    missing file (its panic message's paths, else the paths it watches). None when it is not that."""
    for i, line in enumerate(cargo_stderr):
        match = _COULD_NOT_READ.search(line)
        if match is not None:
            where = _SOURCE.match(cargo_stderr[i + 1]) if i + 1 < len(cargo_stderr) else None
            reader = where.group(1) if where is not None else "a source file"
            return _missing_file(workspace / match.group(1), workspace, reader)
    failed = ((i, m) for i, line in enumerate(cargo_stderr) if (m := _BUILD_SCRIPT.search(line)) is not None)
    start, found = next(failed, (0, None))
    if found is None:
        return None
    name, package_dir = found.group(1), Path(found.group(2))
    block = cargo_stderr[start + 1 :]
    end = next(
        (i for i, line in enumerate(block) if line.startswith(("error", "warning: build failed"))), None
    )
    block = block if end is None else block[:end]
    if not any(marker in line for line in block for marker in _NOT_FOUND):
        return None
    mentioned = [
        package_dir / token
        for line in block
        if any(marker in line for marker in _NOT_FOUND)
        for token in _PATHLIKE.findall(line)
    ]
    watched = [package_dir / m.group(1) for line in block if (m := _RERUN.match(line)) is not None]
    for candidate in (*mentioned, *watched):
        if not os.path.lexists(candidate):
            return _missing_file(candidate, workspace, f"the build script of {name}")
    return InputError(
        f"the build script of {name} failed to read a file that is missing from the cook directory",
        hint=f"find the file in its output above, then carry it: {_carry_hint('PATH')}",
    )


def _carry_hint(path: str) -> str:
    return (
        f"run `cargo chefpy prepare --include {path}`, or list it in `include` under "
        "[workspace.metadata.chefpy] in the root Cargo.toml (every Dockerfile then carries it)"
    )


def _missing_file(path: Path, workspace: Path, reader: str) -> InputError:
    full = Path(os.path.normpath(path))
    try:
        shown = full.relative_to(workspace).as_posix()
    except ValueError:
        return InputError(
            f"{reader} reads {full}, which is outside the workspace, so no recipe can carry it",
            hint="move the file into the workspace, then carry it with `cargo chefpy prepare --include PATH`",
        )
    return InputError(
        f"{reader} reads {shown}, which the recipe does not carry (it is outside the package)",
        hint=f"carry it: {_carry_hint(shown)}",
    )


def lock_drops(
    lock: lockfile.Lock, workspace: Path, *, strict: bool, log: Log | None = None
) -> tuple[str, ...]:
    """What cargo dropped from the recipe's Cargo.lock when it just resolved the skeleton
    (`lockfile.dropped`). Cargo must only have pruned it (lockfile.beyond_pruning); if not, the
    workspace's lock is out of date: `strict` (before the build) refuses it, as --locked would; after
    the build, a warning says so and nothing is returned (build then lets cargo drop nothing)."""
    try:
        data = (workspace / "Cargo.lock").read_bytes()
    except OSError:  # cargo wrote no readable lock: the recipe's is written back
        return ()
    drops, changes = lockfile.cargos_changes(lock, data)
    if not changes:
        return tuple(drops)
    what = f"cargo changed the recipe's Cargo.lock beyond dropping unused entries ({'; '.join(changes[:3])})"
    hint = (
        "the workspace's Cargo.lock is out of date with its manifests: run `cargo update --workspace` "
        "where the workspace is, commit Cargo.lock, and prepare again"
    )
    if strict:  # cook writes the recipe's lock back (its finally)
        raise ProjectError(what, hint=hint)
    if log is not None:
        log.warning(f"{what}: the cooked versions are cargo's, not the lock's; {hint}")
    return ()


def resolve_first(
    cargo_bin: str,
    rec: Recipe,
    *,
    lock: lockfile.Lock,
    workspace: Path,
    build: CargoOptions,
    log: Log,
) -> tuple[str, ...] | None:
    """Let cargo resolve the skeleton before the build, where it must; returns what it dropped from the
    recipe's lock (`lock_drops`), or None when the build itself resolves it.

    Cargo may drop lock entries that only pruned members used, and `--locked` refuses any change to the
    lock. So the fetch of registry crates runs without --locked, and a --locked or --frozen build gets
    cargo's own pruning of the recipe's lock first; anything beyond a pruning is refused, as --locked
    would refuse it."""
    needs_fetch = not rec.vendored and any(p.source is not None for p in lock.packages)
    if needs_fetch and not build.stays_offline:
        log.status("Fetching", "registry dependencies (cargo fetch)")
        code = cargo.run_streamed(cargo_bin, ["fetch", *build.resolution_args()], cwd=workspace)
        if code != 0:  # not a build failure: the documented code for a failed cargo command
            raise CargoError(
                f"`cargo fetch` failed with exit code {code} (in {workspace})",
                hint="cargo's message is above; check network access, or vendor the sources (`cargo vendor`)",
            )
    elif build.keeps_lock:
        resolve = [*cargo.METADATA_RESOLVED, "--offline", *build.resolution_args()]
        cargo.capture(cargo_bin, resolve, cwd=workspace)
    else:
        return None
    return lock_drops(lock, workspace, strict=True)


def cook_build(
    cargo_bin: str,
    build: CargoOptions,
    *,
    root: Path,
    workspace: Path,
    found: artifacts.StubArtifacts,
    scripts: watch.BuildScripts,
    log: Log,
) -> None:
    """The cook's cargo build, streamed; `found` and `scripts` read its JSON messages."""

    def observe(message: dict[str, Any]) -> None:
        found.observe(message)
        scripts.observe(message)

    args = cargo_args(build, offline=True, message_format="json-render-diagnostics")
    shown = [a for a in args if a not in ("--message-format", "json-render-diagnostics")]
    log.status("Cooking", f"cargo {' '.join(shown)}")
    cargo_stderr: list[str] = []
    code = cargo.run_streamed(cargo_bin, args, cwd=workspace, on_message=observe, stderr_tail=cargo_stderr)
    if code != 0:
        checksum = checksum_failure(cargo_stderr, root)
        if checksum is not None:
            raise checksum
        missing = missing_file_failure(cargo_stderr, workspace)
        if missing is not None:
            raise missing
        raise BuildFailed(
            f"the cook build failed (cargo exited with {code})",
            code=code,
            hint="cargo's errors are above; a dependency that fails here also fails without cargo-chefpy",
        )


def recipe_lock(rec: Recipe) -> lockfile.Lock:
    """The recipe's own Cargo.lock, parsed from its bytes; a recipe without the workspace's Cargo.toml
    and Cargo.lock is refused (before anything is written)."""
    prefix = "" if rec.workspace == "." else f"{rec.workspace}/"
    files = {f.path: f for f in rec.files}
    for name in ("Cargo.toml", "Cargo.lock"):
        if prefix + name not in files:
            raise RecipeError(
                f"the recipe does not carry the workspace's {name} ({prefix}{name})",
                hint="prepare the recipe again with `cargo chefpy prepare`; do not edit it by hand",
            )
    try:
        return lockfile.parse_lock(files[prefix + "Cargo.lock"].data.decode())
    except (ProjectError, UnicodeDecodeError) as exc:
        detail = exc.message if isinstance(exc, ProjectError) else "it is not UTF-8"
        raise RecipeError(
            f"the recipe's {prefix}Cargo.lock cannot be read: {detail}",
            hint="prepare the recipe again from a workspace whose Cargo.lock cargo accepts",
        ) from None


LAYER_NAMES = {Layer.DEPS: "layer 1, third-party", Layer.LOCAL: "layer 2, local"}


def check_layer(rec: Recipe, wanted: str | None, path: Path) -> None:
    if wanted is not None and wanted != rec.layer.value:
        other = "recipe.deps.json" if wanted == "deps" else "recipe.json"
        raise RecipeError(
            f"{path} is the {rec.layer.value} layer's recipe, but --layer {wanted} was given",
            hint=f"pass the {wanted} layer's recipe (`prepare` writes it, e.g. --recipe-path {other})",
        )


LAYER_ONE_DIR = "cargo-chefpy-layer-1"  # in the target dir: layer 1's stamp, kept by a local cook


def layer_one_stamp(
    cargo_bin: str | None, root: Path, rec: Recipe, options: CargoOptions
) -> stamp.Stamp | None:
    """The stamp of a deps (layer 1) cook in this directory's target directory, or None. Looked for
    only by a local cook, through the workspace layer 1 left (its Cargo.toml must be there): the
    target directory's stamp, or, where a local cook already ran on top of layer 1, the layer-1 stamp
    that cook kept beside its own (when its own was merged from it). `cargo_bin` is None with
    --no-build: cargo, when it is there, still finds the target directory."""
    workspace = root / rec.workspace
    if rec.layer is not Layer.LOCAL or not (workspace / "Cargo.toml").is_file():
        return None
    try:
        target_dir = target_directory(
            cargo_bin or cargo.find_cargo(), Path(os.path.realpath(workspace)), options
        )
        found = stamp.read(target_dir)
        if found is not None and found.layer == Layer.LOCAL.value:
            kept = stamp.read(target_dir / LAYER_ONE_DIR)
            found = kept if kept is not None and _merged_from(found, kept) else None
    except ChefError:  # not a cooked layer 1 after all (or no cargo to find it): a plain conflict then
        return None
    return found if found is not None and found.layer == Layer.DEPS.value else None


def _merged_from(local: stamp.Stamp, below: stamp.Stamp) -> bool:
    """Whether the local cook's stamp holds what `below` recorded (merge_layer_one put it there)."""
    return (
        all(local.files.get(k) == v for k, v in below.files.items())
        and all(local.vendored.get(k) == v for k, v in below.vendored.items())
        and set(below.stub_created_dirs) <= set(local.stub_created_dirs)
    )


def allow_layer_one(plan: skeleton.WritePlan, root: Path, previous: stamp.Stamp) -> skeleton.WritePlan:
    """The conflicts that are files layer 1's cook wrote, unchanged since, become writes."""
    allowed: list[RecipeFile] = []
    refused: list[RecipeFile] = []
    for f in plan.conflicts:
        path = root / f.path
        try:
            same = (
                path.is_file()
                and not path.is_symlink()
                and stamp.file_digest(path) == previous.layer_files.get(f.path)
            )
        except OSError:
            same = False
        (allowed if same else refused).append(f)
    return skeleton.WritePlan(
        writes=(*plan.writes, *allowed),
        unchanged=plan.unchanged,
        conflicts=tuple(refused),
        mode_only=plan.mode_only & {f.path for f in refused},
    )


def remove_layer_one_stubs(rec: Recipe, root: Path, previous: stamp.Stamp) -> int:
    """Layer 1's dummy sources that this recipe does not write, still as layer 1 wrote them: gone, so
    that no stub survives into layer 2 (cargo could take one for a target)."""
    ours = {f.path for f in rec.files}
    removed = 0
    for rel, expected in sorted(previous.stub_files.items()):
        path = root / rel
        if rel in ours or path.is_symlink():
            continue
        with contextlib.suppress(OSError):
            if path.is_file() and stamp.file_digest(path) == expected:
                path.unlink()
                removed += 1
    for rel in sorted(previous.stub_created_dirs, key=lambda d: (-d.count("/"), d)):
        if not (root / rel).is_symlink():
            with contextlib.suppress(OSError):
                os.rmdir(root / rel)  # only when empty
    return removed


def cook(options: CookOptions, *, cwd: Path, log: Log) -> int:
    rec, data = load_recipe(options.recipe_path, cwd)
    check_layer(rec, options.layer, options.recipe_path)
    root = cwd
    lock = recipe_lock(rec)
    plan = skeleton.plan_writes(rec, root)
    check_vendored(rec, root)
    if options.cargo.target_dir is not None:
        check_name_length(root / rec.workspace / options.cargo.target_dir, what="target directory")
    cargo_bin = None if options.no_build else cargo.find_cargo()  # before anything is written
    if cargo_bin is not None:
        cargo.check_unstable(cargo_bin, options.cargo.unstable_args(), cwd=root)
    # A local cook on top of a deps cook (the layer-1 tree is here: its Cargo.toml, its stamp).
    previous = layer_one_stamp(cargo_bin, root, rec, options.cargo)
    if previous is not None and not options.force:
        plan = allow_layer_one(plan, root, previous)
    if not options.force:
        skeleton.refuse_conflicts(plan)
    stub_files = {f.path: f.digest for f in rec.files if f.role is Role.STUB and not _is_manifest(f.path)}
    created_dirs = missing_parents(root, stub_files)
    written = skeleton.write(plan, root, force=options.force)
    if previous is not None:
        gone = remove_layer_one_stubs(rec, root, previous)
        if gone:
            log.status("Removed", f"{gone} layer-1 stub file(s) that this layer does not write")
    for directory in rec.vendored:
        skeleton.settle_tree(root / directory)
    log.status(
        "Skeleton",
        f"{LAYER_NAMES[rec.layer]}: {written} file(s) written, {len(plan.unchanged)} already in place "
        f"({root})",
    )
    if cargo_bin is None:
        return 0

    workspace = Path(os.path.realpath(root / rec.workspace))
    build = options.cargo.with_default_packages(rec.packages, rec.bins).cook_targets()
    stub_dirs = frozenset(
        os.path.normpath(str(root / c.path)) for c in rec.crates if c.klass is CrateClass.STUB
    )
    found = artifacts.StubArtifacts(stub_dirs=stub_dirs)
    scripts = watch.BuildScripts()
    try:  # cargo may rewrite Cargo.lock from here on: the recipe's is written back, whatever happens
        drops = resolve_first(cargo_bin, rec, lock=lock, workspace=workspace, build=build, log=log)
        cook_build(cargo_bin, build, root=root, workspace=workspace, found=found, scripts=scripts, log=log)
        if drops is None:  # the build itself resolved the skeleton
            drops = lock_drops(lock, workspace, strict=False, log=log)
    finally:
        for lock_path in skeleton.restore_locks(rec, root):
            log.debug(
                f"{lock_path}: cargo dropped entries this skeleton does not use; the recipe's written back"
            )
    target_dir = target_directory(cargo_bin, workspace, build)
    # Read what the build scripts watch before the stubs' outputs (their scripts' among them) go.
    real_root = Path(os.path.realpath(root))
    watched = list(scripts.watched(str(real_root), skip_packages=stub_dirs, skip_dirs=[str(target_dir)]))
    removed = artifacts.remove(found, [Path(d) for d in sorted(found.profile_dirs)])
    log.status("Cleaned", f"{removed} output(s) of {len(stub_dirs)} stubbed crate(s)")
    st = make_stamp(rec, data, build, real_root, watched)
    st = replace(st, stub_files=stub_files, stub_created_dirs=created_dirs, layer=rec.layer.value)
    if drops:
        st = replace(st, lock_drops=drops)
    if rec.layer is Layer.DEPS:
        st = replace(st, layer_files={f.path: f.digest for f in rec.files})
        with contextlib.suppress(ChefError):  # an unreadable stamp is replaced, as before
            earlier = stamp.read(target_dir)
            if earlier is not None:
                st = merge_deps_cooks(st, earlier)
    else:
        below = stamp.read(target_dir) if previous is None else previous
        if below is not None and below.layer == Layer.DEPS.value:
            st = merge_layer_one(st, below)
            for note in drift(below.options, st.options):
                log.warning(f"layer 2: {note.replace('from cook', 'from the layer-1 cook')}")
            # Kept, so that a second local cook here (an edited recipe.json) merges layer 1 again.
            stamp.write(target_dir / LAYER_ONE_DIR, below)
    path = stamp.write(target_dir, st)
    log.debug(f"stamp written to {path}")
    return 0


def merge_layer_one(st: stamp.Stamp, below: stamp.Stamp) -> stamp.Stamp:
    """Layer 2's stamp with what layer 1 cooked: the files its build scripts watch (vendored ones among
    them), so that build settles and checks drift against both layers."""
    return replace(
        st,
        files={**below.files, **st.files},
        vendored={**below.vendored, **st.vendored},
        dirs={**below.dirs, **st.dirs},
        stub_created_dirs=tuple(sorted(set(st.stub_created_dirs) | set(below.stub_created_dirs))),
    )


def merge_deps_cooks(st: stamp.Stamp, earlier: stamp.Stamp) -> stamp.Stamp:
    """A deps cook of the same recipe and options as the one before it in this target directory (one
    cook per service in a shared layer 1, `-p serviceX` then `-p serviceY`): its stamp keeps what the
    earlier cook recorded (the packages, the files their build scripts watch), or layer 2 and build
    would no longer settle or check them. Any other earlier stamp is replaced, as before."""
    same = (
        earlier.layer == Layer.DEPS.value
        and earlier.recipe == st.recipe
        and earlier.workspace == st.workspace
        and earlier.options == st.options
    )
    if not same:
        return st
    return replace(
        st,
        packages=tuple(sorted(set(earlier.packages) | set(st.packages))),
        files={**earlier.files, **st.files},
        vendored={**earlier.vendored, **st.vendored},
        dirs={**earlier.dirs, **st.dirs},
        stub_created_dirs=tuple(sorted(set(st.stub_created_dirs) | set(earlier.stub_created_dirs))),
    )


def _is_manifest(path: str) -> bool:
    return path.rsplit("/", 1)[-1] == "Cargo.toml"


def missing_parents(root: Path, paths: Iterable[str]) -> tuple[str, ...]:
    """The directories (relative to `root`) that writing `paths` creates: those missing now."""
    missing: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for i in range(len(parts), 0, -1):
            rel = "/".join(parts[:i])
            if rel in missing or os.path.lexists(root / rel):
                break
            missing.add(rel)
    return tuple(sorted(missing))


def make_stamp(
    rec: Recipe, data: bytes, build: CargoOptions, root: Path, watched: Iterable[str]
) -> stamp.Stamp:
    """What build settles: every kept, external and extra file (cargo checks path crates by mtime), and
    what the cooked build scripts watch (the only vendored files cargo checks by mtime; directories too)."""
    files = {f.path: f.digest for f in rec.files if f.role in (Role.KEEP, Role.EXTERNAL, Role.EXTRA)}
    watched_files, dirs = stamp.digest_watched(root, watched)
    prefixes = tuple(f"{d}/" for d in rec.vendored)
    vendored = {p: d for p, d in watched_files.items() if p.startswith(prefixes)}
    files.update((p, d) for p, d in watched_files.items() if p not in vendored and p not in files)
    options: dict[str, Any] = build.drift_fields()
    return stamp.Stamp(
        recipe=recipe.digest(data),
        workspace=rec.workspace,
        options=options,
        packages=tuple(sorted(build.packages or build.bins)),
        files=files,
        vendored=vendored,
        vendored_dirs=rec.vendored,
        kept_crates=sum(1 for c in rec.crates if c.klass is CrateClass.KEEP),
        external_crates=sum(1 for c in rec.crates if c.klass is CrateClass.EXTERNAL),
        dirs=dirs,
    )
