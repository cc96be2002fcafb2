"""`prepare --sources-dir DIR`: the sources the final build of the selection reads, and nothing else.

The final stage of a Dockerfile used to copy the whole build context (`COPY . .`), so an edit to any
service reran every other service's final stage. The sources tree is that context without what the
selection does not use: the build copies it from the planner stage (`COPY --from=planner`), and
BuildKit keys that copy on the content, so an edit elsewhere leaves it, and the build after it, CACHED.

What the tree holds, relative to the recipe root (the build context):
- every file of the local crates the selection uses, its own crate included, byte for byte;
- every file that belongs to no local crate (the workspace's own files, shared data, scripts) but
  Docker's own files, and the extra paths (`--include`, `[workspace.metadata.chefpy] include`) even
  inside an unused crate;
- the root manifest as the user wrote it but for the members left out and their [patch] and
  [workspace.dependencies] path entries (prepare.final_workspace; a recipe masks more), and the lock
  as the recipe has it, unused members pruned: the workspace must load without the crates left out.
Left out: the local crates the selection does not use, `.git`, cargo's target directory (and `target/`
beside any crate's manifest), the vendored directories (the cook stages have them already), this
run's own outputs, and, outside the crates, Docker's files (DOCKER_FILES, and the zipapp at the root,
which the chef stage copies): editing the Dockerfile or the .dockerignore reruns no build.
Symlinks are copied as symlinks, as `COPY` does; pipes, sockets and devices are not.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from cargo_chefpy.errors import ProjectError
from cargo_chefpy.fsutil import (
    check_empty_dir,
    kind_of,
    make_dirs,
    remove_dirs,
    remove_tree,
    walk,
    write_all,
    write_error,
)
from cargo_chefpy.workspace import relative

# Docker's own files, by name: a Dockerfile (also `Dockerfile.x`, `x.Dockerfile`), an ignore file, a
# bake or compose file. Left out of the tree where they belong to no crate (a crate may embed one).
DOCKER_FILES = re.compile(
    r"(Dockerfile|Containerfile)(\..*)?|.*\.(Dockerfile|Containerfile)|(.*\.)?\.dockerignore"
    r"|docker-bake(\..*)?\.(hcl|json)|(docker-)?compose(\..*)?\.ya?ml"
)
TOOL = "cargo-chefpy"  # the zipapp, at the root of the build context


def for_docker(name: str) -> bool:
    """Whether a file name is one of Docker's own files (DOCKER_FILES)."""
    return DOCKER_FILES.fullmatch(name) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tree:
    """What to write: files copied from the context, and files whose bytes the recipe rewrote."""

    copied: tuple[tuple[str, str], ...]  # (path in the tree, absolute source), sorted by path
    written: tuple[tuple[str, bytes], ...]  # (path in the tree, bytes): the root manifest and the lock


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    """Which parts of the context the tree leaves out. Every path absolute and normalised."""

    crate_dirs: Collection[str]  # every local crate's directory
    used_dirs: Collection[str]  # those the selection uses
    skipped: Collection[str]  # left out whole: the target and vendored directories, the outputs
    extras: Collection[str]  # carried even inside an unused crate


def collect(root: str, rules: Rules, rewritten: dict[str, bytes]) -> Tree:
    """The tree under `root` (the recipe root). `rewritten`: paths (relative to root) whose bytes come
    from the recipe rather than from the context."""
    copied: dict[str, str] = {}
    for full in _walk(root, rules, root=True):
        copied.setdefault(relative(full, root), full)
    for extra in sorted(rules.extras):
        asked = Rules(crate_dirs=(), used_dirs=(), skipped=rules.skipped, extras=())
        for full in _walk(extra, asked, every_name=True):  # asked for by name: Docker's files too
            copied.setdefault(relative(full, root), full)
    for path in (*rewritten, TOOL):
        copied.pop(path, None)
    return Tree(
        copied=tuple(sorted(copied.items())),
        written=tuple(sorted(rewritten.items())),
    )


def _walk(top: str, rules: Rules, *, root: bool = False, every_name: bool = False) -> Iterator[str]:
    """The absolute paths of the files (and symlinks) under `top` that the tree holds. `top` may be a
    single file; a symlink is one entry, unless `top` is the root (a checkout reached through a
    symlink). `every_name`: Docker's files too. Iterative: any depth the file system allows."""
    if not os.path.isdir(top) or (os.path.islink(top) and not root):
        if os.path.lexists(top) and _copyable(top):
            yield top
        return
    crate_dirs, used = set(rules.crate_dirs), set(rules.used_dirs)
    skipped = set(rules.skipped)
    # Unused crates are entered only on the way to a used crate nested in them.
    leads_to_used = {p for d in used for p in _ancestors(d)}
    owner = _owner(top, crate_dirs)
    # directory -> (whether its files go in: a used crate's or no crate's; whether it is in a crate)
    state = {top: (owner is None or owner in used, owner is not None or every_name)}
    for current, dirnames, filenames in walk(top):
        current_used, in_crate = state.pop(current)
        is_crate = current in crate_dirs or "Cargo.toml" in filenames
        entered = []
        for name in dirnames:
            path = os.path.join(current, name)
            if os.path.islink(path):  # a symlinked directory: one entry, as COPY copies it
                filenames.append(name)
            elif name != ".git" and path not in skipped and not (is_crate and name == "target"):
                sub = (path in used, True) if path in crate_dirs else (current_used, in_crate)
                if sub[0] or path in leads_to_used:
                    state[path] = sub
                    entered.append(name)
        dirnames[:] = entered
        if not current_used:
            continue
        for name in filenames:
            path = os.path.join(current, name)
            # Docker's files are left out where they belong to no crate: a crate may embed one.
            if (in_crate or not for_docker(name)) and _copyable(path):
                yield path


def _ancestors(directory: str) -> Iterator[str]:
    current = directory
    while True:
        yield current
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def _owner(path: str, crate_dirs: set[str]) -> str | None:
    """The directory of the local crate that the file or directory at `path` belongs to, if any."""
    return next((d for d in _ancestors(path) if d in crate_dirs), None)


def _copyable(path: str) -> bool:
    """A regular file or a symlink: what the tree holds. Never opened here."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)


def write(tree: Tree, out: Path) -> tuple[int, Callable[[], None]]:
    """Write the tree into `out` (new or empty); returns the number of files, and how to remove what
    this wrote (the directories it created included). All or nothing: on a failure, that is done."""
    check_empty_dir(out)
    created_parents = make_dirs(out)

    def undo() -> None:
        with contextlib.suppress(OSError):
            for child in list(os.scandir(out)):  # the directory was new or empty: every entry is ours
                if child.is_dir(follow_symlinks=False):
                    remove_tree(child.path)
                else:
                    os.unlink(child.path)
        remove_dirs(created_parents)

    try:
        n = _write(tree, out)
    except BaseException:
        undo()
        raise
    return n, undo


def _write(tree: Tree, out: Path) -> int:
    made: set[str] = set()

    def parent_of(target: Path) -> None:
        parent = str(target.parent)
        if parent not in made:
            make_dirs(target.parent)
            made.add(parent)

    for path, full in tree.copied:
        target = out / path
        parent_of(target)
        if os.path.islink(full):
            try:
                link = os.readlink(full)
            except OSError as exc:
                raise _read_failure(full, exc) from None
            try:
                os.symlink(link, target)
            except OSError as exc:
                raise write_error(target, exc) from None
        else:
            _copy(full, target)
    for path, data in tree.written:
        target = out / path
        parent_of(target)
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise write_error(target, exc) from None
    return len(tree.copied) + len(tree.written)


def _copy(full: str, target: Path) -> None:
    """Copy the context file `full` to the new file `target`, its executable bit with it: a failure to
    read `full` is a read error naming it, a failure to write `target` a write error naming that."""
    try:
        # O_NONBLOCK: a file that became a named pipe since the walk must not wait for a writer.
        source = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _read_failure(full, exc) from None
    try:
        try:
            st = os.fstat(source)
        except OSError as exc:
            raise _read_failure(full, exc) from None
        if not stat.S_ISREG(st.st_mode):
            raise ProjectError(
                f"cannot read {full}: it became {kind_of(st.st_mode)} while prepare ran",
                hint="run prepare again once the build context stays still",
            )
        try:
            dest = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise write_error(target, exc) from None
        try:  # unbuffered: a full disk fails in a write below, never later in a flush on close
            while True:
                try:
                    chunk = os.read(source, 1 << 20)
                except OSError as exc:
                    raise _read_failure(full, exc) from None
                if not chunk:
                    break
                try:
                    write_all(dest, chunk)
                except OSError as exc:
                    raise write_error(target, exc) from None
            try:
                os.fchmod(dest, 0o755 if st.st_mode & stat.S_IXUSR else 0o644)
            except OSError as exc:
                raise write_error(target, exc) from None
        finally:
            os.close(dest)
    finally:
        os.close(source)


def _read_failure(full: str, exc: OSError) -> ProjectError:
    """A file of the build context that the sources tree must copy could not be read."""
    return ProjectError(
        f"cannot read {full} for the sources tree: {exc.strerror or exc}",
        hint="make the file readable (the tree copies every file of the crates the build uses and every "
        "file outside the crates), or move it out of the build context",
    )
