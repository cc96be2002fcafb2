"""The only writer into a cook directory. Path-safe, refuses to clobber, atomic per file."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cargo_chefpy.errors import RecipeError, WriteError
from cargo_chefpy.fsutil import FIXED_MTIME, atomic_write, set_mtime, write_error
from cargo_chefpy.paths import inside
from cargo_chefpy.recipe import Recipe, RecipeFile


@dataclass(frozen=True, slots=True, kw_only=True)
class WritePlan:
    writes: tuple[RecipeFile, ...]  # files to create or replace
    unchanged: tuple[RecipeFile, ...]  # already there with the same content and mode
    conflicts: tuple[RecipeFile, ...]  # existing files with different content (or a symlink there)

    @property
    def conflict_paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.conflicts)


def _check_parents(root: Path, relpath: str) -> None:
    """No existing component of the path may be a symlink that leaves the directory, or a file."""
    current = root
    for part in relpath.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            target = current.resolve()
            if not inside(target, root.resolve()):
                raise RecipeError(
                    f"{relpath} would be written through the symlink {current}, which points outside "
                    f"the cook directory (to {target})",
                    hint="remove that symlink from the cook directory, or cook in an empty directory",
                )
        if current.exists() and not current.is_dir():
            raise WriteError(
                f"{relpath} needs {current} to be a directory, but it is a file",
                hint="cook in an empty directory, or remove that file",
            )


def plan_writes(recipe: Recipe, root: Path) -> WritePlan:
    """Decide what to write, and find conflicts, without writing anything."""
    writes, unchanged, conflicts = [], [], []
    for f in recipe.files:
        _check_parents(root, f.path)
        target = root / f.path
        if target.is_symlink():
            resolved = target.resolve()
            if not inside(resolved, root.resolve()):
                raise RecipeError(
                    f"{f.path} is a symlink in the cook directory that points outside it (to {resolved})",
                    hint="remove that symlink, or cook in an empty directory",
                )
            conflicts.append(f)
            continue
        if not target.exists():
            writes.append(f)
            continue
        if not target.is_file():
            conflicts.append(f)
            continue
        try:
            same = target.read_bytes() == f.data
            mode = target.stat().st_mode
        except OSError as exc:
            raise write_error(target, exc) from None
        if same and bool(mode & stat.S_IXUSR) == f.executable:
            unchanged.append(f)
        elif same:
            writes.append(f)
        else:
            conflicts.append(f)
    return WritePlan(writes=tuple(writes), unchanged=tuple(unchanged), conflicts=tuple(conflicts))


def refuse_conflicts(plan: WritePlan) -> None:
    paths = plan.conflict_paths
    if paths:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        raise WriteError(
            f"cook would overwrite {len(paths)} existing file(s) with different content: {shown}",
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
        if target.is_dir() and not target.is_symlink():
            raise WriteError(
                f"{f.path} exists as a directory in the cook directory",
                hint="remove it, or cook in an empty directory",
            )
        created.extend(reversed([d for d in (target.parent, *target.parent.parents) if not d.exists()]))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(target, exc) from None
        if not (target.exists() or target.is_symlink()):
            created.append(target)
        atomic_write(target, f.data, executable=f.executable, mtime=FIXED_MTIME)
    return len(files)


def _roll_back(created: list[Path]) -> None:
    for path in reversed(created):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            pass  # best effort: a directory someone else filled meanwhile stays


def settle_tree(directory: Path, mtime: float = FIXED_MTIME) -> int:
    """Give every file under `directory` the fixed mtime; returns how many changed."""
    changed = 0
    for dirpath, _dirnames, filenames in os.walk(directory):
        for name in filenames:
            try:
                changed += set_mtime(Path(dirpath) / name, mtime)
            except OSError as exc:
                raise write_error(Path(dirpath) / name, exc) from None
    return changed
