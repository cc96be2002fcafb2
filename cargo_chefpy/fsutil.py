"""Atomic writes, user-named outputs, mtime settling, and directory walks that do not recurse.

Every file this tool writes goes through `atomic_write`; every output a user names (`prepare
--recipe-path`, `dockerfile --output`, stdout) through `write_output`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from cargo_chefpy.errors import WriteError

# The one fixed mtime given to every skeleton file cook writes, and to every unchanged file that
# build settles: 2000-01-01T00:00:00Z. Any fixed time older than the build outputs works; a
# documented constant makes the build-script fingerprints (newest mtime, compared for equality)
# identical in the cook stage and the final stage.
FIXED_MTIME = 946684800
FIXED_MTIME_NS = FIXED_MTIME * 1_000_000_000


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EFBIG:
        return "file too large (a file size limit was hit)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if exc.errno == errno.ELOOP:
        return "a symlink loop (too many levels of symbolic links)"
    if exc.errno == errno.EPIPE:
        return "the reader closed the pipe"
    return exc.strerror or str(exc)


def _hint(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "use a shorter path: each name at most 255 bytes, the whole path at most 4096"
    if exc.errno == errno.ELOOP:
        return "remove or fix the looping symlink on that path"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "create the directory the path names first, or choose a path in an existing directory"
    return "choose a writable location, or free space, and run again"


def write_error(path: Path | str, exc: OSError) -> WriteError:
    return WriteError(f"could not write {path}: {_describe(exc)}", hint=_hint(exc))


def read_error(path: Path | str, exc: OSError) -> WriteError:
    """A path this tool must inspect before it writes (an output, a cook directory entry)."""
    return WriteError(f"could not inspect {path}: {_describe(exc)}", hint=_hint(exc))


class NotRegularFile(Exception):
    """`read_regular` met a directory, a named pipe, a socket or a device: never opened, never read."""

    def __init__(self, path: Path | str, kind: str) -> None:
        super().__init__(f"{path} is {kind}")
        self.kind = kind  # "a directory", "a named pipe (FIFO)", ...


def kind_of(mode: int) -> str:
    """What a non-regular file is, for a message: "a directory", "a named pipe (FIFO)", ..."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def read_regular(path: Path | str) -> bytes:
    """The bytes of the regular file at `path` (a symlink followed). Never blocks and never reads
    forever: a directory, FIFO, socket or device raises NotRegularFile without being opened (opening a
    device can act on it), and the file is opened O_NONBLOCK, so that one that became a FIFO since the
    check cannot wait for a writer. Other failures raise OSError."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, kind_of(st.st_mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, kind_of(st.st_mode))
        chunks = [os.read(fd, st.st_size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    return b"".join(chunks)


def atomic_write(
    path: Path, data: bytes, *, executable: bool = False, mtime: float | None = None, mode: int | None = None
) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    A reader, or a crash at any point, sees the old file or the complete new one, never a part.
    `mode` (permission bits) wins over `executable`.
    """
    directory = path.parent
    try:
        import tempfile  # not on build's start-up path, which writes nothing

        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".chefpy-tmp", dir=directory)
    except OSError as exc:
        raise write_error(path, exc) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else 0o755 if executable else 0o644)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise write_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def set_mtime(path: Path, mtime: float) -> bool:
    """Give `path` the mtime (not following symlinks); True when it changed."""
    st = path.lstat()
    if st.st_mtime == mtime:
        return False
    os.utime(path, (mtime, mtime), follow_symlinks=False)
    return True


# --------------------------------------------------------------------------------------------------
# User-named outputs
# --------------------------------------------------------------------------------------------------


def check_output(path: Path, *, what: str) -> None:
    """Refuse, before any work is done, an output path that `write_output` would refuse, or that could
    not be created (its directory is missing)."""
    target, stream, _ = _output_target(path, what=what)
    if not stream and not target.parent.is_dir():
        raise WriteError(
            f"the {what} {path} cannot be written: its directory {target.parent} does not exist",
            hint="create the directory first, or choose a path in an existing directory",
        )


def is_stream(path: Path) -> bool:
    """Whether `path` (symlinks followed) is a character device or a named pipe: an output that is
    streamed to (`write_output`), with no directory of files beside it."""
    try:
        kind = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(kind) or stat.S_ISFIFO(kind)


STANDARD_STREAMS: Final = ("stdin", "stdout", "stderr")


def _closed_standard_stream(path: Path) -> str | None:
    """The name of a standard stream ("stdout") when `path` leads, through symlinks (/dev/stdout,
    /dev/fd/1, /proc/self/fd/1, a link to one of them), to a standard descriptor that was closed when the
    process started. Python leaves that stream None, and the cli gave the descriptor /dev/null
    (`_reserve_standard_descriptors`), which would otherwise swallow the output without a word."""
    closed = {fd: name for fd, name in enumerate(STANDARD_STREAMS) if getattr(sys, name) is None}
    if not closed:
        return None
    current = os.path.join(os.getcwd(), path)  # not abspath: `..` after a symlink is the kernel's to resolve
    for _ in range(40):  # the kernel's own limit on a chain of symlinks
        directory, name = os.path.split(current)
        directory = os.path.realpath(directory)  # /dev/fd and /proc/self are symlinks themselves
        if name.isdigit() and re.fullmatch(rf"/proc/{os.getpid()}(/task/\d+)?/fd", directory):
            return closed.get(int(name))
        link = os.path.join(directory, name)
        try:
            current = os.path.join(directory, os.readlink(link))
        except OSError:  # not a symlink (or gone): the chain ends in a real file
            return None
    return None


def _output_target(path: Path, *, what: str) -> tuple[Path, bool, int | None]:
    """Where a user-named output goes: (the path to write, whether to stream into it, the mode to keep).

    - a character device or a named pipe (/dev/null, /dev/stdout, /proc/self/fd/N, a FIFO) is opened
      and streamed to, never replaced; a standard stream closed when the process started is refused;
    - a symlink is followed, and its target (even a missing one) written atomically;
    - a regular file is replaced atomically, keeping its permission bits;
    - a directory, a block device or a socket is refused.
    """
    closed = _closed_standard_stream(path)
    if closed is not None:
        raise WriteError(
            f"the {what} {path} cannot be written: {closed} is closed",
            hint=f"give the command a {closed} that accepts output (e.g. `> file`), or pass a file name",
        )
    try:
        st = os.stat(path)  # follows symlinks, and /proc/self/fd/N to the open file itself
    except FileNotFoundError:
        return Path(os.path.realpath(path)), False, None  # a new file, or a dangling symlink's target
    except OSError as exc:
        raise read_error(path, exc) from None
    kind = st.st_mode
    if stat.S_ISCHR(kind) or stat.S_ISFIFO(kind):
        return path, True, None
    if stat.S_ISREG(kind):
        return Path(os.path.realpath(path)), False, stat.S_IMODE(kind)
    if stat.S_ISDIR(kind):
        raise WriteError(f"the {what} {path} is a directory", hint="pass the path of a file, not a directory")
    name = "a block device" if stat.S_ISBLK(kind) else "a socket" if stat.S_ISSOCK(kind) else "not a file"
    raise WriteError(
        f"the {what} {path} is {name}; outputs go only to files, character devices and named pipes",
        hint="pass a file name, or `-` for stdout",
    )


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to the descriptor `fd`, unbuffered (os.write may write part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _stream(path: Path, data: bytes) -> bool:
    """Write `data` into an open-able device or pipe; False if `path` turned out to be something else."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)  # no O_CREAT, no O_TRUNC: never a new file
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        kind = os.fstat(fd).st_mode
        if not (stat.S_ISCHR(kind) or stat.S_ISFIFO(kind)):  # replaced since the check
            return False
        write_all(fd, data)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        os.close(fd)
    return True


def write_stdout(data: bytes, *, what: str, to_file: str | None = None) -> None:
    """Write `data` to stdout; a closed or full stdout is a WriteError, never a traceback."""
    instead = f", or write to a file with {to_file}" if to_file else ""
    hint = f"give the command a stdout that accepts output (e.g. `> file`){instead}"
    stream = sys.stdout
    if stream is None:  # the descriptor was closed when the process started (`>&-`)
        raise WriteError(f"could not write the {what} to stdout: stdout is closed", hint=hint)
    try:
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(data.decode())
        else:
            buffer.write(data)
        stream.flush()
    except (OSError, ValueError) as exc:
        reason = _describe(exc) if isinstance(exc, OSError) else "stdout is closed"
        if isinstance(exc, OSError) and exc.errno == errno.EBADF:
            reason = "stdout is closed"
        raise WriteError(f"could not write the {what} to stdout: {reason}", hint=hint) from None


def write_output(path: Path | None, data: bytes, *, what: str, to_file: str | None = None) -> None:
    """The one writer of user-named outputs: stdout (None), a device or pipe, or a file (see
    `_output_target` for which is which). Raises only WriteError."""
    if path is None:
        write_stdout(data, what=what, to_file=to_file)
        return
    target, stream, mode = _output_target(path, what=what)
    if stream and _stream(target, data):
        return
    atomic_write(target, data, mode=mode)


# --------------------------------------------------------------------------------------------------
# Directories, without recursion (a tree may be deeper than Python's recursion limit)
# --------------------------------------------------------------------------------------------------


def make_dirs(path: Path) -> list[Path]:
    """Create `path` and its missing parents, as `mkdir -p`; returns the directories it created,
    outermost first. On failure, removes what it created and raises WriteError."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created: list[Path] = []
    try:
        for directory in reversed(missing):
            os.mkdir(directory)
            created.append(directory)
    except OSError as exc:
        remove_dirs(created)
        raise write_error(path, exc) from None
    if not os.path.isdir(path):
        raise WriteError(f"{path} is not a directory", hint="remove it, or choose another directory")
    return created


def remove_dirs(created: list[Path]) -> None:
    """Remove directories `make_dirs` created, innermost first, where they are still empty."""
    for directory in reversed(created):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def walk(top: str | Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top)` (top-down, symlinks not followed, errors skipped) without recursion: Python 3.11's
    recurses once per level. The caller may prune or sort `dirnames` in place, as with os.walk."""
    stack = [os.fspath(top)]
    while stack:
        dirpath = stack.pop()
        try:
            with os.scandir(dirpath) as it:
                entries = list(it)
        except OSError:
            continue
        dirnames: list[str] = []
        filenames: list[str] = []
        walk_into: set[str] = set()
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                dirnames.append(entry.name)
                try:
                    if not entry.is_symlink():
                        walk_into.add(entry.name)
                except OSError:
                    pass
            else:
                filenames.append(entry.name)
        yield dirpath, dirnames, filenames
        stack.extend(os.path.join(dirpath, d) for d in reversed(dirnames) if d in walk_into)


def remove_tree(top: str | Path) -> None:
    """`shutil.rmtree(top, ignore_errors=True)` without recursion; never follows a symlink."""
    try:
        if stat.S_ISLNK(os.lstat(top).st_mode):
            os.unlink(top)
            return
    except OSError:
        return
    stack: list[tuple[str, bool]] = [(os.fspath(top), False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            with contextlib.suppress(OSError):
                os.rmdir(path)
            continue
        stack.append((path, True))
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((entry.path, False))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


NAME_MAX = 255  # bytes in one name, and in a whole path, on Linux file systems
PATH_MAX = 4096


def check_name_length(path: Path, *, what: str) -> None:
    """Refuse a path the file system cannot hold (ENAMETOOLONG), even where its parents are missing and
    the kernel would say "no such file" first; cargo would fail on it after cook has written."""
    encoded = os.fsencode(os.path.abspath(path))
    if len(encoded) >= PATH_MAX or any(len(part) > NAME_MAX for part in encoded.split(b"/")):
        raise WriteError(
            f"the {what} {path} is too long for the file system",
            hint=_hint(OSError(errno.ENAMETOOLONG, "")),
        )


def check_empty_dir(out: Path) -> None:
    """Refuse, before any work, a --sources-dir that is not a new or an empty directory."""
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise read_error(out, exc) from None
    if not stat.S_ISDIR(st.st_mode):
        raise WriteError(
            f"--sources-dir {out} exists and is not a directory",
            hint="pass a new or an empty directory",
        )
    try:
        empty = not any(os.scandir(out))
    except OSError as exc:
        raise read_error(out, exc) from None
    if not empty:
        raise WriteError(
            f"--sources-dir {out} is not empty: the sources tree must hold exactly what the build reads",
            hint="pass a new or an empty directory (remove the old tree first)",
        )
