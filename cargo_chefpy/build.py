"""`cargo chefpy build`, the final stage: settle unchanged files, check drift, build."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from stat import S_ISDIR, S_ISREG

from cargo_chefpy import cargo, lockfile, stamp
from cargo_chefpy.errors import BuildFailed, CargoError, ProjectError, StampError
from cargo_chefpy.fsutil import (
    FIXED_MTIME_NS,
    NotRegularFile,
    atomic_write,
    check_name_length,
    read_regular,
    write_error,
)
from cargo_chefpy.log import Log
from cargo_chefpy.options import CargoOptions, cargo_args, spec_name
from cargo_chefpy.project import find_project, read_metadata


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    unchanged: int
    changed: int
    missing: int


def settle(st: stamp.Stamp, recipe_root: Path) -> Settled:
    """Give each file and watched directory whose content equals what cook compiled the fixed mtime again;
    leave the rest, so cargo sees them as newer than cook's outputs.

    This runs on every final stage, so it works on str paths with one lstat per entry."""
    unchanged = changed = missing = 0
    root = str(recipe_root)
    fixed_ns = FIXED_MTIME_NS
    entries = (
        *((rel, expected, S_ISREG, stamp.file_digest) for rel, expected in st.files.items()),
        *((rel, expected, S_ISREG, stamp.file_digest) for rel, expected in st.vendored.items()),
        *((rel, expected, S_ISDIR, stamp.listing_digest) for rel, expected in st.dirs.items()),
    )
    for rel, expected, is_kind, digest in entries:
        path = os.path.join(root, rel)
        try:
            info = os.lstat(path)
        except OSError:
            missing += 1
            continue
        if not is_kind(info.st_mode):
            missing += 1
            continue
        try:
            same = digest(path) == expected
        except OSError:
            same = False
        if not same:
            changed += 1
            continue
        if info.st_mtime_ns != fixed_ns:
            try:
                os.utime(path, ns=(fixed_ns, fixed_ns), follow_symlinks=False)
            except OSError as exc:
                raise write_error(Path(path), exc) from None
        unchanged += 1
    return Settled(unchanged=unchanged, changed=changed, missing=missing)


def remove_stub_leftovers(st: stamp.Stamp, recipe_root: Path) -> int:
    """Delete each dummy source cook wrote that is still byte for byte what cook wrote: the final
    sources did not replace it, and cargo could take it for a target (a dummy binary). Then the
    directories cook created for them, if now empty. A path reached through a symlinked directory is
    left alone. Returns how many files were removed."""
    root = str(recipe_root)
    real_root = os.path.realpath(root)
    removed = 0
    for rel, expected in sorted(st.stub_files.items()):
        path = os.path.join(root, rel)
        if os.path.realpath(os.path.dirname(path)) != os.path.join(real_root, os.path.dirname(rel)).rstrip(
            "/"
        ):
            continue  # through a symlink: not a file cook wrote
        try:
            if not S_ISREG(os.lstat(path).st_mode) or stamp.file_digest(path) != expected:
                continue
        except OSError:
            continue  # gone or unreadable: replaced by the final sources, not ours
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise write_error(Path(path), exc) from None
        removed += 1
    for rel in sorted(st.stub_created_dirs, key=lambda d: (-d.count("/"), d)):
        path = os.path.join(root, rel)
        if os.path.islink(path):
            continue
        with contextlib.suppress(OSError):
            os.rmdir(path)  # only when empty
    return removed


def drift(cooked: dict[str, object], building: dict[str, object]) -> list[str]:
    notes = []
    for key in sorted(set(cooked) | set(building)):
        if cooked.get(key) != building.get(key):
            notes.append(
                f"{key.replace('_', '-')} differs from cook (cooked {cooked.get(key)!r}, building "
                f"{building.get(key)!r}): cargo recompiles the dependencies it affects"
            )
    return notes


def not_cooked(specs: Iterable[str], cooked: Iterable[str]) -> list[str]:
    """The specs that name none of the packages (or bins) cook built; cook's may be specs too. A glob on
    either side counts as cooked when it matches the other side's name (or glob text)."""
    cooked_names = [spec_name(c) for c in cooked]

    def overlap(name: str, other: str) -> bool:
        return name == other or fnmatchcase(other, name) or fnmatchcase(name, other)

    return sorted(s for s in set(specs) if not any(overlap(spec_name(s), c) for c in cooked_names))


def prune_lock(
    options: CargoOptions, cargo_bin: str, manifest: Path, *, run_in: Path, st: stamp.Stamp, log: Log
) -> None:
    """For --locked: let cargo resolve the workspace and drop from Cargo.lock what it drops, when that is
    exactly among what it dropped from the recipe's lock in cook (`stamp.lock_drops`): the entries that
    only members pruned from the final sources used. Anything else cargo changed (or a resolution cut
    short) is put back byte for byte, and --locked then says what; so a checkout's own lock is never
    changed."""
    path = manifest.with_name("Cargo.lock")
    try:
        before = read_regular(path)
    except (OSError, NotRegularFile):  # no lock, an unreadable one, a pipe: cargo's own error says which
        return
    resolve = [
        *cargo.METADATA_RESOLVED,
        "--offline",
        *options.resolution_args(),
        "--manifest-path",
        str(manifest),
    ]
    drops: list[str] = []
    kept = False
    try:
        with contextlib.suppress(CargoError):  # cargo build then says what is wrong
            cargo.capture(cargo_bin, resolve, cwd=run_in)
        after = _read_lock(path)
        if after is not None and after != before:
            old = lockfile.parse_lock(before.decode("utf-8", errors="replace"))
            drops, changes = lockfile.cargos_changes(old, after)
            kept = not changes and set(drops) <= set(st.lock_drops)
    except ProjectError:  # our own lock does not parse: cargo's error says why
        kept = False
    finally:
        if not kept:
            _put_back(path, before)
    if kept:
        log.status("Locked", f"{path.name} without {len(drops)} entry(ies) that only pruned members used")


def _read_lock(path: Path) -> bytes | None:
    try:
        return read_regular(path)
    except (OSError, NotRegularFile):
        return None


def _put_back(path: Path, before: bytes) -> None:
    """`path` holds `before` again, if it changed: written atomically where a symlink points, with the
    file's permission bits."""
    if _read_lock(path) == before:
        return
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = None
    try:
        atomic_write(target, before, mode=mode)
    except OSError as exc:
        raise write_error(path, exc) from None


def build(options: CargoOptions, *, cwd: Path, log: Log) -> int:
    cargo_bin = cargo.find_cargo()
    # cargo finds .cargo/config.toml (source replacement, build.target-dir) from its working directory,
    # so with --manifest-path it runs beside that manifest, as if the user had cd'ed there; a relative
    # --target-dir still means relative to where the user is.
    # Every path handed to that cargo is absolute, so that it means what it meant where the user is.
    manifest = find_project(cwd, Path(options.manifest_path) if options.manifest_path else None)
    run_in = manifest.parent if options.manifest_path else cwd
    # Asked where cargo builds: rustup picks the toolchain (a nightly rust-toolchain.toml) from there.
    cargo.check_unstable(cargo_bin, options.unstable_args(), cwd=run_in)
    if options.manifest_path is not None:
        options = replace(options, manifest_path=str(manifest))
    if options.target_dir is not None:
        check_name_length(cwd / options.target_dir, what="target directory")
        options = replace(options, target_dir=os.path.realpath(cwd / options.target_dir))
    metadata = read_metadata(cargo_bin, run_in, manifest)
    workspace_root = Path(metadata.workspace_root)
    target_dir = Path(options.target_dir) if options.target_dir else Path(metadata.target_directory)
    st = stamp.read(target_dir)
    if st is None:
        log.warning(
            f"no cook stamp in {target_dir}: building without settling mtimes, so unchanged local crates "
            "may recompile (run `cargo chefpy cook` first with the same target directory: --target-dir,"
            " CARGO_TARGET_DIR or build.target-dir)"
        )
    else:
        depth = 0 if st.workspace == "." else len(st.workspace.split("/"))
        ancestors = (workspace_root, *workspace_root.parents)
        recipe_root = ancestors[min(depth, len(ancestors) - 1)]
        if workspace_root.relative_to(recipe_root).as_posix() != st.workspace:
            raise StampError(
                f"the cook stamp expects the workspace at {st.workspace}, but it is at {workspace_root}",
                hint="run cook and build at the same WORKDIR layout",
            )
        leftovers = remove_stub_leftovers(st, recipe_root)
        if leftovers:
            log.status("Removed", f"{leftovers} stub file(s) that the final sources did not replace")
        result = settle(st, recipe_root)
        parts = [f"{st.kept_crates} kept crate(s)", f"{st.external_crates} external"]
        if st.vendored_dirs:
            where = ", ".join(f"{d}/" for d in st.vendored_dirs)
            parts.append(f"{len(st.vendored)} in {where}")
        if st.dirs:
            parts.append(f"{len(st.dirs)} watched dir(s)")
        log.status(
            "Settled",
            f"{result.unchanged} unchanged path(s) ({', '.join(parts)}); {result.changed} changed"
            + (f", {result.missing} missing" if result.missing else ""),
        )
        for note in drift(st.options, options.drift_fields()):
            log.warning(note)
        if st.lock_drops and options.keeps_lock:
            prune_lock(options, cargo_bin, workspace_root / "Cargo.toml", run_in=run_in, st=st, log=log)
        extra = not_cooked(options.packages or options.bins, st.packages)
        if extra and st.packages:
            log.warning(
                f"building {', '.join(extra)}, which cook did not build (cooked {', '.join(st.packages)}): "
                "dependencies only they need compile now, and shared ones may recompile with other features"
            )
    code = cargo.run_streamed(cargo_bin, cargo_args(options, offline=True), cwd=run_in)
    if code != 0:
        raise BuildFailed(f"the build failed (cargo exited with {code})", code=code)
    return 0
