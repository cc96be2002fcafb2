"""The only writer into a cook directory. Path-safe, refuses to clobber, atomic per file."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cargo_chefpy.errors import RecipeError, WriteError
from cargo_chefpy.fsutil import (
    FIXED_MTIME,
    atomic_write,
    check_name_length,
    make_dirs,
    read_error,
    set_mtime,
    walk,
    write_error,
)
from cargo_chefpy.paths import inside
from cargo_chefpy.recipe import Recipe, RecipeFile


@dataclass(frozen=True, slots=True, kw_only=True)
class WritePlan:
    writes: tuple[RecipeFile, ...]  # files to create
    unchanged: tuple[RecipeFile, ...]  # already there with the same content and mode
    conflicts: tuple[RecipeFile, ...]  # existing entries that differ (content, executable bit, or kind)
    mode_only: frozenset[str] = frozenset()  # conflicts whose content is the same: only the mode differs

    @property
    def conflict_paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.conflicts)


# Every check here works on the entry itself (lstat), never on what a symlink leads to, and resolves
# with os.path.realpath, which does not raise on a symlink loop (Path.resolve does).


def _lstat(path: Path) -> os.stat_result | None:
    """The entry at `path` itself, or None when there is none."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a name too long, no permission
        raise read_error(path, exc) from None


def _check_link(link: Path, root: Path, relpath: str) -> None:
    target = os.path.realpath(link)
    if not inside(target, os.path.realpath(root)):
        raise RecipeError(
            f"{relpath} would be written through the symlink {link}, which points outside "
            f"the cook directory (to {target})",
            hint="remove that symlink from the cook directory, or cook in an empty directory",
        )


def _check_parents(root: Path, relpath: str) -> None:
    """Every existing component of the path must be a directory, or a symlink to a directory inside the
    cook directory (not one that leaves it, dangles or loops)."""
    current = root
    for part in relpath.split("/")[:-1]:
        current = current / part
        st = _lstat(current)
        if st is None:
            return  # cook creates the rest
        if stat.S_ISLNK(st.st_mode):
            _check_link(current, root, relpath)
            try:
                st = os.stat(current)
            except OSError:
                raise WriteError(
                    f"{relpath} needs {current} to be a directory, but it is a symlink that leads nowhere "
                    "(dangling, or a loop)",
                    hint="remove that symlink, or cook in an empty directory",
                ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise WriteError(
                f"{relpath} needs {current} to be a directory, but it is a file",
                hint="cook in an empty directory, or remove that file",
            )


def plan_writes(recipe: Recipe, root: Path) -> WritePlan:
    """Decide what to write, and find conflicts, without writing anything."""
    writes, unchanged, conflicts = [], [], []
    mode_only: set[str] = set()
    for f in recipe.files:
        target = root / f.path
        check_name_length(target, what="skeleton file")  # before any write, even under missing parents
        _check_parents(root, f.path)
        st = _lstat(target)
        if st is None:
            writes.append(f)
            continue
        if stat.S_ISLNK(st.st_mode):
            _check_link(target, root, f.path)
            conflicts.append(f)  # even one to an identical file: cook would replace the link
            continue
        if not stat.S_ISREG(st.st_mode):
            conflicts.append(f)
            continue
        try:
            same = target.read_bytes() == f.data
        except OSError as exc:
            raise read_error(target, exc) from None
        if not same:
            conflicts.append(f)
        elif bool(st.st_mode & stat.S_IXUSR) == f.executable:
            unchanged.append(f)
        else:  # the same bytes with another executable bit: a difference too, written only with --force
            conflicts.append(f)
            mode_only.add(f.path)
    return WritePlan(
        writes=tuple(writes),
        unchanged=tuple(unchanged),
        conflicts=tuple(conflicts),
        mode_only=frozenset(mode_only),
    )


def refuse_conflicts(plan: WritePlan) -> None:
    paths = [p + (" (only its executable bit)" if p in plan.mode_only else "") for p in plan.conflict_paths]
    if paths:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        raise WriteError(
            f"cook would overwrite {len(paths)} existing file(s) that differ: {shown}",
            hint="cook in an empty directory (as a Docker stage does), or pass --force to overwrite them",
        )


def write(plan: WritePlan, root: Path, *, force: bool) -> int:
    """Write the planned files with the fixed mtime; returns how many files were written.

    All or nothing: when a write fails (a full disk, Ctrl-C), the files and directories created so
    far are removed again, so the directory is left as it was (files replaced by --force excepted).
    """
    if not force:
        refuse_conflicts(plan)
    created: list[Path] = []  # new files and directories, in creation order
    try:
        written = _write_files([*plan.writes, *(plan.conflicts if force else ())], root, created)
    except BaseException:
        _roll_back(created)
        raise
    for f in plan.unchanged:
        try:
            set_mtime(root / f.path, FIXED_MTIME)
        except OSError as exc:
            raise write_error(root / f.path, exc) from None
    return written


def _write_files(files: list[RecipeFile], root: Path, created: list[Path]) -> int:
    for f in files:
        target = root / f.path
        st = _lstat(target)
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise WriteError(
                f"{f.path} exists as a directory in the cook directory",
                hint="remove it, or cook in an empty directory",
            )
        created.extend(make_dirs(target.parent))  # no recursion: the tree may be deeper than the limit
        if st is None:
            created.append(target)
        atomic_write(target, f.data, executable=f.executable, mtime=FIXED_MTIME)
    return len(files)


def _roll_back(created: list[Path]) -> None:
    for path in reversed(created):
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            pass  # best effort: a directory someone else filled meanwhile stays


def restore_locks(recipe: Recipe, root: Path) -> list[str]:
    """The recipe's Cargo.lock files that the cook build changed, written back as the recipe has them.

    Cargo drops the lock entries that the skeleton workspace does not use (an optional dependency that
    only a pruned member's features enable): the cooked tree must still hold the recipe's bytes, or the
    next cook over it (layer 2, or the deps cook of the next service) sees a file that differs."""
    restored = []
    for f in recipe.files:
        if f.path.rsplit("/", 1)[-1] != "Cargo.lock":
            continue
        path = root / f.path
        try:
            if not path.is_symlink() and path.read_bytes() == f.data:
                continue
        except OSError:
            pass
        try:
            atomic_write(path, f.data, executable=f.executable, mtime=FIXED_MTIME)
        except OSError as exc:
            raise write_error(path, exc) from None
        restored.append(f.path)
    return restored


def settle_tree(directory: Path, mtime: float = FIXED_MTIME) -> int:
    """Give every file under `directory` the fixed mtime; returns how many changed."""
    changed = 0
    for dirpath, _dirnames, filenames in walk(directory):
        for name in filenames:
            try:
                changed += set_mtime(Path(dirpath) / name, mtime)
            except OSError as exc:
                raise write_error(Path(dirpath) / name, exc) from None
    return changed
