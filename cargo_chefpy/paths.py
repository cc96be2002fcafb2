"""The one home of the "is this path inside that root" checks. Pure and lexical: no file system access,
so callers resolve symlinks first when symlinks matter."""

from __future__ import annotations

import os


def inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when the absolute, normalised `path` is `root` or lies under it (`/a/bc` is not under `/a/b`)."""
    path, root = os.fspath(path), os.fspath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def stays_inside(relpath: str) -> bool:
    """True when the relative POSIX path `relpath`, joined to any root, stays inside it: it is not
    absolute and has no `..` part."""
    return not relpath.startswith("/") and ".." not in relpath.split("/")
